/**
 * The Informational exchange once an ISAKMP SA exists (RFC 2409 §5.7), one message, no answer:
 *
 *        Sender                             Receiver
 *       --------                           ----------
 *        HDR*, HASH(1), N/D          -->
 *
 *   HASH(1) = prf(SKEYID_a, M-ID | N/D), N/D = every payload after HASH, headers included;
 *   IV = hash(last Phase 1 CBC block | M-ID) truncated to the block size (RFC 2409 App. B),
 *   M-ID a fresh random non-zero value (RFC 2408 §3.1: unique per exchange on this SA).
 *
 * What is understood (RFC 2408 §3.14/§3.15, RFC 2407 §4.6.3, RFC 3706):
 *   D, protocol ISAKMP (1), SPI = CKY-I | CKY-R (16 octets)  → that ISAKMP SA is deleted;
 *   D, protocol ESP (3) / AH (2), 4-octet SPIs                → the pair owning the SPI is removed
 *                                                               from the kernel (both directions);
 *   N INITIAL-CONTACT                                         → every other SA with that peer goes;
 *   N R-U-THERE / R-U-THERE-ACK                               → dpd.ts;
 *   N error types (< 16384) about a Quick Mode we started     → that Quick Mode fails;
 *   anything else                                             → logged and counted.
 *
 * A message without the E flag, with a HASH that does not verify, or reusing a message ID is
 * dropped and counted, never acted on: on an established SA only protected messages can be
 * trusted (RFC 2408 §5.5, the cleartext case is a Phase 1 matter handled by the engine).
 */
import { OakleyError } from '../../util/errors';
import { Doi, NotifyType, ProtocolId, nameOf } from '../../wire/ikev1/iana';
import { encodeMessage, encodePayloadChain } from '../../wire/ikev1/message';
import {
  ExchangeType, PayloadType, type DeletePayload, type IsakmpHeader, type NotifyPayload, type Payload,
} from '../../wire/ikev1/types';
import type { Endpoint } from '../../net/transport';
import { IkeSaState } from '../ike-sa';
import { onRuThere, onRuThereAck } from './dpd';
import type { ExchangeModule, Ikev1Engine } from './engine';
import { informationalHash } from './hashes';
import type { Phase1Context } from './phase1-context';
import { sameCookiePair } from '../../util/constant-time';
import {
  ctxPhase2, countUndecodable, decryptWith, failPendingQm, firstIv, hashAndRest, informationalIvs, isEncrypted, pairsWith, pairWithSpi,
  random32, removePair, sameHash, spiBytes, type ChildSaPair, type Decrypted,
} from './phase2-state';

/** Notify types that are status, not errors (RFC 2408 §3.14.1: 16384 and up). */
const FIRST_STATUS = 16384;

/**
 * Sends one protected Informational message on the ISAKMP SA.
 * @param payloads the N and/or D payloads (HASH(1) is prepended)
 * @returns once the datagram is sent (or silently when the SA has no keys any more)
 */
export async function sendInformational(engine: Ikev1Engine, ctx: Phase1Context, payloads: Payload[]): Promise<void> {
  const sa = ctx.sa;
  if (!sa.keys.encKey || !sa.keys.SKEYID_a || !sa.keys.iv || sa.state === IkeSaState.DESTROYED) {
    engine.counters.inc('tx.info_no_keys');
    return;
  }
  const mid = sa.allocateMessageId(random32(engine));
  const hash = await informationalHash(engine.crypto.kdf, sa.negotiated!.hash, sa.keys.SKEYID_a, mid, encodePayloadChain(payloads));
  if (!sa.keys.encKey) return; // destroyed while hashing
  const header = {
    icookie: sa.icookie, rcookie: sa.rcookie, nextPayload: 0, version: 0x10,
    exchangeType: ExchangeType.INFORMATIONAL, flags: 0, messageId: mid,
  };
  const out = encodeMessage(header, [{ type: PayloadType.HASH, data: hash }, ...payloads], { encrypt: engine.bodyCipher(ctx, firstIv(engine, ctx, mid)) });
  engine.sendRaw(ctx, out.datagram);
  for (const p of payloads) {
    if (p.type === PayloadType.N) engine.counters.inc(`tx.notify.${nameOf(NotifyType, p.notifyType)}`);
    if (p.type === PayloadType.D) engine.counters.inc(`tx.delete.${nameOf(ProtocolId, p.protocol)}`);
  }
}

/** A notification about the ISAKMP SA itself (protocol ISAKMP, SPI = CKY-I | CKY-R). */
export function isakmpNotify(ctx: Phase1Context, notifyType: number, data: Buffer = Buffer.alloc(0)): NotifyPayload {
  return { type: PayloadType.N, doi: Doi.IPSEC, protocol: ProtocolId.ISAKMP, spi: Buffer.concat([ctx.sa.icookie, ctx.sa.rcookie]), notifyType, data };
}

/**
 * The engine's protected notification (Ikev1Engine.sendNotify with protectedByKeys). Fire and
 * forget: failures are logged.
 */
export function notify(engine: Ikev1Engine, ctx: Phase1Context, notifyType: number): void {
  sendInformational(engine, ctx, [isakmpNotify(ctx, notifyType)]).catch((e: unknown) => engine.log.warn(`notify ${nameOf(NotifyType, notifyType)} not sent: ${(e as Error).message}`));
}

/** A protected notification about an IPsec SA (Quick Mode errors: protocol ESP, the SPI it concerns). */
export function ipsecNotify(engine: Ikev1Engine, ctx: Phase1Context, notifyType: number, spi: Buffer): void {
  const n: NotifyPayload = { type: PayloadType.N, doi: Doi.IPSEC, protocol: ProtocolId.IPSEC_ESP, spi, notifyType, data: Buffer.alloc(0) };
  sendInformational(engine, ctx, [n]).catch((e: unknown) => engine.log.warn(`notify ${nameOf(NotifyType, notifyType)} not sent: ${(e as Error).message}`));
}

/**
 * Deletes an ISAKMP SA: tells the peer (Delete, protocol ISAKMP) while the keys still exist, then
 * removes it locally. The IPsec SAs negotiated on it stay (RFC 2409: they are independent).
 */
export async function deleteIsakmpSa(engine: Ikev1Engine, ctx: Phase1Context, reason: string): Promise<void> {
  const sa = ctx.sa;
  if (sa.state === IkeSaState.DESTROYED) return;
  if (sa.usableForQuickMode()) {
    const d: DeletePayload = { type: PayloadType.D, doi: Doi.IPSEC, protocol: ProtocolId.ISAKMP, spiSize: 16, spis: [Buffer.concat([sa.icookie, sa.rcookie])] };
    try {
      await sendInformational(engine, ctx, [d]);
    } catch (e) {
      engine.log.warn(`Delete for ISAKMP SA ${sa.cookieString()} not sent: ${(e as Error).message}`);
    }
  }
  engine.deletePhase1(ctx, reason);
}

/**
 * Deletes an IPsec SA pair: Delete (protocol ESP, our inbound SPI: the SPI the peer sends to) over
 * an ISAKMP SA with the peer if there is one (solaris-ike.md §5.5), then both SAs from our kernel.
 */
export async function deleteIpsecSa(engine: Ikev1Engine, pair: ChildSaPair, reason: string): Promise<void> {
  if (pair.state === 'deleted' || pair.deleting) return;
  pair.deleting = true;
  const ctx = engine.established(pair.peer);
  if (ctx) {
    const d: DeletePayload = { type: PayloadType.D, doi: Doi.IPSEC, protocol: ProtocolId.IPSEC_ESP, spiSize: 4, spis: [spiBytes(pair.inbound.spi)] };
    try {
      await sendInformational(engine, ctx, [d]);
    } catch (e) {
      engine.log.warn(`Delete for IPsec SA not sent: ${(e as Error).message}`);
    }
  }
  const removed = await removePair(engine, pair, reason);
  if (ctx) ctx.sa.stats.delQmSas += removed;
}

// ---------------------------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------------------------

async function handle(engine: Ikev1Engine, ctx: Phase1Context, isakmp: Buffer, header: IsakmpHeader, from: Endpoint, to: Endpoint): Promise<void> {
  const sa = ctx.sa;
  if (!isEncrypted(header) || !sa.keys.encKey || !sa.keys.iv) {
    sa.stats.errOtherRx++;
    engine.counters.inc('rx.info_unprotected');
    engine.log.info(`SA ${sa.cookieString()}: unprotected Informational from ${from.address} dropped`);
    return;
  }
  const mid = header.messageId;
  if (mid === 0 || sa.hasMessageId(mid)) {
    engine.counters.inc('rx.info_replay');
    return;
  }
  // The first IV that decrypts to a message with a good HASH wins (informationalIvs: one IV once
  // Phase 1 is done, up to two while it is under way).
  let d: Decrypted | undefined;
  let undecodable: unknown;
  let badHash: 'a wrong' | 'no leading' | undefined;
  for (const iv of informationalIvs(engine, ctx, mid)) {
    let candidate: Decrypted;
    try {
      candidate = decryptWith(engine, ctx, isakmp, header, iv, from, to);
    } catch (e) {
      undecodable ??= e;
      continue;
    }
    const hr = hashAndRest(candidate.msg);
    const expected = hr && await informationalHash(engine.crypto.kdf, sa.negotiated!.hash, sa.keys.SKEYID_a!, mid, hr.rest);
    if (hr && expected && sameHash(hr.hash, expected)) {
      d = candidate;
      break;
    }
    badHash ??= hr ? 'a wrong' : 'no leading';
  }
  if (!d) {
    if (!badHash) {
      countUndecodable(engine, ctx, 'Informational', undecodable);
      return;
    }
    sa.stats.errHash++;
    engine.counters.inc('rx.bad_hash');
    engine.log.info(`SA ${sa.cookieString()}: Informational with ${badHash} HASH dropped`);
    return;
  }
  if (!sa.registerPeerMessageId(mid)) {
    engine.counters.inc('rx.info_replay');
    return;
  }
  ctxPhase2(engine, ctx).lastInboundAt = engine.clock.now();
  for (const p of d.msg.payloads.slice(1)) {
    if (sa.state === IkeSaState.DESTROYED) break;
    if (p.type === PayloadType.N) await onNotify(engine, ctx, p);
    else if (p.type === PayloadType.D) await onDelete(engine, ctx, p);
    else engine.counters.inc('rx.info_ignored_payload');
  }
}

async function onNotify(engine: Ikev1Engine, ctx: Phase1Context, n: NotifyPayload): Promise<void> {
  const name = nameOf(NotifyType, n.notifyType);
  engine.counters.inc(`rx.notify.${name}`);
  switch (n.notifyType) {
    case NotifyType.R_U_THERE: onRuThere(engine, ctx, n); return;
    case NotifyType.R_U_THERE_ACK: onRuThereAck(engine, ctx, n); return;
    case NotifyType.INITIAL_CONTACT: await onInitialContact(engine, ctx); return;
    default:
  }
  if (n.notifyType < FIRST_STATUS && n.protocol === ProtocolId.ISAKMP && ctx.sa.state !== IkeSaState.ESTABLISHED) {
    // An authenticated error about a Phase 1 still under way: the peer has given it up (strongSwan
    // destroys its half-open SA), so waiting for our retransmission limit would only lose time.
    engine.fail(ctx, new OakleyError('IKE_ERR_PEER_NOTIFY', `peer ${ctx.sa.peer.address} reported ${name} during Phase 1 (protected Informational)`,
      { notify: n.notifyType }), false);
    return;
  }
  if (n.notifyType < FIRST_STATUS) {
    engine.log.warn(`SA ${ctx.sa.cookieString()}: peer reported ${name} (${nameOf(ProtocolId, n.protocol)} SPI ${n.spi.toString('hex')})`);
    if (n.protocol === ProtocolId.IPSEC_ESP || n.protocol === ProtocolId.IPSEC_AH) {
      failPendingQm(engine, ctx, n.spi, new OakleyError('IKE_ERR_PEER_NOTIFY', `peer ${ctx.sa.peer.address} reported ${name} for Quick Mode`, { notify: n.notifyType }));
    }
    return;
  }
  engine.log.info(`SA ${ctx.sa.cookieString()}: peer sent ${name}`);
}

/**
 * INITIAL-CONTACT (RFC 2407 §4.6.3.3): the peer has no other state with us, so everything we keep
 * with it apart from this ISAKMP SA is stale: other ISAKMP SAs and every IPsec SA pair with that
 * address, both directions (solaris-ike.md §5.5).
 */
/** Removes every other SA with the peer of `ctx`: it lost its state (RFC 2407 §4.6.3.3). */
export async function onInitialContact(engine: Ikev1Engine, ctx: Phase1Context): Promise<void> {
  const peer = ctx.sa.peer.address;
  const me = ctx.sa.cookieString();
  let n = 0;
  for (const other of [...engine.phase1SasWith(peer)]) {
    if (other !== ctx) {
      engine.deletePhase1(other, 'peer sent INITIAL-CONTACT');
      n++;
    }
  }
  for (const pair of pairsWith(engine, peer)) {
    if (pair.phase1 === me) continue;
    ctx.sa.stats.delQmSas += await removePair(engine, pair, 'peer sent INITIAL-CONTACT');
    n++;
  }
  engine.counters.inc('p1.initial_contact_cleared', n);
  engine.log.info(`INITIAL-CONTACT from ${peer}: ${n} stale SA(s) removed`);
}

async function onDelete(engine: Ikev1Engine, ctx: Phase1Context, d: DeletePayload): Promise<void> {
  const peer = ctx.sa.peer.address;
  if (d.protocol === ProtocolId.ISAKMP) {
    for (const spi of d.spis) {
      if (spi.length !== 16) continue;
      const target = [...engine.phase1SasWith(peer)].find((c) => sameCookiePair(spi, c.sa.icookie, c.sa.rcookie));
      engine.counters.inc('rx.delete.ISAKMP');
      if (target) deletePhase1Quietly(engine, target);
      else engine.counters.inc('rx.delete.unknown_spi');
    }
    return;
  }
  if (d.protocol !== ProtocolId.IPSEC_ESP && d.protocol !== ProtocolId.IPSEC_AH) {
    engine.counters.inc('rx.delete.unknown_protocol');
    return;
  }
  for (const spiBuf of d.spis) {
    if (spiBuf.length !== 4) continue;
    const spi = spiBuf.readUInt32BE(0);
    engine.counters.inc(`rx.delete.${nameOf(ProtocolId, d.protocol)}`);
    // The sender names the SPI it receives on (our outbound); accept our inbound SPI too.
    const pair = pairWithSpi(engine, peer, d.protocol === ProtocolId.IPSEC_AH ? 'ah' : 'esp', spi);
    if (!pair) {
      engine.counters.inc('rx.delete.unknown_spi');
      continue;
    }
    ctx.sa.stats.delQmSas += await removePair(engine, pair, 'peer sent Delete');
  }
}

function deletePhase1Quietly(engine: Ikev1Engine, ctx: Phase1Context): void {
  engine.deletePhase1(ctx, 'peer sent Delete');
}

/** The Informational exchange module (exchange type 5) for the engine. */
export const INFORMATIONAL: ExchangeModule & { notify: typeof notify } = {
  exchangeTypes: [ExchangeType.INFORMATIONAL],
  handle,
  notify,
};
