/**
 * Payloads whose body is one opaque field after the generic header:
 *   KE (RFC 2408 §3.7)      Key Exchange Data (g^x, left-padded to the group size)
 *   HASH (§3.11)            Hash Data (prf output)
 *   SIG (§3.12)             Signature Data
 *   NONCE (§3.13)           Nonce Data (RFC 2409 §5: 8..256 bytes, checked by verify.ts)
 *   VID (§3.16)             Vendor ID (usually an MD5 hash)
 *   NAT-D (RFC 3947 §3.2)   HASH(CKY-I | CKY-R | IP | Port); 20, or draft number 130
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !         Payload Length        !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                    Data (KE / Hash / Sig / Nonce / VID / NAT-D)~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * An empty body is syntactically valid here; verify.ts refuses it where the RFCs do.
 */
import { DataPayload, PayloadType } from '../types';
import { Reader } from '../../reader';
import { Writer } from '../../writer';

export const DATA_PAYLOAD_TYPES = [
  PayloadType.KE, PayloadType.HASH, PayloadType.SIG, PayloadType.NONCE, PayloadType.VID,
  PayloadType.NAT_D, PayloadType.NAT_D_DRAFT,
] as const;
export type DataPayloadType = typeof DATA_PAYLOAD_TYPES[number];

export function isDataPayloadType(t: number): t is DataPayloadType {
  return (DATA_PAYLOAD_TYPES as readonly number[]).includes(t);
}

export function decodeData<T extends DataPayloadType>(type: T, r: Reader): DataPayload<T> {
  return { type, data: r.rest() };
}

export function encodeData(w: Writer, p: DataPayload<number>): void {
  w.bytes(p.data);
}
