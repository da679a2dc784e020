/**
 * The IKE key-derivation chains written once, over an abstract PRF. The node and pkcs11 paths run
 * them as they are; the native path runs the same formulas as one addon call and is checked
 * against these (and against the NIST/ACVP vectors).
 *
 * A PRF input is a list of parts; a part is bytes or the shared secret g^xy, which on the pkcs11
 * path may be a token object (OpaqueSecret) that only that path's PRF can feed in.
 */

import { CryptoErr, OakleyError } from '../util/errors';
import { digest } from './digest';
import type {
  HashAlg, Ikev1KeymatInput, Ikev1Phase1Input, Ikev1Phase1Keys, Ikev2ChildInput, Ikev2RekeyInput,
  Ikev2SaInput, Ikev2SaKeys, SharedSecret,
} from './types';

/** One PRF input part: bytes, or a shared secret that may live on a token. */
export type PrfPart = Buffer | SharedSecret;

/** prf(key, part1 | part2 | ...). Only the key must be bytes. */
export type PrfFn = (hash: HashAlg, key: Buffer, parts: readonly PrfPart[]) => Promise<Buffer>;

export const HASH_LENGTH: Readonly<Record<HashAlg, number>> = { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/** Upper bound for any derived length: prf+ allows 255 blocks of the largest hash (RFC 7296 §2.13). */
const MAX_DERIVED = 255 * 64;

function checkLength(what: string, length: number, max = MAX_DERIVED): void {
  if (!Number.isInteger(length) || length < 0 || length > max) {
    throw new OakleyError(CryptoErr.BAD_ARGUMENT, `${what} length ${length} is out of range (0..${max} bytes)`);
  }
}

const ZERO = Buffer.from([0]);
const ONE = Buffer.from([1]);
const TWO = Buffer.from([2]);

/**
 * prf+ (RFC 7296 §2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), output T1 | T2 | ...
 * truncated to `length`. The counter is one octet, so at most 255 blocks.
 */
export async function prfPlus(prf: PrfFn, hash: HashAlg, key: Buffer, seed: readonly PrfPart[], length: number): Promise<Buffer> {
  const hLen = HASH_LENGTH[hash];
  checkLength('prf+ output', length, 255 * hLen);
  const blocks: Buffer[] = [];
  let prev: Buffer | undefined;
  for (let n = 1, have = 0; have < length; n++) {
    prev = await prf(hash, key, [...(prev ? [prev] : []), ...seed, Buffer.from([n])]);
    blocks.push(prev);
    have += prev.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * IKEv1 Phase 1 keys (RFC 2409 §5):
 *   psk: SKEYID = prf(pre-shared-key, Ni_b | Nr_b)
 *   sig: SKEYID = prf(Ni_b | Nr_b, g^xy)
 *   pke: SKEYID = prf(hash(Ni_b | Nr_b), CKY-I | CKY-R)
 *   SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
 *   SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
 *   SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
 * then the Appendix B expansion of SKEYID_e to the cipher key and the Phase 1 IV
 * hash(g^xi | g^xr), which uses the negotiated hash, not the PRF.
 */
export async function ikev1Phase1(prf: PrfFn, input: Ikev1Phase1Input): Promise<Ikev1Phase1Keys> {
  const { hash, ni, nr, ckyI, ckyR, gxy } = input;
  let skeyid: Buffer;
  switch (input.auth) {
    case 'psk':
      if (!input.psk) throw new OakleyError(CryptoErr.BAD_ARGUMENT, 'pre-shared-key authentication needs a pre-shared key');
      skeyid = await prf(hash, input.psk, [ni, nr]);
      break;
    case 'sig':
      skeyid = await prf(hash, Buffer.concat([ni, nr]), [gxy]);
      break;
    case 'pke':
      skeyid = await prf(hash, digest(hash, ni, nr), [ckyI, ckyR]);
      break;
    default:
      throw new OakleyError(CryptoErr.BAD_ARGUMENT, `unknown IKEv1 authentication kind ${String(input.auth)}`);
  }
  const skeyidD = await prf(hash, skeyid, [gxy, ckyI, ckyR, ZERO]);
  const skeyidA = await prf(hash, skeyid, [skeyidD, gxy, ckyI, ckyR, ONE]);
  const skeyidE = await prf(hash, skeyid, [skeyidA, gxy, ckyI, ckyR, TWO]);
  const keys: { -readonly [K in keyof Ikev1Phase1Keys]: Ikev1Phase1Keys[K] } = { skeyid, skeyidD, skeyidA, skeyidE };
  if (input.encKeyLength !== undefined) keys.encKey = await ikev1EncKey(prf, hash, skeyidE, input.encKeyLength);
  if (input.gxi && input.gxr && input.ivLength !== undefined) keys.iv = ikev1Phase1Iv(hash, input.gxi, input.gxr, input.ivLength);
  return keys;
}

/**
 * RFC 2409 Appendix B: when SKEYID_e is shorter than the cipher key,
 * Ka = K1 | K2 | ..., K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1); the key is the first bytes.
 */
export async function ikev1EncKey(prf: PrfFn, hash: HashAlg, skeyidE: Buffer, length: number): Promise<Buffer> {
  checkLength('encryption key', length, 512);
  if (length <= skeyidE.length) return Buffer.from(skeyidE.subarray(0, length));
  const blocks: Buffer[] = [];
  let k = await prf(hash, skeyidE, [ZERO]);
  blocks.push(k);
  for (let have = k.length; have < length; have += k.length) {
    k = await prf(hash, skeyidE, [k]);
    blocks.push(k);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** Phase 1 IV (RFC 2409 Appendix B): hash(g^xi | g^xr), truncated to the cipher block size. */
export function ikev1Phase1Iv(hash: HashAlg, gxi: Buffer, gxr: Buffer, ivLength: number): Buffer {
  const h = digest(hash, gxi, gxr);
  if (!Number.isInteger(ivLength) || ivLength < 1 || ivLength > h.length) {
    throw new OakleyError(CryptoErr.BAD_ARGUMENT, `IV length ${ivLength} does not fit a ${hash} output of ${h.length} bytes`);
  }
  return h.subarray(0, ivLength);
}

/**
 * Quick Mode KEYMAT (RFC 2409 §5.5), one direction:
 *   K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
 *   Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
 * KEYMAT = K1 | K2 | ... truncated to `length`.
 */
export async function ikev1Keymat(prf: PrfFn, input: Ikev1KeymatInput): Promise<Buffer> {
  const { hash, skeyidD, protocol, spi, ni, nr, length } = input;
  checkLength('KEYMAT', length);
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) {
    throw new OakleyError(CryptoErr.BAD_ARGUMENT, `protocol id ${protocol} is not an octet`);
  }
  const tail: PrfPart[] = [...(input.gqmxy ? [input.gqmxy] : []), Buffer.from([protocol]), spi, ni, nr];
  const blocks: Buffer[] = [];
  let k: Buffer | undefined;
  for (let have = 0; have < length; have += k.length) {
    k = await prf(hash, skeyidD, k ? [k, ...tail] : tail);
    blocks.push(k);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** IKEv2 SKEYSEED = prf(Ni | Nr, g^ir); DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr) (RFC 7296 §2.14). */
export async function ikev2Sa(prf: PrfFn, input: Ikev2SaInput): Promise<Ikev2SaKeys> {
  const { hash, ni, nr, spiI, spiR, length } = input;
  const skeyseed = await prf(hash, Buffer.concat([ni, nr]), [input.gir]);
  const dkm = await prfPlus(prf, hash, skeyseed, [ni, nr, spiI, spiR], length);
  return { skeyseed, dkm };
}

/** Child SA KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 §2.17). */
export function ikev2ChildKeymat(prf: PrfFn, input: Ikev2ChildInput): Promise<Buffer> {
  const seed: PrfPart[] = [...(input.girNew ? [input.girNew] : []), input.ni, input.nr];
  return prfPlus(prf, input.hash, input.skD, seed, input.length);
}

/** Rekeyed IKE SA: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) (RFC 7296 §2.18). */
export function ikev2RekeySkeyseed(prf: PrfFn, input: Ikev2RekeyInput): Promise<Buffer> {
  return prf(input.hash, input.skDOld, [input.girNew, input.ni, input.nr]);
}
