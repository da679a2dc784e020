/**
 * Quick Mode (RFC 2409 §5.5) as a transition table beside its handlers (STYLE A.3):
 *
 *        Initiator                                   Responder
 *       -----------                                 -----------
 *  QM1   HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr]   -->
 *  QM2                          <--   HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N(RESPONDER-LIFETIME)]
 *  QM3   HDR*, HASH(3)                                 -->
 *  QM4                          <--   HDR*, HASH(4), N(CONNECTED)     (only when QM2 set the commit bit)
 *
 *   HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [ | KE ] [ | IDci | IDcr ])
 *   HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [ | KE ] [ | IDci | IDcr ])
 *   HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)
 *   HASH(4) = prf(SKEYID_a, M-ID | N)                (commit bit, RFC 2408 §4.6; as Informational)
 *   KEYMAT  = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b), expanded K1 | K2 | ...
 *             once per SA: our inbound SA with our SPI, the outbound SA with the peer's.
 *   IVs: QM1 with hash(last Phase 1 CBC block | M-ID); each later message with the last CBC block
 *   of the previous one (RFC 2409 App. B), kept per M-ID in sa.keys.phase2Iv.
 *
 * Every HASH is computed over the exact octets received (decodePayloadChain spans), never over a
 * re-encoding. A message that does not decrypt, lacks a leading HASH or whose HASH is wrong is
 * dropped and counted; its message ID stays free so a genuine retransmission still works.
 * QM1 and QM2 are retransmitted until the next message arrives; a retransmitted request gets the
 * stored answer (ResponseCache); a message ID already used on this SA and not in the cache is
 * dropped.
 *
 * Installation follows solaris-ike.md §5.5 step 8: ADD the outbound SA, UPDATE the larval inbound
 * SA that GETSPI created; lifetimes per §5.7 (smallest of rule, transform and the per-Phase-1
 * cache, normalised). The initiator installs on QM2, the responder on QM3.
 */
import type { SharedSecret } from '../../crypto/types';
import type { Encapsulation, EncryptionSpec, IntegritySpec, IpsecMode, IpsecSaSpec, SaDirection, SaLifetimes } from '../../kernel/types';
import type { Endpoint } from '../../net/transport';
import { OakleyError } from '../../util/errors';
import { Doi, NotifyType, ProtocolId, nameOf } from '../../wire/ikev1/iana';
import { encodeMessage, encodePayloadChain } from '../../wire/ikev1/message';
import {
  ExchangeType, HeaderFlag, PayloadType, type DeletePayload, type IdPayload, type IsakmpHeader, type NotifyPayload, type Payload, type SaPayload,
} from '../../wire/ikev1/types';
import { Retransmitter } from '../retransmit';
import { ownedCopy } from '../../util/buffers';
import type { ExchangeModule, Ikev1Engine } from './engine';
import { informationalHash, quickHash1, quickHash2, quickHash3 } from './hashes';
import { ipsecNotify, sendInformational } from './informational';
import { installLifetimes, minNonZero, normalizeP2Lifetimes } from './lifetimes';
import type { Phase1Context } from './phase1-context';
import { ExchangeErr, ExchangeError, failureNotify } from './phase1-steps';
import {
  abandon, addPair, checkPayloadSet, countUndecodable, ctxPhase2, decryptWith, enginePhase2, firstIv, hashAndRest, isEncrypted, random32,
  sameHash, spiBytes, spiHex, type ChildSaKeys, type ChildSaPair, type InstalledSa, type PayloadRule, type QmExchange, type QmStep,
} from './phase2-state';
import {
  acceptP2Reply, buildP2SaPayload, buildResponderLifetimeNotify, decodeResponderLifetime, selectP2Proposal,
  type NatTEncap, type P2Auth, type P2Policy,
} from './proposals';
import type { InMessage } from './services';
import {
  clientContains, clientFromPayload, clientIdPayload, describeClient, hostClient, kernelSelector, type ClientId, type TrafficSelectors,
} from './traffic-selectors';

export type { ChildSaPair } from './phase2-state';

export const QmErr = {
  PHASE1_UNUSABLE: 'IKE_ERR_PHASE1_UNUSABLE',
  TIMEOUT: 'IKE_ERR_PEER_TIMEOUT',
  BAD_REPLY: 'IKE_ERR_QM_BAD_REPLY',
} as const;

export interface QuickModeOptions {
  /**
   * Client identities: `local` goes out as IDci, `remote` as IDcr. Absent = no ID payloads, which
   * means the Phase 1 addresses (RFC 2409 §5.5).
   */
  readonly selectors?: TrafficSelectors;
  /** Phase 2 policy (ESP alternatives, PFS, lifetimes, mode); default the rule's p2. */
  readonly policy?: P2Policy;
}

const INTEG_KEY_OCTETS: Readonly<Record<P2Auth, number>> = { 'hmac-sha1': 20, 'hmac-sha256': 32, 'hmac-sha384': 48, 'hmac-sha512': 64 };
/** RFC 4106 §8.1: the AES-GCM keymat carries a 4-octet salt after the key. */
const GCM_SALT_OCTETS = 4;
/** Anti-replay window installed with every SA (packets). */
const REPLAY_WINDOW = 32;

type Handler = (engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange, msg: InMessage) => Promise<QmStep | void>;
type Verifier = (engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange | undefined, messageId: number, rest: Buffer) => Promise<Buffer>;

/** One row: in step `from`, as `role`, a message with these payloads and a valid HASH runs `handler`. */
export interface QuickModeTransition extends PayloadRule {
  readonly from: QmStep | 'START';
  readonly role: 'initiator' | 'responder';
  readonly hash: Verifier;
  readonly handler: Handler;
  readonly to: QmStep;
  readonly story: string;
}

// ---------------------------------------------------------------------------------------------
// Initiator
// ---------------------------------------------------------------------------------------------

/**
 * Runs a Quick Mode as initiator on an established ISAKMP SA and installs the IPsec SA pair.
 * @param engine  the IKEv1 engine
 * @param ctx     an ISAKMP SA usable for Quick Mode
 * @param options client identities and policy (default: the Phase 1 addresses, the rule's p2)
 * @returns the installed pair (our inbound and outbound SA, keys, lifetimes, selectors)
 * @throws OakleyError IKE_ERR_PHASE1_UNUSABLE, IKE_ERR_PEER_TIMEOUT, IKE_ERR_PEER_NOTIFY (the
 *   responder refused: detail.notify), IKE_ERR_BAD_PROPOSAL_REPLY, kernel errors
 */
export async function quickMode(engine: Ikev1Engine, ctx: Phase1Context, options: QuickModeOptions = {}): Promise<ChildSaPair> {
  const sa = ctx.sa;
  if (!sa.usableForQuickMode() || !sa.keys.iv) {
    throw new OakleyError(QmErr.PHASE1_UNUSABLE, `ISAKMP SA ${sa.cookieString()} is ${sa.state}: no Quick Mode on it`);
  }
  const st = ctxPhase2(engine, ctx);
  const policy = options.policy ?? ctx.rule.p2;
  const messageId = sa.allocateMessageId(random32(engine));
  const ourSpi = await engine.kernel.getSpi({ src: sa.peer.address, dst: sa.local.address, protocol: 'esp' });
  // Client identities: the caller's, else the rule's first IPsec policy selectors (tunnel mode
  // needs them: without IDci/IDcr the peer takes the Phase 1 addresses, RFC 2409 §5.5).
  const selectors = options.selectors ?? ctx.rule.p2Selectors?.[0];
  const ex: QmExchange = {
    messageId, role: 'initiator', step: 'QM_I1_SENT', policy, ourSpi, sent: [],
    ...(selectors ? { option: selectors } : {}),
  };
  const done = new Promise<ChildSaPair>((resolve, reject) => {
    ex.resolve = resolve;
    ex.reject = reject;
  });
  done.catch(() => undefined); // awaited below; avoid an unhandled rejection while QM1 is built
  st.exchanges.set(messageId, ex);
  engine.counters.inc('p2.initiator.attempts');
  try {
    await quickOutI1(engine, ctx, ex);
    return await done;
  } catch (e) {
    st.exchanges.delete(messageId);
    sa.keys.phase2Iv.delete(messageId);
    abandon(ex, e as Error);
    if (!ex.pair) await engine.kernel.delSa({ dst: sa.local.address, spi: ourSpi, protocol: 'esp' }).catch(() => undefined);
    engine.counters.inc('p2.initiator.failed');
    engine.log.warn(`Quick Mode with ${sa.peer.address} failed: ${(e as Error).message}`);
    throw e;
  }
}

/** The encapsulation numbering to offer when NAT-T is in use on this ISAKMP SA. */
function natTEncap(ctx: Phase1Context): NatTEncap {
  const n = ctx.sa.natT;
  if (!n.localBehindNat && !n.peerBehindNat) return false;
  return ctx.natDType === PayloadType.NAT_D ? 'rfc3947' : 'draft';
}

/** QM1 out: HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr]. */
async function quickOutI1(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange): Promise<void> {
  const sa = ctx.sa;
  const offered = buildP2SaPayload(ex.policy, { spi: spiBytes(ex.ourSpi!), natT: natTEncap(ctx) });
  ex.offered = offered;
  ex.ni = engine.random(engine.settings.p2NonceLength);
  const payloads: Payload[] = [offered, { type: PayloadType.NONCE, data: ex.ni }];
  if (ex.policy.pfsGroup) {
    ex.ke = await engine.crypto.ke.create(ex.policy.pfsGroup);
    payloads.push({ type: PayloadType.KE, data: ex.ke.publicKey });
  }
  if (ex.option) {
    ex.ids = [clientIdPayload(ex.option.local), clientIdPayload(ex.option.remote)];
    payloads.push(...ex.ids);
    ex.selectors = ex.option;
  } else {
    ex.selectors = { local: hostClient(sa.local.address), remote: hostClient(sa.peer.address) };
  }
  const hash = await quickHash1(engine.crypto.kdf, sa.negotiated!.hash, sa.keys.SKEYID_a!, ex.messageId, encodePayloadChain(payloads));
  sa.keys.phase2Iv.set(ex.messageId, firstIv(engine, ctx, ex.messageId));
  sendQm(engine, ctx, ex, [{ type: PayloadType.HASH, data: hash }, ...payloads], 0, true);
}

/** QM2 in, QM3 out: check the choice, our HASH(3), install the pair. */
async function quickInR1OutI2(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange, msg: InMessage): Promise<QmStep | void> {
  const sa = ctx.sa;
  ex.retransmitter?.stop();
  const p = msg.payloads;
  const reply = p.find((x) => x.type === PayloadType.SA) as SaPayload;
  const accepted = acceptP2Reply(ex.offered!, reply);
  ex.nr = Buffer.from((p.find((x) => x.type === PayloadType.NONCE) as { data: Buffer }).data);
  ex.peerSpi = accepted.peerSpi.readUInt32BE(0);
  const ids = p.filter((x) => x.type === PayloadType.ID) as IdPayload[];
  if (ex.ids ? ids.length !== 2 || !sameId(ids[0], ex.ids[0]) || !sameId(ids[1], ex.ids[1]) : ids.length !== 0) {
    throw new ExchangeError(ExchangeErr.INVALID_ID, 'the responder did not return our client identities unchanged', NotifyType.INVALID_ID_INFORMATION);
  }
  let negotiated = accepted.negotiated;
  const ke = p.find((x) => x.type === PayloadType.KE) as { data: Buffer } | undefined;
  if (negotiated.pfsGroup) {
    if (!ke || !ex.ke) throw new ExchangeError(ExchangeErr.MISSING_PAYLOAD, 'PFS chosen but QM2 has no KE', NotifyType.PAYLOAD_MALFORMED);
    ex.gqmxy = await ex.ke.computeSharedSecret(ke.data);
  } else if (ke) {
    throw new ExchangeError(ExchangeErr.UNEXPECTED_PAYLOAD, 'QM2 carries KE without a PFS group', NotifyType.PAYLOAD_MALFORMED);
  }
  for (const n of p.filter((x) => x.type === PayloadType.N) as NotifyPayload[]) {
    engine.counters.inc(`rx.notify.${nameOf(NotifyType, n.notifyType)}`);
    if (n.notifyType !== NotifyType.RESPONDER_LIFETIME) continue;
    // RFC 2407 §4.6.3.1: the responder uses a shorter lifetime; so must we.
    const rl = decodeResponderLifetime(n);
    ex.responderLifetime = { ...(rl.seconds ? { seconds: rl.seconds } : {}), ...(rl.kilobytes ? { kilobytes: rl.kilobytes } : {}) };
    negotiated = {
      ...negotiated,
      lifetimeSeconds: minNonZero(negotiated.lifetimeSeconds, rl.seconds),
      lifetimeKilobytes: minNonZero(negotiated.lifetimeKilobytes, rl.kilobytes),
    };
    engine.log.info(`Quick Mode ${spiHex(ex.ourSpi!)}: responder lifetime ${rl.seconds ?? '-'} s / ${rl.kilobytes ?? '-'} KiB`);
  }
  ex.negotiated = negotiated;
  const hash3 = await quickHash3(engine.crypto.kdf, sa.negotiated!.hash, sa.keys.SKEYID_a!, ex.messageId, ex.ni!, ex.nr);
  sendQm(engine, ctx, ex, [{ type: PayloadType.HASH, data: hash3 }], 0, false);
  ex.pair = await installPair(engine, ctx, ex);
  if (msg.header.flags & HeaderFlag.COMMIT) {
    // RFC 2408 §4.6: the responder wants to confirm before we use the SAs. Wait for CONNECTED as
    // long as a request would be retransmitted.
    ex.commit = true;
    const total = engine.settings.retransmit.maxMs * (engine.settings.retransmit.limit + 1);
    const timer = engine.clock.schedule(total, () => {
      if (ex.step !== 'QM_I_AWAIT_CONNECTED') return;
      ctxPhase2(engine, ctx).exchanges.delete(ex.messageId);
      abandon(ex, new OakleyError(QmErr.TIMEOUT, `no CONNECTED from ${sa.peer.address} after QM3 (commit bit)`));
    });
    ex.retransmitter = { stop: () => engine.clock.cancel(timer) } as Retransmitter;
    return 'QM_I_AWAIT_CONNECTED';
  }
  ex.resolve?.(ex.pair);
}

/** QM4 in (commit bit): the responder has installed its SAs. */
async function quickInR2Connected(engine: Ikev1Engine, _ctx: Phase1Context, ex: QmExchange, msg: InMessage): Promise<void> {
  const n = msg.payloads.find((x) => x.type === PayloadType.N) as NotifyPayload;
  if (n.notifyType !== NotifyType.CONNECTED) {
    throw new ExchangeError(ExchangeErr.UNEXPECTED_PAYLOAD, `QM4 carries ${nameOf(NotifyType, n.notifyType)}, not CONNECTED`, NotifyType.PAYLOAD_MALFORMED);
  }
  ex.retransmitter?.stop();
  engine.counters.inc('rx.notify.CONNECTED');
  ex.resolve?.(ex.pair!);
}

// ---------------------------------------------------------------------------------------------
// Responder
// ---------------------------------------------------------------------------------------------

/**
 * May the peer negotiate SAs for these client identities under our rule? The initiator's IDci is
 * the peer's side, its IDcr ours.
 */
function identitiesAllowed(ctx: Phase1Context, ci: ClientId, cr: ClientId): boolean {
  const sels = ctx.rule.p2Selectors;
  if (!sels || sels.length === 0) {
    return clientContains(hostClient(ctx.sa.peer.address), ci) && clientContains(hostClient(ctx.sa.local.address), cr);
  }
  return sels.some((s) => clientContains(s.remote, ci) && clientContains(s.local, cr));
}

/** QM1 in, QM2 out: identities, proposal choice, PFS, our SPI and Nr. */
async function quickInI1OutR1(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange, msg: InMessage): Promise<void> {
  const sa = ctx.sa;
  const p = msg.payloads;
  const offered = p.find((x) => x.type === PayloadType.SA) as SaPayload;
  ex.offered = offered;
  ex.ni = Buffer.from((p.find((x) => x.type === PayloadType.NONCE) as { data: Buffer }).data);
  const ids = p.filter((x) => x.type === PayloadType.ID) as IdPayload[];
  if (ids.length === 2) {
    let ci: ClientId, cr: ClientId;
    try {
      ci = clientFromPayload(ids[0]);
      cr = clientFromPayload(ids[1]);
    } catch (e) {
      throw new ExchangeError(ExchangeErr.INVALID_ID, `client identity: ${(e as Error).message}`, NotifyType.INVALID_ID_INFORMATION);
    }
    if (!identitiesAllowed(ctx, ci, cr)) {
      throw new ExchangeError(ExchangeErr.INVALID_ID, `client identities ${describeClient(ci)} <-> ${describeClient(cr)} are not allowed by rule ${ctx.rule.label}`,
        NotifyType.INVALID_ID_INFORMATION);
    }
    ex.ids = [ids[0], ids[1]];
    ex.selectors = { local: cr, remote: ci };
  } else {
    ex.selectors = { local: hostClient(sa.local.address), remote: hostClient(sa.peer.address) };
  }
  // The SPI is allocated only once a proposal is acceptable, so a refusal leaves no larval SA.
  const sel = selectP2Proposal(offered, ex.policy, { spi: Buffer.alloc(4), natT: natTEncap(ctx) !== false });
  ex.negotiated = sel.negotiated;
  ex.peerSpi = sel.peerSpi.readUInt32BE(0);
  const ke = p.find((x) => x.type === PayloadType.KE) as { data: Buffer } | undefined;
  if (sel.negotiated.pfsGroup) {
    if (!ke) throw new ExchangeError(ExchangeErr.MISSING_PAYLOAD, 'PFS group proposed but QM1 has no KE', NotifyType.PAYLOAD_MALFORMED);
    ex.ke = await engine.crypto.ke.create(sel.negotiated.pfsGroup);
    ex.gqmxy = await ex.ke.computeSharedSecret(ke.data);
  } else if (ke) {
    throw new ExchangeError(ExchangeErr.UNEXPECTED_PAYLOAD, 'QM1 carries KE without a PFS group', NotifyType.PAYLOAD_MALFORMED);
  }
  ex.ourSpi = await engine.kernel.getSpi({ src: sa.peer.address, dst: sa.local.address, protocol: 'esp' });
  const chosen = sel.reply.proposals[0];
  const reply: SaPayload = { ...sel.reply, proposals: [{ ...chosen, spi: spiBytes(ex.ourSpi) }] };
  ex.nr = engine.random(engine.settings.p2NonceLength);
  const out: Payload[] = [reply, { type: PayloadType.NONCE, data: ex.nr }];
  if (ex.ke) out.push({ type: PayloadType.KE, data: ex.ke.publicKey });
  if (ex.ids) out.push(...ex.ids);
  if (sel.responderLifetime) {
    ex.responderLifetime = { ...sel.responderLifetime };
    out.push(buildResponderLifetimeNotify({ protocol: ProtocolId.IPSEC_ESP, spi: spiBytes(ex.ourSpi), ...sel.responderLifetime }));
    engine.counters.inc('tx.notify.RESPONDER_LIFETIME');
  }
  const hash2 = await quickHash2(engine.crypto.kdf, sa.negotiated!.hash, sa.keys.SKEYID_a!, ex.messageId, ex.ni, encodePayloadChain(out));
  ex.commit = engine.settings.p2Commit;
  sendQm(engine, ctx, ex, [{ type: PayloadType.HASH, data: hash2 }, ...out], ex.commit ? HeaderFlag.COMMIT : 0, true);
}

/** QM3 in: the initiator has the keys; install the pair (and confirm with CONNECTED on commit). */
async function quickInI2(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange): Promise<void> {
  const sa = ctx.sa;
  ex.retransmitter?.stop();
  ex.pair = await installPair(engine, ctx, ex);
  if (ex.commit) {
    const n: NotifyPayload = { type: PayloadType.N, doi: Doi.IPSEC, protocol: ProtocolId.IPSEC_ESP, spi: spiBytes(ex.ourSpi!), notifyType: NotifyType.CONNECTED, data: Buffer.alloc(0) };
    const hash4 = await informationalHash(engine.crypto.kdf, sa.negotiated!.hash, sa.keys.SKEYID_a!, ex.messageId, encodePayloadChain([n]));
    sendQm(engine, ctx, ex, [{ type: PayloadType.HASH, data: hash4 }, n], HeaderFlag.COMMIT, false);
    engine.counters.inc('tx.notify.CONNECTED');
  }
}

// ---------------------------------------------------------------------------------------------
// Keys and installation
// ---------------------------------------------------------------------------------------------

/** KEYMAT for the SA with `spi`, split into cipher key (+ GCM salt) and integrity key. */
async function keysFor(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange, spi: number): Promise<ChildSaKeys> {
  const neg = ex.negotiated!;
  const encLen = neg.encr === '3des' ? 24 : neg.keyLength / 8;
  const saltLen = neg.encr === 'aes-gcm' ? GCM_SALT_OCTETS : 0;
  const intLen = neg.auth ? INTEG_KEY_OCTETS[neg.auth] : 0;
  const gqmxy: SharedSecret | undefined = ex.gqmxy;
  const km = await engine.crypto.kdf.ikev1Keymat({
    hash: ctx.sa.negotiated!.hash, skeyidD: ctx.sa.keys.SKEYID_d!, ...(gqmxy ? { gqmxy } : {}),
    protocol: ProtocolId.IPSEC_ESP, spi: spiBytes(spi), ni: ex.ni!, nr: ex.nr!, length: encLen + saltLen + intLen,
  });
  // Exact-size copies: the keys live as long as the SA (a pooled copy would pin an 8 KiB slab).
  const keys: ChildSaKeys = {
    encryption: ownedCopy(km.subarray(0, encLen)),
    ...(saltLen ? { salt: ownedCopy(km.subarray(encLen, encLen + saltLen)) } : {}),
    ...(intLen ? { integrity: ownedCopy(km.subarray(encLen + saltLen)) } : {}),
  };
  km.fill(0);
  return keys;
}

function encryptionSpec(ex: QmExchange, k: ChildSaKeys): EncryptionSpec {
  const neg = ex.negotiated!;
  const alg = neg.encr === 'aes' ? 'aes-cbc' : neg.encr === 'aes-gcm' ? 'aes-gcm' : '3des-cbc';
  const spec: { -readonly [K in keyof EncryptionSpec]: EncryptionSpec[K] } = { alg, key: k.encryption };
  if (k.salt) spec.salt = k.salt;
  if (neg.icvLength) spec.icvLength = neg.icvLength;
  return spec;
}

function integritySpec(ex: QmExchange, k: ChildSaKeys): IntegritySpec | undefined {
  const auth = ex.negotiated!.auth;
  return auth && k.integrity ? { alg: auth, key: k.integrity } : undefined;
}

const UNENCAPSULATED: Encapsulation = { type: 'none' };

function wipeKeys(k: ChildSaKeys): void {
  k.encryption.fill(0);
  k.salt?.fill(0);
  k.integrity?.fill(0);
}

/** What a pair keeps of an installed SA (InstalledSa); one object shape for all of them. */
function withoutKeys(s: IpsecSaSpec): InstalledSa {
  const out: { -readonly [K in keyof InstalledSa]: InstalledSa[K] } = {
    protocol: s.protocol, mode: s.mode, lifetimes: s.lifetimes, replayWindow: s.replayWindow, dst: s.dst, src: s.src, spi: s.spi,
    direction: s.direction, encapsulation: s.encapsulation, pairSpi: s.pairSpi,
  };
  if (s.selectors) out.selectors = s.selectors;
  return out;
}

/**
 * One SA of a pair, built in a fixed property order with the optional members added after it:
 * object spreads with conditional members gave every spec its own hidden class (~400 octets of
 * V8 shape metadata per spec, two specs per pair, in a heap snapshot of 3,000 SAs).
 */
function saSpec(spi: number, direction: SaDirection, dst: string, src: string, mode: IpsecMode, lifetimes: SaLifetimes,
  keys: ChildSaKeys, ex: QmExchange, encapsulation: Encapsulation,
  selectors: IpsecSaSpec['selectors'], pairSpi: number): IpsecSaSpec {
  const spec: { -readonly [K in keyof IpsecSaSpec]: IpsecSaSpec[K] } = {
    protocol: 'esp', mode, lifetimes, replayWindow: REPLAY_WINDOW, dst, src, spi, direction, encapsulation,
    encryption: encryptionSpec(ex, keys), pairSpi,
  };
  const integrity = integritySpec(ex, keys);
  if (integrity) spec.integrity = integrity;
  if (selectors) spec.selectors = selectors;
  return spec;
}

/**
 * Derives both SAs' keys, installs them (ADD outbound, UPDATE the larval inbound), and records the
 * pair. A pair that fails to install is removed again.
 */
async function installPair(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange): Promise<ChildSaPair> {
  const sa = ctx.sa;
  const st = ctxPhase2(engine, ctx);
  const neg = ex.negotiated!;
  const rule = normalizeP2Lifetimes({ hardSecs: ex.policy.lifetimeSeconds, hardKb: ex.policy.lifetimeKilobytes ?? 0 }).lifetimes;
  const installed = installLifetimes(rule, { seconds: neg.lifetimeSeconds, kilobytes: neg.lifetimeKilobytes }, st.lifetimeCache);
  for (const w of installed.warnings) engine.log.warn(`IPsec SA lifetimes: ${w}`);
  const l = installed.lifetimes;
  const lifetimes: SaLifetimes = {
    soft: { seconds: installed.softDisabled ? 0 : l.softSecs, bytes: l.softKb * 1024 },
    hard: { seconds: l.hardSecs, bytes: l.hardKb * 1024 },
  };
  const inboundKeys = await keysFor(engine, ctx, ex, ex.ourSpi!);
  const outboundKeys = await keysFor(engine, ctx, ex, ex.peerSpi!);
  const sel = ex.selectors!;
  const tunnel = neg.mode === 'tunnel';
  const remoteSel = kernelSelector(sel.remote);
  const localSel = kernelSelector(sel.local);
  const peerEnd: Endpoint = sa.peer;
  const inbound = saSpec(ex.ourSpi!, 'inbound', sa.local.address, peerEnd.address, neg.mode, lifetimes, inboundKeys, ex,
    neg.udpEncapsulated ? { type: 'udp', srcPort: peerEnd.port, dstPort: engine.natPort } : UNENCAPSULATED,
    tunnel && remoteSel && localSel ? { src: remoteSel, dst: localSel } : undefined, ex.peerSpi!);
  const outbound = saSpec(ex.peerSpi!, 'outbound', peerEnd.address, sa.local.address, neg.mode, lifetimes, outboundKeys, ex,
    neg.udpEncapsulated ? { type: 'udp', srcPort: engine.natPort, dstPort: peerEnd.port } : UNENCAPSULATED,
    tunnel && remoteSel && localSel ? { src: localSel, dst: remoteSel } : undefined, ex.ourSpi!);
  try {
    await engine.kernel.addSa(outbound);
    await engine.kernel.updateSa(inbound);
  } catch (e) {
    for (const k of [inboundKeys, outboundKeys]) wipeKeys(k);
    await engine.kernel.delSa({ dst: outbound.dst, spi: outbound.spi, protocol: 'esp' }).catch(() => undefined);
    // solaris-ike.md §5.5 step 8: a pair that fails to install is deleted with a Delete, so a
    // peer that did install its half (it may, e.g. when only our kernel lacks ESP) removes it.
    engine.counters.inc('p2.install_failed');
    const d: DeletePayload = { type: PayloadType.D, doi: Doi.IPSEC, protocol: ProtocolId.IPSEC_ESP, spiSize: 4, spis: [spiBytes(inbound.spi)] };
    await sendInformational(engine, ctx, [d]).catch((x: unknown) => engine.log.warn(`Delete after failed install not sent: ${(x as Error).message}`));
    throw e;
  }
  // The kernel copied the keys: ours are wiped and the pair keeps the specs without them.
  for (const k of [inboundKeys, outboundKeys]) wipeKeys(k);
  const ep = enginePhase2(engine);
  const pair: ChildSaPair = {
    serial: ++ep.serial, role: ex.role, local: sa.local, peer: { ...peerEnd }, inbound: withoutKeys(inbound), outbound: withoutKeys(outbound),
    negotiated: neg, lifetimes: l, selectors: sel, explicitIds: ex.ids !== undefined, ruleLabel: ctx.rule.label, policy: ex.policy,
    phase1: sa.cookieString(), createdAt: engine.clock.now(), state: 'installed',
  };
  addPair(engine, pair);
  sa.stats.newQmSas += 2;
  engine.counters.inc('p2.established');
  engine.counters.inc(`p2.${ex.role}.established`);
  engine.log.info(`IPsec SA pair with ${peerEnd.address} installed: in ${spiHex(inbound.spi)} out ${spiHex(outbound.spi)} ` +
    `(${neg.encr}-${neg.keyLength}${neg.auth ? `/${neg.auth}` : ''}${neg.pfsGroup ? `/PFS ${neg.pfsGroup}` : ''}, ${l.hardSecs} s, ` +
    `${describeClient(sel.local)} <-> ${describeClient(sel.remote)})`);
  ex.ke?.dispose();
  ex.ke = undefined;
  return pair;
}

function sameId(a: IdPayload, b: IdPayload): boolean {
  return a.idType === b.idType && a.protocol === b.protocol && a.port === b.port && a.data.equals(b.data);
}

// ---------------------------------------------------------------------------------------------
// Sending, dispatch
// ---------------------------------------------------------------------------------------------

/** Encrypts with the exchange's chained IV, sends, and (for requests) retransmits until answered. */
function sendQm(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange, payloads: Payload[], flags: number, expectReply: boolean): void {
  const sa = ctx.sa;
  const header = {
    icookie: sa.icookie, rcookie: sa.rcookie, nextPayload: 0, version: 0x10,
    exchangeType: ExchangeType.QUICK_MODE, flags, messageId: ex.messageId,
  };
  const out = encodeMessage(header, payloads, { encrypt: engine.bodyCipher(ctx, sa.keys.phase2Iv.get(ex.messageId)!) });
  sa.keys.phase2Iv.set(ex.messageId, out.nextIv!);
  ex.sent.push(out.datagram);
  if (!expectReply) {
    engine.sendRaw(ctx, out.datagram);
    return;
  }
  ex.retransmitter = new Retransmitter(engine.clock, {
    send: (d) => engine.sendRaw(ctx, d),
    giveUp: () => timedOut(engine, ctx, ex),
  }, engine.settings.retransmit, engine.counters);
  ex.retransmitter.start(out.datagram);
}

function timedOut(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange): void {
  const st = ctxPhase2(engine, ctx);
  st.exchanges.delete(ex.messageId);
  ctx.sa.keys.phase2Iv.delete(ex.messageId);
  const error = new OakleyError(QmErr.TIMEOUT, `peer ${ctx.sa.peer.address} did not answer Quick Mode ${ex.role === 'initiator' ? 'QM1' : 'QM2'}`);
  if (ex.role === 'responder') releaseLarval(engine, ctx, ex);
  engine.counters.inc(`p2.${ex.role}.timeout`);
  abandon(ex, error);
}

function releaseLarval(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange): void {
  if (ex.ourSpi === undefined || ex.pair) return;
  engine.kernel.delSa({ dst: ctx.sa.local.address, spi: ex.ourSpi, protocol: 'esp' }).catch(() => undefined);
}

/** A Quick Mode that cannot go on: tell the peer when it is our refusal, clean up. */
function failExchange(engine: Ikev1Engine, ctx: Phase1Context, ex: QmExchange, error: Error): void {
  const st = ctxPhase2(engine, ctx);
  st.exchanges.delete(ex.messageId);
  ctx.sa.keys.phase2Iv.delete(ex.messageId);
  const notify = failureNotify(error);
  if (notify) {
    // Name the initiator's SPI (from its proposal) so it can tell which Quick Mode failed.
    const spi = ex.role === 'initiator' ? spiBytes(ex.ourSpi!) : (ex.offered?.proposals[0]?.spi ?? Buffer.alloc(4));
    ipsecNotify(engine, ctx, notify, Buffer.from(spi));
  }
  if (ex.role === 'responder') releaseLarval(engine, ctx, ex);
  engine.counters.inc(`p2.${ex.role}.failed`);
  engine.log.warn(`Quick Mode ${ex.messageId.toString(16)} with ${ctx.sa.peer.address} failed: ${error.message}`);
  abandon(ex, error);
}

const kdfOf = (engine: Ikev1Engine, ctx: Phase1Context) => ({ kdf: engine.crypto.kdf, hash: ctx.sa.negotiated!.hash, a: ctx.sa.keys.SKEYID_a! });

const QM_PAYLOADS = {
  required: [PayloadType.HASH, PayloadType.SA, PayloadType.NONCE],
  optional: [PayloadType.KE, PayloadType.ID, PayloadType.N],
  counts: { [PayloadType.ID]: [0, 2], [PayloadType.N]: [0, 1, 2, 3, 4] },
};

/** The Quick Mode table (STYLE A.3); the ladder is at the top of the file. */
export const QUICK_MODE: readonly QuickModeTransition[] = [
  {
    from: 'START', role: 'responder', ...QM_PAYLOADS,
    hash: (e, c, _x, mid, rest) => { const k = kdfOf(e, c); return quickHash1(k.kdf, k.hash, k.a, mid, rest); },
    handler: quickInI1OutR1, to: 'QM_R1_SENT',
    story: 'QM1 HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr] in; QM2 HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N(RESPONDER-LIFETIME)] out',
  },
  {
    from: 'QM_I1_SENT', role: 'initiator', ...QM_PAYLOADS,
    hash: (e, c, x, mid, rest) => { const k = kdfOf(e, c); return quickHash2(k.kdf, k.hash, k.a, mid, x!.ni!, rest); },
    handler: quickInR1OutI2, to: 'DONE',
    story: 'QM2 HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N] in; QM3 HDR*, HASH(3) out; IPsec SAs installed',
  },
  {
    from: 'QM_R1_SENT', role: 'responder', required: [PayloadType.HASH], optional: [],
    hash: (e, c, x, mid) => { const k = kdfOf(e, c); return quickHash3(k.kdf, k.hash, k.a, mid, x!.ni!, x!.nr!); },
    handler: quickInI2, to: 'DONE',
    story: 'QM3 HDR*, HASH(3) in; IPsec SAs installed [; QM4 HDR*, HASH(4), N(CONNECTED) out on commit]',
  },
  {
    from: 'QM_I_AWAIT_CONNECTED', role: 'initiator', required: [PayloadType.HASH, PayloadType.N], optional: [],
    hash: (e, c, _x, mid, rest) => { const k = kdfOf(e, c); return informationalHash(k.kdf, k.hash, k.a, mid, rest); },
    handler: quickInR2Connected, to: 'DONE',
    story: 'QM4 HDR*, HASH(4), N(CONNECTED) in: the responder committed',
  },
];

async function handle(engine: Ikev1Engine, ctx: Phase1Context, isakmp: Buffer, header: IsakmpHeader, from: Endpoint, to: Endpoint): Promise<void> {
  const sa = ctx.sa;
  const st = ctxPhase2(engine, ctx);
  if (!isEncrypted(header) || !sa.keys.iv) {
    sa.stats.errOtherRx++;
    engine.counters.inc('rx.qm_unprotected');
    return;
  }
  const verdict = st.cache.check(isakmp);
  if (verdict.kind === 'replay') {
    for (const r of verdict.responses) engine.sendRaw(ctx, r);
    engine.counters.inc('rx.qm_retransmission');
    return;
  }
  if (verdict.kind === 'busy') {
    engine.counters.inc('rx.busy');
    return;
  }
  const mid = header.messageId;
  const existing = st.exchanges.get(mid);
  if (!existing && (mid === 0 || sa.hasMessageId(mid))) {
    engine.counters.inc('rx.qm_stale_message_id');
    return;
  }
  if (existing?.busy) {
    engine.counters.inc('rx.busy');
    return;
  }
  const iv = existing ? sa.keys.phase2Iv.get(mid) : firstIv(engine, ctx, mid);
  if (!iv) return;
  let d;
  try {
    d = decryptWith(engine, ctx, isakmp, header, iv, from, to);
  } catch (e) {
    countUndecodable(engine, ctx, 'Quick Mode message', e);
    return;
  }
  const row = QUICK_MODE.find((r) => r.from === (existing?.step ?? 'START') && r.role === (existing?.role ?? 'responder'));
  if (!row) {
    engine.counters.inc('rx.unexpected');
    return;
  }
  const hr = hashAndRest(d.msg);
  const expected = hr && await row.hash(engine, ctx, existing, mid, hr.rest);
  if (!hr || !expected || !sameHash(hr.hash, expected)) {
    sa.stats.errHash++;
    engine.counters.inc('rx.bad_hash');
    engine.log.info(`SA ${sa.cookieString()}: Quick Mode message ${mid.toString(16)} with ${hr ? 'a wrong' : 'no leading'} HASH dropped`);
    return;
  }
  let ex = existing;
  if (!ex) {
    if (!sa.registerPeerMessageId(mid)) return;
    ex = { messageId: mid, role: 'responder', step: 'QM_R1_SENT', policy: ctx.rule.p2, sent: [] };
    st.exchanges.set(mid, ex);
    engine.counters.inc('p2.responder.attempts');
  }
  st.lastInboundAt = engine.clock.now();
  sa.keys.phase2Iv.set(mid, d.nextIv);
  ex.busy = true;
  ex.sent = [];
  st.cache.begin(isakmp, mid);
  try {
    checkPayloadSet(row, d.msg.payloads, row.story);
    const next = await row.handler(engine, ctx, ex, d.msg);
    ex.step = next ?? row.to;
    st.cache.answer(isakmp, ex.sent, mid);
    engine.log.cat('phase2').debug(`SA ${sa.cookieString()} QM ${mid.toString(16)}: ${row.story}`);
  } catch (e) {
    st.cache.answer(isakmp, [], mid);
    failExchange(engine, ctx, ex, e as Error);
  } finally {
    ex.busy = false;
  }
  if (ex.step === 'DONE') {
    st.exchanges.delete(mid);
    sa.keys.phase2Iv.delete(mid);
    // Only an answered last message can come again (QM2 resent to a responder whose QM3 was
    // lost, QM3 to one that committed); anything else of this message ID is now stale.
    st.cache.finish(mid, isakmp);
  }
  // The peer protected this message with the Phase 1 keys: it has our last Phase 1 message.
  ctx.phase1Confirmed();
}

/** The Quick Mode exchange module (exchange type 32) for the engine. */
export const QUICK_MODE_MODULE: ExchangeModule = { exchangeTypes: [ExchangeType.QUICK_MODE], handle };
