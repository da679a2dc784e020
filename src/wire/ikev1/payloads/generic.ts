/**
 * Generic payload header (RFC 2408 §3.2), in front of every payload, proposals and transforms
 * included:
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !         Payload Length        !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Payload Length covers the generic header. RESERVED is written 0 and ignored on input (IKEv1 has
 * no critical bit; peers are not known to set it, and refusing it would gain nothing).
 */
import { PayloadType } from '../types';
import { nameOf } from '../iana';
import { NotifyType } from '../iana';
import { Reader } from '../../reader';
import { Writer } from '../../writer';
import { WireErr, WireError } from '../../errors';

export const GENERIC_HEADER_LENGTH = 4;

/** Log/error name of a payload type: the PayloadType table's key, e.g. 'SA', 'NAT_D', or '#77'. */
export function payloadName(type: number): string {
  const n = nameOf(PayloadType, type);
  return n === String(type) ? `#${type}` : n;
}

export interface GenericPayload {
  /** Next Payload of this payload's header. */
  readonly next: number;
  /** Datagram offset of the generic header. */
  readonly start: number;
  /** Reader bounded to the body (Payload Length - 4 bytes). */
  readonly body: Reader;
}

/**
 * Reads a generic header and opens a child reader over the body.
 * @param r        the enclosing reader (message body, SA body, proposal body)
 * @param name     payload name for errors
 * @param minBody  the fixed part of this payload's body; shorter is a LENGTH error
 * @param overrunNotify notify for a Payload Length beyond the enclosing bytes
 */
export function readGeneric(r: Reader, name: string, minBody = 0,
  overrunNotify: number = NotifyType.UNEQUAL_PAYLOAD_LENGTHS): GenericPayload {
  const start = r.offset;
  if (r.remaining < GENERIC_HEADER_LENGTH) {
    throw new WireError(WireErr.TRUNCATED, name, start,
      `generic header needs ${GENERIC_HEADER_LENGTH} bytes but only ${r.remaining} remain`, overrunNotify);
  }
  const next = r.u8();
  r.u8(); // RESERVED
  const length = r.u16();
  const min = GENERIC_HEADER_LENGTH + minBody;
  if (length < min) {
    throw new WireError(WireErr.LENGTH, name, start,
      `length ${length} is shorter than the ${min} bytes of its fixed part`, NotifyType.PAYLOAD_MALFORMED);
  }
  const body = r.sub(length - GENERIC_HEADER_LENGTH, name, start, overrunNotify);
  return { next, start, body };
}

/**
 * Writes a generic header, calls `body`, then patches Payload Length.
 * @returns the offset of the Next Payload byte (for chain patching)
 */
export function writeGeneric(w: Writer, next: number, name: string, body: () => void): number {
  const at = w.length;
  w.u8(next, `${name} next payload`).u8(0);
  const lenAt = w.reserveU16();
  body();
  w.patchU16(lenAt, w.length - at, `${name} payload length`);
  return at;
}
