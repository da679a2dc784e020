/**
 * Bounded cursor over a datagram (STYLE A.4.1). A Reader has a position and a roof; every read
 * checks the roof first, so a decoder can never read outside the bytes it was given, and a
 * declared length opens a child reader (`sub`) whose roof is that length. The caller then checks
 * the child was consumed exactly (`end`).
 *
 * Offsets in errors are datagram offsets: `base` is the datagram offset of buf[0] (non-zero for a
 * decrypted body, whose buffer starts after the ISAKMP header).
 *
 * All byte results are copies (Buffer.from), never views into the datagram, so decoded values may
 * outlive it (types.ts contract).
 */
import { NotifyType } from './ikev1/iana';
import { WireErr, WireError } from './errors';

export class Reader {
  private pos: number;
  private readonly roof: number;

  /**
   * @param buf     the bytes (the datagram, or a decrypted body)
   * @param payload name of the structure being read, used in errors
   * @param start   first readable index in buf
   * @param roof    one past the last readable index in buf (clamped to buf.length)
   * @param base    datagram offset of buf[0]
   */
  constructor(private readonly buf: Buffer, public payload = 'message', start = 0,
    roof = buf.length, private readonly base = 0) {
    this.roof = Math.min(Math.max(roof, 0), buf.length);
    this.pos = Math.min(Math.max(start, 0), this.roof);
  }

  /** Datagram offset of the next byte. */
  get offset(): number { return this.base + this.pos; }
  /** Bytes left before the roof. */
  get remaining(): number { return this.roof - this.pos; }

  private need(n: number, what: string): void {
    if (n > this.roof - this.pos) {
      throw new WireError(WireErr.TRUNCATED, this.payload, this.offset,
        `${what} needs ${n} bytes but only ${this.roof - this.pos} remain`, NotifyType.PAYLOAD_MALFORMED);
    }
  }

  u8(what = 'field'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'field'): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'field'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** n bytes, copied. */
  bytes(n: number, what = 'field'): Buffer {
    this.need(n, what);
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return v;
  }

  /** Everything up to the roof, copied. */
  rest(): Buffer {
    return this.bytes(this.remaining, 'data');
  }

  skip(n: number, what = 'field'): void {
    this.need(n, what);
    this.pos += n;
  }

  /** Look at the byte `ahead` positions on without consuming it (bounded like a read). */
  peekU8(ahead = 0, what = 'field'): number {
    this.need(ahead + 1, what);
    return this.buf[this.pos + ahead]!;
  }

  /**
   * A child reader over the next `length` bytes, named `payload`; this reader moves past them.
   * `start` is the datagram offset at which the enclosing structure began (for the message).
   * A length beyond the roof is a LENGTH error naming both numbers.
   */
  sub(length: number, payload: string, start = this.offset, notify: number = NotifyType.PAYLOAD_MALFORMED): Reader {
    if (length > this.remaining) {
      throw new WireError(WireErr.LENGTH, payload, start,
        `length ${length + (this.offset - start)} exceeds the ${this.remaining + (this.offset - start)} bytes that remain`, notify);
    }
    const child = new Reader(this.buf, payload, this.pos, this.pos + length, this.base);
    this.pos += length;
    return child;
  }

  /** Asserts the reader was consumed exactly (a child must use all of its declared length). */
  end(what = 'payload'): void {
    if (this.pos !== this.roof) {
      throw new WireError(WireErr.LENGTH, this.payload, this.offset,
        `${this.roof - this.pos} bytes left over after the ${what}`, NotifyType.PAYLOAD_MALFORMED);
    }
  }

  /** Raise a VALUE error for this reader's structure at `offset` (default: current position). */
  fail(message: string, notify: number = NotifyType.PAYLOAD_MALFORMED, offset = this.offset,
    code: typeof WireErr[keyof typeof WireErr] = WireErr.VALUE): never {
    throw new WireError(code, this.payload, offset, message, notify);
  }
}
