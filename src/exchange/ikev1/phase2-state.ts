/**
 * What the post-Phase-1 exchanges (Quick Mode, Informational, DPD) keep, and the helpers they share:
 *
 *  - per engine: the table of IPsec SA pairs (ChildSaPair) negotiated by Quick Mode, so that
 *    Delete, INITIAL-CONTACT, DPD and rekeying can find them by peer and SPI;
 *  - per ISAKMP SA: Quick Mode exchanges in progress by message ID, the response cache for
 *    retransmitted requests, the smallest hard lifetime agreed (solaris-ike.md §5.7), the time of
 *    the last authenticated inbound message (DPD), DPD sequence numbers;
 *  - decryption of a message with the IV of its exchange (RFC 2409 Appendix B) and the check that
 *    HASH comes first, with the exact octets after it for the HASH computations (RFC 2409 §5.5).
 *
 * The state hangs off the engine and the Phase1Context in WeakMaps, so the engine does not need
 * to know about it and it disappears with them.
 */
import { timingSafeEqual } from 'node:crypto';

import type { KeyExchange, SharedSecret } from '../../crypto/types';
import type { IpsecSaSpec, SaKey } from '../../kernel/types';
import type { Endpoint } from '../../net/transport';
import { WireError } from '../../wire/errors';
import { blockSizeOf, decryptBody, phase2Iv } from '../../wire/ikev1/encryption';
import { nameOf } from '../../wire/ikev1/iana';
import { decodePayloadChain, type PayloadSpan } from '../../wire/ikev1/message';
import { HeaderFlag, PayloadType, type IdPayload, type IsakmpHeader, type Payload, type SaPayload } from '../../wire/ikev1/types';
import { IkeSaState } from '../ike-sa';
import { ResponseCache, type Retransmitter } from '../retransmit';
import type { Ikev1Engine } from './engine';
import type { P1LifetimeCache, P2Lifetimes } from './lifetimes';
import { CIPHER_OF, type Phase1Context } from './phase1-context';
import { ExchangeErr, ExchangeError } from './phase1-steps';
import type { P2Negotiated, P2Policy } from './proposals';
import type { InMessage } from './services';
import type { TrafficSelectors } from './traffic-selectors';

// ---------------------------------------------------------------------------------------------
// IPsec SA pairs
// ---------------------------------------------------------------------------------------------

/** The keys of one IPsec SA, as split from KEYMAT (encryption key first, RFC 2409 §5.5). */
export interface ChildSaKeys {
  readonly encryption: Buffer;
  /** AES-GCM: the 4-octet salt after the key (RFC 4106 §8.1). */
  readonly salt?: Buffer;
  readonly integrity?: Buffer;
}

/**
 * An installed SA as its pair remembers it: the spec given to the kernel without its algorithms
 * and keys (the pair's `negotiated` names the algorithms). The kernel holds the keys (`dump p2`
 * at keymat privilege reads them there); the daemon's copies are wiped once both are installed.
 */
export type InstalledSa = Omit<IpsecSaSpec, 'encryption' | 'integrity'>;

/**
 * Both IPsec SAs a Quick Mode created. `inbound` uses our SPI (the one we put in our SA
 * payload), `outbound` the peer's; the peer's pair is the mirror image.
 */
export interface ChildSaPair {
  readonly serial: number;
  /** Our role in the Quick Mode that created the pair. */
  readonly role: 'initiator' | 'responder';
  readonly local: Endpoint;
  readonly peer: Endpoint;
  readonly inbound: InstalledSa;
  readonly outbound: InstalledSa;
  readonly negotiated: P2Negotiated;
  /** What was installed in the kernel (after RESPONDER-LIFETIME and normalisation). */
  readonly lifetimes: P2Lifetimes;
  /** The traffic the pair protects, from our point of view. */
  readonly selectors: TrafficSelectors;
  /** IDci/IDcr were exchanged (false: the Phase 1 addresses were implied). */
  readonly explicitIds: boolean;
  readonly ruleLabel: string;
  /** What to ask for again when rekeying. */
  readonly policy: P2Policy;
  /** The ISAKMP SA it was negotiated on (`icookie:rcookie`). */
  readonly phase1: string;
  readonly createdAt: number;
  state: 'installed' | 'rekeyed' | 'deleted';
  /** A rekey Quick Mode is running for this pair. */
  rekeying?: boolean;
  /** A Delete for it is being sent (both SAs expire together: one Delete, not two). */
  deleting?: boolean;
  replacedBy?: ChildSaPair;
}

export interface EnginePhase2 {
  /** Pairs not yet deleted, in installation order (addPair / removePair keep the indexes below). */
  readonly pairs: Set<ChildSaPair>;
  /** The same by peer address. */
  readonly byPeer: Map<string, Set<ChildSaPair>>;
  /** The same by each of their two SAs (saKeyId). */
  readonly bySa: Map<string, ChildSaPair>;
  serial: number;
  closed: boolean;
  /** Peer address → Clock.now() of the last INITIAL-CONTACT we sent (solaris-ike.md §5.5 step 6). */
  readonly initialContactSent: Map<string, number>;
}

const engines = new WeakMap<Ikev1Engine, EnginePhase2>();

export function enginePhase2(engine: Ikev1Engine): EnginePhase2 {
  let s = engines.get(engine);
  if (!s) {
    s = { pairs: new Set(), byPeer: new Map(), bySa: new Map(), serial: 0, closed: false, initialContactSent: new Map() };
    engines.set(engine, s);
  }
  return s;
}

const saKeyId = (k: SaKey): string => `${k.protocol}/${k.dst}/${k.spi}`;

/** Files a freshly installed pair under its peer and its two SAs. */
export function addPair(engine: Ikev1Engine, pair: ChildSaPair): void {
  const ep = enginePhase2(engine);
  ep.pairs.add(pair);
  let set = ep.byPeer.get(pair.peer.address);
  if (!set) ep.byPeer.set(pair.peer.address, (set = new Set()));
  set.add(pair);
  ep.bySa.set(saKeyId(pair.inbound), pair);
  ep.bySa.set(saKeyId(pair.outbound), pair);
}

function forgetPair(engine: Ikev1Engine, pair: ChildSaPair): void {
  const ep = enginePhase2(engine);
  ep.pairs.delete(pair);
  const set = ep.byPeer.get(pair.peer.address);
  if (set?.delete(pair) && set.size === 0) ep.byPeer.delete(pair.peer.address);
  for (const spec of [pair.inbound, pair.outbound]) if (ep.bySa.get(saKeyId(spec)) === pair) ep.bySa.delete(saKeyId(spec));
}

/** The live (installed or rekeyed) pairs with a peer address (a copy). */
export function pairsWith(engine: Ikev1Engine, peerAddress: string): ChildSaPair[] {
  return [...(enginePhase2(engine).byPeer.get(peerAddress) ?? [])].filter((p) => p.state !== 'deleted');
}

/** Whether any live pair is with a peer address. */
export function hasPairsWith(engine: Ikev1Engine, peerAddress: string): boolean {
  for (const p of enginePhase2(engine).byPeer.get(peerAddress) ?? []) if (p.state !== 'deleted') return true;
  return false;
}

/** The live pair one of whose SAs is `key`. */
export function pairOf(engine: Ikev1Engine, key: SaKey): ChildSaPair | undefined {
  const p = enginePhase2(engine).bySa.get(saKeyId(key));
  return p && p.state !== 'deleted' ? p : undefined;
}

/**
 * The live pair with `peerAddress` that has an SA with `spi`: its outbound SA first (a Delete
 * names the SPI its sender receives on), else its inbound one.
 */
export function pairWithSpi(engine: Ikev1Engine, peerAddress: string, protocol: SaKey['protocol'], spi: number): ChildSaPair | undefined {
  const set = enginePhase2(engine).byPeer.get(peerAddress);
  if (!set) return undefined;
  const bySa = enginePhase2(engine).bySa;
  // Fast path: the outbound SA's destination is normally the peer address itself.
  const direct = bySa.get(saKeyId({ protocol, dst: peerAddress, spi }));
  if (direct && set.has(direct) && direct.state !== 'deleted' && direct.outbound.spi === spi) return direct;
  let inbound: ChildSaPair | undefined;
  for (const p of set) {
    if (p.state === 'deleted' || p.outbound.protocol !== protocol) continue;
    if (p.outbound.spi === spi) return p;
    if (!inbound && p.inbound.spi === spi) inbound = p;
  }
  return inbound;
}

/**
 * Removes both SAs of a pair from the kernel (either may already be gone: expired, or deleted by
 * an administrator) and marks the pair deleted. @returns how many SAs were actually removed
 */
export async function removePair(engine: Ikev1Engine, pair: ChildSaPair, reason: string): Promise<number> {
  if (pair.state === 'deleted') return 0;
  pair.state = 'deleted';
  let removed = 0;
  for (const spec of [pair.inbound, pair.outbound]) {
    try {
      await engine.kernel.delSa({ dst: spec.dst, spi: spec.spi, protocol: spec.protocol });
      removed++;
    } catch {
      // already gone
    }
  }
  forgetPair(engine, pair);
  engine.counters.inc('p2.deleted');
  engine.log.info(`IPsec SA pair ${spiHex(pair.inbound.spi)}/${spiHex(pair.outbound.spi)} with ${pair.peer.address} deleted: ${reason}`);
  return removed;
}

export function spiHex(spi: number): string {
  return `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;
}

export function spiBytes(spi: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(spi >>> 0);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Per ISAKMP SA
// ---------------------------------------------------------------------------------------------

export type QmStep = 'QM_I1_SENT' | 'QM_R1_SENT' | 'QM_I_AWAIT_CONNECTED' | 'DONE';

/** One Quick Mode exchange in progress (both roles). */
export interface QmExchange {
  readonly messageId: number;
  readonly role: 'initiator' | 'responder';
  step: QmStep;
  readonly policy: P2Policy;
  /** Initiator: what we offered. Responder: what the initiator offered. */
  offered?: SaPayload;
  /** Ni_b / Nr_b: nonce payload bodies. */
  ni?: Buffer;
  nr?: Buffer;
  ke?: KeyExchange;
  gqmxy?: SharedSecret;
  /** Our inbound SPI and the peer's (our outbound). */
  ourSpi?: number;
  peerSpi?: number;
  negotiated?: P2Negotiated;
  /** IDci, IDcr as sent/received (absent: no client IDs). */
  ids?: readonly [IdPayload, IdPayload];
  selectors?: TrafficSelectors;
  /** The lifetime the responder told us (initiator) or we told it (responder). */
  responderLifetime?: { seconds?: number; kilobytes?: number };
  retransmitter?: Retransmitter;
  /** Responder set the commit bit: the initiator waits for CONNECTED (RFC 2408 §4.6). */
  commit?: boolean;
  pair?: ChildSaPair;
  /** Datagrams sent while handling the current message (for the response cache). */
  sent: Buffer[];
  /** A message of this exchange is being handled (STYLE A.3: checked out). */
  busy?: boolean;
  resolve?: (p: ChildSaPair) => void;
  reject?: (e: Error) => void;
  /** Traffic selectors option of the initiate call, reused when rekeying. */
  readonly option?: TrafficSelectors;
}

export interface DpdState {
  /** Sequence number of our last R-U-THERE. */
  seq: number;
  /** Sequence numbers sent since the last ACK. */
  readonly outstanding: Set<number>;
  /** Retries of the current probe. */
  attempt: number;
}

export interface CtxPhase2 {
  readonly exchanges: Map<number, QmExchange>;
  readonly cache: ResponseCache;
  readonly lifetimeCache: P1LifetimeCache;
  lastInboundAt: number;
  /** Our DPD probing (only when configured and the peer supports DPD). */
  dpd?: DpdState;
  /** Last R-U-THERE sequence number received from the peer. */
  dpdPeerSeq?: number;
}

const contexts = new WeakMap<Phase1Context, CtxPhase2>();

export function ctxPhase2(engine: Ikev1Engine, ctx: Phase1Context): CtxPhase2 {
  let s = contexts.get(ctx);
  if (!s) {
    const st: CtxPhase2 = {
      exchanges: new Map(),
      cache: new ResponseCache(16, engine.counters),
      lifetimeCache: { hardSecs: 0, hardKb: 0 },
      lastInboundAt: ctx.sa.establishedAt ?? engine.clock.now(),
    };
    s = st;
    contexts.set(ctx, st);
    // Exchanges die with the ISAKMP SA: stop retransmitting and tell whoever waits.
    ctx.sa.onStateChange((change) => {
      if (change.to !== IkeSaState.DESTROYED) return;
      for (const ex of st.exchanges.values()) abandon(ex, new ExchangeError('IKE_ERR_PHASE1_GONE', `ISAKMP SA ${ctx.sa.cookieString()} went away (${change.reason.text})`, 0));
      st.exchanges.clear();
      st.cache.clear();
    });
  }
  return s;
}

/** Ends an exchange that will not complete: timers off, secrets wiped, waiter rejected. */
export function abandon(ex: QmExchange, error: Error): void {
  ex.retransmitter?.stop();
  ex.ke?.dispose();
  ex.ke = undefined;
  ex.step = 'DONE';
  const reject = ex.reject;
  ex.resolve = ex.reject = undefined;
  reject?.(error);
}

export function random32(engine: Ikev1Engine): () => number {
  return () => engine.random(4).readUInt32BE(0);
}

// ---------------------------------------------------------------------------------------------
// Decryption and HASH-first messages
// ---------------------------------------------------------------------------------------------

/** The first IV of a Quick Mode / Informational exchange (RFC 2409 Appendix B). */
export function firstIv(_engine: Ikev1Engine, ctx: Phase1Context, messageId: number): Buffer {
  const neg = ctx.sa.negotiated!;
  return phase2Iv(neg.hash, ctx.sa.keys.iv!, messageId, blockSizeOf(CIPHER_OF[neg.encr]));
}

/**
 * The IVs a peer's Informational may use (RFC 2409 Appendix B: from the last Phase 1 CBC block the
 * peer saw). While Phase 1 is still under way the peer may not have our last encrypted message
 * (MM5 lost, or it failed on it): its chain then still starts at the initial IV, not at ours.
 */
export function informationalIvs(engine: Ikev1Engine, ctx: Phase1Context, messageId: number): Buffer[] {
  const ivs = [firstIv(engine, ctx, messageId)];
  const { initialIv, iv } = ctx.sa.keys;
  if (ctx.sa.state !== IkeSaState.ESTABLISHED && initialIv && iv && !initialIv.equals(iv)) {
    const neg = ctx.sa.negotiated!;
    ivs.push(phase2Iv(neg.hash, initialIv, messageId, blockSizeOf(CIPHER_OF[neg.encr])));
  }
  return ivs;
}

export interface Decrypted {
  readonly msg: InMessage;
  /** The last ciphertext block: the IV of the next message of this exchange. */
  readonly nextIv: Buffer;
}

/**
 * Decrypts and decodes a protected message with `iv`. Nothing is changed on failure.
 * @throws WireError (not a block multiple, bad chain)
 */
export function decryptWith(engine: Ikev1Engine, ctx: Phase1Context, isakmp: Buffer, header: IsakmpHeader, iv: Buffer,
  from: Endpoint, to: Endpoint): Decrypted {
  const sa = ctx.sa;
  const out = decryptBody(engine.crypto.cipher, CIPHER_OF[sa.negotiated!.encr], sa.keys.encKey!, iv, isakmp.subarray(28));
  const spans: PayloadSpan[] = [];
  const payloads = decodePayloadChain(header.nextPayload, out.plaintext, 28, { padded: true, spans });
  return { msg: { header, payloads, body: out.plaintext, spans, encrypted: true, from, to }, nextIv: out.nextIv };
}

export function isEncrypted(header: IsakmpHeader): boolean {
  return (header.flags & HeaderFlag.ENCRYPTION) !== 0;
}

/**
 * RFC 2409 §5.5/§5.7: the HASH payload must immediately follow the header. @returns its data and
 * the exact octets of every payload after it (generic headers included, padding excluded)
 */
export function hashAndRest(msg: InMessage): { hash: Buffer; rest: Buffer } | undefined {
  const first = msg.payloads[0];
  if (!first || first.type !== PayloadType.HASH) return undefined;
  const spans = msg.spans;
  const rest = spans.length > 1 ? msg.body.subarray(spans[1].start, spans[spans.length - 1].end) : Buffer.alloc(0);
  return { hash: first.data, rest };
}

/** Constant-time HASH comparison (STYLE A.4). */
export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Payload set of one row: required (each exactly once unless listed in `counts`), optional. */
export interface PayloadRule {
  readonly required: readonly number[];
  readonly optional: readonly number[];
  /** Allowed occurrence counts per type (default: required 1, optional 0..1). */
  readonly counts?: Readonly<Record<number, readonly number[]>>;
}

/**
 * LS-2 for post-Phase-1 messages: the dispatcher, not the handlers, checks presence and counts.
 * @throws ExchangeError INVALID-PAYLOAD-TYPE / PAYLOAD-MALFORMED
 */
export function checkPayloadSet(rule: PayloadRule, payloads: readonly Payload[], story: string): void {
  const seen = new Map<number, number>();
  for (const p of payloads) {
    if (p.type === 'unknown') {
      throw new ExchangeError(ExchangeErr.UNEXPECTED_PAYLOAD, `unknown payload type ${p.payloadType} (${story})`, 1 /* INVALID-PAYLOAD-TYPE */);
    }
    if (!rule.required.includes(p.type) && !rule.optional.includes(p.type)) {
      throw new ExchangeError(ExchangeErr.UNEXPECTED_PAYLOAD, `${nameOf(PayloadType, p.type)} payload is not expected here (${story})`, 1);
    }
    seen.set(p.type, (seen.get(p.type) ?? 0) + 1);
  }
  for (const t of [...rule.required, ...rule.optional]) {
    const n = seen.get(t) ?? 0;
    const allowed = rule.counts?.[t] ?? (rule.required.includes(t) ? [1] : [0, 1]);
    if (!allowed.includes(n)) {
      throw new ExchangeError(n === 0 ? ExchangeErr.MISSING_PAYLOAD : ExchangeErr.UNEXPECTED_PAYLOAD,
        `${n} ${nameOf(PayloadType, t)} payload(s) where ${allowed.join(' or ')} are allowed (${story})`, 16 /* PAYLOAD-MALFORMED */);
    }
  }
}

/** A decode failure of a protected message: count it against the SA and log it. */
export function countUndecodable(engine: Ikev1Engine, ctx: Phase1Context, what: string, e: unknown): void {
  ctx.sa.stats.errDecrypt++;
  engine.counters.inc('rx.malformed');
  const text = e instanceof WireError || e instanceof Error ? e.message : String(e);
  engine.log.info(`SA ${ctx.sa.cookieString()}: ${what} does not decrypt to a valid message: ${text}`);
}

/**
 * The peer reported an error about a Quick Mode we started: fail the exchange whose SPI (our
 * inbound SPI, which we offered) the notification names, or the only one pending.
 */
export function failPendingQm(engine: Ikev1Engine, ctx: Phase1Context, spi: Buffer, error: Error): void {
  const st = ctxPhase2(engine, ctx);
  const pending = [...st.exchanges.values()].filter((ex) => ex.role === 'initiator' && ex.step !== 'DONE');
  const spiNum = spi.length === 4 ? spi.readUInt32BE(0) : undefined;
  const target = pending.find((ex) => ex.ourSpi === spiNum) ?? (pending.length === 1 ? pending[0] : undefined);
  if (!target) return;
  st.exchanges.delete(target.messageId);
  ctx.sa.keys.phase2Iv.delete(target.messageId);
  abandon(target, error);
}
