/**
 * Growable output buffer with back-patched length fields: a codec reserves a 16- or 32-bit length
 * slot, writes the body, then patches the slot with the bytes written since a start mark. This keeps
 * every length computed from what was actually written, never from a separate size pass.
 */
import { WireErr, WireError } from './errors';

export class Writer {
  private buf: Buffer;
  private len = 0;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.alloc(Math.max(16, initialCapacity));
  }

  /** Bytes written so far (also the offset of the next byte). */
  get length(): number { return this.len; }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = Buffer.alloc(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private check(v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) {
      throw new WireError(WireErr.VALUE, what, this.len, `value ${v} does not fit 0..${max}`);
    }
  }

  u8(v: number, what = 'field'): this {
    this.check(v, 0xff, what);
    this.ensure(1);
    this.buf[this.len++] = v;
    return this;
  }

  u16(v: number, what = 'field'): this {
    this.check(v, 0xffff, what);
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
    return this;
  }

  u32(v: number, what = 'field'): this {
    this.check(v, 0xffffffff, what);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.len);
    this.len += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
    return this;
  }

  /** Reserve a 16-bit slot; returns its position for patchU16. */
  reserveU16(): number {
    const at = this.len;
    this.zeros(2);
    return at;
  }

  reserveU32(): number {
    const at = this.len;
    this.zeros(4);
    return at;
  }

  patchU8(at: number, v: number, what = 'field'): void {
    this.check(v, 0xff, what);
    this.buf[at] = v;
  }

  /** Patch a reserved 16-bit slot; a value over 0xffff is a WireError naming the structure. */
  patchU16(at: number, v: number, what = 'length'): void {
    this.check(v, 0xffff, what);
    this.buf.writeUInt16BE(v, at);
  }

  patchU32(at: number, v: number, what = 'length'): void {
    this.check(v, 0xffffffff, what);
    this.buf.writeUInt32BE(v, at);
  }

  /** A copy of the bytes written. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}
