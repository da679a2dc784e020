/**
 * The IKEv1 engine: one per daemon. It owns the Phase 1 SA table, turns datagrams into decoded
 * messages (decrypting with the chained IVs of RFC 2409 Appendix B), enforces each transition's
 * payload set (LS-2, by subtraction), runs the handler with the SA checked out, retransmits, answers
 * retransmitted requests from a cache, and sends notifications when an exchange fails. Phase 2 and
 * Informational exchanges are handled by modules registered per exchange type.
 */

import { EventEmitter } from 'node:events';

import type { CryptoSuite } from '../../crypto/registry';
import type { KernelIpsec } from '../../kernel/types';
import { endpointKey, type Endpoint, type ReceivedDatagram, type Transport } from '../../net/transport';
import type { Clock } from '../../util/clock';
import { Counters } from '../../util/counters';
import { sameBytes } from '../../util/constant-time';
import { OakleyError } from '../../util/errors';
import { nullLogger, type Logger } from '../../util/log';
import { WireError } from '../../wire/errors';
import { decryptBody } from '../../wire/ikev1/encryption';
import { Doi, IkePort, NotifyType, ProtocolId, nameOf } from '../../wire/ikev1/iana';
import { decodeHeader, decodePayloadChain, encodeMessage, type PayloadSpan } from '../../wire/ikev1/message';
import { classifyNatTDatagram, frameForNatT } from '../../wire/ikev1/nat-t';
import { ipv4ToBytes, ipv6ToBytes } from '../../wire/ikev1/id';
import { ExchangeType, HeaderFlag, PayloadType, type IsakmpHeader, type Payload } from '../../wire/ikev1/types';
import { IkeSa, IkeSaState, type StateReason } from '../ike-sa';
import { Retransmitter } from '../retransmit';
import { DEFAULT_SETTINGS, type Ikev1Credentials, type Ikev1Rule, type Ikev1Settings, type IpRange } from './config';
import { AGGRESSIVE_MODE, aggressiveOutI1 } from './aggressive-mode';
import { ALWAYS_ALLOWED, MAIN_MODE, mainOutI1, type Phase1Transition } from './main-mode';
import { CIPHER_OF, Phase1Context } from './phase1-context';
import { ExchangeErr, ExchangeError, failureNotify } from './phase1-steps';
import type { InMessage, Phase1Services, SendOptions } from './services';
import { attachPhase2 } from './phase2';
import { deleteIsakmpSa } from './informational';
import { quickMode, type ChildSaPair, type QuickModeOptions } from './quick-mode';
import { Admission } from './admission';
import { NAT_KEEPALIVE } from '../../wire/ikev1/nat-t';

/** The responder cookie of a first message (RFC 2408 §3.1); read-only, never handed out. */
const ZERO_COOKIE = Buffer.alloc(8);
const NO_SAS: ReadonlySet<Phase1Context> = new Set();

export interface Ikev1EngineOptions {
  readonly transport: Transport;
  readonly crypto: CryptoSuite;
  readonly kernel: KernelIpsec;
  readonly clock: Clock;
  readonly rules: readonly Ikev1Rule[];
  readonly credentials: Ikev1Credentials;
  readonly settings?: Partial<Ikev1Settings>;
  readonly log?: Logger;
  readonly counters?: Counters;
  /** The NAT-T port of this engine (default 4500). */
  readonly natPort?: number;
}

/** A module that handles post-Phase-1 exchanges (Quick Mode, Informational) on an ISAKMP SA. */
export interface ExchangeModule {
  readonly exchangeTypes: readonly number[];
  handle(engine: Ikev1Engine, ctx: Phase1Context, isakmp: Buffer, header: IsakmpHeader, from: Endpoint, to: Endpoint): Promise<void>;
}

/** Engine events: `established` after Phase 1 (INITIAL-CONTACT, DPD hang off it), `closed`. */
export interface Ikev1EngineEvents {
  established: [Phase1Context];
  closed: [];
}

let serials = 0;

export class Ikev1Engine implements Phase1Services {
  readonly crypto: CryptoSuite;
  readonly kernel: KernelIpsec;
  readonly clock: Clock;
  readonly settings: Ikev1Settings;
  readonly credentials: Ikev1Credentials;
  readonly log: Logger;
  readonly counters: Counters;
  readonly natPort: number;
  /** Flood bounds for new responder SAs. */
  readonly admission: Admission;
  /** Set by the Phase 2 module (phase2.ts): whether our MM5/AM3 should carry INITIAL-CONTACT. */
  initialContact?: (ctx: Phase1Context) => boolean;
  private ruleList: readonly Ikev1Rule[];
  private readonly transport: Transport;
  /** Phase 1 SAs by initiator cookie (hex). */
  private readonly sas = new Map<string, Phase1Context>();
  /**
   * The same SAs by peer address, oldest first, so the per-peer questions asked on every
   * negotiation (INITIAL-CONTACT, an established SA to reuse) cost the peer's SAs, not all SAs.
   */
  private readonly byPeer = new Map<string, Set<Phase1Context>>();
  /** The address each SA is filed under in byPeer. */
  private readonly filedAs = new WeakMap<Phase1Context, string>();
  private readonly modules = new Map<number, ExchangeModule>();
  private readonly unsubscribe: () => void;
  readonly events = new EventEmitter<Ikev1EngineEvents>();

  constructor(o: Ikev1EngineOptions) {
    this.transport = o.transport;
    this.crypto = o.crypto;
    this.kernel = o.kernel;
    this.clock = o.clock;
    this.ruleList = o.rules;
    this.credentials = o.credentials;
    this.settings = { ...DEFAULT_SETTINGS, ...o.settings };
    this.log = o.log ?? nullLogger();
    this.counters = o.counters ?? new Counters();
    this.admission = new Admission(this.settings.admission, this.clock, this.counters);
    this.natPort = o.natPort ?? IkePort.NAT_T;
    this.unsubscribe = this.transport.onReceive((d) => this.receive(d));
    attachPhase2(this);
  }

  get rules(): readonly Ikev1Rule[] {
    return this.ruleList;
  }

  /**
   * Replaces the rules (configuration reload). Negotiations already under way keep the rule they
   * started with; new ones use the new set.
   */
  setRules(rules: readonly Ikev1Rule[]): void {
    this.ruleList = rules;
  }

  /** Quick Mode on an established ISAKMP SA (quick-mode.ts `quickMode`). */
  quickMode(ctx: Phase1Context, options?: QuickModeOptions): Promise<ChildSaPair> {
    return quickMode(this, ctx, options);
  }

  /** Registers the handler of Quick Mode / Informational exchanges. */
  register(module: ExchangeModule): void {
    for (const t of module.exchangeTypes) this.modules.set(t, module);
  }

  random(n: number): Buffer {
    return this.crypto.random.fill(Buffer.alloc(n));
  }

  findRule(local: Endpoint, peer: Endpoint): Ikev1Rule | undefined {
    return this.rules.find((r) => addressMatches(local.address, r.localAddresses, r.localRanges) &&
      addressMatches(peer.address, r.remoteAddresses, r.remoteRanges));
  }

  /** The Phase 1 SAs, for dumps and tests (a copy: O(all SAs)). */
  phase1Sas(): Phase1Context[] {
    return [...this.sas.values()];
  }

  /** Phase 1 SAs held (any state) by local role, counted without copying. */
  phase1CountsByRole(): { initiator: number; responder: number } {
    const n = { initiator: 0, responder: 0 };
    for (const c of this.sas.values()) n[c.sa.role]++;
    return n;
  }

  /** How many Phase 1 SAs the engine holds (any state). */
  get phase1Count(): number {
    return this.sas.size;
  }

  /** The Phase 1 SAs (any state) with a peer address, oldest first; live: do not hold on to it. */
  phase1SasWith(peerAddress: string): ReadonlySet<Phase1Context> {
    return this.byPeer.get(peerAddress) ?? NO_SAS;
  }

  private file(ctx: Phase1Context): void {
    const address = ctx.sa.peer.address;
    let set = this.byPeer.get(address);
    if (!set) this.byPeer.set(address, (set = new Set()));
    set.add(ctx);
    this.filedAs.set(ctx, address);
  }

  private unfile(ctx: Phase1Context): void {
    const address = this.filedAs.get(ctx);
    if (address === undefined) return;
    this.filedAs.delete(ctx);
    const set = this.byPeer.get(address);
    if (set?.delete(ctx) && set.size === 0) this.byPeer.delete(address);
  }

  /** An established ISAKMP SA with `peer`, if any (newest first). */
  /**
   * The newest usable ISAKMP SA with `peer`'s address — negotiated under `ruleLabel` when given
   * (several daemons, or several rules, may share one address; the port may have floated to
   * NAT-T, so it does not identify the peer).
   */
  established(peer: Endpoint, ruleLabel?: string): Phase1Context | undefined {
    let newest: Phase1Context | undefined;
    for (const c of this.phase1SasWith(peer.address)) {
      if (c.sa.usableForQuickMode() && (ruleLabel === undefined || c.rule.label === ruleLabel)) newest = c;
    }
    return newest;
  }

  /**
   * Starts Phase 1 with `peer` under the rule for that peer (or `ruleLabel`), Main Mode.
   * @returns the context once the ISAKMP SA is established
   * @throws OakleyError when no rule matches, or the negotiation fails or times out
   */
  async initiate(local: Endpoint, peer: Endpoint, ruleLabel?: string): Promise<Phase1Context> {
    const rule = ruleLabel ? this.rules.find((r) => r.label === ruleLabel) : this.findRule(local, peer);
    if (!rule) throw new OakleyError(ExchangeErr.NO_RULE, `no rule covers ${local.address} -> ${peer.address}`);
    const sa = new IkeSa({
      role: 'initiator', local, peer, clock: this.clock, icookie: this.random(8), mode: rule.mode,
      ruleLabel: rule.label, log: this.log, counters: this.counters, serial: ++serials,
    });
    const ctx = this.adopt(sa, rule);
    const done = ctx.established();
    if (rule.mode === 'main') {
      mainOutI1(this, ctx);
    } else {
      try {
        await aggressiveOutI1(this, ctx);
      } catch (e) {
        this.fail(ctx, e as Error, false);
      }
    }
    await done;
    return ctx;
  }

  private adopt(sa: IkeSa, rule: Ikev1Rule): Phase1Context {
    const ctx = new Phase1Context(sa, rule);
    this.sas.set(sa.icookie.toString('hex'), ctx);
    this.file(ctx);
    sa.setTimer('expire', this.settings.expireMs, () => {
      if (sa.state === IkeSaState.CREATED || sa.state === IkeSaState.CONNECTING) {
        this.fail(ctx, new OakleyError('IKE_ERR_PHASE1_EXPIRED', `Phase 1 not complete after ${this.settings.expireMs / 1000} s (expire_timer)`));
      }
    });
    this.counters.inc('p1.created');
    return ctx;
  }

  // -------------------------------------------------------------------------------------------
  // Sending
  // -------------------------------------------------------------------------------------------

  sendPhase1(ctx: Phase1Context, payloads: Payload[], options: SendOptions): void {
    const sa = ctx.sa;
    const header = {
      icookie: sa.icookie, rcookie: sa.rcookie, nextPayload: 0, version: 0x10,
      exchangeType: sa.mode === 'main' ? ExchangeType.IDENTITY_PROTECTION : ExchangeType.AGGRESSIVE, flags: 0, messageId: 0,
    };
    let datagram: Buffer;
    if (options.encrypt) {
      const out = encodeMessage(header, payloads, { encrypt: this.bodyCipher(ctx, sa.keys.iv!) });
      sa.keys.iv = out.nextIv;
      datagram = out.datagram;
    } else {
      datagram = encodeMessage(header, payloads).datagram;
    }
    this.record(ctx, datagram);
    if (options.expectReply) {
      ctx.retransmitter ??= new Retransmitter(this.clock, {
        send: (d) => this.sendRaw(ctx, d),
        giveUp: () => this.fail(ctx, new OakleyError('IKE_ERR_PEER_TIMEOUT', `peer ${sa.peer.address} did not answer`), false),
      }, this.settings.retransmit, this.counters);
      ctx.retransmitter.start(datagram);
    } else {
      this.sendRaw(ctx, datagram);
    }
  }

  /** Sends an ISAKMP message to the SA's peer, on the NAT-T port with the marker once floated. */
  /**
   * RFC 3948 §2.3 NAT-keepalive (one 0xFF octet, no marker) to the peer's NAT-T port, so the NAT
   * in front of us keeps its mapping while the SAs are idle.
   */
  sendNatKeepalive(ctx: Phase1Context): void {
    const sa = ctx.sa;
    if (!sa.natT.floated) return;
    this.transport.send(NAT_KEEPALIVE, sa.peer, { address: sa.local.address, port: this.natPort });
    this.counters.inc('tx.natt_keepalive');
  }

  sendRaw(ctx: Phase1Context, isakmp: Buffer): void {
    const sa = ctx.sa;
    if (sa.natT.floated) {
      const local = { address: sa.local.address, port: this.natPort };
      const peer = sa.peer.port === IkePort.IKE || sa.peer.port === sa.local.port ? { address: sa.peer.address, port: this.natPort } : sa.peer;
      sa.peer = peer;
      this.transport.send(frameForNatT(isakmp), peer, local);
    } else {
      this.transport.send(isakmp, sa.peer, sa.local);
    }
    this.counters.inc('tx.packets');
  }

  bodyCipher(ctx: Phase1Context, iv: Buffer) {
    const neg = ctx.sa.negotiated!;
    return { cipher: this.crypto.cipher, alg: CIPHER_OF[neg.encr], key: ctx.sa.keys.encKey!, iv };
  }

  /** Datagrams sent while handling the current request, for the duplicate cache. */
  private readonly sentNow = new Map<Phase1Context, Buffer[]>();

  private record(ctx: Phase1Context, datagram: Buffer): void {
    this.sentNow.get(ctx)?.push(datagram);
  }

  // -------------------------------------------------------------------------------------------
  // Receiving
  // -------------------------------------------------------------------------------------------

  /** Entry point for every datagram. Never throws: bad input is counted and logged. */
  receive(d: ReceivedDatagram): void {
    this.counters.inc('rx.packets');
    let isakmp = d.data;
    if (d.to.port === this.natPort && d.to.port !== IkePort.IKE) {
      try {
        const kind = classifyNatTDatagram(d.data);
        if (kind.kind === 'keepalive') { this.counters.inc('rx.natt_keepalive'); return; }
        if (kind.kind === 'esp') { this.counters.inc('rx.esp_on_ike_port'); return; }
      } catch (e) {
        this.dropMalformed(d, e);
        return;
      }
      isakmp = d.data.subarray(4);
    }
    this.dispatch(isakmp, d.from, d.to).catch((e: unknown) => {
      this.counters.inc('rx.internal_error');
      this.log.error(`internal error handling a datagram from ${endpointKey(d.from)}: ${(e as Error).stack ?? String(e)}`);
    });
  }

  private dropMalformed(d: ReceivedDatagram, e: unknown): void {
    this.counters.inc('rx.malformed');
    this.log.info(`dropped malformed datagram from ${endpointKey(d.from)}: ${(e as Error).message}`);
  }

  private async dispatch(isakmp: Buffer, from: Endpoint, to: Endpoint): Promise<void> {
    let header: IsakmpHeader;
    try {
      header = decodeHeader(isakmp).header;
    } catch (e) {
      this.dropMalformed({ data: isakmp, from, to }, e);
      return;
    }
    isakmp = isakmp.subarray(0, header.length);
    const key = header.icookie.toString('hex');
    let ctx = this.sas.get(key);
    if (ctx && !sameBytes(ctx.sa.rcookie, ZERO_COOKIE) && !sameBytes(header.rcookie, ctx.sa.rcookie) && !sameBytes(header.rcookie, ZERO_COOKIE)) {
      this.counters.inc('rx.bad_cookie');
      return;
    }
    if (ctx && header.exchangeType === ExchangeType.INFORMATIONAL && !(header.flags & HeaderFlag.ENCRYPTION) &&
      (ctx.sa.state === IkeSaState.CREATED || ctx.sa.state === IkeSaState.CONNECTING)) {
      this.phase1Notify(ctx, isakmp, header, from);
      return;
    }
    const module = this.modules.get(header.exchangeType);
    if (module) {
      if (!ctx || !ctx.sa.usableForQuickMode() && header.exchangeType !== ExchangeType.INFORMATIONAL) {
        this.counters.inc('rx.no_sa');
        return;
      }
      await module.handle(this, ctx, isakmp, header, from, to);
      return;
    }
    if (header.exchangeType !== ExchangeType.IDENTITY_PROTECTION && header.exchangeType !== ExchangeType.AGGRESSIVE) {
      this.counters.inc('rx.unsupported_exchange');
      this.log.info(`ignored ${nameOf(ExchangeType, header.exchangeType)} exchange from ${endpointKey(from)}`);
      return;
    }
    if (!ctx) {
      if (!sameBytes(header.rcookie, ZERO_COOKIE)) {
        this.counters.inc('rx.no_sa');
        return;
      }
      if (!this.admission.admitSource(from.address)) return;
      ctx = this.newResponder(header, from, to);
      if (!ctx) return;
      const evicted = this.admission.addEmbryonic(ctx);
      if (evicted) {
        this.deletePhase1(evicted, { text: 'half-open cap reached: the oldest negotiation that never got past its first message is dropped', quiet: true });
      }
    }
    await this.phase1Message(ctx, isakmp, header, from, to);
  }

  /**
   * A cleartext notification about a Phase 1 still in progress. It cannot be authenticated (RFC 2408
   * §5.5), so it is a hint; an error from the peer's address ends the negotiation as the peer has
   * already given up on it (strongSwan does the same). Status notifications are only logged.
   */
  private phase1Notify(ctx: Phase1Context, isakmp: Buffer, header: IsakmpHeader, from: Endpoint): void {
    if (from.address !== ctx.sa.peer.address) {
      this.counters.inc('rx.notify_wrong_source');
      return;
    }
    let payloads: Payload[];
    try {
      payloads = decodePayloadChain(header.nextPayload, isakmp.subarray(28), 28);
    } catch (e) {
      this.dropMalformed({ data: isakmp, from, to: ctx.sa.local }, e);
      return;
    }
    for (const p of payloads) {
      if (p.type !== PayloadType.N) continue;
      const name = nameOf(NotifyType, p.notifyType);
      this.counters.inc(`rx.notify.${name}`);
      if (p.notifyType < 16384) {
        this.fail(ctx, new OakleyError('IKE_ERR_PEER_NOTIFY', `peer ${from.address} reported ${name} during Phase 1`, { notify: p.notifyType }), false);
        return;
      }
      this.log.info(`SA ${ctx.sa.cookieString()}: peer sent ${name}`);
    }
  }

  private newResponder(header: IsakmpHeader, from: Endpoint, to: Endpoint): Phase1Context | undefined {
    const rule = this.findRule(to, from);
    const mode = header.exchangeType === ExchangeType.AGGRESSIVE ? 'aggressive' : 'main';
    if (!rule) {
      this.counters.inc('p1.no_rule');
      this.log.info(`no rule covers ${to.address} <- ${from.address}; ignoring its ${mode === 'main' ? 'Main' : 'Aggressive'} Mode request`);
      return undefined;
    }
    if (mode === 'aggressive' && !rule.aggressiveResponder) {
      // Refused before any state exists; the cleartext notify spares the initiator its retransmissions.
      this.counters.inc('p1.aggressive_refused');
      this.log.info(`rule "${rule.label}" does not answer Aggressive Mode (aggressiveResponder off); refused ${endpointKey(from)}`);
      const n: Payload = { type: PayloadType.N, doi: Doi.IPSEC, protocol: ProtocolId.ISAKMP, spi: Buffer.concat([header.icookie, Buffer.alloc(8)]),
        notifyType: NotifyType.NO_PROPOSAL_CHOSEN, data: Buffer.alloc(0) };
      const h = { icookie: header.icookie, rcookie: Buffer.alloc(8), nextPayload: 0, version: 0x10, exchangeType: ExchangeType.INFORMATIONAL, flags: 0, messageId: 0 };
      this.transport.send(encodeMessage(h, [n]).datagram, from, to);
      return undefined;
    }
    const sa = new IkeSa({
      role: 'responder', local: to, peer: from, clock: this.clock, icookie: header.icookie, rcookie: this.random(8),
      mode, ruleLabel: rule.label, log: this.log, counters: this.counters, serial: ++serials,
    });
    return this.adopt(sa, rule);
  }

  private async phase1Message(ctx: Phase1Context, isakmp: Buffer, header: IsakmpHeader, from: Endpoint, to: Endpoint): Promise<void> {
    const sa = ctx.sa;
    const verdict = ctx.responses.check(isakmp);
    if (verdict.kind === 'replay') {
      for (const r of verdict.responses) this.sendRaw(ctx, r);
      return;
    }
    if (verdict.kind === 'busy') {
      this.counters.inc('rx.busy');
      return;
    }
    if (ctx.busy) {
      // The peer's next message can overtake our own work on the previous one (MM5 arrives while
      // we still compute g^xy after sending MM4: both sides do it at once). It waits for the SA to
      // be checked in instead of costing the peer a retransmission; one waits, a later one replaces it.
      if (ctx.deferred) this.counters.inc('rx.busy');
      this.counters.inc('rx.deferred');
      const copy = Buffer.from(isakmp);
      // Dispatched afresh: the SA may have failed or moved on by then.
      ctx.deferred = () => this.dispatch(copy, from, to);
      return;
    }
    if (ctx.step === 'DONE') {
      this.counters.inc('rx.late_phase1');
      return;
    }
    const encrypted = (header.flags & HeaderFlag.ENCRYPTION) !== 0;
    const ivBefore = sa.keys.iv;
    let msg: InMessage;
    try {
      msg = this.decode(ctx, isakmp, header, encrypted, from, to);
    } catch (e) {
      sa.keys.iv = ivBefore;
      if (encrypted) sa.stats.errDecrypt++;
      this.counters.inc('rx.malformed');
      this.log.info(`SA ${sa.cookieString()}: malformed message from ${endpointKey(from)}: ${(e as Error).message}`);
      if (encrypted && (ctx.step === 'MM_R2_SENT' || ctx.step === 'AM_R1_SENT')) {
        // The first encrypted message does not decrypt to a valid chain: with pre-shared keys the
        // keys (SKEYID_e) differ, which is what a wrong pre-shared key looks like.
        this.fail(ctx, new ExchangeError(ExchangeErr.AUTHENTICATION_FAILED,
          `MM5 from ${endpointKey(from)} does not decrypt to a valid message: the pre-shared keys probably differ`,
          NotifyType.AUTHENTICATION_FAILED));
      } else if (!encrypted && e instanceof WireError) {
        this.sendNotify(ctx, e.notify ?? NotifyType.PAYLOAD_MALFORMED, false);
      }
      return;
    }
    const row = this.transitionFor(ctx, encrypted, msg.payloads);
    if (!row) {
      this.counters.inc('rx.unexpected');
      this.log.info(`SA ${sa.cookieString()}: unexpected ${encrypted ? 'encrypted ' : ''}message in step ${ctx.step}; dropped`);
      sa.keys.iv = ivBefore;
      return;
    }
    ctx.busy = true;
    ctx.responses.begin(isakmp);
    this.sentNow.set(ctx, []);
    try {
      checkPayloads(row, msg.payloads);
      if (row.role === 'initiator' && ctx.step !== 'START') ctx.retransmitter?.stop();
      if (sa.role === 'initiator' && sameBytes(sa.rcookie, ZERO_COOKIE)) sa.setRcookie(header.rcookie);
      if (!(sa.natT.floated) && to.port === this.natPort) sa.natT.floated = true;
      if (sa.natT.floated && sa.peer !== from) {
        const moved = sa.peer.address !== from.address;
        sa.peer = from;
        if (moved) {
          this.unfile(ctx);
          this.file(ctx);
        }
      }
      await row.handler(this, ctx, msg);
      if (sa.role === 'responder' && ctx.step !== 'START') this.admission.settled(ctx);
      ctx.step = row.to;
      ctx.responses.answer(isakmp, this.sentNow.get(ctx) ?? []);
      this.log.debug(`SA ${sa.cookieString()}: ${row.story}`);
      if (row.to === 'DONE') this.phase1Done(ctx);
    } catch (e) {
      ctx.responses.forget(isakmp);
      sa.keys.iv = ivBefore;
      this.fail(ctx, e as Error, true);
    } finally {
      ctx.busy = false;
      this.sentNow.delete(ctx);
    }
    const next = ctx.deferred;
    ctx.deferred = undefined;
    if (next) await next();
  }

  private decode(ctx: Phase1Context, isakmp: Buffer, header: IsakmpHeader, encrypted: boolean, from: Endpoint, to: Endpoint): InMessage {
    let body = isakmp.subarray(28);
    if (encrypted) {
      if (!ctx.sa.keys.encKey) throw new WireError('IKE_ERR_WIRE_VALUE', 'HEADER', 19, 'encrypted message before the keys exist');
      const out = decryptBody(this.crypto.cipher, CIPHER_OF[ctx.sa.negotiated!.encr], ctx.sa.keys.encKey, ctx.sa.keys.iv!, body);
      body = out.plaintext;
      ctx.sa.keys.iv = out.nextIv;
    }
    const spans: PayloadSpan[] = [];
    const payloads = decodePayloadChain(header.nextPayload, body, 28, { padded: encrypted, spans });
    return { header, payloads, body, spans, encrypted, from, to };
  }

  private transitionFor(ctx: Phase1Context, encrypted: boolean, payloads: readonly Payload[]): Phase1Transition | undefined {
    const auth = ctx.sa.negotiated?.auth;
    const table = ctx.sa.mode === 'main' ? MAIN_MODE : AGGRESSIVE_MODE;
    const rows = table.filter((t) => t.from === ctx.step && t.role === ctx.sa.role && t.encrypted === encrypted &&
      (t.auth === undefined || auth === undefined || t.auth === auth));
    // Aggressive Mode AM2: the auth method is not known before the handler reads the SA, so rows
    // differing only in auth are told apart by their required payloads (the handler then checks).
    return rows.find((t) => t.required.every((r) => payloads.some((p) => p.type === r))) ?? rows[0];
  }

  private phase1Done(ctx: Phase1Context): void {
    const sa = ctx.sa;
    sa.establishedAt = this.clock.now();
    sa.clearTimer('expire');
    sa.setState(IkeSaState.ESTABLISHED, `${sa.mode === 'main' ? 'Main' : 'Aggressive'} Mode complete`);
    ctx.finish();
    const life = sa.negotiated!.lifetimeSeconds;
    if (life > 0) sa.setTimer('lifetime', life * 1000, () => this.expirePhase1(ctx));
    this.counters.inc('p1.established');
    this.events.emit('established', ctx);
    this.log.info(`ISAKMP SA ${sa.cookieString()} established with ${endpointKey(sa.peer)} (${sa.negotiated!.encr}-${sa.negotiated!.keyLength}/` +
      `${sa.negotiated!.hash}/group ${sa.negotiated!.group}/${sa.negotiated!.auth})`);
    ctx.settle();
  }

  /** Phase 1 lifetime over: tell the peer (Delete) while the keys still exist, then forget it. */
  private expirePhase1(ctx: Phase1Context): void {
    deleteIsakmpSa(this, ctx, 'Phase 1 lifetime expired').catch((e: unknown) => {
      this.log.warn(`expiring ISAKMP SA ${ctx.sa.cookieString()}: ${(e as Error).message}`);
      this.deletePhase1(ctx, 'Phase 1 lifetime expired');
    });
  }

  /** Deletes an ISAKMP SA locally (the Informational module sends the Delete first when it can). */
  deletePhase1(ctx: Phase1Context, reason: string | StateReason): void {
    const sa = ctx.sa;
    if (sa.state === IkeSaState.DESTROYED) return;
    if (sa.state !== IkeSaState.DELETING) sa.setState(IkeSaState.DELETING, reason);
    sa.setState(IkeSaState.DESTROYED, reason);
    this.sas.delete(sa.icookie.toString('hex'));
    this.unfile(ctx);
    this.admission.settled(ctx);
    ctx.retransmitter?.stop();
  }

  /**
   * Fails a Phase 1 negotiation: tells the peer why when it makes sense (an ExchangeError or a
   * proposal refusal carries a notify type), destroys the SA, and rejects its waiters.
   */
  fail(ctx: Phase1Context, error: Error, peerAnswered = true): void {
    const sa = ctx.sa;
    if (sa.state === IkeSaState.DESTROYED) return;
    const notify = failureNotify(error);
    // Phase 1 failures are reported in the clear: the peer may not share our keys (a wrong
    // pre-shared key is the common case), so a protected notification would be unreadable.
    if (notify !== undefined && peerAnswered) this.sendNotify(ctx, notify, false);
    this.counters.inc('p1.failed');
    this.log.warn(`Phase 1 with ${endpointKey(sa.peer)} failed: ${error.message}`);
    sa.setState(IkeSaState.DESTROYED, { text: error.message, code: (error as OakleyError).code, peerAnswered });
    this.sas.delete(sa.icookie.toString('hex'));
    this.unfile(ctx);
    this.admission.settled(ctx);
    ctx.retransmitter?.stop();
    ctx.ke?.dispose();
    ctx.settle(error);
  }

  /**
   * Sends a notification about this SA. Before keys exist it goes in the clear in an Informational
   * exchange (RFC 2408 §5: the receiver cannot authenticate it and treats it as a hint); afterwards
   * the Informational module protects it when registered.
   */
  sendNotify(ctx: Phase1Context, notifyType: number, protectedByKeys: boolean): void {
    const info = this.modules.get(ExchangeType.INFORMATIONAL) as (ExchangeModule & { notify?: (e: Ikev1Engine, c: Phase1Context, t: number) => void }) | undefined;
    if (protectedByKeys && info?.notify) {
      info.notify(this, ctx, notifyType);
      return;
    }
    const sa = ctx.sa;
    const n: Payload = { type: PayloadType.N, doi: Doi.IPSEC, protocol: ProtocolId.ISAKMP, spi: Buffer.concat([sa.icookie, sa.rcookie]), notifyType, data: Buffer.alloc(0) };
    const header = { icookie: sa.icookie, rcookie: sa.rcookie, nextPayload: 0, version: 0x10, exchangeType: ExchangeType.INFORMATIONAL, flags: 0, messageId: 0 };
    this.sendRaw(ctx, encodeMessage(header, [n]).datagram);
    this.counters.inc(`tx.notify.${nameOf(NotifyType, notifyType)}`);
  }

  close(): void {
    this.unsubscribe();
    this.events.emit('closed');
    for (const ctx of [...this.sas.values()]) this.deletePhase1(ctx, 'engine closed');
  }
}

/** LS-2: every required payload present; nothing outside required + optional + always allowed. */
function checkPayloads(row: Phase1Transition, payloads: readonly Payload[]): void {
  const missing = new Set(row.required);
  for (const p of payloads) {
    if (p.type === 'unknown') {
      throw new ExchangeError(ExchangeErr.UNEXPECTED_PAYLOAD, `unknown payload type ${p.payloadType}`, NotifyType.INVALID_PAYLOAD_TYPE);
    }
    if (missing.delete(p.type)) continue;
    if (row.required.includes(p.type) || row.optional.includes(p.type) || ALWAYS_ALLOWED.includes(p.type)) continue;
    throw new ExchangeError(ExchangeErr.UNEXPECTED_PAYLOAD, `${nameOf(PayloadType, p.type)} payload is not expected here (${row.story})`,
      NotifyType.INVALID_PAYLOAD_TYPE);
  }
  if (missing.size > 0) {
    throw new ExchangeError(ExchangeErr.MISSING_PAYLOAD, `message lacks ${[...missing].map((t) => nameOf(PayloadType, t)).join(' + ')} (${row.story})`,
      NotifyType.PAYLOAD_MALFORMED);
  }
}

/** A rule side matches when it names no addresses at all, or the address is listed or in a range. */
function addressMatches(address: string, singles?: readonly string[], ranges?: readonly IpRange[]): boolean {
  if (!singles && !ranges) return true;
  if (singles?.includes(address)) return true;
  if (!ranges || ranges.length === 0) return false;
  const v6 = address.includes(':');
  let value: bigint;
  try {
    value = BigInt('0x' + (v6 ? ipv6ToBytes(address) : ipv4ToBytes(address)).toString('hex'));
  } catch {
    return false;
  }
  return ranges.some((r) => r.v6 === v6 && r.start <= value && value <= r.end);
}
