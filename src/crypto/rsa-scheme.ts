/** Argument rules of the RSA signature schemes, shared by every RsaProvider. */
import { CryptoErr, OakleyError } from '../util/errors';
import { HASH_LENGTH } from './kdf';
import type { HashAlg } from './types';

export function hashLength(hash: HashAlg): number {
  const n = HASH_LENGTH[hash];
  if (n === undefined) throw new OakleyError(CryptoErr.BAD_ARGUMENT, `unknown hash ${String(hash)}`);
  return n;
}

/** EMSA-PKCS1-v1_5 type 1 needs at least 8 bytes of 0xff padding: data <= k - 11 bytes. */
export function checkRawInput(data: Buffer, bits: number): void {
  const k = Math.ceil(bits / 8);
  if (data.length > k - 11) {
    throw new OakleyError(CryptoErr.BAD_ARGUMENT,
      `${data.length} bytes are too long for a PKCS#1 v1.5 signature with a ${bits}-bit key (at most ${k - 11})`);
  }
}
