/** Argument rules shared by every CipherProvider (key, IV and data lengths per algorithm). */
import { CryptoErr, OakleyError } from '../util/errors';
import type { CipherAlg } from './types';

export const BLOCK_SIZE: Readonly<Record<CipherAlg, number>> = { 'aes-cbc': 16, '3des-cbc': 8, 'des-cbc': 8, 'blowfish-cbc': 8 };

/** Allowed key lengths in bytes (Blowfish: RFC 2451 allows 40..448 bits, in whole bytes here). */
export function keyLengthOk(alg: CipherAlg, n: number): boolean {
  switch (alg) {
    case 'aes-cbc': return n === 16 || n === 24 || n === 32;
    case '3des-cbc': return n === 24;
    case 'des-cbc': return n === 8;
    case 'blowfish-cbc': return n >= 5 && n <= 56;
  }
}

export function checkCipherArgs(alg: CipherAlg, key: Buffer, iv: Buffer, data: Buffer): void {
  const block = BLOCK_SIZE[alg];
  if (block === undefined) throw new OakleyError(CryptoErr.UNSUPPORTED, `unknown cipher ${String(alg)}`);
  if (!keyLengthOk(alg, key.length)) throw new OakleyError(CryptoErr.BAD_ARGUMENT, `${alg}: key length ${key.length} bytes is not allowed`);
  if (iv.length !== block) throw new OakleyError(CryptoErr.BAD_ARGUMENT, `${alg}: IV must be ${block} bytes, got ${iv.length}`);
  if (data.length % block !== 0) {
    throw new OakleyError(CryptoErr.BAD_ARGUMENT, `${alg}: data length ${data.length} is not a multiple of the ${block}-byte block`);
  }
}
