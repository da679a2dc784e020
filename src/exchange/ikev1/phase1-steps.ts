/**
 * Steps shared by Main Mode and Aggressive Mode (RFC 2409 §5): key derivation once g^xy is known,
 * building our identity + authenticator (HASH or SIG, with CERT/CR), and checking the peer's.
 */
import { timingSafeEqual } from 'node:crypto';

import type { SharedSecret } from '../../crypto/types';
import { CryptoErr, OakleyError } from '../../util/errors';
import { ownedCopy } from '../../util/buffers';
import { keymat } from '../../util/log';
import { blockSizeOf } from '../../wire/ikev1/encryption';
import { CertEncoding, Doi, NotifyType, ProtocolId } from '../../wire/ikev1/iana';
import { PayloadType } from '../../wire/ikev1/types';
import { decodeIdData, encodeIdData, type IdValue } from '../../wire/ikev1/id';
import type { IdPayload, Payload } from '../../wire/ikev1/types';
import { renderDn } from '../../keystore/cert-names';
import { hashI, hashR, type Phase1HashInput } from './hashes';
import type { InMessage, Phase1Services } from './services';
import { CIPHER_OF, encKeyLength, type Phase1Context } from './phase1-context';

/** An error that fails the exchange and tells the peer why (notify type). */
export class ExchangeError extends OakleyError {
  constructor(code: string, message: string, readonly notify: number, detail?: Record<string, unknown>) {
    super(code, message, { ...detail, notify });
  }
}

/**
 * Our own crypto path failed (a token removed or logged out, the addon refusing): the peer did
 * nothing wrong, but without a word it would retransmit until its limit. IKEv1 has no "internal
 * error" notification; INVALID-KEY-INFORMATION (RFC 2408 §3.14.1, 17) is the nearest truth, since
 * every such failure is in computing keys or signatures.
 */
const LOCAL_CRYPTO_CODES: ReadonlySet<string> = new Set([CryptoErr.NATIVE, CryptoErr.NATIVE_UNAVAILABLE, CryptoErr.NATIVE_BAD_ARG,
  CryptoErr.TOKEN, CryptoErr.TOKEN_PIN, CryptoErr.NO_TOKEN, CryptoErr.TOKEN_MECHANISM, CryptoErr.TOKEN_OBJECT, CryptoErr.SECRET_ON_TOKEN]);

/** The notification that tells the peer why an exchange failed: the error's own, or one for a local crypto failure. */
export function failureNotify(e: Error): number | undefined {
  if (e instanceof ExchangeError) return e.notify;
  const notify = ((e as OakleyError).detail as { notify?: number } | undefined)?.notify;
  if (notify !== undefined) return notify;
  return LOCAL_CRYPTO_CODES.has((e as OakleyError).code) ? NotifyType.INVALID_KEY_INFORMATION : undefined;
}

export const ExchangeErr = {
  AUTHENTICATION_FAILED: 'IKE_ERR_AUTHENTICATION_FAILED',
  NO_PSK: 'IKE_ERR_NO_PRESHARED_KEY',
  INVALID_ID: 'IKE_ERR_INVALID_ID',
  MISSING_PAYLOAD: 'IKE_ERR_MISSING_PAYLOAD',
  UNEXPECTED_PAYLOAD: 'IKE_ERR_UNEXPECTED_PAYLOAD',
  NO_RULE: 'IKE_ERR_NO_RULE',
  NO_CREDENTIALS: 'IKE_ERR_NO_CREDENTIALS',
} as const;

/** Our identity under the rule: the configured one, or our address. */
export function localIdentity(ctx: Phase1Context): IdValue {
  if (ctx.rule.localId) return ctx.rule.localId;
  const a = ctx.sa.local.address;
  return a.includes(':') ? { kind: 'ipv6', address: a } : { kind: 'ipv4', address: a };
}

/** Phase 1 ID payload: RFC 2407 §4.6.2 says protocol and port are 0 or UDP/500 in Phase 1. */
export function idPayload(id: IdValue): IdPayload {
  const { idType, data } = encodeIdData(id);
  return { type: PayloadType.ID, idType, protocol: 0, port: 0, data };
}

/** The body (without generic header) of an ID payload as it goes on the wire. */
export function idBody(p: IdPayload): Buffer {
  const head = Buffer.from([p.idType, p.protocol, p.port >> 8, p.port & 0xff]);
  return Buffer.concat([head, p.data]);
}

/** The body of payload `index` of a received message, exactly as received. */
export function receivedBody(msg: InMessage, index: number): Buffer {
  const s = msg.spans[index];
  return msg.body.subarray(s.start + 4, s.end);
}

/**
 * Derives SKEYID and friends once g^xy is known (RFC 2409 §5; Appendix B for the cipher key and
 * the Phase 1 IV), and stores them on the SA. The pre-shared key must be set for preshared auth.
 */
export async function deriveKeys(svc: Phase1Services, ctx: Phase1Context, gxy: SharedSecret): Promise<void> {
  const sa = ctx.sa;
  const neg = sa.negotiated!;
  const alg = CIPHER_OF[neg.encr];
  const keys = await svc.crypto.kdf.ikev1Phase1({
    hash: neg.hash,
    auth: neg.auth === 'preshared' ? 'psk' : 'sig',
    psk: sa.keys.preSharedKey,
    ni: ctx.ni!, nr: ctx.nr!, ckyI: sa.icookie, ckyR: sa.rcookie, gxy,
    encKeyLength: encKeyLength(neg.encr, neg.keyLength),
    gxi: ctx.gxi!, gxr: ctx.gxr!, ivLength: blockSizeOf(alg),
  });
  sa.keys.sharedSecret = gxy;
  // Slab copies (ownedCopy): each key the derivation returns has an ArrayBuffer of its own.
  sa.keys.SKEYID = ownedCopy(keys.skeyid);
  sa.keys.SKEYID_d = ownedCopy(keys.skeyidD);
  sa.keys.SKEYID_a = ownedCopy(keys.skeyidA);
  sa.keys.SKEYID_e = ownedCopy(keys.skeyidE);
  sa.keys.encKey = keys.encKey && ownedCopy(keys.encKey);
  sa.keys.iv = keys.iv;
  sa.keys.initialIv = keys.iv;
  sa.log.debug('Phase 1 keys derived', { SKEYID: keymat(sa.keys.SKEYID), SKEYID_e: keymat(sa.keys.SKEYID_e), iv: keymat(sa.keys.iv!) });
  for (const b of [keys.skeyid, keys.skeyidD, keys.skeyidA, keys.skeyidE, keys.encKey, keys.iv]) b?.fill(0);
}

function hashInput(ctx: Phase1Context): Phase1HashInput {
  const sa = ctx.sa;
  return {
    hash: sa.negotiated!.hash, skeyid: sa.keys.SKEYID!, gxi: ctx.gxi!, gxr: ctx.gxr!,
    ckyI: sa.icookie, ckyR: sa.rcookie, saiB: ctx.saiB!,
  };
}

/** Notes a CR (certificate request) from the peer: our CERT then goes with our SIG. */
export function noteCertRequests(ctx: Phase1Context, msg: InMessage): void {
  if (msg.payloads.some((p) => p.type === PayloadType.CR)) ctx.peerWantsCert = true;
}

/**
 * Our CR payloads under rsa_sig: one per trust anchor (authority = the CA's subject DN, as
 * strongSwan sends them), or one with an empty authority (any CA) when the keystore names none.
 */
export function certRequestPayloads(svc: Phase1Services, ctx: Phase1Context, auth = ctx.sa.negotiated?.auth): Payload[] {
  if (auth !== 'rsa_sig') return [];
  const cas = svc.credentials.certificateAuthorities?.(ctx.rule) ?? [];
  if (cas.length === 0) return [{ type: PayloadType.CR, certType: CertEncoding.X509_SIGNATURE, authority: Buffer.alloc(0) }];
  return cas.map((authority) => ({ type: PayloadType.CR, certType: CertEncoding.X509_SIGNATURE, authority }));
}

/**
 * Our identity and authenticator: [ID, HASH] for pre-shared keys, [ID, CERT?, SIG] for RSA
 * signatures (SIG = RSA PKCS#1 type 1 over HASH_I/HASH_R, no DigestInfo, RFC 2409 §5.1). CERT
 * goes only when the peer asked for it (CR). `withId: false` leaves the ID out (Aggressive Mode
 * AM3: IDii went in AM1, and HASH_I covers that body, which is the same deterministic encoding).
 */
export async function buildAuthPayloads(svc: Phase1Services, ctx: Phase1Context, opts: { withId?: boolean } = {}): Promise<Payload[]> {
  const id = idPayload(localIdentity(ctx));
  const h = ctx.sa.role === 'initiator' ? await hashI(svc.crypto.kdf, hashInput(ctx), idBody(id))
    : await hashR(svc.crypto.kdf, hashInput(ctx), idBody(id));
  const out: Payload[] = opts.withId === false ? [] : [id];
  // RFC 2407 §4.6.3.3: the initiator's first SA with a peer says so inside the protected exchange.
  const ic: Payload[] = [];
  if (ctx.sa.role === 'initiator' && svc.initialContact?.(ctx)) {
    ctx.initialContactSent = true;
    svc.counters.inc('tx.notify.INITIAL_CONTACT');
    ic.push({ type: PayloadType.N, doi: Doi.IPSEC, protocol: ProtocolId.ISAKMP, spi: Buffer.concat([ctx.sa.icookie, ctx.sa.rcookie]),
      notifyType: NotifyType.INITIAL_CONTACT, data: Buffer.alloc(0) });
  }
  if (ctx.sa.negotiated!.auth === 'preshared') return [...out, { type: PayloadType.HASH, data: h }, ...ic];
  const signer = await svc.credentials.rsaSigner?.(ctx.rule);
  if (!signer) {
    throw new ExchangeError(ExchangeErr.NO_CREDENTIALS, `rule "${ctx.rule.label}" uses RSA signatures but no private key is available`,
      NotifyType.AUTHENTICATION_FAILED);
  }
  const sig = await signer.key.sign(h, { padding: 'pkcs1-raw' });
  // Our certificate goes out whether or not the peer sent CR: an initiator that knows only its CA
  // (strongSwan with cacerts but no CR) cannot verify us otherwise (RFC 2408 §3.9 allows it).
  if (signer.certificate) out.push({ type: PayloadType.CERT, encoding: CertEncoding.X509_SIGNATURE, data: signer.certificate });
  out.push({ type: PayloadType.SIG, data: sig }, ...ic);
  return out;
}

/**
 * Takes the peer's ID payload from `msg`: decodes it, checks it against the rule, and keeps its
 * exact body for HASH_I/HASH_R. Aggressive Mode responders call this on AM1, before the keys.
 */
export function acceptPeerId(ctx: Phase1Context, msg: InMessage): IdValue {
  const idIndex = msg.payloads.findIndex((p) => p.type === PayloadType.ID);
  const id = msg.payloads[idIndex] as IdPayload;
  let peerId: IdValue;
  try {
    peerId = decodeIdData(id.idType, id.data);
  } catch (e) {
    throw new ExchangeError(ExchangeErr.INVALID_ID, `peer ID payload: ${(e as Error).message}`, NotifyType.INVALID_ID_INFORMATION);
  }
  checkPeerId(ctx, peerId);
  ctx.peerId = peerId;
  ctx.peerIdBody = Buffer.from(receivedBody(msg, idIndex));
  return peerId;
}

/**
 * Checks the peer's ID and HASH/SIG (RFC 2409 §5): the ID must be acceptable under the rule, and
 * the authenticator must verify over the exact ID payload body received — from `msg`, or (when
 * `msg` has none: Aggressive Mode AM3) the one kept from an earlier message.
 */
export async function verifyPeerAuth(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  await verifyPeerAuthPayloads(svc, ctx, msg);
  // RFC 2407 §4.6.3.3: INITIAL-CONTACT may ride in the authenticated Phase 1 message itself
  // (strongSwan puts it in MM5); it is acted on once the SA is established.
  if (msg.payloads.some((p) => p.type === PayloadType.N && p.notifyType === NotifyType.INITIAL_CONTACT)) {
    ctx.peerInitialContact = true;
    svc.counters.inc('rx.notify.INITIAL_CONTACT');
  }
}

async function verifyPeerAuthPayloads(svc: Phase1Services, ctx: Phase1Context, msg: InMessage): Promise<void> {
  if (msg.payloads.some((p) => p.type === PayloadType.ID)) acceptPeerId(ctx, msg);
  const peerId = ctx.peerId!;
  const body = ctx.peerIdBody!;
  const expected = ctx.sa.role === 'initiator' ? await hashR(svc.crypto.kdf, hashInput(ctx), body)
    : await hashI(svc.crypto.kdf, hashInput(ctx), body);
  const what = ctx.sa.role === 'initiator' ? 'HASH_R' : 'HASH_I';
  if (ctx.sa.negotiated!.auth === 'preshared') {
    const got = (msg.payloads.find((p) => p.type === PayloadType.HASH) as { data: Buffer }).data;
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      ctx.sa.stats.errHash++;
      throw new ExchangeError(ExchangeErr.AUTHENTICATION_FAILED,
        `${what} from ${ctx.sa.peer.address} does not verify: the pre-shared keys differ`, NotifyType.AUTHENTICATION_FAILED);
    }
    return;
  }
  const sig = (msg.payloads.find((p) => p.type === PayloadType.SIG) as { data: Buffer }).data;
  const certs = [...ctx.peerCerts, ...msg.payloads.flatMap((p) => (p.type === PayloadType.CERT ? [Buffer.from(p.data)] : []))];
  let verifier;
  try {
    verifier = await svc.credentials.rsaVerifier?.(ctx.rule, peerId, certs);
  } catch (e) {
    // The keystore says why (untrusted CA, expired, ID not in the certificate) and which notify fits.
    const notify = ((e as OakleyError).detail as { notify?: number } | undefined)?.notify ?? NotifyType.INVALID_CERTIFICATE;
    throw new ExchangeError(ExchangeErr.AUTHENTICATION_FAILED, `certificate of peer ${describeId(peerId)} not accepted: ${(e as Error).message}`,
      notify, { cause: (e as OakleyError).code });
  }
  if (!verifier) {
    throw new ExchangeError(ExchangeErr.AUTHENTICATION_FAILED, `no trusted public key for peer ${describeId(peerId)}`,
      NotifyType.CERTIFICATE_UNAVAILABLE);
  }
  if (!(await verifier.verify(expected, sig, { padding: 'pkcs1-raw' }))) {
    ctx.sa.stats.errHash++;
    throw new ExchangeError(ExchangeErr.AUTHENTICATION_FAILED, `SIG over ${what} from ${describeId(peerId)} does not verify`,
      NotifyType.INVALID_SIGNATURE);
  }
}

/** Under pre-shared keys with no configured remote ID, the peer's ID must be its address. */
function checkPeerId(ctx: Phase1Context, id: IdValue): void {
  const want = ctx.rule.remoteId;
  if (want) {
    if (!sameId(want, id)) {
      throw new ExchangeError(ExchangeErr.INVALID_ID, `peer identity ${describeId(id)} is not the ${describeId(want)} that rule "${ctx.rule.label}" expects`,
        NotifyType.INVALID_ID_INFORMATION);
    }
    return;
  }
  if (ctx.sa.negotiated?.auth === 'preshared' && (id.kind === 'ipv4' || id.kind === 'ipv6') && id.address !== ctx.sa.peer.address) {
    // NAT may rewrite the address we see; accept but log, as strongSwan does with %any.
    ctx.sa.log.info(`peer identifies as ${id.address} but packets come from ${ctx.sa.peer.address}`);
  }
}

export function sameId(a: IdValue, b: IdValue): boolean {
  const ea = encodeIdData(a);
  const eb = encodeIdData(b);
  return ea.idType === eb.idType && ea.data.equals(eb.data);
}

export function describeId(id: IdValue): string {
  switch (id.kind) {
    case 'ipv4': case 'ipv6': return id.address;
    case 'ipv4-subnet': case 'ipv6-subnet': return `${id.address}/${id.prefix}`;
    case 'ipv4-range': case 'ipv6-range': return `${id.start}-${id.end}`;
    case 'fqdn': case 'user-fqdn': return id.name;
    case 'der-dn': {
      try {
        return `DN "${renderDn(id.der)}"`;
      } catch {
        return `DN(${id.der.length} bytes, malformed)`;
      }
    }
    case 'der-gn': return `GN(${id.der.length} bytes)`;
    case 'key-id': return `KEY_ID ${id.keyId.toString('hex')}`;
  }
}
