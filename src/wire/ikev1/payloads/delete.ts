/**
 * Delete payload (RFC 2408 §3.15); every SPI has the same size:
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !         Payload Length        !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !              Domain of Interpretation  (DOI)                  !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !  Protocol-Id  !   SPI Size    !           # of SPIs           !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~               Security Parameter Index(es) (SPI)              ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The body must hold exactly "# of SPIs" x "SPI Size" octets (LENGTH otherwise, naming both
 * numbers); more than WireLimits.deleteSpis SPIs is a LIMIT error. An SPI size of 0 with a
 * non-zero count is refused: there would be nothing to delete.
 */
import { DeletePayload, PayloadType } from '../types';
import { NotifyType } from '../iana';
import { Reader } from '../../reader';
import { Writer } from '../../writer';
import { WireErr, WireError } from '../../errors';
import { WireLimits } from '../limits';

export function decodeDelete(r: Reader): DeletePayload {
  const doi = r.u32('DOI');
  const protocol = r.u8('protocol ID');
  const sizeAt = r.offset;
  const spiSize = r.u8('SPI size');
  const countAt = r.offset;
  const count = r.u16('# of SPIs');
  if (count > WireLimits.deleteSpis) {
    r.fail(`${count} SPIs exceed the cap of ${WireLimits.deleteSpis}`, NotifyType.PAYLOAD_MALFORMED, countAt, WireErr.LIMIT);
  }
  if (spiSize === 0 && count > 0) r.fail(`${count} SPIs of size 0`, NotifyType.INVALID_SPI, sizeAt);
  if (count * spiSize !== r.remaining) {
    throw new WireError(WireErr.LENGTH, 'D', countAt,
      `${count} SPIs of ${spiSize} bytes need ${count * spiSize} bytes but the payload holds ${r.remaining}`,
      NotifyType.PAYLOAD_MALFORMED);
  }
  const spis: Buffer[] = [];
  for (let i = 0; i < count; i++) spis.push(r.bytes(spiSize, 'SPI'));
  return { type: PayloadType.D, doi, protocol, spiSize, spis };
}

export function encodeDelete(w: Writer, p: DeletePayload): void {
  if (p.spis.length > WireLimits.deleteSpis) {
    throw new WireError(WireErr.LIMIT, 'D', w.length, `${p.spis.length} SPIs exceed the cap of ${WireLimits.deleteSpis}`);
  }
  for (const s of p.spis) {
    if (s.length !== p.spiSize) {
      throw new WireError(WireErr.VALUE, 'D', w.length, `SPI of ${s.length} bytes in a Delete of ${p.spiSize}-byte SPIs`);
    }
  }
  w.u32(p.doi, 'D DOI').u8(p.protocol, 'D protocol').u8(p.spiSize, 'D SPI size').u16(p.spis.length);
  for (const s of p.spis) w.bytes(s);
}
