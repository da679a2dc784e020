/**
 * The IKEv1 Phase 1 SA (ISAKMP SA) as the exchanges see it: a coarse lifecycle changed only through
 * `setState()` (STYLE A.3 level 1), plus the data every exchange on this SA shares. The Main /
 * Aggressive / Quick Mode transition tables (src/exchange/ikev1/transitions.ts) sit on top.
 *
 * Lifecycle (states say what has happened):
 *
 *   CREATED ──► CONNECTING ──► ESTABLISHED ──► DELETING ──► DESTROYED
 *                   │               │  ▲            ▲            ▲
 *                   │               ▼  │ (replacement failed)    │
 *                   │           REKEYING ──► REKEYED ─┘          │
 *                   └─────────────────────────────────────────── ┘ (failure, timeout)
 *
 *  CREATED      the object exists; nothing sent or received yet
 *  CONNECTING   Phase 1 negotiation under way (Main Mode MM1..MM6 / Aggressive AM1..AM3)
 *  ESTABLISHED  authenticated; usable for Quick Mode and Informational exchanges
 *  REKEYING     a replacement Phase 1 SA is being negotiated; this one still serves
 *  REKEYED      superseded by a newer Phase 1 SA (or expiring): never chosen for new Quick Modes
 *               (solaris-ike.md §5.6), kept until its Delete/lifetime
 *  DELETING     a Delete was sent or received / the lifetime ran out; no new exchanges
 *  DESTROYED    final: timers cancelled, keys wiped
 *
 * Solaris does not rekey Phase 1 proactively (§5.6): an expiring ESTABLISHED SA goes straight to
 * DELETING. REKEYING/REKEYED are there for an explicit rekey (ikeadm) and for the case where a
 * newer Phase 1 SA with the same peer completes.
 */
import { OakleyError } from '../util/errors';
import type { Clock, TimerHandle } from '../util/clock';
import { Counters } from '../util/counters';
import { keymat, nullLogger, type Logger } from '../util/log';
import { isOpaqueSecret, type SharedSecret } from '../crypto/types';
import type { Endpoint } from '../net/transport';
import type { P1Negotiated } from './ikev1/proposals';
import { ownedCopy, scratchCopy } from '../util/buffers';
import { sameBytes } from '../util/constant-time';

export const IkeSaState = {
  CREATED: 'CREATED',
  CONNECTING: 'CONNECTING',
  ESTABLISHED: 'ESTABLISHED',
  REKEYING: 'REKEYING',
  REKEYED: 'REKEYED',
  DELETING: 'DELETING',
  DESTROYED: 'DESTROYED',
} as const;
export type IkeSaState = typeof IkeSaState[keyof typeof IkeSaState];

/** Legal moves. Anything else, including a move to the same state, is refused. */
export const IKE_SA_TRANSITIONS: Readonly<Record<IkeSaState, readonly IkeSaState[]>> = {
  CREATED: ['CONNECTING', 'DELETING', 'DESTROYED'],
  CONNECTING: ['ESTABLISHED', 'DELETING', 'DESTROYED'],
  ESTABLISHED: ['REKEYING', 'REKEYED', 'DELETING', 'DESTROYED'],
  REKEYING: ['ESTABLISHED', 'REKEYED', 'DELETING', 'DESTROYED'],
  REKEYED: ['DELETING', 'DESTROYED'],
  DELETING: ['DESTROYED'],
  DESTROYED: [],
};

export const SaErr = {
  /** setState() was asked for a move not in IKE_SA_TRANSITIONS. */
  ILLEGAL_STATE_CHANGE: 'IKE_ERR_ILLEGAL_STATE_CHANGE',
  /** No free Phase 2 / Informational message ID could be found. */
  MESSAGE_ID_EXHAUSTED: 'IKE_ERR_MESSAGE_ID_EXHAUSTED',
  /** Operation on a DESTROYED SA. */
  SA_DESTROYED: 'IKE_ERR_SA_DESTROYED',
} as const;

export type IkeRole = 'initiator' | 'responder';
export type Phase1Mode = 'main' | 'aggressive';

/**
 * Why the state changed. A plain string is a reason text. `code` carries the IKE_ERR_* code of a
 * failure; `peerAnswered` splits initiator failures into "peer never answered" (timeout) and
 * "peer responded" (solaris-ike.md §7.1 st_init_p1_noresp / st_init_p1_respfail).
 */
export interface StateReason {
  readonly text: string;
  readonly code?: string;
  readonly peerAnswered?: boolean;
  /**
   * Log the change at debug, not info: for steps anyone can cause with one unauthenticated
   * packet (a responder's first message, evicting a half-open SA), so a flood cannot turn into a
   * flood of log lines. Failures are still logged by whoever reports them.
   */
  readonly quiet?: boolean;
}

export interface StateChange {
  readonly from: IkeSaState;
  readonly to: IkeSaState;
  readonly reason: StateReason;
  /** Clock.now() at the change. */
  readonly at: number;
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * `icookie:rcookie` in lower-case hex as one flat string. The template literal built a rope of
 * five V8 strings; this string lives as long as the SA (its logger's context, its IPsec pairs).
 */
function cookiePairString(icookie: Buffer, rcookie: Buffer): string {
  const out = Buffer.allocUnsafe(33);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = HEX_DIGITS[icookie[i]! >> 4]!;
    out[2 * i + 1] = HEX_DIGITS[icookie[i]! & 15]!;
    out[17 + 2 * i] = HEX_DIGITS[rcookie[i]! >> 4]!;
    out[18 + 2 * i] = HEX_DIGITS[rcookie[i]! & 15]!;
  }
  out[16] = 0x3a;
  return out.toString('latin1');
}

/**
 * Keying material of one Phase 1 SA, in one place so it can be wiped in one call. Every field is
 * a copy owned by this object. Log it only through `describe()` (KeyMaterial redaction).
 */
export class IkeSaKeys {
  /** g^xy (Buffer) or a handle to it on a token. */
  sharedSecret?: SharedSecret;
  SKEYID?: Buffer;
  SKEYID_d?: Buffer;
  SKEYID_a?: Buffer;
  SKEYID_e?: Buffer;
  /** The cipher key derived from SKEYID_e (RFC 2409 Appendix B). */
  encKey?: Buffer;
  // The next three are usually slices (of a pooled Buffer, of a datagram): they are stored as
  // exact-size copies so an SA does not keep an 8 KiB pool slab or a whole datagram resident.
  private pskValue?: Buffer;
  private ivValue?: Buffer;
  private initialIvValue?: Buffer;
  /** Per message ID IVs of Quick Mode / Informational exchanges (RFC 2409 Appendix B). */
  readonly phase2Iv = new Map<number, Buffer>();
  private wipedFlag = false;

  get wiped(): boolean {
    return this.wipedFlag;
  }

  /** The preshared key used (preshared auth only). */
  get preSharedKey(): Buffer | undefined {
    return this.pskValue;
  }

  set preSharedKey(b: Buffer | undefined) {
    this.pskValue = b && ownedCopy(b);
  }

  /** Phase 1 IV: last ciphertext block of the latest Phase 1 message. */
  get iv(): Buffer | undefined {
    return this.ivValue;
  }

  set iv(b: Buffer | undefined) {
    // Each Phase 1 message replaces it: scratch until the negotiation ends (settle()).
    this.ivValue = b && scratchCopy(b);
  }

  /** Phase 1 is over: the last IV (the base of every Phase 2 IV) moves to long-lived memory. */
  settle(): void {
    if (this.ivValue) this.ivValue = ownedCopy(this.ivValue);
  }

  /** The initial Phase 1 IV, hash(g^xi | g^xr) truncated (RFC 2409 Appendix B), kept for keymat dumps. */
  get initialIv(): Buffer | undefined {
    return this.initialIvValue;
  }

  set initialIv(b: Buffer | undefined) {
    this.initialIvValue = b && ownedCopy(b);
  }

  /** Zeroes every buffer, disposes a token-held secret, and forgets everything. Idempotent. */
  wipe(): void {
    const bufs = [this.preSharedKey, this.SKEYID, this.SKEYID_d, this.SKEYID_a, this.SKEYID_e, this.encKey, this.iv, this.initialIv, ...this.phase2Iv.values()];
    for (const b of bufs) b?.fill(0);
    this.forgetSharedSecret();
    this.preSharedKey = this.SKEYID = this.SKEYID_d = this.SKEYID_a = this.SKEYID_e = undefined;
    this.encKey = this.iv = this.initialIv = undefined;
    this.phase2Iv.clear();
    this.wipedFlag = true;
  }

  /** Wipes g^xy (or disposes its token handle): nothing needs it once SKEYID* are derived. Idempotent. */
  forgetSharedSecret(): void {
    if (this.sharedSecret !== undefined) {
      if (isOpaqueSecret(this.sharedSecret)) this.sharedSecret.dispose();
      else this.sharedSecret.fill(0);
    }
    this.sharedSecret = undefined;
  }

  /** Log/dump fields, each a KeyMaterial (rendered only at privilege keymat). */
  describe(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const add = (name: string, b: Buffer | undefined) => {
      if (b) out[name] = keymat(b, name);
    };
    add('SKEYID', this.SKEYID);
    add('SKEYID_d', this.SKEYID_d);
    add('SKEYID_a', this.SKEYID_a);
    add('SKEYID_e', this.SKEYID_e);
    add('encKey', this.encKey);
    add('iv', this.iv);
    add('preSharedKey', this.preSharedKey);
    return out;
  }
}

export interface IkeSaOptions {
  readonly role: IkeRole;
  readonly local: Endpoint;
  readonly peer: Endpoint;
  readonly clock: Clock;
  /** 8 octets; the initiator's cookie (chosen locally when initiating, received when responding). */
  readonly icookie: Buffer;
  /** 8 octets; zero until the responder has chosen it. */
  readonly rcookie?: Buffer;
  readonly mode?: Phase1Mode;
  /** Label of the rule that governs this SA, once known. */
  readonly ruleLabel?: string;
  readonly log?: Logger;
  /** Shared daemon-wide counters (`ikeadm get stats`). */
  readonly counters?: Counters;
  /** Local serial number for logs; assigned by the SA manager. */
  readonly serial?: number;
}

export type StateListener = (change: StateChange, sa: IkeSa) => void;

const ZERO_COOKIE = Buffer.alloc(8);

/** Per-Phase-1 statistics (solaris-ike.md §7.2). */
export interface IkeSaStats {
  /** IPsec SAs created / deleted under this P1 SA (individual SAs, not pairs). */
  newQmSas: number;
  delQmSas: number;
  errDecrypt: number;
  errHash: number;
  errOtherRx: number;
  errTx: number;
}

/**
 * One IKEv1 Phase 1 SA. Not thread-safe by design: the SA manager serialises work on it (STYLE A.3,
 * checked-out SAs).
 */
/** A named SA timer (setTimer). */
interface NamedTimer {
  readonly name: string;
  readonly handle: TimerHandle;
}

const NO_IDS: readonly number[] = [];
/** Message IDs kept in an array up to this many (a linear search); a Set beyond. */
const FEW_IDS = 8;

export class IkeSa {
  readonly role: IkeRole;
  readonly local: Endpoint;
  /** The peer as currently seen; NAT-T may move it to port 4500 or a new NAT mapping. */
  peer: Endpoint;
  readonly icookie: Buffer;
  private rcookieValue: Buffer;
  mode: Phase1Mode;
  ruleLabel?: string;
  readonly serial: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly counters: Counters;

  /** Negotiated Phase 1 algorithms, set when the SA proposal is accepted. */
  negotiated?: P1Negotiated;
  readonly keys = new IkeSaKeys();

  /** NAT-T (RFC 3947): peer supports it (VID), and what NAT-D detected. */
  natT: { peerSupports: boolean; localBehindNat: boolean; peerBehindNat: boolean; floated: boolean } = {
    peerSupports: false,
    localBehindNat: false,
    peerBehindNat: false,
    floated: false,
  };
  /** Peer advertised DPD (RFC 3706 VID). */
  peerDpd = false;

  /**
   * Message IDs in use or used on this SA by Quick Mode / Informational exchanges (RFC 2408 §3.1):
   * an exact-size array while there are few (most SAs see one or two), a Set beyond that.
   */
  private messageIds: readonly number[] | Set<number> = NO_IDS;

  /** Last datagram sent (for retransmission) and last received (for duplicate detection). */

  readonly stats: IkeSaStats = { newQmSas: 0, delQmSas: 0, errDecrypt: 0, errHash: 0, errOtherRx: 0, errTx: 0 };
  /** Clock.now() at creation / establishment. */
  readonly createdAt: number;
  establishedAt?: number;

  private stateValue: IkeSaState = IkeSaState.CREATED;
  // Exact-size arrays, replaced rather than pushed to (a pushed-to array reserves 17 slots).
  private historyList: readonly StateChange[] = [];
  private failure?: StateReason;
  private closeReasonValue?: StateReason;
  private timers: readonly NamedTimer[] = [];
  private listeners: readonly StateListener[] = [];

  constructor(opts: IkeSaOptions) {
    if (opts.icookie.length !== 8) throw new OakleyError('IKE_ERR_BAD_ARGUMENT', `icookie must be 8 octets, got ${opts.icookie.length}`);
    if (opts.rcookie && opts.rcookie.length !== 8) throw new OakleyError('IKE_ERR_BAD_ARGUMENT', `rcookie must be 8 octets, got ${opts.rcookie.length}`);
    this.role = opts.role;
    this.local = opts.local;
    this.peer = opts.peer;
    this.clock = opts.clock;
    this.icookie = ownedCopy(opts.icookie);
    this.rcookieValue = opts.rcookie ? ownedCopy(opts.rcookie) : scratchCopy(ZERO_COOKIE);
    this.mode = opts.mode ?? 'main';
    this.ruleLabel = opts.ruleLabel;
    this.serial = opts.serial ?? 0;
    this.counters = opts.counters ?? new Counters();
    this.createdAt = this.clock.now();
    this.log = (opts.log ?? nullLogger()).child({ sa: this.serial, cookies: this.cookieString() });
  }

  get state(): IkeSaState {
    return this.stateValue;
  }

  get rcookie(): Buffer {
    return this.rcookieValue;
  }

  /** Sets the responder cookie once (RFC 2408 §3.1); a second different value is refused. */
  setRcookie(c: Buffer): void {
    if (c.length !== 8) throw new OakleyError('IKE_ERR_BAD_ARGUMENT', `rcookie must be 8 octets, got ${c.length}`);
    if (!sameBytes(this.rcookieValue, ZERO_COOKIE) && !sameBytes(this.rcookieValue, c)) {
      throw new OakleyError('IKE_ERR_BAD_ARGUMENT', 'rcookie already set');
    }
    this.rcookieValue = ownedCopy(c);
  }

  /** `icookie:rcookie` in hex, the key of `ikeadm get p1`. */
  cookieString(): string {
    return cookiePairString(this.icookie, this.rcookieValue);
  }

  /** The failure that ended the negotiation or SA, if any. */
  get failureReason(): StateReason | undefined {
    return this.failure;
  }

  /** The reason of the move into DELETING / DESTROYED. */
  get closeReason(): StateReason | undefined {
    return this.closeReasonValue;
  }

  get history(): readonly StateChange[] {
    return this.historyList;
  }

  /** True when a new Quick Mode may use this SA (solaris-ike.md §5.6). */
  usableForQuickMode(): boolean {
    return this.stateValue === IkeSaState.ESTABLISHED || this.stateValue === IkeSaState.REKEYING;
  }

  onStateChange(l: StateListener): () => void {
    this.listeners = [...this.listeners, l];
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }

  /**
   * The only way to change the lifecycle state.
   * @param next target state; must be listed in IKE_SA_TRANSITIONS[current]
   * @param reason why (text, optional failure code)
   * @throws OakleyError IKE_ERR_ILLEGAL_STATE_CHANGE for an illegal move (state unchanged)
   *
   * Effects: logs `A -> B (reason)`; counters `p1.<role>.attempts` (into CONNECTING),
   * `p1.<role>.total` and `.current` (into ESTABLISHED), `p1.<role>.failed` plus
   * `p1.initiator.noresp|respfail` (leaving CONNECTING with a failure code), `ike_sa.state.<B>`;
   * records the failure and close reasons; on DESTROYED cancels all timers and wipes the keys.
   */
  setState(next: IkeSaState, reason: string | StateReason): void {
    const r: StateReason = typeof reason === 'string' ? { text: reason } : reason;
    const from = this.stateValue;
    if (!IKE_SA_TRANSITIONS[from].includes(next)) {
      this.counters.inc('ike_sa.illegal_state_change');
      this.log.warn(`refused ${from} -> ${next} (${r.text})`);
      throw new OakleyError(SaErr.ILLEGAL_STATE_CHANGE, `IKE SA ${this.serial}: illegal state change ${from} -> ${next} (${r.text})`, { from, to: next });
    }
    this.stateValue = next;
    const change: StateChange = { from, to: next, reason: r, at: this.clock.now() };
    this.historyList = [...this.historyList, change];
    (r.quiet ? this.log.debug : this.log.info).call(this.log, `${from} -> ${next} (${r.text})`, r.code ? { code: r.code } : undefined);

    const c = this.counters;
    c.inc(`ike_sa.state.${next}`);
    if (next === IkeSaState.CONNECTING) c.inc(`p1.${this.role}.attempts`);
    if (next === IkeSaState.ESTABLISHED && from === IkeSaState.CONNECTING) {
      this.establishedAt = change.at;
      c.inc(`p1.${this.role}.total`);
      c.inc(`p1.${this.role}.current`);
    }
    const wasUp = from === IkeSaState.ESTABLISHED || from === IkeSaState.REKEYING || from === IkeSaState.REKEYED;
    if ((next === IkeSaState.DELETING || next === IkeSaState.DESTROYED) && wasUp) c.dec(`p1.${this.role}.current`);
    if ((from === IkeSaState.CONNECTING || from === IkeSaState.CREATED) && (next === IkeSaState.DELETING || next === IkeSaState.DESTROYED) && r.code) {
      this.failure = r;
      c.inc(`p1.${this.role}.failed`);
      if (this.role === 'initiator') c.inc(r.peerAnswered ? 'p1.initiator.respfail' : 'p1.initiator.noresp');
    } else if (r.code && !this.failure) {
      this.failure = r;
    }
    if ((next === IkeSaState.DELETING || next === IkeSaState.DESTROYED) && !this.closeReasonValue) this.closeReasonValue = r;
    if (next === IkeSaState.DESTROYED) {
      this.clearAllTimers();
      this.keys.wipe();
    }
    // A listener that (un)registers replaces the array; this loop goes on over the old one.
    for (const l of this.listeners) l(change, this);
  }

  // --- timers -----------------------------------------------------------------------------------

  /**
   * Arms the named timer (replacing a timer of the same name): `retransmit`, `expire`
   * (expire_timer), `lifetime`, `dpd`… Refused on a DESTROYED SA.
   */
  setTimer(name: string, ms: number, fn: () => void): void {
    if (this.stateValue === IkeSaState.DESTROYED) throw new OakleyError(SaErr.SA_DESTROYED, `IKE SA ${this.serial}: timer ${name} on a destroyed SA`);
    this.clearTimer(name);
    const t: NamedTimer = {
      name,
      handle: this.clock.schedule(ms, () => {
        this.timers = this.timers.filter((x) => x !== t);
        fn();
      }),
    };
    this.timers = [...this.timers, t];
  }

  clearTimer(name: string): void {
    const t = this.timers.find((x) => x.name === name);
    if (t) {
      this.clock.cancel(t.handle);
      this.timers = this.timers.filter((x) => x !== t);
    }
  }

  hasTimer(name: string): boolean {
    return this.timers.some((x) => x.name === name);
  }

  clearAllTimers(): void {
    for (const t of this.timers) this.clock.cancel(t.handle);
    this.timers = [];
  }

  // --- message IDs (Quick Mode / Informational) ------------------------------------------------

  /**
   * Picks a fresh non-zero message ID not used before on this SA (RFC 2408 §3.1: unique per
   * exchange; Phase 1 uses 0) and records it.
   * @param random32 source of unsigned 32-bit values (the crypto seam's RandomSource in production)
   * @throws OakleyError IKE_ERR_MESSAGE_ID_EXHAUSTED after 64 collisions in a row
   */
  allocateMessageId(random32: () => number): number {
    for (let i = 0; i < 64; i++) {
      const id = random32() >>> 0;
      if (id !== 0 && !this.hasMessageId(id)) {
        this.addMessageId(id);
        return id;
      }
    }
    throw new OakleyError(SaErr.MESSAGE_ID_EXHAUSTED, `IKE SA ${this.serial}: no free message ID`);
  }

  /**
   * Records a message ID chosen by the peer. @returns false when it was already used (a
   * retransmission or replay: the caller consults the duplicate cache) or is 0
   */
  registerPeerMessageId(id: number): boolean {
    if (id === 0 || this.hasMessageId(id)) return false;
    this.addMessageId(id);
    return true;
  }

  hasMessageId(id: number): boolean {
    const ids = this.messageIds;
    return Array.isArray(ids) ? ids.includes(id) : (ids as Set<number>).has(id);
  }

  /** Number of message IDs seen on this SA. */
  get messageIdCount(): number {
    const ids = this.messageIds;
    return Array.isArray(ids) ? ids.length : (ids as Set<number>).size;
  }

  private addMessageId(id: number): void {
    const ids = this.messageIds;
    if (!Array.isArray(ids)) (ids as Set<number>).add(id);
    else if (ids.length < FEW_IDS) this.messageIds = [...ids, id];
    else this.messageIds = new Set([...ids, id]);
  }
}
