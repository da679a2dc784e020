/**
 * Loading RSA keys from files' bytes into node:crypto KeyObjects, shared by the node and native
 * paths (and by the pkcs11 path when it imports a software key onto a token).
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

import { CryptoErr, OakleyError } from '../util/errors';
import type { RsaPrivateKeySource, RsaPublicKeySource } from './types';

export const RSA_MIN_BITS = 1024;
export const RSA_MAX_BITS = 4096;

function checkRsa(key: KeyObject, what: string): number {
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') {
    throw new OakleyError(CryptoErr.BAD_KEY, `${what} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, not RSA`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
    throw new OakleyError(CryptoErr.BAD_KEY, `${what} has ${bits} bits; Oakley accepts RSA keys of ${RSA_MIN_BITS}-${RSA_MAX_BITS} bits`);
  }
  return bits;
}

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (OakleyError.is(e)) throw e;
    throw new OakleyError(CryptoErr.BAD_KEY, `cannot read ${what}: ${(e as Error).message}`, undefined, { cause: e });
  }
}

/** A private KeyObject from PEM (PKCS#1/PKCS#8) or DER (PKCS#8, then PKCS#1). */
export function privateKeyObject(source: RsaPrivateKeySource, path: string): { key: KeyObject; bits: number } {
  if ('token' in source) {
    throw new OakleyError(CryptoErr.UNSUPPORTED, `token-resident keys need the pkcs11 path, not ${path}`);
  }
  const key = wrap('RSA private key', () => {
    if ('pem' in source) return createPrivateKey({ key: source.pem, format: 'pem' });
    try {
      return createPrivateKey({ key: source.der, format: 'der', type: 'pkcs8' });
    } catch {
      return createPrivateKey({ key: source.der, format: 'der', type: 'pkcs1' });
    }
  });
  return { key, bits: checkRsa(key, 'RSA private key') };
}

/** A public KeyObject from SPKI/PKCS#1 PEM or DER, or from an X.509 certificate (PEM or DER). */
export function publicKeyObject(source: RsaPublicKeySource, path: string): { key: KeyObject; bits: number } {
  if ('token' in source) {
    throw new OakleyError(CryptoErr.UNSUPPORTED, `token-resident keys need the pkcs11 path, not ${path}`);
  }
  const key = wrap('RSA public key', () => {
    if ('pem' in source) {
      const text = source.pem.toString();
      if (text.includes('-----BEGIN CERTIFICATE-----')) return new X509Certificate(text).publicKey;
      return createPublicKey({ key: text, format: 'pem' });
    }
    for (const attempt of [
      () => createPublicKey({ key: source.der, format: 'der', type: 'spki' }),
      () => createPublicKey({ key: source.der, format: 'der', type: 'pkcs1' }),
      () => new X509Certificate(source.der).publicKey,
    ]) {
      try {
        return attempt();
      } catch { /* try the next encoding */ }
    }
    throw new Error('not an SPKI, PKCS#1 or X.509 DER encoding');
  });
  return { key, bits: checkRsa(key, 'RSA public key') };
}
