/**
 * NAT-OA payload (RFC 3947 §5.2; type 21, draft number 131):
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !        Payload Length         !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !   ID Type     !   RESERVED    !            RESERVED           !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !         IPv4 (4 octets) or IPv6 address (16 octets)           !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * ID type 1 (IPV4_ADDR) needs 4 address octets, 5 (IPV6_ADDR) 16; anything else is refused here
 * (the payload has no other meaning) with PAYLOAD-MALFORMED.
 */
import { NatOaPayload } from '../types';
import { IdType, NotifyType } from '../iana';
import { Reader } from '../../reader';
import { Writer } from '../../writer';
import { WireErr, WireError } from '../../errors';

export function decodeNatOa(type: NatOaPayload['type'], r: Reader): NatOaPayload {
  const at = r.offset;
  const idType = r.u8('ID type');
  r.skip(3, 'RESERVED');
  const want = idType === IdType.IPV4_ADDR ? 4 : idType === IdType.IPV6_ADDR ? 16 : -1;
  if (want < 0) r.fail(`ID type ${idType} is neither IPV4_ADDR (1) nor IPV6_ADDR (5)`, NotifyType.PAYLOAD_MALFORMED, at);
  if (r.remaining !== want) {
    throw new WireError(WireErr.LENGTH, r.payload, at,
      `ID type ${idType} needs a ${want}-byte address but the payload holds ${r.remaining}`, NotifyType.PAYLOAD_MALFORMED);
  }
  return { type, idType, address: r.rest() };
}

export function encodeNatOa(w: Writer, p: NatOaPayload): void {
  w.u8(p.idType, 'NAT-OA ID type').zeros(3).bytes(p.address);
}
