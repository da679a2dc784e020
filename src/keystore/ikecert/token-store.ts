/**
 * Token work for ikecert (solaris-ike.md §4.5 "hardware storage"), over the same Pkcs11Token and
 * PKCS#11 RSA provider the daemon uses (src/crypto/pkcs11):
 *
 *  - key pairs generated ON the token (CKA_TOKEN, private key CKA_PRIVATE, CKA_SENSITIVE,
 *    CKA_EXTRACTABLE false: it can never be read out), or an on-disk key copied onto it (-C,
 *    -a -T) as the same kind of object;
 *  - the certificate stored as CKO_CERTIFICATE/CKC_X_509 with the key's CKA_ID and CKA_LABEL
 *    (CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER as DER, taken from @peculiar/asn1-x509's
 *    decoding of the certificate);
 *  - objects found by CKA_LABEL (ikecert sets it to the certificate's subject DN, the object
 *    identifier of Solaris hint files) and/or CKA_ID (RFC 7512 URIs), and destroyed for -r;
 *  - `ikecert tokens`: the slots and tokens of the library.
 * A signature for a certificate made with a token key is made by the token (tokenSigner).
 */
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';

import { AsnConvert } from '@peculiar/asn1-schema';
import * as P from 'pkcs11js';

import { generateTokenRsaKeyPair, Pkcs11RsaProvider } from '../../crypto/pkcs11/rsa';
import { Pkcs11Token } from '../../crypto/pkcs11/token';
import { ckrOf } from '../../crypto/pkcs11/errors';
import type { TokenObjectRef } from '../../crypto/types';
import { CryptoErr, OakleyError } from '../../util/errors';
import { certificateAsn } from '../cert-names';
import type { KeySigner, SigHash } from './x509-build';

export const TOKEN_ERR = 'IKE_ERR_TOKEN';
/** CK_SLOT_INFO flag (PKCS#11 v2.40 §3.2); pkcs11js 2.1.7 does not export it. */
const CKF_TOKEN_PRESENT = 0x1;

/**
 * Opens a token by label and, with a PIN, logs in.
 * @throws OakleyError naming the token and the CKR_ (never the PIN)
 */
export function openToken(module: string, label: string, pin?: string): Pkcs11Token {
  try {
    return new Pkcs11Token({ module, tokenLabel: label.trimEnd(), ...(pin !== undefined ? { pin } : {}) });
  } catch (e) {
    const ckr = ckrOf(e)?.name;
    if (ckr && /^CKR_PIN_/.test(ckr)) {
      throw new OakleyError(CryptoErr.TOKEN_PIN, `PKCS#11 login to token "${label.trimEnd()}" failed: the PIN was not accepted (${ckr})`, { label });
    }
    throw e;
  }
}

const bool = (b: Buffer): boolean => b.length > 0 && b[0] !== 0;

function refTemplate(cls: number, ref: TokenObjectRef): P.Template {
  const t: P.Template = [{ type: P.CKA_CLASS, value: cls }];
  if (ref.label !== undefined) t.push({ type: P.CKA_LABEL, value: ref.label });
  if (ref.id !== undefined) t.push({ type: P.CKA_ID, value: ref.id });
  return t;
}

export function findObjects(token: Pkcs11Token, cls: number, ref: TokenObjectRef): Buffer[] {
  return token.find([...refTemplate(cls, ref), { type: P.CKA_TOKEN, value: true }], 64);
}

/** True when the token already holds a key or certificate with this CKA_LABEL. */
export function labelInUse(token: Pkcs11Token, label: string): boolean {
  return [P.CKO_PRIVATE_KEY, P.CKO_PUBLIC_KEY, P.CKO_CERTIFICATE].some((c) => findObjects(token, c, { label }).length > 0);
}

/** SPKI (DER) of an RSA public key object. */
export function publicKeySpki(token: Pkcs11Token, h: Buffer): Buffer {
  const n = token.attribute(h, P.CKA_MODULUS);
  const e = token.attribute(h, P.CKA_PUBLIC_EXPONENT);
  return createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, format: 'jwk' })
    .export({ type: 'spki', format: 'der' });
}

/** A signer whose signatures the token makes (PKCS#11 RSA provider, CKM_<hash>_RSA_PKCS). */
export async function tokenSigner(token: Pkcs11Token, ref: TokenObjectRef, spki: Buffer): Promise<KeySigner & { dispose(): void }> {
  const key = await new Pkcs11RsaProvider(token).loadPrivateKey({ token: ref });
  return {
    spki,
    sign: (data: Buffer, hash: SigHash) => key.sign(data, { padding: 'pkcs1', hash }),
    dispose: () => key.dispose(),
  };
}

/** A fresh random CKA_ID (20 bytes, the length of the usual SHA-1 key identifiers). */
export const newKeyId = (): Buffer => randomBytes(20);

/**
 * Generates an RSA key pair on the token (private key sensitive, never extractable).
 * @returns the reference and the public key's SPKI
 */
export async function generateOnToken(token: Pkcs11Token, label: string, id: Buffer, bits: number): Promise<{ ref: TokenObjectRef; spki: Buffer }> {
  const ref = await generateTokenRsaKeyPair(token, { label, id, bits });
  const pub = findObjects(token, P.CKO_PUBLIC_KEY, ref);
  if (pub.length !== 1) throw new OakleyError(TOKEN_ERR, `the public key just generated on token "${token.label}" is not found (${pub.length} objects)`);
  return { ref, spki: publicKeySpki(token, pub[0]!) };
}

/**
 * Copies an on-disk RSA key onto the token as token objects (private: sensitive,
 * non-extractable; public). The on-disk original is not touched.
 */
export function importKeyToToken(token: Pkcs11Token, key: KeyObject, label: string, id: Buffer): TokenObjectRef {
  if (key.asymmetricKeyType !== 'rsa') throw new OakleyError(TOKEN_ERR, `only RSA keys can go to a token (this one is ${key.asymmetricKeyType})`);
  const jwk = key.export({ format: 'jwk' });
  const b = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url');
  const common: P.Template = [
    { type: P.CKA_KEY_TYPE, value: P.CKK_RSA }, { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_LABEL, value: label }, { type: P.CKA_ID, value: id },
    { type: P.CKA_MODULUS, value: b(jwk.n) }, { type: P.CKA_PUBLIC_EXPONENT, value: b(jwk.e) },
  ];
  const priv: P.Template = [
    { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY }, ...common,
    { type: P.CKA_PRIVATE, value: true }, { type: P.CKA_SENSITIVE, value: true }, { type: P.CKA_EXTRACTABLE, value: false },
    { type: P.CKA_SIGN, value: true },
    { type: P.CKA_PRIVATE_EXPONENT, value: b(jwk.d) }, { type: P.CKA_PRIME_1, value: b(jwk.p) }, { type: P.CKA_PRIME_2, value: b(jwk.q) },
    { type: P.CKA_EXPONENT_1, value: b(jwk.dp) }, { type: P.CKA_EXPONENT_2, value: b(jwk.dq) }, { type: P.CKA_COEFFICIENT, value: b(jwk.qi) },
  ];
  const pub: P.Template = [{ type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY }, ...common, { type: P.CKA_PRIVATE, value: false }, { type: P.CKA_VERIFY, value: true }];
  try {
    token.runSync('C_CreateObject (RSA private key)', (s) => token.p.C_CreateObject(s, priv));
    token.runSync('C_CreateObject (RSA public key)', (s) => token.p.C_CreateObject(s, pub));
  } finally {
    for (const a of priv) if (Buffer.isBuffer(a.value) && a.type !== P.CKA_LABEL) a.value.fill(0);
  }
  return { label, id };
}

/** Stores a certificate on the token as CKO_CERTIFICATE with the key's CKA_LABEL and CKA_ID. */
export function storeCertificateOnToken(token: Pkcs11Token, der: Buffer, label: string, id: Buffer): void {
  const tbs = certificateAsn(der).tbsCertificate;
  const t: P.Template = [
    { type: P.CKA_CLASS, value: P.CKO_CERTIFICATE }, { type: P.CKA_CERTIFICATE_TYPE, value: P.CKC_X_509 },
    { type: P.CKA_TOKEN, value: true }, { type: P.CKA_PRIVATE, value: false },
    { type: P.CKA_LABEL, value: label }, { type: P.CKA_ID, value: id },
    { type: P.CKA_SUBJECT, value: Buffer.from(AsnConvert.serialize(tbs.subject)) },
    { type: P.CKA_ISSUER, value: Buffer.from(AsnConvert.serialize(tbs.issuer)) },
    // CKA_SERIAL_NUMBER is the DER INTEGER, tag and length included (PKCS#11 v2.40 §4.6.3).
    { type: P.CKA_SERIAL_NUMBER, value: Buffer.concat([Buffer.from([0x02, tbs.serialNumber.byteLength]), Buffer.from(tbs.serialNumber)]) },
    { type: P.CKA_VALUE, value: der },
  ];
  token.runSync('C_CreateObject (certificate)', (s) => token.p.C_CreateObject(s, t));
}

/** Reads the DER value of certificate objects. */
export function certificateValue(token: Pkcs11Token, h: Buffer): Buffer {
  return token.attribute(h, P.CKA_VALUE);
}

/** CKA_LABEL and CKA_ID of an object. */
export function objectNames(token: Pkcs11Token, h: Buffer): { label: string; id: Buffer } {
  return { label: token.attribute(h, P.CKA_LABEL).toString('utf8'), id: token.attribute(h, P.CKA_ID) };
}

/** The protection attributes of a private key object (what `certlocal -l -v` and the tests show). */
export function privateKeyProtection(token: Pkcs11Token, h: Buffer): { sensitive: boolean; extractable: boolean; neverExtractable: boolean; local: boolean } {
  return {
    sensitive: bool(token.attribute(h, P.CKA_SENSITIVE)),
    extractable: bool(token.attribute(h, P.CKA_EXTRACTABLE)),
    neverExtractable: bool(token.attribute(h, P.CKA_NEVER_EXTRACTABLE)),
    local: bool(token.attribute(h, P.CKA_LOCAL)),
  };
}

/** Destroys token objects of the given classes matching `ref`. @returns how many */
export function destroyObjects(token: Pkcs11Token, classes: readonly number[], ref: TokenObjectRef): number {
  let n = 0;
  for (const cls of classes) {
    for (const h of findObjects(token, cls, ref)) {
      token.runSync('C_DestroyObject', (s) => token.p.C_DestroyObject(s, h));
      n++;
    }
  }
  return n;
}

export interface TokenSlotInfo {
  readonly slot: string;
  readonly description: string;
  readonly token?: { label: string; manufacturer: string; model: string; serial: string; loginRequired: boolean; initialized: boolean };
}

/**
 * The slots of a PKCS#11 library and their tokens (`ikecert tokens`). Loads and initialises the
 * library in this process and finalises it again; ikecert is a one-shot process.
 */
export function listTokens(module: string): TokenSlotInfo[] {
  const p = new P.PKCS11();
  try {
    p.load(module);
  } catch (e) {
    throw new OakleyError(CryptoErr.NO_TOKEN, `cannot load PKCS#11 library ${module}: ${(e as Error).message}`);
  }
  try {
    p.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
  } catch (e) {
    p.close();
    throw new OakleyError(CryptoErr.NO_TOKEN, `C_Initialize of ${module} failed: ${ckrOf(e)?.name ?? (e as Error).message} (missing configuration or token directory? SOFTHSM2_CONF=${process.env.SOFTHSM2_CONF ?? 'unset'})`);
  }
  try {
    return p.C_GetSlotList(false).map((slot): TokenSlotInfo => {
      const si = p.C_GetSlotInfo(slot);
      const base = { slot: slot.readUIntLE(0, Math.min(slot.length, 6)).toString(), description: si.slotDescription.trim() };
      if (!(si.flags & CKF_TOKEN_PRESENT)) return base;
      const ti = p.C_GetTokenInfo(slot);
      return {
        ...base,
        token: {
          label: ti.label.trimEnd(), manufacturer: ti.manufacturerID.trim(), model: ti.model.trim(), serial: ti.serialNumber.trim(),
          loginRequired: (ti.flags & P.CKF_LOGIN_REQUIRED) !== 0, initialized: (ti.flags & P.CKF_TOKEN_INITIALIZED) !== 0,
        },
      };
    });
  } finally {
    try { p.C_Finalize(); } catch { /* nothing to finalise */ }
    p.close();
  }
}
