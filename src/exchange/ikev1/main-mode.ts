/**
 * Main Mode (identity protection exchange, RFC 2409 §5) as a transition table beside its handlers
 * (STYLE A.3). With pre-shared keys (RFC 2409 §5.4):
 *
 *        Initiator                          Responder
 *       -----------                        -----------
 *  MM1   HDR, SA [, VID...]          -->
 *  MM2                               <--    HDR, SA [, VID...]
 *  MM3   HDR, KE, Ni [, NAT-D, NAT-D] -->
 *  MM4                               <--    HDR, KE, Nr [, NAT-D, NAT-D]
 *  MM5   HDR*, IDii, HASH_I          -->                       (NAT-T: from here on port 4500)
 *  MM6                               <--    HDR*, IDir, HASH_R
 *
 * With RSA signatures (RFC 2409 §5.1) MM3/MM4 may carry CR, and MM5/MM6 are
 * HDR*, IDi1, [CERT,] SIG_I and HDR*, IDir, [CERT,] SIG_R.
 *
 * NAT-T (RFC 3947): the NAT-T and DPD vendor IDs go in MM1/MM2; NAT-D payloads in MM3/MM4 carry
 * HASH(CKY-I | CKY-R | IP | port) of the destination first, then of the source; a mismatch means
 * a NAT is in the path, and the initiator floats to port 4500 for MM5.
 */
import { timingSafeEqual } from 'node:crypto';

import { IkeSaState } from '../ike-sa';
import { NotifyType, VendorId } from '../../wire/ikev1/iana';
import { natDHash } from '../../wire/ikev1/nat-t';
import { PayloadType, type Payload, type SaPayload } from '../../wire/ikev1/types';
import { encodePayloadChain } from '../../wire/ikev1/message';
import { acceptP1Reply, buildP1SaPayload, selectP1Transform, type P1Selection } from './proposals';
import {
  buildAuthPayloads, certRequestPayloads, deriveKeys, describeId, ExchangeErr, ExchangeError, noteCertRequests, receivedBody, verifyPeerAuth,
} from './phase1-steps';
import type { IdValue } from '../../wire/ikev1/id';
import type { Endpoint } from '../../net/transport';
import type { Phase1Context, Phase1Step } from './phase1-context';
import type { InMessage, Phase1Services } from './services';

type Handler = (svc: Phase1Services, ctx: Phase1Context, msg: InMessage) => Promise<void>;

/** One row of the table: in state `from`, as `role`, a message with these payloads runs `handler`. */
export interface Phase1Transition {
  readonly from: Phase1Step;
  readonly role: 'initiator' | 'responder';
  readonly auth?: 'preshared' | 'rsa_sig';
  readonly encrypted: boolean;
  readonly required: readonly number[];
  readonly optional: readonly number[];
  readonly handler: Handler;
  readonly to: Phase1Step;
  readonly story: string;
}

/** Payloads any Phase 1 message may carry in addition (LS-2: always allowed). */
export const ALWAYS_ALLOWED: readonly number[] = [PayloadType.VID, PayloadType.N];

export const NAT_D = [PayloadType.NAT_D, PayloadType.NAT_D_DRAFT];

export const VENDOR_IDS: readonly Buffer[] = [VendorId.NAT_T_RFC3947, VendorId.NAT_T_DRAFT_03, VendorId.NAT_T_DRAFT_02N, VendorId.DPD]
  .map((h) => Buffer.from(h, 'hex'));

export function vendorIdPayloads(svc: Phase1Services): Payload[] {
  const ids = svc.settings.natT ? VENDOR_IDS : VENDOR_IDS.filter((v) => v.toString('hex') === VendorId.DPD);
  return ids.map((data) => ({ type: PayloadType.VID, data }));
}

/** Notes what the peer's vendor IDs say it supports (NAT-T flavour, DPD). */
export function readVendorIds(ctx: Phase1Context, msg: InMessage): void {
  for (const p of msg.payloads) {
    if (p.type !== PayloadType.VID) continue;
    const hex = p.data.toString('hex');
    if (hex === VendorId.NAT_T_RFC3947) ctx.natDType = PayloadType.NAT_D;
    else if ((hex === VendorId.NAT_T_DRAFT_03 || hex === VendorId.NAT_T_DRAFT_02N) && ctx.natDType === undefined) ctx.natDType = PayloadType.NAT_D_DRAFT;
    else if (hex === VendorId.DPD) ctx.sa.peerDpd = true;
  }
  ctx.sa.natT.peerSupports = ctx.natDType !== undefined;
}

/**
 * NAT-D payloads: the destination's hash first, then the source's (RFC 3947 §3.2), of the
 * endpoints the message goes between (default: the SA's; Aggressive Mode AM3 passes the NAT-T ones).
 */
export function natDPayloads(svc: Phase1Services, ctx: Phase1Context, dst: Endpoint = ctx.sa.peer, src: Endpoint = ctx.sa.local): Payload[] {
  if (!svc.settings.natT || ctx.natDType === undefined) return [];
  const sa = ctx.sa;
  const h = sa.negotiated!.hash;
  const type = ctx.natDType as typeof PayloadType.NAT_D;
  return [
    { type, data: natDHash(h, sa.icookie, sa.rcookie, dst.address, dst.port) },
    { type, data: natDHash(h, sa.icookie, sa.rcookie, src.address, src.port) },
  ];
}

/** Compares the peer's NAT-D payloads with what we see (RFC 3947 §3.2). */
export function checkNatD(ctx: Phase1Context, msg: InMessage): void {
  const natd = msg.payloads.filter((p) => p.type === PayloadType.NAT_D || p.type === PayloadType.NAT_D_DRAFT) as { data: Buffer }[];
  if (natd.length < 2) return;
  const sa = ctx.sa;
  const h = sa.negotiated!.hash;
  const mine = natDHash(h, sa.icookie, sa.rcookie, msg.to.address, msg.to.port);
  const theirs = natDHash(h, sa.icookie, sa.rcookie, msg.from.address, msg.from.port);
  sa.natT.localBehindNat = !sameHash(natd[0].data, mine);
  sa.natT.peerBehindNat = !natd.slice(1).some((p) => sameHash(p.data, theirs));
  if (sa.natT.localBehindNat || sa.natT.peerBehindNat) {
    sa.log.info(`NAT detected (${sa.natT.localBehindNat ? 'we are' : 'the peer is'} behind it): IKE moves to the NAT-T port`);
  }
}

function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------
// Handlers. Names say what they consume and emit (STYLE A.2).
// ---------------------------------------------------------------------------------------------

/** MM1 out: HDR, SA, VID... */
export function mainOutI1(svc: Phase1Services, ctx: Phase1Context): void {
  const sa = buildP1SaPayload(ctx.rule.p1);
  ctx.offeredSa = sa;
  ctx.saiB = saBody(sa);
  ctx.sa.setState(IkeSaState.CONNECTING, 'Main Mode MM1 sent');
  svc.sendPhase1(ctx, [sa, ...vendorIdPayloads(svc)], { encrypt: false, expectReply: true });
  ctx.step = 'MM_I1_SENT';
}

/**
 * Responder, first message of Main or Aggressive Mode: choose a transform from the initiator's SA
 * payload and keep SAi_b exactly as received (HASH_I and HASH_R cover it).
 */
export function chooseFromOffer(ctx: Phase1Context, msg: InMessage, story: string): P1Selection {
  const saIndex = msg.payloads.findIndex((p) => p.type === PayloadType.SA);
  const offered = msg.payloads[saIndex] as SaPayload;
  readVendorIds(ctx, msg);
  const sel = selectP1Transform(offered, ctx.rule.p1);
  ctx.sa.negotiated = sel.negotiated;
  ctx.offeredSa = offered;
  ctx.saiB = Buffer.from(receivedBody(msg, saIndex));
  ctx.sa.setState(IkeSaState.CONNECTING, { text: story, quiet: true });
  return sel;
}

/** MM1 in, MM2 out: choose a transform from the initiator's proposal. */
async function mainInI1OutR1(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  const sel = chooseFromOffer(ctx, msg, 'Main Mode MM1 received');
  svc.sendPhase1(ctx, [sel.reply, ...vendorIdPayloads(svc)], { encrypt: false, expectReply: false });
}

/** MM2 in, MM3 out: the responder's choice; our KE and Ni. */
async function mainInR1OutI2(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  const reply = msg.payloads.find((p) => p.type === PayloadType.SA) as SaPayload;
  ctx.sa.negotiated = acceptP1Reply(ctx.offeredSa!, reply);
  readVendorIds(ctx, msg);
  await sendKeAndNonce(svc, ctx, true);
}

/** MM3 in, MM4 out: their KE and Ni; our KE and Nr; g^xy and the keys. */
async function mainInI2OutR2(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  takeKeAndNonce(ctx, msg, 'initiator');
  noteCertRequests(ctx, msg);
  checkNatD(ctx, msg);
  lookupPsk(svc, ctx);
  await sendKeAndNonce(svc, ctx, false);
  await deriveKeys(svc, ctx, await ctx.ke!.computeSharedSecret(ctx.gxi!));
}

/** MM4 in, MM5 out: their KE and Nr; g^xy and the keys; our ID and HASH_I/SIG_I, encrypted. */
async function mainInR2OutI3(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  takeKeAndNonce(ctx, msg, 'responder');
  noteCertRequests(ctx, msg);
  checkNatD(ctx, msg);
  lookupPsk(svc, ctx);
  await deriveKeys(svc, ctx, await ctx.ke!.computeSharedSecret(ctx.gxr!));
  if (ctx.sa.natT.localBehindNat || ctx.sa.natT.peerBehindNat) ctx.sa.natT.floated = true;
  svc.sendPhase1(ctx, await buildAuthPayloads(svc, ctx), { encrypt: true, expectReply: true });
}

/** MM5 in, MM6 out: verify the initiator; answer with our ID and HASH_R/SIG_R. */
async function mainInI3OutR3(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  await verifyPeerAuth(svc, ctx, msg);
  svc.sendPhase1(ctx, await buildAuthPayloads(svc, ctx), { encrypt: true, expectReply: false });
}

/** MM6 in: verify the responder. */
async function mainInR3(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  await verifyPeerAuth(svc, ctx, msg);
}

export function saBody(sa: SaPayload): Buffer {
  return encodePayloadChain([sa]).subarray(4);
}

export function takeKeAndNonce(ctx: Phase1Context, msg: InMessage, from: 'initiator' | 'responder'): void {
  const ke = (msg.payloads.find((p) => p.type === PayloadType.KE) as { data: Buffer }).data;
  const nonce = (msg.payloads.find((p) => p.type === PayloadType.NONCE) as { data: Buffer }).data;
  if (from === 'initiator') {
    ctx.gxi = Buffer.from(ke);
    ctx.ni = Buffer.from(nonce);
  } else {
    ctx.gxr = Buffer.from(ke);
    ctx.nr = Buffer.from(nonce);
  }
}

async function sendKeAndNonce(svc: Phase1Services, ctx: Phase1Context, initiator: boolean): Promise<void> {
  ctx.ke = await svc.crypto.ke.create(ctx.sa.negotiated!.group);
  const nonce = svc.random(svc.settings.p1NonceLength);
  if (initiator) {
    ctx.gxi = ctx.ke.publicKey;
    ctx.ni = nonce;
  } else {
    ctx.gxr = ctx.ke.publicKey;
    ctx.nr = nonce;
  }
  const payloads: Payload[] = [{ type: PayloadType.KE, data: ctx.ke.publicKey }, { type: PayloadType.NONCE, data: nonce }];
  payloads.push(...certRequestPayloads(svc, ctx), ...natDPayloads(svc, ctx));
  svc.sendPhase1(ctx, payloads, { encrypt: false, expectReply: initiator });
}

/**
 * Main Mode pre-shared keys are found by the peer's address (its ID is still encrypted);
 * Aggressive Mode passes the peer's ID too (it came in the clear in AM1/AM2).
 */
export function lookupPsk(svc: Phase1Services, ctx: Phase1Context, peerId?: IdValue): void {
  if (ctx.sa.negotiated!.auth !== 'preshared') return;
  const psk = svc.credentials.presharedKey(ctx.sa.local, ctx.sa.peer, peerId);
  if (!psk) {
    throw new ExchangeError(ExchangeErr.NO_PSK, `no pre-shared key for peer ${ctx.sa.peer.address}${peerId ? ` (${describeId(peerId)})` : ''} (ike.preshared)`,
      NotifyType.AUTHENTICATION_FAILED);
  }
  ctx.sa.keys.preSharedKey = Buffer.from(psk);
}

export const P1_EXTRAS = [PayloadType.CR, ...NAT_D];

/** The Main Mode table (initiator rows follow the ladder above, responder rows likewise). */
export const MAIN_MODE: readonly Phase1Transition[] = [
  { from: 'START', role: 'responder', encrypted: false, required: [PayloadType.SA], optional: [], handler: mainInI1OutR1, to: 'MM_R1_SENT',
    story: 'received MM1 (SA proposal); answering with the chosen transform' },
  { from: 'MM_I1_SENT', role: 'initiator', encrypted: false, required: [PayloadType.SA], optional: [], handler: mainInR1OutI2, to: 'MM_I2_SENT',
    story: 'received MM2 (chosen transform); sending KE and Ni' },
  { from: 'MM_R1_SENT', role: 'responder', encrypted: false, required: [PayloadType.KE, PayloadType.NONCE], optional: P1_EXTRAS,
    handler: mainInI2OutR2, to: 'MM_R2_SENT', story: 'received MM3 (KE, Ni); sending KE and Nr, keys derived' },
  { from: 'MM_I2_SENT', role: 'initiator', encrypted: false, required: [PayloadType.KE, PayloadType.NONCE], optional: P1_EXTRAS,
    handler: mainInR2OutI3, to: 'MM_I3_SENT', story: 'received MM4 (KE, Nr); keys derived; sending our identity' },
  { from: 'MM_R2_SENT', role: 'responder', auth: 'preshared', encrypted: true, required: [PayloadType.ID, PayloadType.HASH], optional: [],
    handler: mainInI3OutR3, to: 'DONE', story: 'received MM5 (IDii, HASH_I) and verified it; sending IDir, HASH_R' },
  { from: 'MM_R2_SENT', role: 'responder', auth: 'rsa_sig', encrypted: true, required: [PayloadType.ID, PayloadType.SIG],
    optional: [PayloadType.CERT, PayloadType.CR], handler: mainInI3OutR3, to: 'DONE',
    story: 'received MM5 (IDii, [CERT,] SIG_I) and verified it; sending IDir, [CERT,] SIG_R' },
  { from: 'MM_I3_SENT', role: 'initiator', auth: 'preshared', encrypted: true, required: [PayloadType.ID, PayloadType.HASH], optional: [],
    handler: mainInR3, to: 'DONE', story: 'received MM6 (IDir, HASH_R) and verified it: ISAKMP SA established' },
  { from: 'MM_I3_SENT', role: 'initiator', auth: 'rsa_sig', encrypted: true, required: [PayloadType.ID, PayloadType.SIG],
    optional: [PayloadType.CERT], handler: mainInR3, to: 'DONE', story: 'received MM6 (IDir, [CERT,] SIG_R) and verified it: ISAKMP SA established' },
];
