/**
 * ISAKMP header (RFC 2408 §3.1), 28 octets:
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !                          Initiator                            !
 * !                            Cookie                             !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !                          Responder                            !
 * !                            Cookie                             !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !                          Message ID                           !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !                            Length                             !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Decisions (RFC 2408 §5.2 header processing, and what peers send):
 *  - Major version must be 1 (IKEv2 sends 2): INVALID-MAJOR-VERSION. The minor version is not
 *    checked: RFC 2408 allows INVALID-MINOR-VERSION, but every IKEv1 peer sends 0 and refusing a
 *    future minor gains nothing; the value is kept in `version`.
 *  - Length must be >= 28 and <= the datagram (UNEQUAL-PAYLOAD-LENGTHS otherwise).
 *  - Bytes of the datagram beyond the declared Length are not part of the ISAKMP message and are
 *    ignored (`trailing` reports how many). The payloads are parsed only inside Length.
 */
import { NotifyType } from './iana';
import { IsakmpHeader } from './types';
import { Reader } from '../reader';
import { Writer } from '../writer';
import { WireErr, WireError } from '../errors';

export const ISAKMP_HEADER_LENGTH = 28;
/** Largest message Oakley builds or accepts: a UDP payload bound (IPv6 jumbograms excluded). */
export const ISAKMP_MAX_LENGTH = 65535;

export interface DecodedHeader {
  readonly header: IsakmpHeader;
  /** Datagram bytes after the declared Length (ignored). */
  readonly trailing: number;
}

/**
 * Decodes and checks the 28-byte header at datagram offset 0.
 * @param datagram the whole UDP payload (without the NAT-T non-ESP marker)
 * @returns the header and the count of ignored trailing bytes
 * @throws WireError TRUNCATED (< 28 bytes), VERSION (major != 1), LENGTH (Length field < 28 or
 *         > datagram)
 */
export function decodeHeader(datagram: Buffer): DecodedHeader {
  const r = new Reader(datagram, 'HEADER');
  if (datagram.length < ISAKMP_HEADER_LENGTH) {
    throw new WireError(WireErr.TRUNCATED, 'HEADER', 0,
      `datagram of ${datagram.length} bytes is shorter than the ${ISAKMP_HEADER_LENGTH}-byte ISAKMP header`,
      NotifyType.UNEQUAL_PAYLOAD_LENGTHS);
  }
  const icookie = r.bytes(8, 'initiator cookie');
  const rcookie = r.bytes(8, 'responder cookie');
  const nextPayload = r.u8();
  const version = r.u8();
  const exchangeType = r.u8();
  const flags = r.u8();
  const messageId = r.u32();
  const length = r.u32();
  if (version >> 4 !== 1) {
    throw new WireError(WireErr.VERSION, 'HEADER', 17,
      `major version ${version >> 4} is not 1 (IKEv1)`, NotifyType.INVALID_MAJOR_VERSION);
  }
  if (length < ISAKMP_HEADER_LENGTH) {
    throw new WireError(WireErr.LENGTH, 'HEADER', 24,
      `length ${length} is shorter than the ${ISAKMP_HEADER_LENGTH}-byte header`, NotifyType.UNEQUAL_PAYLOAD_LENGTHS);
  }
  if (length > datagram.length) {
    throw new WireError(WireErr.LENGTH, 'HEADER', 24,
      `length ${length} exceeds the ${datagram.length} bytes of the datagram`, NotifyType.UNEQUAL_PAYLOAD_LENGTHS);
  }
  return {
    header: { icookie, rcookie, nextPayload, version, exchangeType, flags, messageId, length },
    trailing: datagram.length - length,
  };
}

/** The header fields an encoder takes: Length is computed. */
export type HeaderFields = Omit<IsakmpHeader, 'length'> & { readonly length?: number };

/**
 * Writes the header with a zero Length; returns the position of the Length slot to patch.
 * @throws WireError VALUE for cookies that are not 8 bytes
 */
export function encodeHeader(w: Writer, h: HeaderFields): number {
  for (const [name, c] of [['initiator cookie', h.icookie], ['responder cookie', h.rcookie]] as const) {
    if (c.length !== 8) throw new WireError(WireErr.VALUE, 'HEADER', w.length, `${name} is ${c.length} bytes, not 8`);
  }
  w.bytes(h.icookie).bytes(h.rcookie);
  w.u8(h.nextPayload, 'HEADER next payload').u8(h.version, 'HEADER version');
  w.u8(h.exchangeType, 'HEADER exchange type').u8(h.flags, 'HEADER flags');
  w.u32(h.messageId, 'HEADER message ID');
  return w.reserveU32();
}
