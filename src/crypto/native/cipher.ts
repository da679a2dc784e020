/** ISAKMP payload ciphers on the native path: AES/3DES via EVP, DES and Blowfish via OpenSSL's low-level API. */
import { checkCipherArgs, keyLengthOk } from '../cipher-check';
import type { CipherAlg, CipherProvider } from '../types';
import { fromNative, requireAddon, type NativeCipher } from './addon';

const NATIVE_NAME: Readonly<Record<CipherAlg, NativeCipher>> = {
  'aes-cbc': 'aes', '3des-cbc': '3des', 'des-cbc': 'des', 'blowfish-cbc': 'blowfish',
};

function run(encrypt: boolean, alg: CipherAlg, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  checkCipherArgs(alg, key, iv, data);
  try {
    return requireAddon().cbc(NATIVE_NAME[alg], encrypt, key, iv, data);
  } catch (e) {
    throw fromNative(e, `${alg} ${encrypt ? 'encryption' : 'decryption'}`);
  }
}

export const nativeCipher: CipherProvider = {
  path: 'native',
  supports: (alg, keyLength) => NATIVE_NAME[alg] !== undefined && keyLengthOk(alg, keyLength),
  encrypt: (alg, key, iv, data) => run(true, alg, key, iv, data),
  decrypt: (alg, key, iv, data) => run(false, alg, key, iv, data),
};
