/**
 * Identification payload (RFC 2408 §3.8, IPsec DOI form RFC 2407 §4.6.2):
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !        Payload Length         !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !   ID Type     !  Protocol ID  !             Port              !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                     Identification Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The data is kept raw; src/wire/ikev1/id.ts interprets it per ID type and verify.ts checks its
 * length per type (INVALID-ID-INFORMATION).
 */
import { IdPayload, PayloadType } from '../types';
import { Reader } from '../../reader';
import { Writer } from '../../writer';

export function decodeId(r: Reader): IdPayload {
  const idType = r.u8('ID type');
  const protocol = r.u8('protocol ID');
  const port = r.u16('port');
  return { type: PayloadType.ID, idType, protocol, port, data: r.rest() };
}

export function encodeId(w: Writer, p: IdPayload): void {
  w.u8(p.idType, 'ID type').u8(p.protocol, 'ID protocol').u16(p.port, 'ID port').bytes(p.data);
}
