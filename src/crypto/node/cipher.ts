/**
 * ISAKMP payload ciphers on node:crypto: raw CBC, no padding (IKE pads itself, RFC 2409 App. B).
 * OpenSSL 3 keeps single DES and Blowfish in its legacy provider, which node does not load. Single
 * DES is 3DES-EDE with K1 = K2 = K3, so it is computed that way; Blowfish needs the native path.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

import { CryptoErr, OakleyError } from '../../util/errors';
import type { CipherAlg, CipherProvider } from '../types';
import { checkCipherArgs } from '../cipher-check';

function opensslName(alg: CipherAlg, key: Buffer): { name: string; key: Buffer } {
  switch (alg) {
    case 'aes-cbc': return { name: `aes-${key.length * 8}-cbc`, key };
    case '3des-cbc': return { name: 'des-ede3-cbc', key };
    case 'des-cbc': return { name: 'des-ede3-cbc', key: Buffer.concat([key, key, key]) };
    case 'blowfish-cbc':
      throw new OakleyError(CryptoErr.UNSUPPORTED,
        'Blowfish-CBC is not available on the node path (OpenSSL 3 legacy provider); use the native path');
  }
}

function run(decrypt: boolean, alg: CipherAlg, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  checkCipherArgs(alg, key, iv, data);
  const o = opensslName(alg, key);
  const c = decrypt ? createDecipheriv(o.name, o.key, iv) : createCipheriv(o.name, o.key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

export const nodeCipher: CipherProvider = {
  path: 'node',
  supports: (alg, keyLength) => alg !== 'blowfish-cbc' && checkCipherArgsOk(alg, keyLength),
  encrypt: (alg, key, iv, data) => run(false, alg, key, iv, data),
  decrypt: (alg, key, iv, data) => run(true, alg, key, iv, data),
};

function checkCipherArgsOk(alg: CipherAlg, keyLength: number): boolean {
  try {
    checkCipherArgs(alg, Buffer.alloc(keyLength), Buffer.alloc(alg === 'aes-cbc' ? 16 : 8), Buffer.alloc(0));
    return true;
  } catch {
    return false;
  }
}
