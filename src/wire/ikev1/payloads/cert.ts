/**
 * Certificate payload (RFC 2408 §3.9) and Certificate Request payload (§3.10); same layout:
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !         Payload Length        !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Cert Encoding !                                               !
 * +-+-+-+-+-+-+-+-+                                               !
 * ~            Certificate Data / Certificate Authority           ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A CR's authority may be empty ("any CA", RFC 2408 §3.10).
 */
import { CertPayload, CrPayload, PayloadType } from '../types';
import { Reader } from '../../reader';
import { Writer } from '../../writer';

export function decodeCert(r: Reader): CertPayload {
  const encoding = r.u8('certificate encoding');
  return { type: PayloadType.CERT, encoding, data: r.rest() };
}

export function encodeCert(w: Writer, p: CertPayload): void {
  w.u8(p.encoding, 'CERT encoding').bytes(p.data);
}

export function decodeCr(r: Reader): CrPayload {
  const certType = r.u8('certificate type');
  return { type: PayloadType.CR, certType, authority: r.rest() };
}

export function encodeCr(w: Writer, p: CrPayload): void {
  w.u8(p.certType, 'CR certificate type').bytes(p.authority);
}
