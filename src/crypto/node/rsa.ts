/**
 * RSA on node:crypto. 'pkcs1' and 'pss' go through crypto.sign/verify (the callback forms run on
 * the libuv pool); 'pkcs1-raw' (IKEv1: type-1 padding over the bare HASH_I, RFC 2409 §5.1) is
 * privateEncrypt / publicDecrypt, which node only offers synchronously.
 */
import { constants, privateEncrypt, publicDecrypt, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

import { privateKeyObject, publicKeyObject } from '../rsa-keys';
import { checkRawInput, hashLength } from '../rsa-scheme';
import { CryptoErr, OakleyError } from '../../util/errors';
import type { RsaPrivateKey, RsaProvider, RsaPublicKey, RsaScheme } from '../types';

function options(key: KeyObject, scheme: RsaScheme) {
  if (scheme.padding === 'pss') {
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength ?? hashLength(scheme.hash) };
  }
  return { key, padding: constants.RSA_PKCS1_PADDING };
}

class NodeRsaPrivateKey implements RsaPrivateKey {
  readonly path = 'node' as const;
  constructor(private readonly key: KeyObject, readonly bits: number) {}

  sign(data: Buffer, scheme: RsaScheme): Promise<Buffer> {
    if (scheme.padding === 'pkcs1-raw') {
      checkRawInput(data, this.bits);
      return Promise.resolve(privateEncrypt(options(this.key, scheme), data));
    }
    return new Promise((resolve, reject) => {
      sign(scheme.hash, data, options(this.key, scheme), (err, sig) => {
        if (err) reject(new OakleyError(CryptoErr.SIGNATURE, `RSA signing failed: ${err.message}`, undefined, { cause: err }));
        else resolve(sig);
      });
    });
  }

  dispose(): void { /* KeyObjects are released by the garbage collector */ }
}

class NodeRsaPublicKey implements RsaPublicKey {
  readonly path = 'node' as const;
  constructor(private readonly key: KeyObject, readonly bits: number) {}

  verify(data: Buffer, signature: Buffer, scheme: RsaScheme): Promise<boolean> {
    if (signature.length !== Math.ceil(this.bits / 8)) return Promise.resolve(false);
    if (scheme.padding === 'pkcs1-raw') {
      let recovered: Buffer;
      try {
        recovered = publicDecrypt(options(this.key, scheme), signature);
      } catch {
        return Promise.resolve(false); // bad padding: not a signature by this key
      }
      return Promise.resolve(recovered.length === data.length && timingSafeEqual(recovered, data));
    }
    return new Promise((resolve) => {
      verify(scheme.hash, data, options(this.key, scheme), signature, (err, ok) => resolve(!err && ok));
    });
  }
}

export const nodeRsa: RsaProvider = {
  path: 'node',
  async loadPrivateKey(source) {
    const { key, bits } = privateKeyObject(source, 'node');
    return new NodeRsaPrivateKey(key, bits);
  },
  async loadPublicKey(source) {
    const { key, bits } = publicKeyObject(source, 'node');
    return new NodeRsaPublicKey(key, bits);
  },
};
