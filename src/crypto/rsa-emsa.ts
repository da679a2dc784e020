/**
 * EMSA encodings of RSA signatures (RFC 8017 §9), for paths whose RSA primitive is the raw
 * operation (native: RSA_NO_PADDING). Encoding for signing, and the verify-side checks of a
 * recovered block. Hash comparisons use crypto.timingSafeEqual.
 *
 *  - type 1 (EMSA-PKCS1-v1_5 block type 1): 00 01 FF..FF 00 T, at least 8 bytes of FF
 *    - 'pkcs1-raw': T = data as given (IKEv1 RSA signatures over HASH_I/HASH_R, RFC 2409 §5.1)
 *    - 'pkcs1':     T = DigestInfo(hash(data))
 *  - 'pss': EMSA-PSS with MGF1 over the same hash (RFC 8017 §9.1)
 */
import { randomFillSync, timingSafeEqual } from 'node:crypto';

import { CryptoErr, OakleyError } from '../util/errors';
import { digest } from './digest';
import { HASH_LENGTH } from './kdf';
import type { HashAlg, RsaScheme } from './types';

/** DER prefix of DigestInfo { AlgorithmIdentifier(hash, NULL), OCTET STRING(hLen) } (RFC 8017 §9.2 note 1). */
const DIGEST_INFO_PREFIX: Readonly<Record<HashAlg, Buffer>> = {
  md5: Buffer.from('3020300c06082a864886f70d020505000410', 'hex'),
  sha1: Buffer.from('3021300906052b0e03021a05000414', 'hex'),
  sha224: Buffer.from('302d300d06096086480165030402040500041c', 'hex'),
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

function badArg(message: string): OakleyError {
  return new OakleyError(CryptoErr.BAD_ARGUMENT, message);
}

function hLen(hash: HashAlg): number {
  const n = HASH_LENGTH[hash];
  if (n === undefined || DIGEST_INFO_PREFIX[hash] === undefined) throw badArg(`unknown hash ${String(hash)}`);
  return n;
}

/** Bytes of a modulus of `bits` bits (the signature and encoded-block length). */
export function modulusBytes(bits: number): number {
  return Math.ceil(bits / 8);
}

/** DigestInfo(hash(data)). */
export function digestInfo(hash: HashAlg, data: Buffer): Buffer {
  hLen(hash);
  return Buffer.concat([DIGEST_INFO_PREFIX[hash], digest(hash, data)]);
}

/** 00 01 FF..FF 00 t, `k` bytes; t may be at most k - 11 bytes. */
export function encodeType1(t: Buffer, k: number): Buffer {
  if (t.length > k - 11) throw badArg(`${t.length} bytes do not fit a PKCS#1 v1.5 block of ${k} bytes (at most ${k - 11})`);
  const em = Buffer.alloc(k, 0xff);
  em[0] = 0;
  em[1] = 1;
  em[k - t.length - 1] = 0;
  t.copy(em, k - t.length);
  return em;
}

/** T of a type-1 block, or null when the block is not well formed. */
export function decodeType1(em: Buffer): Buffer | null {
  if (em.length < 11 || em[0] !== 0 || em[1] !== 1) return null;
  let i = 2;
  while (i < em.length && em[i] === 0xff) i++;
  if (i - 2 < 8 || i >= em.length || em[i] !== 0) return null;
  return em.subarray(i + 1);
}

/** MGF1(seed, length) with `hash` (RFC 8017 B.2.1). */
export function mgf1(hash: HashAlg, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  const c = Buffer.alloc(4);
  for (let i = 0, have = 0; have < length; i++) {
    c.writeUInt32BE(i);
    const t = digest(hash, seed, c);
    out.push(t);
    have += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** The salt length of a PSS scheme (default: the hash length), checked against the key. */
export function pssSaltLength(hash: HashAlg, saltLength: number | undefined, modBits: number): number {
  const h = hLen(hash);
  const s = saltLength ?? h;
  const emLen = Math.ceil((modBits - 1) / 8);
  if (!Number.isInteger(s) || s < 0 || emLen < h + s + 2) {
    throw badArg(`PSS salt length ${s} does not fit a ${modBits}-bit key with ${hash}`);
  }
  return s;
}

function pssHash(hash: HashAlg, mHash: Buffer, salt: Buffer): Buffer {
  return digest(hash, Buffer.alloc(8), mHash, salt);
}

/**
 * EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with emBits = modBits - 1, returned left-padded to the
 * modulus length (a leading zero byte when modBits - 1 is a multiple of 8).
 */
export function encodePss(hash: HashAlg, data: Buffer, modBits: number, saltLength?: number,
  fill: (b: Buffer) => Buffer = randomFillSync): Buffer {
  const h = hLen(hash);
  const sLen = pssSaltLength(hash, saltLength, modBits);
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const mHash = digest(hash, data);
  const salt = sLen > 0 ? fill(Buffer.alloc(sLen)) : Buffer.alloc(0);
  const H = pssHash(hash, mHash, salt);
  const db = Buffer.alloc(emLen - h - 1);
  db[db.length - sLen - 1] = 1;
  salt.copy(db, db.length - sLen);
  const mask = mgf1(hash, H, db.length);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  db[0] &= 0xff >> (8 * emLen - emBits);
  const k = modulusBytes(modBits);
  return Buffer.concat([Buffer.alloc(k - emLen), db, H, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2) of a recovered block of modulus length. */
export function verifyPss(hash: HashAlg, data: Buffer, block: Buffer, modBits: number, saltLength?: number): boolean {
  const h = hLen(hash);
  const sLen = pssSaltLength(hash, saltLength, modBits);
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const k = modulusBytes(modBits);
  if (block.length !== k) return false;
  for (let i = 0; i < k - emLen; i++) if (block[i] !== 0) return false;
  const em = block.subarray(k - emLen);
  if (em[emLen - 1] !== 0xbc) return false;
  const maskedDb = em.subarray(0, emLen - h - 1);
  const H = em.subarray(emLen - h - 1, emLen - 1);
  const topMask = 0xff >> (8 * emLen - emBits);
  if ((maskedDb[0] & ~topMask) !== 0) return false;
  const db = mgf1(hash, H, maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] ^= maskedDb[i];
  db[0] &= topMask;
  const psLen = emLen - h - sLen - 2;
  for (let i = 0; i < psLen; i++) if (db[i] !== 0) return false;
  if (db[psLen] !== 1) return false;
  const salt = db.subarray(db.length - sLen);
  const H2 = pssHash(hash, digest(hash, data), salt);
  return timingSafeEqual(H, H2);
}

/** The block to put through the raw private operation for `scheme`. */
export function encodeForSigning(scheme: RsaScheme, data: Buffer, modBits: number): Buffer {
  const k = modulusBytes(modBits);
  switch (scheme.padding) {
    case 'pkcs1-raw': return encodeType1(data, k);
    case 'pkcs1': return encodeType1(digestInfo(scheme.hash, data), k);
    case 'pss': return encodePss(scheme.hash, data, modBits, scheme.saltLength);
    default: throw badArg(`unknown RSA padding ${String((scheme as { padding: unknown }).padding)}`);
  }
}

/**
 * Checks arguments of a scheme before any RSA work (so verify can reject unusable arguments and
 * resolve false only for wrong signatures).
 */
export function checkScheme(scheme: RsaScheme, modBits: number): void {
  switch (scheme?.padding) {
    case 'pkcs1-raw': return;
    case 'pkcs1': hLen(scheme.hash); return;
    case 'pss': pssSaltLength(scheme.hash, scheme.saltLength, modBits); return;
    default: throw badArg(`unknown RSA padding ${String((scheme as { padding?: unknown } | undefined)?.padding)}`);
  }
}

/** Whether a recovered block (signature^e mod n, modulus length) is a signature of `data` under `scheme`. */
export function verifyRecovered(scheme: RsaScheme, data: Buffer, block: Buffer, modBits: number): boolean {
  const k = modulusBytes(modBits);
  if (block.length !== k) return false;
  switch (scheme.padding) {
    case 'pkcs1-raw': {
      const t = decodeType1(block);
      return t !== null && t.length === data.length && timingSafeEqual(t, data);
    }
    case 'pkcs1': {
      const t = decodeType1(block);
      const want = digestInfo(scheme.hash, data);
      return t !== null && t.length === want.length && timingSafeEqual(t, want);
    }
    case 'pss': return verifyPss(scheme.hash, data, block, modBits, scheme.saltLength);
    default: return false;
  }
}
