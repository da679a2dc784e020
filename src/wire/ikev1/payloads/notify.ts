/**
 * Notification payload (RFC 2408 §3.14):
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !         Payload Length        !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !              Domain of Interpretation  (DOI)                  !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !  Protocol-ID  !   SPI Size    !      Notify Message Type      !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                Security Parameter Index (SPI)                 ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                       Notification Data                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The DOI is kept as sent: some peers put 0 in ISAKMP-level notifies (DPD from older Cisco), and
 * the exchange layer decides. An SPI size beyond the body is a LENGTH error.
 */
import { NotifyPayload, PayloadType } from '../types';
import { Reader } from '../../reader';
import { Writer } from '../../writer';

export function decodeNotify(r: Reader): NotifyPayload {
  const doi = r.u32('DOI');
  const protocol = r.u8('protocol ID');
  const spiSize = r.u8('SPI size');
  const notifyType = r.u16('notify message type');
  const spi = r.bytes(spiSize, 'SPI');
  return { type: PayloadType.N, doi, protocol, spi, notifyType, data: r.rest() };
}

export function encodeNotify(w: Writer, p: NotifyPayload): void {
  w.u32(p.doi, 'N DOI').u8(p.protocol, 'N protocol').u8(p.spi.length, 'N SPI size');
  w.u16(p.notifyType, 'N type').bytes(p.spi).bytes(p.data);
}
