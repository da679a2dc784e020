/**
 * ISAKMP payload encryption (RFC 2408 §3.1 E flag, §4; RFC 2409 Appendix B):
 *
 *   HDR (plaintext, E=1) | CBC-Encrypt(K, IV, payload chain | padding)
 *
 *   IV of the first Phase 1 encrypted message = hash(g^xi | g^xr) truncated to the block size
 *     (src/crypto/kdf.ts ikev1Phase1Iv); each later message uses the last ciphertext block of the
 *     previous one (both directions chain).
 *   IV of the first message of a Quick Mode / Informational exchange with M-ID =
 *     hash(last Phase 1 CBC block | M-ID) truncated to the block size (phase2Iv below); later
 *     messages of that exchange chain from the last ciphertext block, per exchange.
 *
 * Padding choice: RFC 2409 App. B says pad with 0x00 up to the block size, and the header Length
 * includes the pad. Many peers (racoon, Cisco) instead read the last byte as a pad length and strip
 * it. Oakley therefore always pads 1..blockSize bytes, zeros except the last, which holds the number
 * of pad bytes before it (p - 1). A peer that strips "last byte + 1" removes exactly the pad; one
 * that strips "last byte" leaves one zero byte, which an RFC reader ignores after the NONE payload;
 * a pure RFC 2409 reader ignores all of it. On input, all bytes after the chain are ignored
 * (message.ts), whatever their values.
 *
 * Quirks tolerated (peers.md §5):
 *  - Aggressive Mode: the final AM message (AM3) MAY be sent unencrypted (libreswan PR #230, Volans).
 *    The Phase 1 "last CBC block" is then still the Phase 1 IV, which some stacks keep at the full
 *    hash length; phase2Iv truncates the last-block argument to the block size (libreswan #2027,
 *    racoon interop, RFC 2409 p.37) instead of refusing it.
 *  - A decrypted body is accepted whatever the padding bytes are.
 */
import { createHash } from 'node:crypto';
import { CipherAlg, CipherProvider, HashAlg } from '../../crypto/types';
import { NotifyType } from './iana';
import { WireErr, WireError } from '../errors';

/** Block size in bytes of each CBC cipher Oakley uses for ISAKMP payloads. */
export function blockSizeOf(alg: CipherAlg): number {
  return alg === 'aes-cbc' ? 16 : 8;
}

export interface EncryptedBody {
  readonly ciphertext: Buffer;
  /** Last ciphertext block: the IV of the next message. */
  readonly nextIv: Buffer;
}

export interface DecryptedBody {
  readonly plaintext: Buffer;
  /** Last ciphertext block: the IV of the next message. */
  readonly nextIv: Buffer;
}

function checkIv(alg: CipherAlg, iv: Buffer, offset: number): number {
  const bs = blockSizeOf(alg);
  if (iv.length !== bs) {
    throw new WireError(WireErr.VALUE, 'message', offset, `IV of ${iv.length} bytes for ${alg} with ${bs}-byte blocks`);
  }
  return bs;
}

/** Pads `plaintextChain` (see the padding choice above). */
export function padBody(plaintextChain: Buffer, blockSize: number): Buffer {
  const p = blockSize - (plaintextChain.length % blockSize); // 1..blockSize
  const pad = Buffer.alloc(p);
  pad[p - 1] = p - 1;
  return Buffer.concat([plaintextChain, pad]);
}

/**
 * Pads and CBC-encrypts a payload chain.
 * @param cipher the crypto path's CipherProvider (raw CBC, no padding)
 * @param alg    payload cipher
 * @param key    encryption key (RFC 2409 App. B expansion already applied)
 * @param iv     IV (block size)
 * @param plaintextChain encoded payload chain (message.ts encodePayloadChain)
 * @returns ciphertext and the next IV
 */
export function encryptBody(cipher: CipherProvider, alg: CipherAlg, key: Buffer, iv: Buffer,
  plaintextChain: Buffer): EncryptedBody {
  const bs = checkIv(alg, iv, 28);
  const ciphertext = cipher.encrypt(alg, key, iv, padBody(plaintextChain, bs));
  return { ciphertext, nextIv: Buffer.from(ciphertext.subarray(ciphertext.length - bs)) };
}

/**
 * CBC-decrypts an encrypted body. Integrity is not checked here (IKEv1 has none at this layer:
 * HASH payloads do it).
 * @param offset datagram offset of the body (28), for errors
 * @throws WireError LENGTH/PAYLOAD-MALFORMED when the body is empty or not a multiple of the block
 */
export function decryptBody(cipher: CipherProvider, alg: CipherAlg, key: Buffer, iv: Buffer,
  ciphertext: Buffer, offset = 28): DecryptedBody {
  const bs = checkIv(alg, iv, offset);
  if (ciphertext.length === 0 || ciphertext.length % bs !== 0) {
    throw new WireError(WireErr.LENGTH, 'message', offset,
      `encrypted body of ${ciphertext.length} bytes is not a non-zero multiple of the ${bs}-byte ${alg} block`,
      NotifyType.PAYLOAD_MALFORMED);
  }
  const plaintext = cipher.decrypt(alg, key, iv, ciphertext);
  return { plaintext, nextIv: Buffer.from(ciphertext.subarray(ciphertext.length - bs)) };
}

/**
 * IV of the first message of a Phase 2 (Quick Mode) or Informational exchange (RFC 2409 App. B):
 * hash(last Phase 1 CBC block | M-ID) truncated to the block size.
 * @param hash           the Phase 1 negotiated hash
 * @param lastPhase1Block the last CBC block of Phase 1 (truncated to blockSize if longer: AM quirk)
 * @param messageId      the exchange's Message ID (host number, written big-endian)
 * @param blockSize      cipher block size
 */
export function phase2Iv(hash: HashAlg, lastPhase1Block: Buffer, messageId: number, blockSize: number): Buffer {
  if (lastPhase1Block.length < blockSize) {
    throw new WireError(WireErr.VALUE, 'message', -1,
      `last Phase 1 block of ${lastPhase1Block.length} bytes is shorter than the ${blockSize}-byte block`);
  }
  const mid = Buffer.alloc(4);
  mid.writeUInt32BE(messageId >>> 0);
  const h = createHash(hash).update(lastPhase1Block.subarray(0, blockSize)).update(mid).digest();
  if (blockSize > h.length) {
    throw new WireError(WireErr.VALUE, 'message', -1, `block size ${blockSize} exceeds the ${h.length}-byte ${hash} output`);
  }
  return Buffer.from(h.subarray(0, blockSize));
}
