/**
 * Netlink framing for NETLINK_XFRM (RFC 3549 §2.3.2, include/uapi/linux/netlink.h): message
 * headers, attributes (struct nlattr) and error acks (struct nlmsgerr with extended-ack TLVs).
 * Netlink fields are in host byte order; Oakley's XFRM support assumes a little-endian host
 * (x86-64, arm64) and refuses to open on any other (kernel.ts).
 *
 *   struct nlmsghdr                     struct nlattr
 *    0               16              32   0               16              32
 *   +-------------------------------+    +---------------+---------------+
 *   |          nlmsg_len            |    |    nla_len    |   nla_type    |
 *   +---------------+---------------+    +---------------+---------------+
 *   |  nlmsg_type   |  nlmsg_flags  |    |  payload, padded to 4 octets  |
 *   +---------------+---------------+    +-------------------------------+
 *   |          nlmsg_seq            |
 *   +-------------------------------+    struct nlmsgerr = { int error; struct nlmsghdr msg; }
 *   |          nlmsg_pid            |    followed by the request's payload unless NLM_F_CAPPED,
 *   +-------------------------------+    then NLMSGERR_ATTR_* TLVs when NLM_F_ACK_TLVS is set.
 *
 * Every decoder is bounded by a Cursor (STYLE A.4.1): a length field opens a child bounded to that
 * length, and nothing is read past it. A malformed message raises XfrmWireError naming the
 * structure and the byte offset in the datagram; nothing else escapes.
 */
import { OakleyError } from '../../util/errors';

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;

export const NlMsgType = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;
export const NlFlag = {
  REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, ECHO: 0x8,
  /** GET: ROOT | MATCH. */ DUMP: 0x300,
  /** NEW: */ REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400,
  /** ACK: */ CAPPED: 0x100, ACK_TLVS: 0x200,
} as const;
/** Extended-ack attributes (NLMSGERR_ATTR_*). */
const NLMSGERR_ATTR_MSG = 1;

export const XfrmWireErr = 'IKE_ERR_KERNEL_MALFORMED';

/** A netlink message from the kernel that cannot be decoded; `offset` is the datagram offset. */
export class XfrmWireError extends OakleyError {
  readonly structure: string;
  readonly offset: number;
  constructor(structure: string, offset: number, message: string) {
    super(XfrmWireErr, `${structure} at offset ${offset}: ${message}`, { structure, offset });
    this.name = 'XfrmWireError';
    this.structure = structure;
    this.offset = offset;
  }
}

/** Rounds up to a multiple of 4 (arithmetic, not `& ~3`: no 32-bit signed wrap for lengths >= 2^31). */
export const align4 = (n: number): number => Math.ceil(n / 4) * 4;

/**
 * A bounded view of a datagram: reads check the roof, `sub(n)` opens a child of exactly n octets.
 * Offsets in errors are datagram offsets. `bytes` copies, so values never alias the datagram.
 */
export class Cursor {
  constructor(private readonly buf: Buffer, public structure: string, private pos = 0, private readonly roof = buf.length) {}

  get offset(): number { return this.pos; }
  get remaining(): number { return this.roof - this.pos; }

  private need(n: number, what: string): number {
    if (!(n >= 0) || n > this.roof - this.pos) {
      throw new XfrmWireError(this.structure, this.pos, `${what} needs ${n} octets but only ${this.roof - this.pos} remain`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(what: string): number { return this.buf[this.need(1, what)]!; }
  u16(what: string): number { return this.buf.readUInt16LE(this.need(2, what)); }
  u16be(what: string): number { return this.buf.readUInt16BE(this.need(2, what)); }
  u32(what: string): number { return this.buf.readUInt32LE(this.need(4, what)); }
  i32(what: string): number { return this.buf.readInt32LE(this.need(4, what)); }
  u32be(what: string): number { return this.buf.readUInt32BE(this.need(4, what)); }
  u64(what: string): bigint { return this.buf.readBigUInt64LE(this.need(8, what)); }
  bytes(n: number, what: string): Buffer {
    const at = this.need(n, what);
    return Buffer.from(this.buf.subarray(at, at + n));
  }
  skip(n: number, what: string): void { this.need(n, what); }
  /** A child cursor over the next n octets (this cursor moves past them). */
  sub(n: number, structure: string): Cursor {
    const at = this.need(n, structure);
    return new Cursor(this.buf, structure, at, at + n);
  }
  /** Skips the padding to the next 4-octet boundary, tolerating its absence at the roof. */
  pad4(): void { this.pos = Math.min(this.roof, align4(this.pos)); }
  /** The child must have been consumed exactly (a struct of fixed size). */
  end(): void {
    if (this.pos !== this.roof) throw new XfrmWireError(this.structure, this.pos, `${this.roof - this.pos} unexpected trailing octets`);
  }
}

export interface NlMsgHeader {
  readonly len: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
}

/** One message of a datagram: its header and a cursor over its payload. */
export interface NlMsg {
  readonly header: NlMsgHeader;
  readonly payload: Cursor;
}

/**
 * Splits a datagram into netlink messages (NLMSG_NEXT/NLMSG_OK with every length checked).
 * @throws XfrmWireError when a length is below the header size or beyond the datagram
 */
export function splitMessages(datagram: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  const c = new Cursor(datagram, 'nlmsghdr');
  while (c.remaining > 0) {
    const start = c.offset;
    if (c.remaining < NLMSG_HDRLEN) throw new XfrmWireError('nlmsghdr', start, `${c.remaining} trailing octets are shorter than a header`);
    const len = c.u32('nlmsg_len');
    if (len < NLMSG_HDRLEN || len - 4 > c.remaining) {
      throw new XfrmWireError('nlmsghdr', start, `nlmsg_len ${len} is outside ${NLMSG_HDRLEN}..${c.remaining + 4}`);
    }
    const header: NlMsgHeader = { len, type: c.u16('nlmsg_type'), flags: c.u16('nlmsg_flags'), seq: c.u32('nlmsg_seq'), pid: c.u32('nlmsg_pid') };
    out.push({ header, payload: c.sub(len - NLMSG_HDRLEN, `message type ${header.type}`) });
    c.pad4();
  }
  return out;
}

/** Builds one request: header + fixed body + attributes (each padded to 4 octets). */
export function encodeMessage(type: number, flags: number, seq: number, body: Buffer, attrs: readonly Buffer[] = []): Buffer {
  const parts = [body, ...attrs];
  const len = NLMSG_HDRLEN + parts.reduce((n, p) => n + align4(p.length), 0);
  const out = Buffer.alloc(len);
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(0, 12);
  let at = NLMSG_HDRLEN;
  for (const p of parts) {
    p.copy(out, at);
    at += align4(p.length);
  }
  return out;
}

/** One attribute: nla_len counts header + value (not the padding). */
export function encodeAttr(type: number, value: Buffer): Buffer {
  const out = Buffer.alloc(align4(NLA_HDRLEN + value.length));
  out.writeUInt16LE(NLA_HDRLEN + value.length, 0);
  out.writeUInt16LE(type, 2);
  value.copy(out, NLA_HDRLEN);
  return out;
}

/** Attributes after the fixed body, by type (the last of a repeated type wins, as nla_parse). */
export function decodeAttrs(c: Cursor, maxAttrs = 64): Map<number, Cursor> {
  const out = new Map<number, Cursor>();
  for (let n = 0; c.remaining > 0; n++) {
    if (n >= maxAttrs) throw new XfrmWireError(c.structure, c.offset, `more than ${maxAttrs} attributes`);
    const at = c.offset;
    const len = c.u16('nla_len');
    const type = c.u16('nla_type') & 0x3fff; // NLA_F_NESTED / NLA_F_NET_BYTEORDER are flags
    if (len < NLA_HDRLEN || len - NLA_HDRLEN > c.remaining) {
      throw new XfrmWireError('nlattr', at, `nla_len ${len} is outside ${NLA_HDRLEN}..${c.remaining + NLA_HDRLEN}`);
    }
    out.set(type, c.sub(len - NLA_HDRLEN, `attribute ${type}`));
    c.pad4();
  }
  return out;
}

/** A decoded NLMSG_ERROR: error 0 is an ack; otherwise a positive errno and the kernel's text. */
export interface NlAck {
  readonly errno: number;
  readonly message?: string;
}

/**
 *   struct nlmsgerr { int error; struct nlmsghdr msg; [request payload]; [NLMSGERR_ATTR_* TLVs] }
 * The echoed request is skipped using its own length unless NLM_F_CAPPED says it was left out.
 */
export function decodeAck(m: NlMsg): NlAck {
  const c = m.payload;
  c.structure = 'nlmsgerr';
  const error = c.i32('error');
  const echoedLen = c.u32('msg.nlmsg_len');
  c.skip(NLMSG_HDRLEN - 4, 'msg');
  if (!(m.header.flags & NlFlag.CAPPED) && echoedLen > NLMSG_HDRLEN) c.skip(Math.min(align4(Math.min(echoedLen - NLMSG_HDRLEN, c.remaining)), c.remaining), 'echoed request');
  let message: string | undefined;
  if (m.header.flags & NlFlag.ACK_TLVS && c.remaining > 0) {
    const attrs = decodeAttrs(c);
    const msg = attrs.get(NLMSGERR_ATTR_MSG);
    if (msg) message = msg.bytes(msg.remaining, 'NLMSGERR_ATTR_MSG').toString('utf8').replace(/\0+$/, '');
  }
  return { errno: -error, ...(message ? { message } : {}) };
}
