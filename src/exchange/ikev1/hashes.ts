/**
 * The authenticating hashes of IKEv1 (RFC 2409 §5, §5.5, §5.7), computed through the crypto seam's
 * PRF. Every input that comes from a message is the exact octets received or sent (payload bodies
 * without their generic headers for SA and ID in Phase 1; whole payloads with headers after the
 * HASH payload in Quick Mode and Informational), never a re-encoding.
 */
import type { HashAlg, KeyDerivation } from '../../crypto/types';

function mid(messageId: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(messageId >>> 0);
  return b;
}

export interface Phase1HashInput {
  readonly hash: HashAlg;
  readonly skeyid: Buffer;
  /** Initiator's and responder's public values (KE payload bodies). */
  readonly gxi: Buffer;
  readonly gxr: Buffer;
  readonly ckyI: Buffer;
  readonly ckyR: Buffer;
  /** The initiator's whole SA payload body as sent (SAi_b), without the generic header. */
  readonly saiB: Buffer;
}

/**
 * HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)    (RFC 2409 §5)
 */
export function hashI(kdf: KeyDerivation, p: Phase1HashInput, idiiB: Buffer): Promise<Buffer> {
  return kdf.prf(p.hash, p.skeyid, Buffer.concat([p.gxi, p.gxr, p.ckyI, p.ckyR, p.saiB, idiiB]));
}

/**
 * HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)    (RFC 2409 §5)
 */
export function hashR(kdf: KeyDerivation, p: Phase1HashInput, idirB: Buffer): Promise<Buffer> {
  return kdf.prf(p.hash, p.skeyid, Buffer.concat([p.gxr, p.gxi, p.ckyR, p.ckyI, p.saiB, idirB]));
}

/**
 * Quick Mode (RFC 2409 §5.5), where "rest" is every payload after the HASH payload, headers
 * included, exactly as on the wire:
 *   HASH(1) = prf(SKEYID_a, M-ID | SA | Ni [ | KE ] [ | IDci | IDcr ])
 *   HASH(2) = prf(SKEYID_a, M-ID | Ni_b | SA | Nr [ | KE ] [ | IDci | IDcr ])
 *   HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)
 */
export function quickHash1(kdf: KeyDerivation, hash: HashAlg, skeyidA: Buffer, messageId: number, rest: Buffer): Promise<Buffer> {
  return kdf.prf(hash, skeyidA, Buffer.concat([mid(messageId), rest]));
}

export function quickHash2(kdf: KeyDerivation, hash: HashAlg, skeyidA: Buffer, messageId: number, niB: Buffer, rest: Buffer): Promise<Buffer> {
  return kdf.prf(hash, skeyidA, Buffer.concat([mid(messageId), niB, rest]));
}

export function quickHash3(kdf: KeyDerivation, hash: HashAlg, skeyidA: Buffer, messageId: number, niB: Buffer, nrB: Buffer): Promise<Buffer> {
  return kdf.prf(hash, skeyidA, Buffer.concat([Buffer.from([0]), mid(messageId), niB, nrB]));
}

/**
 * Informational exchange protected by the ISAKMP SA (RFC 2409 §5.7):
 *   HASH(1) = prf(SKEYID_a, M-ID | N/D)
 * where N/D is the Notification or Delete payload (with its generic header) as on the wire.
 */
export function informationalHash(kdf: KeyDerivation, hash: HashAlg, skeyidA: Buffer, messageId: number, rest: Buffer): Promise<Buffer> {
  return kdf.prf(hash, skeyidA, Buffer.concat([mid(messageId), rest]));
}
