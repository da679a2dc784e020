/**
 * RSA on the native path: keys parsed once into native EVP_PKEY handles; signing = EMSA encoding in
 * TypeScript (../rsa-emsa) + the raw private operation (CRT, blinding) on the libuv pool;
 * verification = raw public operation + the EMSA check in TypeScript.
 */
import type { KeyObject } from 'node:crypto';

import { checkScheme, encodeForSigning, modulusBytes, verifyRecovered } from '../rsa-emsa';
import { privateKeyObject, publicKeyObject } from '../rsa-keys';
import { checkRawInput } from '../rsa-scheme';
import { CryptoErr, OakleyError } from '../../util/errors';
import type { RsaPrivateKey, RsaProvider, RsaPublicKey, RsaScheme } from '../types';
import { fromNative, requireAddon, type NativeRsaKey } from './addon';

function checkPlainRsa(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'rsa') {
    throw new OakleyError(CryptoErr.UNSUPPORTED,
      `the native path takes plain RSA keys; this is an ${key.asymmetricKeyType} key (use the node path)`);
  }
}

function checkData(data: unknown): asserts data is Buffer {
  if (!Buffer.isBuffer(data)) throw new OakleyError(CryptoErr.BAD_ARGUMENT, 'data to sign or verify must be a Buffer');
}

class NativeRsaPrivateKey implements RsaPrivateKey {
  readonly path = 'native' as const;
  private handle: NativeRsaKey | null;

  constructor(handle: NativeRsaKey, readonly bits: number) {
    this.handle = handle;
  }

  async sign(data: Buffer, scheme: RsaScheme): Promise<Buffer> {
    checkData(data);
    checkScheme(scheme, this.bits);
    if (scheme.padding === 'pkcs1-raw') checkRawInput(data, this.bits);
    if (!this.handle) throw new OakleyError(CryptoErr.BAD_KEY, 'RSA private key already disposed');
    const block = encodeForSigning(scheme, data, this.bits);
    try {
      return await this.handle.privateRaw(block);
    } catch (e) {
      throw fromNative(e, 'RSA signing failed');
    }
  }

  dispose(): void {
    this.handle?.dispose();
    this.handle = null;
  }
}

class NativeRsaPublicKey implements RsaPublicKey {
  readonly path = 'native' as const;

  constructor(private readonly handle: NativeRsaKey, readonly bits: number) {}

  async verify(data: Buffer, signature: Buffer, scheme: RsaScheme): Promise<boolean> {
    checkData(data);
    checkScheme(scheme, this.bits);
    if (!Buffer.isBuffer(signature) || signature.length !== modulusBytes(this.bits)) return false;
    let block: Buffer;
    try {
      block = this.handle.publicRaw(signature);
    } catch {
      return false; // signature not below the modulus: not a signature by this key
    }
    return verifyRecovered(scheme, data, block, this.bits);
  }
}

function handleFor(der: Buffer, isPrivate: boolean): NativeRsaKey {
  try {
    return new (requireAddon().RsaKey)(der, isPrivate);
  } catch (e) {
    throw fromNative(e, `cannot load the RSA ${isPrivate ? 'private' : 'public'} key natively`);
  } finally {
    der.fill(0);
  }
}

export const nativeRsa: RsaProvider = {
  path: 'native',
  async loadPrivateKey(source) {
    const { key, bits } = privateKeyObject(source, 'native');
    checkPlainRsa(key);
    return new NativeRsaPrivateKey(handleFor(key.export({ type: 'pkcs8', format: 'der' }), true), bits);
  },
  async loadPublicKey(source) {
    const { key, bits } = publicKeyObject(source, 'native');
    checkPlainRsa(key);
    return new NativeRsaPublicKey(handleFor(key.export({ type: 'spki', format: 'der' }), false), bits);
  },
};
