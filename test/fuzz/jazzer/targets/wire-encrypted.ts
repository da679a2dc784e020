/**
 * Encrypted messages with known keys. Byte 0 picks the mode:
 *  - even: the input is a whole datagram, decoded as is with decodeEncryptedMessage (CBC
 *          decryption of arbitrary ciphertext, then the padded chain walker);
 *  - odd:  the input after byte 0 is [28-byte header][plaintext chain]; the chain is padded and
 *          encrypted under the known key first, so the fuzzer steers the *plaintext* the walker sees.
 * Byte 0 also picks the cipher (AES-CBC 128/256, 3DES-CBC) so every block size is walked.
 */
import { nodeCipher } from '../../../../src/crypto/node/cipher';
import { encryptBody } from '../../../../src/wire/ikev1/encryption';
import { decodeEncryptedMessage } from '../../../../src/wire/ikev1/message';
import { target, typed } from '../common';

const SUITES = [
  { alg: 'aes-cbc', key: Buffer.alloc(16, 0x24), iv: Buffer.alloc(16, 0x42) },
  { alg: 'aes-cbc', key: Buffer.alloc(32, 0x25), iv: Buffer.alloc(16, 0x43) },
  { alg: '3des-cbc', key: Buffer.from('0123456789abcdef01234567fedcba98'.slice(0, 24)), iv: Buffer.alloc(8, 0x44) },
] as const;

export const fuzz = target((data) => {
  if (data.length < 1) return;
  const mode = data[0]!;
  const suite = SUITES[(mode >> 1) % SUITES.length]!;
  const c = { cipher: nodeCipher, alg: suite.alg, key: suite.key, iv: suite.iv };
  let datagram = data.subarray(1);
  if (mode & 1) {
    if (datagram.length < 28) return;
    const header = Buffer.from(datagram.subarray(0, 28));
    header[19] = header[19]! | 1;
    const body = typed('encryptBody', () => encryptBody(nodeCipher, suite.alg, suite.key, suite.iv, datagram.subarray(28)));
    if (!body) return;
    datagram = Buffer.concat([header, body.ciphertext]);
    datagram.writeUInt32BE(datagram.length, 24);
  }
  typed('decodeEncryptedMessage', () => decodeEncryptedMessage(datagram, c));
});
