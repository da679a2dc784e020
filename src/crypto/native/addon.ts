/**
 * Loading the C++ addon (build/Release/oakley.node, built by `npm run build:native`). The addon is
 * optional (STYLE A.6): when it cannot load, `loadAddon()` returns null, one warning says why, and
 * the registry falls back to the node path.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { CryptoErr, OakleyError } from '../../util/errors';

/** Native ModpContext: p with a cached Montgomery context. Exponents are secret (constant time). */
export interface NativeModpContext {
  /** |p| in bytes. */
  readonly size: number;
  /** base^exp mod p, left-padded to |p|, on the calling thread. */
  modexp(base: Buffer, exp: Buffer): Buffer;
  /** The same on the libuv pool. */
  modexpAsync(base: Buffer, exp: Buffer): Promise<Buffer>;
  /**
   * Many independent base[i]^exp[i] mod p as ONE pool job. `auto` (default): runs of 8 through the
   * AVX-512 IFMA kernel when {@link batchKernel} is 'ifma' and there are 2 or more items (a lone
   * remainder goes to OpenSSL); `ifma` forces the kernel for every chunk (throws a RangeError when
   * unavailable); `portable` forces OpenSSL's BN_mod_exp_mont_consttime.
   */
  modexpBatch(bases: readonly Buffer[], exps: readonly Buffer[], kernel?: ModexpKernel): Promise<Buffer[]>;
  /** The same on the calling thread (timing measurements, tests). */
  modexpBatchSync(bases: readonly Buffer[], exps: readonly Buffer[], kernel?: ModexpKernel): Buffer[];
  /** This CPU has AVX-512 IFMA and the modulus suits the kernel (1024..8192 bits). */
  readonly ifmaAvailable: boolean;
  /** What `auto` batches use: 'portable' also when OAKLEY_MODEXP=portable is set. */
  readonly batchKernel: 'ifma' | 'portable';
}

/** Kernel choice of a modexp batch (native/src/modexp.cc). */
export type ModexpKernel = 'auto' | 'ifma' | 'portable';

export interface NativeEcKeyPair {
  /** Scalar, left-padded to the order size. */
  privateKey: Buffer;
  /** Uncompressed SEC1 point 04|x|y. */
  publicKey: Buffer;
}

/** A parsed RSA key (EVP_PKEY) held natively. */
export interface NativeRsaKey {
  readonly bits: number;
  readonly isPrivate: boolean;
  /** block^d mod n (CRT, blinding) on the pool; block is exactly |n| bytes and below n. */
  privateRaw(block: Buffer): Promise<Buffer>;
  /** block^e mod n, synchronous. */
  publicRaw(block: Buffer): Buffer;
  /** Frees the key now (jobs in flight keep their own reference). Idempotent. */
  dispose(): void;
}

/**
 * A two-prime RSA private key for batched private operations through the AVX-512 IFMA kernel
 * (native/src/ifma_rsa.cc): CRT with blinding and a public-key check, 4 blocks per kernel run.
 * The constructor throws a RangeError on a CPU without IFMA or for primes outside 1024..8192 bits.
 */
export interface NativeIfmaRsaKey {
  readonly bits: number;
  /** block[i]^d mod n for every block (each exactly |n| bytes and below n) as one pool job. */
  privateRawBatch(blocks: readonly Buffer[]): Promise<Buffer[]>;
  /** The same on the calling thread. */
  privateRawBatchSync(blocks: readonly Buffer[]): Buffer[];
  /** Drops the key now (jobs in flight keep their own reference). Idempotent. */
  dispose(): void;
}

/** Names the addon's KDF functions take for the hash. */
export type NativeHash = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
export type NativeCipher = 'aes' | '3des' | 'des' | 'blowfish';

/** What build/Release/oakley.node exports (native/src/*.cc). */
export interface OakleyAddon {
  readonly opensslVersion: string;
  /**
   * The pool threads' priority policy (OAKLEY_WORKER_NICE, native/include/common.h WorkerRun):
   * auto (SCHED_IDLE, nice 5 for 10 s after a starved job), idle, or nice; and how often auto
   * mode found a job starved.
   */
  workerPriority(): { mode: 'auto' | 'idle' | 'nice'; promotions: number };
  ModpContext: new (p: Buffer) => NativeModpContext;
  /** CPU support for the IFMA kernel (cpuid + xgetbv) and whether OAKLEY_MODEXP=portable turned it off. */
  modexpKernels(): { ifmaCpu: boolean; portableForced: boolean };
  ecKeygen(curve: string, privateKey?: Buffer | null): NativeEcKeyPair;
  ecKeygenAsync(curve: string, privateKey?: Buffer | null): Promise<NativeEcKeyPair>;
  /** x-coordinate of priv * peer (peer 04|x|y, checked on the curve), left-padded to the field size. */
  ecDerive(curve: string, privateKey: Buffer, peer: Buffer): Buffer;
  ecDeriveAsync(curve: string, privateKey: Buffer, peer: Buffer): Promise<Buffer>;
  RsaKey: new (der: Buffer, isPrivate: boolean) => NativeRsaKey;
  IfmaRsaKey: new (privateDer: Buffer) => NativeIfmaRsaKey;
  prf(hash: NativeHash, key: Buffer, data: Buffer): Buffer;
  prfPlus(hash: NativeHash, key: Buffer, seed: Buffer, length: number): Buffer;
  ikev1Phase1(hash: NativeHash, auth: 'psk' | 'sig' | 'pke', psk: Buffer | null, ni: Buffer, nr: Buffer,
    ckyI: Buffer, ckyR: Buffer, gxy: Buffer, encKeyLength: number, gxi: Buffer | null, gxr: Buffer | null,
    ivLength: number): { skeyid: Buffer; skeyidD: Buffer; skeyidA: Buffer; skeyidE: Buffer; encKey?: Buffer; iv?: Buffer };
  ikev1Keymat(hash: NativeHash, skeyidD: Buffer, gqmxy: Buffer | null, protocol: number, spi: Buffer, ni: Buffer,
    nr: Buffer, length: number): Buffer;
  ikev2Sa(hash: NativeHash, ni: Buffer, nr: Buffer, gir: Buffer, spiI: Buffer, spiR: Buffer, length: number): { skeyseed: Buffer; dkm: Buffer };
  ikev2Child(hash: NativeHash, skD: Buffer, girNew: Buffer | null, ni: Buffer, nr: Buffer, length: number): Buffer;
  ikev2Rekey(hash: NativeHash, skDOld: Buffer, girNew: Buffer, ni: Buffer, nr: Buffer): Buffer;
  /** Raw CBC, no padding. */
  cbc(alg: NativeCipher, encrypt: boolean, key: Buffer, iv: Buffer, data: Buffer): Buffer;
}

/** The repository root: the nearest directory above `from` holding package.json (works from src/ and dist/src/). */
export function repoRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export function addonPath(): string {
  return join(repoRoot(), 'build', 'Release', 'oakley.node');
}

let state: { addon: OakleyAddon | null; error: Error | null } | undefined;

/** The addon, or null (after one process warning) when it cannot be loaded. Cached. */
export function loadAddon(): OakleyAddon | null {
  if (state) return state.addon;
  try {
    const file = addonPath();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(file) as OakleyAddon;
    if (typeof addon.ModpContext !== 'function' || typeof addon.ikev2Sa !== 'function') {
      throw new Error(`${file} is not the Oakley addon (missing exports)`);
    }
    state = { addon, error: null };
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    state = { addon: null, error };
    process.emitWarning(
      `the Oakley native addon could not be loaded (${error.message}); Oakley falls back to node:crypto for the native path. ` +
      'Build it with `npm run build:native`.',
      { code: 'OAKLEY_NATIVE_UNAVAILABLE' });
  }
  return state.addon;
}

/** True when the addon loaded. */
export function nativeAvailable(): boolean {
  return loadAddon() !== null;
}

/** Why the addon did not load (null when it did, or before the first attempt). */
export function nativeLoadError(): Error | null {
  loadAddon();
  return state?.error ?? null;
}

/**
 * An error thrown by the addon (TypeError/RangeError/Error with a `code`) as an OakleyError with
 * the same code; anything else as IKE_ERR_NATIVE. The original is kept as `cause`.
 */
export function fromNative(e: unknown, what: string): OakleyError {
  if (OakleyError.is(e)) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const raw = (err as Error & { code?: unknown }).code;
  const code = typeof raw === 'string' && raw.startsWith('IKE_ERR_') ? raw : CryptoErr.NATIVE;
  return new OakleyError(code, `${what}: ${err.message}`, undefined, { cause: err });
}

/** The addon, or an IKE_ERR_NATIVE_UNAVAILABLE error. */
export function requireAddon(): OakleyAddon {
  const addon = loadAddon();
  if (!addon) {
    throw new OakleyError(CryptoErr.NATIVE_UNAVAILABLE, `the native addon is not loaded: ${nativeLoadError()?.message ?? 'unknown reason'}`);
  }
  return addon;
}
