/**
 * Aggressive Mode (RFC 2409 §5) as a transition table beside its handlers (STYLE A.3). With
 * pre-shared keys (RFC 2409 §5.4):
 *
 *        Initiator                          Responder
 *       -----------                        -----------
 *  AM1   HDR, SA, KE, Ni, IDii [, VID...]  -->
 *  AM2                               <--    HDR, SA, KE, Nr, IDir, HASH_R [, VID...] [, NAT-D, NAT-D]
 *  AM3   HDR*, HASH_I [, NAT-D, NAT-D] -->                     (NAT-T: on port 4500 when a NAT was seen)
 *
 * With RSA signatures (RFC 2409 §5.1): AM1 may carry CR; AM2 is
 * HDR, SA, KE, Nr, IDir, [CERT,] SIG_R [, CR]; AM3 is HDR*, [CERT,] SIG_I.
 *
 * The key exchange rides in AM1, so the initiator's proposal can hold only one group: every
 * transform of the rule must use it. The responder answers only under a rule with
 * `aggressiveResponder` (the engine refuses otherwise); with pre-shared keys it warns, because
 * HASH_R in AM2 lets anyone who sees it (or asks for it) run an offline dictionary attack on the
 * key.
 *
 * Interop quirks (peers.md §5): some peers (Volans gateways, libreswan PR #230) send AM3 in the
 * clear; RFC 2409 does not require encryption of AM3, so a plaintext AM3 is accepted when it
 * verifies. The IV that Phase 2 starts from is then the initial Phase 1 IV, truncated to the
 * cipher block size (RFC 2409 Appendix B, p.37; racoon needs the truncation, libreswan #2027):
 * deriveKeys already keeps only the block size.
 */
import { IkeSaState } from '../ike-sa';
import { IkePort, NotifyType } from '../../wire/ikev1/iana';
import { PayloadType, type Payload, type SaPayload } from '../../wire/ikev1/types';
import { OakleyError } from '../../util/errors';
import type { Endpoint } from '../../net/transport';
import { acceptP1Reply, buildP1SaPayload, ProposalErr } from './proposals';
import {
  checkNatD, chooseFromOffer, lookupPsk, NAT_D, natDPayloads, readVendorIds, saBody, takeKeAndNonce, vendorIdPayloads, type Phase1Transition,
} from './main-mode';
import {
  acceptPeerId, buildAuthPayloads, certRequestPayloads, deriveKeys, describeId, ExchangeErr, ExchangeError, idPayload, localIdentity, noteCertRequests, verifyPeerAuth,
} from './phase1-steps';
import type { Phase1Context } from './phase1-context';
import type { InMessage, Phase1Services } from './services';

/** AM1 out: HDR, SA, KE, Ni, IDii [, CR] [, VID...] — one group only. */
export async function aggressiveOutI1(svc: Phase1Services, ctx: Phase1Context): Promise<void> {
  const groups = new Set(ctx.rule.p1.map((t) => t.group));
  if (groups.size !== 1) {
    throw new OakleyError(ProposalErr.BAD_POLICY,
      `rule "${ctx.rule.label}": Aggressive Mode sends KE in its first message, so all p1_xform must use one group (found ${[...groups].join(', ')})`);
  }
  const [group] = groups;
  const sa = buildP1SaPayload(ctx.rule.p1);
  ctx.offeredSa = sa;
  ctx.saiB = saBody(sa);
  ctx.ke = await svc.crypto.ke.create(group);
  ctx.gxi = ctx.ke.publicKey;
  ctx.ni = svc.random(svc.settings.p1NonceLength);
  const payloads: Payload[] = [
    sa, { type: PayloadType.KE, data: ctx.gxi }, { type: PayloadType.NONCE, data: ctx.ni }, idPayload(localIdentity(ctx)),
  ];
  // No transform is chosen yet; ask for certificates when any offered transform signs.
  if (ctx.rule.p1.some((t) => t.auth === 'rsa_sig')) {
    payloads.push(...certRequestPayloads(svc, ctx, 'rsa_sig'));
  }
  payloads.push(...vendorIdPayloads(svc));
  ctx.sa.setState(IkeSaState.CONNECTING, 'Aggressive Mode AM1 sent');
  svc.sendPhase1(ctx, payloads, { encrypt: false, expectReply: true });
  ctx.step = 'AM_I1_SENT';
}

/** AM1 in, AM2 out: choose a transform, take KE/Ni/IDii, derive the keys, authenticate ourselves. */
async function aggressiveInI1OutR1(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  const sel = chooseFromOffer(ctx, msg, 'Aggressive Mode AM1 received');
  noteCertRequests(ctx, msg);
  takeKeAndNonce(ctx, msg, 'initiator');
  const peerId = acceptPeerId(ctx, msg);
  if (sel.negotiated.auth === 'preshared') {
    ctx.sa.log.warn(`answering Aggressive Mode with a pre-shared key for ${describeId(peerId)} (rule "${ctx.rule.label}"): ` +
      'HASH_R exposes the key to offline dictionary attacks; prefer Main Mode or certificates');
    svc.counters.inc('p1.aggressive_psk_answered');
  }
  lookupPsk(svc, ctx, peerId);
  ctx.ke = await svc.crypto.ke.create(sel.negotiated.group);
  ctx.gxr = ctx.ke.publicKey;
  ctx.nr = svc.random(svc.settings.p1NonceLength);
  await deriveKeys(svc, ctx, await ctx.ke.computeSharedSecret(ctx.gxi!));
  const payloads: Payload[] = [
    sel.reply, { type: PayloadType.KE, data: ctx.gxr }, { type: PayloadType.NONCE, data: ctx.nr },
    ...await buildAuthPayloads(svc, ctx), ...certRequestPayloads(svc, ctx), ...vendorIdPayloads(svc), ...natDPayloads(svc, ctx),
  ];
  // AM2 is retransmitted until AM3 comes: it is the responder's only chance to see the initiator authenticate.
  svc.sendPhase1(ctx, payloads, { encrypt: false, expectReply: true });
}

/** AM2 in, AM3 out: the responder's choice, KE, Nr, IDir and HASH_R/SIG_R; our HASH_I/SIG_I. */
async function aggressiveInR1OutI2(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  const reply = msg.payloads.find((p) => p.type === PayloadType.SA) as SaPayload;
  ctx.sa.negotiated = acceptP1Reply(ctx.offeredSa!, reply);
  // The row could not be picked by auth method (unknown until now), only by the payloads present.
  const authPayload = ctx.sa.negotiated.auth === 'preshared' ? PayloadType.HASH : PayloadType.SIG;
  if (!msg.payloads.some((p) => p.type === authPayload)) {
    throw new ExchangeError(ExchangeErr.MISSING_PAYLOAD, `AM2 lacks the ${ctx.sa.negotiated.auth === 'preshared' ? 'HASH_R' : 'SIG_R'} ` +
      `that the chosen ${ctx.sa.negotiated.auth} transform calls for`, NotifyType.PAYLOAD_MALFORMED);
  }
  readVendorIds(ctx, msg);
  noteCertRequests(ctx, msg);
  takeKeAndNonce(ctx, msg, 'responder');
  checkNatD(ctx, msg);
  const peerId = acceptPeerId(ctx, msg);
  lookupPsk(svc, ctx, peerId);
  await deriveKeys(svc, ctx, await ctx.ke!.computeSharedSecret(ctx.gxr!));
  await verifyPeerAuth(svc, ctx, msg);
  const sa = ctx.sa;
  let dst: Endpoint = sa.peer;
  let src: Endpoint = sa.local;
  if (sa.natT.localBehindNat || sa.natT.peerBehindNat) {
    // RFC 3947 §4: AM3 already goes to port 4500 (with the non-ESP marker); NAT-D describes that packet.
    sa.natT.floated = true;
    dst = sa.peer.port === IkePort.IKE || sa.peer.port === sa.local.port ? { address: sa.peer.address, port: svc.natPort } : sa.peer;
    src = { address: sa.local.address, port: svc.natPort };
  }
  const payloads = [...await buildAuthPayloads(svc, ctx, { withId: false }), ...natDPayloads(svc, ctx, dst, src)];
  svc.sendPhase1(ctx, payloads, { encrypt: true, expectReply: false });
}

/** AM3 in: verify the initiator (HASH_I over the IDii of AM1). */
async function aggressiveInI2(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  ctx.retransmitter?.stop();
  if (!msg.encrypted) {
    ctx.sa.log.info(`SA ${ctx.sa.cookieString()}: AM3 from ${ctx.sa.peer.address} came unencrypted; accepted as it verifies (interop quirk)`);
    svc.counters.inc('p1.aggressive_plaintext_am3');
  }
  checkNatD(ctx, msg);
  await verifyPeerAuth(svc, ctx, msg);
}

const AM1_EXTRAS = [PayloadType.CR];
const AM2_EXTRAS = [PayloadType.CR, ...NAT_D];

function am3Rows(encrypted: boolean): Phase1Transition[] {
  const how = encrypted ? '' : ' in the clear (quirk)';
  return [
    { from: 'AM_R1_SENT', role: 'responder', auth: 'preshared', encrypted, required: [PayloadType.HASH], optional: NAT_D,
      handler: aggressiveInI2, to: 'DONE', story: `received AM3 (HASH_I)${how} and verified it: ISAKMP SA established` },
    { from: 'AM_R1_SENT', role: 'responder', auth: 'rsa_sig', encrypted, required: [PayloadType.SIG], optional: [PayloadType.CERT, ...NAT_D],
      handler: aggressiveInI2, to: 'DONE', story: `received AM3 ([CERT,] SIG_I)${how} and verified it: ISAKMP SA established` },
  ];
}

/** The Aggressive Mode table. */
export const AGGRESSIVE_MODE: readonly Phase1Transition[] = [
  { from: 'START', role: 'responder', encrypted: false, required: [PayloadType.SA, PayloadType.KE, PayloadType.NONCE, PayloadType.ID],
    optional: AM1_EXTRAS, handler: aggressiveInI1OutR1, to: 'AM_R1_SENT',
    story: 'received AM1 (SA, KE, Ni, IDii); answering with SA, KE, Nr, IDir and HASH_R/SIG_R' },
  { from: 'AM_I1_SENT', role: 'initiator', auth: 'preshared', encrypted: false,
    required: [PayloadType.SA, PayloadType.KE, PayloadType.NONCE, PayloadType.ID, PayloadType.HASH], optional: AM2_EXTRAS,
    handler: aggressiveInR1OutI2, to: 'DONE', story: 'received AM2 (SA, KE, Nr, IDir, HASH_R) and verified it; sent HASH_I: ISAKMP SA established' },
  { from: 'AM_I1_SENT', role: 'initiator', auth: 'rsa_sig', encrypted: false,
    required: [PayloadType.SA, PayloadType.KE, PayloadType.NONCE, PayloadType.ID, PayloadType.SIG], optional: [PayloadType.CERT, ...AM2_EXTRAS],
    handler: aggressiveInR1OutI2, to: 'DONE', story: 'received AM2 (SA, KE, Nr, IDir, [CERT,] SIG_R) and verified it; sent SIG_I: ISAKMP SA established' },
  ...am3Rows(true),
  ...am3Rows(false),
];
