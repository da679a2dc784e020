/**
 * RSA on the native path: keys parsed once into native EVP_PKEY handles; signing = EMSA encoding in
 * TypeScript (../rsa-emsa) + the raw private operation (CRT, blinding) on the libuv pool;
 * verification = raw public operation + the EMSA check in TypeScript. RSA-3072 and larger keys on
 * an AVX-512 IFMA CPU batch the signatures of one event-loop turn through the IFMA kernel
 * (./batch-queue; OpenSSL 3.0 has no IFMA path for these sizes); a lone signature stays on OpenSSL.
 */
import type { KeyObject } from 'node:crypto';

import { checkScheme, encodeForSigning, modulusBytes, verifyRecovered } from '../rsa-emsa';
import { privateKeyObject, publicKeyObject } from '../rsa-keys';
import { checkRawInput } from '../rsa-scheme';
import { CryptoErr, OakleyError } from '../../util/errors';
import type { RsaPrivateKey, RsaProvider, RsaPublicKey, RsaScheme } from '../types';
import { fromNative, requireAddon, type NativeIfmaRsaKey, type NativeRsaKey } from './addon';
import { BatchQueue } from './batch-queue';

/** Private operations per IFMA kernel run (lanes p and q of each). */
const IFMA_RSA_BLOCKS = 4;
/**
 * Smallest key batched through the kernel: OpenSSL 3.0 already runs RSA-2048 on its own IFMA code,
 * as fast as a 4-block run here (bench: rsa rows of the IFMA section).
 */
const IFMA_RSA_MIN_BITS = 3072;

/** The IFMA handle of a private key, or null where the kernel does not apply or is switched off. */
function ifmaHandleFor(der: Buffer, bits: number): NativeIfmaRsaKey | null {
  const addon = requireAddon();
  const k = addon.modexpKernels();
  if (bits < IFMA_RSA_MIN_BITS || !k.ifmaCpu || k.portableForced) return null;
  try {
    return new addon.IfmaRsaKey(der);
  } catch {
    return null; // e.g. a multi-prime key: OpenSSL handles it
  }
}

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
  private readonly queue: BatchQueue<Buffer> | null = null;

  constructor(handle: NativeRsaKey, readonly bits: number, private ifma: NativeIfmaRsaKey | null = null) {
    this.handle = handle;
    if (ifma) {
      this.queue = new BatchQueue<Buffer>({
        lanes: IFMA_RSA_BLOCKS,
        batching: () => this.ifma !== null,
        one: (block) => this.raw(block),
        many: (blocks) => (this.ifma ? this.ifma.privateRawBatch(blocks) : Promise.all(blocks.map((b) => this.raw(b)))),
      });
    }
  }

  private raw(block: Buffer): Promise<Buffer> {
    if (!this.handle) return Promise.reject(new OakleyError(CryptoErr.BAD_KEY, 'RSA private key already disposed'));
    return this.handle.privateRaw(block);
  }

  async sign(data: Buffer, scheme: RsaScheme): Promise<Buffer> {
    checkData(data);
    checkScheme(scheme, this.bits);
    if (scheme.padding === 'pkcs1-raw') checkRawInput(data, this.bits);
    if (!this.handle) throw new OakleyError(CryptoErr.BAD_KEY, 'RSA private key already disposed');
    const block = encodeForSigning(scheme, data, this.bits);
    try {
      return await (this.queue ? this.queue.run(block) : this.handle.privateRaw(block));
    } catch (e) {
      throw fromNative(e, 'RSA signing failed');
    }
  }

  dispose(): void {
    this.handle?.dispose();
    this.handle = null;
    this.ifma?.dispose();
    this.ifma = null;
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

function handleFor(der: Buffer, isPrivate: boolean, bits = 0): { handle: NativeRsaKey; ifma: NativeIfmaRsaKey | null } {
  try {
    const handle = new (requireAddon().RsaKey)(der, isPrivate);
    return { handle, ifma: isPrivate ? ifmaHandleFor(der, bits) : null };
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
    const { handle, ifma } = handleFor(key.export({ type: 'pkcs8', format: 'der' }), true, bits);
    return new NativeRsaPrivateKey(handle, bits, ifma);
  },
  async loadPublicKey(source) {
    const { key, bits } = publicKeyObject(source, 'native');
    checkPlainRsa(key);
    return new NativeRsaPublicKey(handleFor(key.export({ type: 'spki', format: 'der' }), false).handle, bits);
  },
};
