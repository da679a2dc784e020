/**
 * The `native` path: Oakley's C++ addon (native/, build/Release/oakley.node) on node's own OpenSSL.
 * Constant-time BN modexp with cached Montgomery contexts, ECDH, raw RSA with CRT and blinding on
 * the libuv pool, each IKE derivation chain in one call, and DES/Blowfish which node:crypto lacks.
 * `createNativeBackend()` returns null when the addon cannot load (one warning; the registry then
 * falls back to the node path).
 */
import type { CryptoBackend, RandomSource } from '../types';
import { loadAddon } from './addon';
import { nativeCipher } from './cipher';
import { nativeKdf } from './kdf';
import { nativeKeyExchange } from './ke';
import { pooledRandomFill } from '../random-pool';
import { nativeRsa } from './rsa';

export { nativeAvailable, nativeLoadError } from './addon';
export { modexpBatch } from './ke';
export { nativeCipher, nativeKdf, nativeKeyExchange, nativeRsa };

/** Random numbers: node's CSPRNG (the OpenSSL DRBG the addon would use), pooled (./random). */
export const nativeRandom: RandomSource = { path: 'native', fill: pooledRandomFill };

export function createNativeBackend(): CryptoBackend | null {
  if (!loadAddon()) return null;
  return {
    path: 'native', ke: nativeKeyExchange, rsa: nativeRsa, kdf: nativeKdf, cipher: nativeCipher, random: nativeRandom,
    close: async () => {},
  };
}
