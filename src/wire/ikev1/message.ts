/**
 * Whole ISAKMP messages (RFC 2408 §3.1, §3.2): header + payload chain.
 *
 *   datagram = HDR (28) | payload 1 | payload 2 | ... | payload n (Next Payload = NONE)
 *   encrypted (E flag): HDR | CBC(payload 1 .. n | padding)   (RFC 2408 §3.1, RFC 2409 App. B)
 *
 * Decisions:
 *  - Plaintext: the chain must end exactly at the header's Length; leftover bytes inside Length
 *    are UNEQUAL-PAYLOAD-LENGTHS (nothing legitimate goes there). Datagram bytes beyond Length are
 *    ignored (header.ts).
 *  - Encrypted: bytes after the payload with Next Payload NONE are padding and are ignored; peers
 *    pad differently (zeros; pad length in the last byte; random), peers.md §5.
 *  - Caps (limits.ts) are checked while walking the chain, before decoding more.
 *  - Semantic checks (verify.ts) run on each payload unless `{ semantic: false }`.
 */
import { HeaderFlag, IsakmpHeader, IsakmpMessage, Payload, PayloadType } from './types';
import { NotifyType } from './iana';
import { CipherAlg, CipherProvider } from '../../crypto/types';
import { Reader } from '../reader';
import { Writer } from '../writer';
import { WireErr, WireError } from '../errors';
import { WireLimits } from './limits';
import { decodeHeader, encodeHeader, HeaderFields, ISAKMP_HEADER_LENGTH, ISAKMP_MAX_LENGTH } from './header';
import { payloadName, readGeneric, writeGeneric } from './payloads/generic';
import { decodePayloadBody, encodePayloadBody, fixedBodyLength, payloadTypeOf } from './payloads/index';
import { verifyPayload } from './verify';
import { decryptBody, encryptBody } from './encryption';

export { decodeHeader, encodeHeader, ISAKMP_HEADER_LENGTH } from './header';

export interface ChainOptions {
  /** Bytes after the last payload are padding (encrypted body): ignored. Default false. */
  readonly padded?: boolean;
  /** Run verify.ts on each payload. Default true. */
  readonly semantic?: boolean;
  /**
   * When given, receives where each payload lies in `body` (same order as the result). The
   * exchanges hash exact received octets (SAi_b, IDii_b, everything after a HASH payload), so they
   * slice the body with these instead of re-encoding.
   */
  readonly spans?: PayloadSpan[];
}

/** Offsets into the decoded body: the generic header starts at `start`, the body at `start + 4`. */
export interface PayloadSpan {
  readonly start: number;
  readonly end: number;
}

const PER_TYPE_CAPS: ReadonlyMap<number, [number, string]> = new Map([
  [PayloadType.N, [WireLimits.notifications, 'notifications']],
  [PayloadType.VID, [WireLimits.vendorIds, 'vendor IDs']],
  [PayloadType.CERT, [WireLimits.certificates, 'certificates']],
  [PayloadType.CR, [WireLimits.certRequests, 'certificate requests']],
]);

/**
 * Decodes a payload chain.
 * @param firstType  the header's Next Payload
 * @param body       the bytes after the header (plaintext, or decrypted)
 * @param baseOffset datagram offset of body[0] (28 for a whole message), for error offsets
 * @returns the payloads in order
 * @throws WireError only
 */
export function decodePayloadChain(firstType: number, body: Buffer, baseOffset = ISAKMP_HEADER_LENGTH,
  options: ChainOptions = {}): Payload[] {
  const r = new Reader(body, 'message', 0, body.length, baseOffset);
  const semantic = options.semantic ?? true;
  const payloads: Payload[] = [];
  const counts = new Map<number, number>();
  let type = firstType;
  while (type !== PayloadType.NONE) {
    const name = payloadName(type);
    if (payloads.length >= WireLimits.payloads) {
      throw new WireError(WireErr.LIMIT, name, r.offset, `more than ${WireLimits.payloads} payloads in one message`);
    }
    const cap = PER_TYPE_CAPS.get(type);
    if (cap) {
      const n = (counts.get(type) ?? 0) + 1;
      counts.set(type, n);
      if (n > cap[0]) throw new WireError(WireErr.LIMIT, name, r.offset, `more than ${cap[0]} ${cap[1]} in one message`);
    }
    const g = readGeneric(r, name, fixedBodyLength(type));
    options.spans?.push({ start: g.start - baseOffset, end: r.offset - baseOffset });
    const p = decodePayloadBody(type, g.body);
    if (semantic) verifyPayload(p, g.start);
    payloads.push(p);
    type = g.next;
  }
  if (!options.padded && r.remaining > 0) {
    throw new WireError(WireErr.LENGTH, 'message', r.offset,
      `${r.remaining} bytes follow the last payload inside the declared message length`, NotifyType.UNEQUAL_PAYLOAD_LENGTHS);
  }
  return payloads;
}

/**
 * Decodes a plaintext datagram (E flag clear).
 * @throws WireError; VALUE with PAYLOAD-MALFORMED if the E flag is set (use decodeEncryptedMessage)
 */
export function decodeMessage(datagram: Buffer, options: Omit<ChainOptions, 'padded'> = {}): IsakmpMessage {
  const { header } = decodeHeader(datagram);
  if (header.flags & HeaderFlag.ENCRYPTION) {
    throw new WireError(WireErr.VALUE, 'HEADER', 19, 'the E flag is set: decrypt the body first (decodeEncryptedMessage)');
  }
  const body = datagram.subarray(ISAKMP_HEADER_LENGTH, header.length);
  return { header, payloads: decodePayloadChain(header.nextPayload, body, ISAKMP_HEADER_LENGTH, options) };
}

export interface DecryptedMessage extends IsakmpMessage {
  /** The last ciphertext block: the IV of the next message in this exchange (RFC 2409 App. B). */
  readonly nextIv: Buffer;
}

/** Cipher state for encrypting/decrypting one message body. */
export interface BodyCipher {
  readonly cipher: CipherProvider;
  readonly alg: CipherAlg;
  readonly key: Buffer;
  readonly iv: Buffer;
}

/**
 * Decodes an encrypted datagram (E flag set): header, CBC-decrypted body, chain with padding.
 * @throws WireError (a body that is not a whole number of blocks: PAYLOAD-MALFORMED at offset 28)
 */
export function decodeEncryptedMessage(datagram: Buffer, c: BodyCipher,
  options: Omit<ChainOptions, 'padded'> = {}): DecryptedMessage {
  const { header } = decodeHeader(datagram);
  if (!(header.flags & HeaderFlag.ENCRYPTION)) {
    throw new WireError(WireErr.VALUE, 'HEADER', 19, 'the E flag is clear: this message is not encrypted');
  }
  const ct = datagram.subarray(ISAKMP_HEADER_LENGTH, header.length);
  const { plaintext, nextIv } = decryptBody(c.cipher, c.alg, c.key, c.iv, ct, ISAKMP_HEADER_LENGTH);
  const payloads = decodePayloadChain(header.nextPayload, plaintext, ISAKMP_HEADER_LENGTH, { ...options, padded: true });
  return { header, payloads, nextIv };
}

/** Writes the payload chain only (the plaintext of an encrypted body, or the HASH input). */
export function encodePayloadChain(payloads: readonly Payload[]): Buffer {
  const w = new Writer(512);
  writeChain(w, payloads);
  return w.finish();
}

function writeChain(w: Writer, payloads: readonly Payload[]): void {
  if (payloads.length > WireLimits.payloads) {
    throw new WireError(WireErr.LIMIT, 'message', w.length, `${payloads.length} payloads exceed the cap of ${WireLimits.payloads}`);
  }
  payloads.forEach((p, i) => {
    const next = i + 1 < payloads.length ? payloadTypeOf(payloads[i + 1]!) : PayloadType.NONE;
    writeGeneric(w, next, payloadName(payloadTypeOf(p)), () => encodePayloadBody(w, p));
  });
}

export interface EncodeOptions {
  /** Encrypt the chain (sets the E flag). */
  readonly encrypt?: BodyCipher;
}

export interface EncodedMessage {
  readonly datagram: Buffer;
  /** With `encrypt`: the last ciphertext block, the IV for the next message. */
  readonly nextIv?: Buffer;
}

/**
 * Encodes a message; Next Payload of the header and every Length are computed.
 * @param header   header fields (nextPayload and length are ignored and recomputed)
 * @param payloads the chain, in order
 * @throws WireError VALUE when the E flag is set without `encrypt`, or a field does not fit
 */
export function encodeMessage(header: HeaderFields, payloads: readonly Payload[], options: EncodeOptions = {}): EncodedMessage {
  const first = payloads.length > 0 ? payloadTypeOf(payloads[0]!) : PayloadType.NONE;
  const enc = options.encrypt;
  if (!enc && header.flags & HeaderFlag.ENCRYPTION) {
    throw new WireError(WireErr.VALUE, 'HEADER', 19, 'the E flag is set but no cipher was given');
  }
  const flags = enc ? header.flags | HeaderFlag.ENCRYPTION : header.flags;
  const w = new Writer(512);
  const lenAt = encodeHeader(w, { ...header, nextPayload: first, flags });
  let nextIv: Buffer | undefined;
  if (enc) {
    const out = encryptBody(enc.cipher, enc.alg, enc.key, enc.iv, encodePayloadChain(payloads));
    w.bytes(out.ciphertext);
    nextIv = out.nextIv;
  } else {
    writeChain(w, payloads);
  }
  if (w.length > ISAKMP_MAX_LENGTH) {
    throw new WireError(WireErr.LIMIT, 'message', 0, `message of ${w.length} bytes exceeds ${ISAKMP_MAX_LENGTH}`);
  }
  w.patchU32(lenAt, w.length, 'HEADER length');
  return nextIv ? { datagram: w.finish(), nextIv } : { datagram: w.finish() };
}

/** The header a decoder would return for `datagram` (convenience re-export for callers). */
export type { IsakmpHeader };
