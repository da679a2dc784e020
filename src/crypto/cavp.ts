/**
 * Known-answer test cases in the JSON shapes of NIST CAVP/ACVP (kdf-components IKEv1 and IKEv2),
 * RFC 5903/5114 DH test data and RFC 4868 PRF cases: recognise each case, check its inputs, and
 * compute every output field on a chosen backend. Used by tools/ike-cavp and the test suite.
 *
 * Input fields are lower- or upper-case hex; outputs are written as lower-case hex. Output fields
 * may be absent in the input; when present they are replaced by the computed value (the caller
 * compares if it wants to).
 */
import { HASH_LENGTH } from './kdf';
import { bigToBuf, bufToBig, getGroup } from './groups';
import { CryptoErr, OakleyError } from '../util/errors';
import type { CryptoBackend, HashAlg, Ikev1AuthKind } from './types';

export type CavpCase = Record<string, unknown>;
export type CavpKind = 'ikev1' | 'ikev2' | 'dh' | 'prf';

/** Output fields per kind, in the order they are computed. */
export const OUTPUT_FIELDS: Readonly<Record<CavpKind, readonly string[]>> = {
  ikev1: ['skeyid', 'skeyidD', 'skeyidA', 'skeyidE'],
  ikev2: ['sKeySeed', 'derivedKeyingMaterial', 'derivedKeyingMaterialChild', 'derivedKeyingMaterialDh', 'sKeySeedReKey'],
  dh: ['pubI', 'pubR', 'sharedSecret', 'sharedY'],
  prf: ['output'],
};

const HASH_NAMES: Readonly<Record<string, HashAlg>> = {
  'MD5': 'md5', 'SHA-1': 'sha1', 'SHA1': 'sha1', 'SHA2-224': 'sha224', 'SHA2-256': 'sha256', 'SHA2-384': 'sha384',
  'SHA2-512': 'sha512', 'SHA-224': 'sha224', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512',
};

const AUTH_METHODS: Readonly<Record<string, Ikev1AuthKind>> = { psk: 'psk', dsa: 'sig', sig: 'sig', pke: 'pke' };

/** An error about case number `index` of the input array. */
export function caseError(index: number, message: string): OakleyError {
  return new OakleyError(CryptoErr.VECTOR, `case ${index}: ${message}`, { index });
}

/** Which kind of case this is, from the fields it carries. */
export function classify(c: CavpCase, index: number): CavpKind {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw caseError(index, 'is not a JSON object');
  if ('authMethod' in c || 'ckyI' in c) return 'ikev1';
  if ('nInit' in c || 'spiInit' in c) return 'ikev2';
  if ('group' in c && ('privI' in c || 'privR' in c)) return 'dh';
  if ('key' in c && 'data' in c) return 'prf';
  throw caseError(index, `unknown case shape (fields: ${Object.keys(c).join(', ') || 'none'}); expected an IKEv1 ` +
    'kdf case (authMethod, ckyI...), an IKEv2 kdf case (nInit, spiInit...), a DH case (group, privI, privR) or a PRF case (key, data)');
}

class Fields {
  constructor(private readonly c: CavpCase, private readonly index: number) {}

  hex(name: string): Buffer {
    const v = this.c[name];
    if (typeof v !== 'string') throw caseError(this.index, `field "${name}" is missing or not a string`);
    if (v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v)) throw caseError(this.index, `field "${name}" is not an even-length hex string`);
    return Buffer.from(v, 'hex');
  }

  optHex(name: string): Buffer | undefined {
    return this.c[name] === undefined ? undefined : this.hex(name);
  }

  int(name: string, min: number, max: number): number {
    const v = this.c[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw caseError(this.index, `field "${name}" must be an integer in ${min}..${max}`);
    }
    return v;
  }

  hash(name = 'hashAlg'): HashAlg {
    const v = this.c[name];
    const h = typeof v === 'string' ? HASH_NAMES[v.toUpperCase()] : undefined;
    if (!h) throw caseError(this.index, `field "${name}" names an unsupported hash ${JSON.stringify(v)} (expected one of ${Object.keys(HASH_NAMES).join(', ')})`);
    return h;
  }
}

/**
 * Keying material of a length given in bits: ceil(bits/8) bytes of the output with the unused low
 * bits of the last byte cleared (ACVP's left-aligned convention for non-byte lengths).
 */
function bitLength(bits: number): { bytes: number; finish(out: Buffer): Buffer } {
  const bytes = Math.ceil(bits / 8);
  const spare = bytes * 8 - bits;
  return {
    bytes,
    finish(out: Buffer): Buffer {
      const r = Buffer.from(out.subarray(0, bytes));
      if (spare > 0) r[bytes - 1] &= (0xff << spare) & 0xff;
      return r;
    },
  };
}

async function ikev1(b: CryptoBackend, f: Fields, c: CavpCase, index: number): Promise<CavpCase> {
  const method = AUTH_METHODS[String(c.authMethod)];
  if (!method) throw caseError(index, `field "authMethod" must be psk, dsa or pke, not ${JSON.stringify(c.authMethod)}`);
  const keys = await b.kdf.ikev1Phase1({
    hash: f.hash(), auth: method, psk: method === 'psk' ? f.hex('psk') : undefined,
    ni: f.hex('ni'), nr: f.hex('nr'), ckyI: f.hex('ckyI'), ckyR: f.hex('ckyR'), gxy: f.hex('gxy'),
  });
  return { skeyid: keys.skeyid, skeyidD: keys.skeyidD, skeyidA: keys.skeyidA, skeyidE: keys.skeyidE };
}

async function ikev2(b: CryptoBackend, f: Fields, c: CavpCase): Promise<CavpCase> {
  const hash = f.hash();
  const ni = f.hex('nInit');
  const nr = f.hex('nResp');
  const dkmLen = bitLength(f.int('derivedKeyingMaterialLength', 8, 255 * 8 * HASH_LENGTH[hash]));
  const sa = await b.kdf.ikev2Sa({ hash, ni, nr, gir: f.hex('gir'), spiI: f.hex('spiInit'), spiR: f.hex('spiResp'), length: dkmLen.bytes });
  const out: CavpCase = { sKeySeed: sa.skeyseed, derivedKeyingMaterial: dkmLen.finish(sa.dkm) };
  const skD = sa.dkm.subarray(0, HASH_LENGTH[hash]);
  const girNew = f.optHex('girNew');
  if (c.derivedKeyingMaterialChildLength !== undefined) {
    const childLen = bitLength(f.int('derivedKeyingMaterialChildLength', 8, 255 * 8 * HASH_LENGTH[hash]));
    out.derivedKeyingMaterialChild = childLen.finish(await b.kdf.ikev2ChildKeymat({ hash, skD, ni, nr, length: childLen.bytes }));
    if (girNew) {
      out.derivedKeyingMaterialDh = childLen.finish(await b.kdf.ikev2ChildKeymat({ hash, skD, girNew, ni, nr, length: childLen.bytes }));
    }
  }
  if (girNew) out.sKeySeedReKey = await b.kdf.ikev2RekeySkeyseed({ hash, skDOld: skD, girNew, ni, nr });
  return out;
}

async function dh(b: CryptoBackend, f: Fields, index: number): Promise<CavpCase> {
  const id = f.int('group', 1, 65535);
  let group;
  try {
    group = getGroup(id);
  } catch (e) {
    throw caseError(index, (e as Error).message);
  }
  const privI = f.hex('privI');
  const privR = f.hex('privR');
  const i = await b.ke.create(id, { privateKey: privI });
  const r = await b.ke.create(id, { privateKey: privR });
  try {
    const sI = await i.computeSharedSecret(r.publicKey);
    const sR = await r.computeSharedSecret(i.publicKey);
    if (!Buffer.isBuffer(sI) || !Buffer.isBuffer(sR)) throw caseError(index, 'the backend kept g^xy on the token; cannot print it');
    if (!sI.equals(sR)) throw caseError(index, `the two directions disagree on ${b.path}: g^ir ${sI.toString('hex')} vs g^ri ${sR.toString('hex')}`);
    const out: CavpCase = { pubI: i.publicKey, pubR: r.publicKey, sharedSecret: sI };
    if (group.kind === 'ecp') {
      // The y-coordinate of the shared point (i*r)G (RFC 5903 prints it; it is not part of g^ir):
      // the public key of the scalar i*r mod n, computed on the same path.
      const ir = (bufToBig(privI) * bufToBig(privR)) % group.order;
      const shared = await b.ke.create(id, { privateKey: bigToBuf(ir, group.size) });
      out.sharedY = shared.publicKey.subarray(group.size);
      shared.dispose();
    }
    return out;
  } finally {
    i.dispose();
    r.dispose();
  }
}

async function prf(b: CryptoBackend, f: Fields): Promise<CavpCase> {
  const hash = f.hash();
  const len = bitLength(f.int('outputLength', 8, 8 * HASH_LENGTH[hash]));
  return { output: len.finish(await b.kdf.prf(hash, f.hex('key'), f.hex('data'))) };
}

/**
 * Computes every output field of case `index` on `backend`; returns a copy of the case with the
 * outputs filled in as lower-case hex. Rejects with an OakleyError naming the case index.
 */
export async function runCase(backend: CryptoBackend, c: CavpCase, index: number): Promise<CavpCase> {
  const kind = classify(c, index);
  const f = new Fields(c, index);
  let out: CavpCase;
  try {
    switch (kind) {
      case 'ikev1': out = await ikev1(backend, f, c, index); break;
      case 'ikev2': out = await ikev2(backend, f, c); break;
      case 'dh': out = await dh(backend, f, index); break;
      case 'prf': out = await prf(backend, f); break;
    }
  } catch (e) {
    if (OakleyError.is(e, CryptoErr.VECTOR)) throw e;
    throw new OakleyError(CryptoErr.VECTOR, `case ${index}: ${(e as Error).message}`, { index }, { cause: e });
  }
  const result: CavpCase = { ...c };
  for (const [k, v] of Object.entries(out)) result[k] = Buffer.isBuffer(v) ? v.toString('hex') : v;
  return result;
}

/** Parses the JSON text of a case array, with an error that says what is wrong. */
export function parseCases(text: string): CavpCase[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new OakleyError(CryptoErr.VECTOR, `input is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(v)) throw new OakleyError(CryptoErr.VECTOR, 'input must be a JSON array of test cases');
  return v as CavpCase[];
}
