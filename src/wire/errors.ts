/**
 * WireError: the only error a decoder in src/wire may throw (STYLE A.4). It carries what the
 * exchange layer needs to answer the peer and to log without parsing text:
 *   - `code`    stable IKE_ERR_WIRE_* string (truncated, length mismatch, bad value, cap exceeded)
 *   - `payload` the payload's name from the tables (`SA`, `KE`, `T`, `HEADER`, ...)
 *   - `offset`  byte offset in the datagram where the offending structure starts (-1 if unknown,
 *               e.g. an encoder refusing a model value)
 *   - `notify`  the ISAKMP Notify Message Type to send back (RFC 2408 §3.14.1), e.g.
 *               PAYLOAD-MALFORMED, INVALID-PAYLOAD-TYPE, UNEQUAL-PAYLOAD-LENGTHS.
 */
import { OakleyError } from '../util/errors';
import { NotifyType } from './ikev1/iana';

export const WireErr = {
  /** A read ran past the end of the datagram or of an enclosing length. */
  TRUNCATED: 'IKE_ERR_WIRE_TRUNCATED',
  /** A length field disagrees with the bytes available or consumed. */
  LENGTH: 'IKE_ERR_WIRE_LENGTH',
  /** A field holds a value the codec cannot accept (reserved, out of range, inconsistent). */
  VALUE: 'IKE_ERR_WIRE_VALUE',
  /** A hard cap on repeated structures was exceeded (DoS bound, STYLE A.4.2). */
  LIMIT: 'IKE_ERR_WIRE_LIMIT',
  /** The ISAKMP major version is not 1. */
  VERSION: 'IKE_ERR_WIRE_VERSION',
} as const;
export type WireErrCode = typeof WireErr[keyof typeof WireErr];

export class WireError extends OakleyError {
  override readonly code: WireErrCode;
  readonly payload: string;
  readonly offset: number;
  readonly notify: number;

  constructor(code: WireErrCode, payload: string, offset: number, message: string,
    notify: number = NotifyType.PAYLOAD_MALFORMED) {
    super(code, `${payload} at offset ${offset}: ${message}`, { payload, offset, notify });
    this.name = 'WireError';
    this.code = code;
    this.payload = payload;
    this.offset = offset;
    this.notify = notify;
  }

  static isWire(e: unknown, code?: WireErrCode): e is WireError {
    return OakleyError.is(e, code) && e instanceof WireError;
  }
}
