/**
 * A small vici client (strongSwan's Versatile IKE Control Interface) for the handshake bench:
 * enough to send commands, register for events and read both, over charon's unix socket.
 *
 * Wire format (strongSwan src/libcharon/plugins/vici/README.md):
 *
 *   packet  = u32 length (big endian, of what follows) | u8 type | [u8 nameLen | name] | message
 *   types   0 CMD_REQUEST(named)  1 CMD_RESPONSE  2 CMD_UNKNOWN  3 EVENT_REGISTER(named)
 *           4 EVENT_UNREGISTER(named)  5 EVENT_CONFIRM  6 EVENT_UNKNOWN  7 EVENT(named)
 *   message = element*
 *           1 SECTION_START name | 2 SECTION_END | 3 KEY_VALUE name u16 len value
 *           4 LIST_START name | 5 LIST_ITEM u16 len value | 6 LIST_END
 *
 * Responses carry no id: charon answers the requests of one connection in order, so a FIFO of
 * waiters matches them. Events may arrive between responses at any time.
 */
import net from 'node:net';

export type ViciValue = string | string[] | ViciSection;
export interface ViciSection { [key: string]: ViciValue }

const PacketType = { CMD_REQUEST: 0, CMD_RESPONSE: 1, CMD_UNKNOWN: 2, EVENT_REGISTER: 3, EVENT_UNREGISTER: 4, EVENT_CONFIRM: 5, EVENT_UNKNOWN: 6, EVENT: 7 } as const;
const Element = { SECTION_START: 1, SECTION_END: 2, KEY_VALUE: 3, LIST_START: 4, LIST_ITEM: 5, LIST_END: 6 } as const;
/** charon refuses larger packets (VICI_MESSAGE_SIZE_MAX 512 KiB); we never get near it. */
const MAX_PACKET = 512 * 1024;

function name8(s: string): Buffer {
  const b = Buffer.from(s);
  if (b.length > 255) throw new RangeError(`vici name longer than 255 bytes: ${s.slice(0, 40)}…`);
  return Buffer.concat([Buffer.from([b.length]), b]);
}

function value16(s: string): Buffer {
  const b = Buffer.from(s);
  if (b.length > 0xffff) throw new RangeError('vici value longer than 65535 bytes');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** Encodes a message: strings as key-values, arrays as lists, objects as sections. */
export function encodeMessage(m: ViciSection): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === 'string') parts.push(Buffer.from([Element.KEY_VALUE]), name8(k), value16(v));
    else if (Array.isArray(v)) {
      parts.push(Buffer.from([Element.LIST_START]), name8(k));
      for (const item of v) parts.push(Buffer.from([Element.LIST_ITEM]), value16(item));
      parts.push(Buffer.from([Element.LIST_END]));
    } else parts.push(Buffer.from([Element.SECTION_START]), name8(k), encodeMessage(v), Buffer.from([Element.SECTION_END]));
  }
  return Buffer.concat(parts);
}

/** Decodes a message; every length is checked against the buffer. @throws RangeError on malformed input */
export function decodeMessage(b: Buffer): ViciSection {
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > b.length) throw new RangeError(`vici message truncated at ${pos} (need ${n}, have ${b.length - pos})`);
  };
  const u8 = (): number => (need(1), b[pos++]!);
  const name = (): string => {
    const n = u8();
    need(n);
    return b.toString('utf8', pos, (pos += n));
  };
  const value = (): string => {
    need(2);
    const n = b.readUInt16BE(pos);
    pos += 2;
    need(n);
    return b.toString('utf8', pos, (pos += n));
  };
  const root: ViciSection = {};
  const stack: ViciSection[] = [root];
  while (pos < b.length) {
    const top = stack[stack.length - 1]!;
    switch (u8()) {
      case Element.SECTION_START: {
        const s: ViciSection = {};
        top[name()] = s;
        stack.push(s);
        break;
      }
      case Element.SECTION_END:
        if (stack.length === 1) throw new RangeError('vici SECTION_END without a section');
        stack.pop();
        break;
      case Element.KEY_VALUE: {
        const k = name();
        top[k] = value();
        break;
      }
      case Element.LIST_START: {
        const k = name();
        const list: string[] = [];
        for (;;) {
          const t = u8();
          if (t === Element.LIST_END) break;
          if (t !== Element.LIST_ITEM) throw new RangeError(`vici element ${t} inside a list`);
          list.push(value());
        }
        top[k] = list;
        break;
      }
      default:
        throw new RangeError(`unknown vici element type ${b[pos - 1]} at ${pos - 1}`);
    }
  }
  if (stack.length !== 1) throw new RangeError('vici message ends inside a section');
  return root;
}

interface Waiter {
  readonly resolve: (m: ViciSection) => void;
  readonly reject: (e: Error) => void;
  /** EVENT_REGISTER/UNREGISTER wait for EVENT_CONFIRM, commands for CMD_RESPONSE. */
  readonly kind: 'cmd' | 'event';
}

export class ViciClient {
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiters: Waiter[] = [];
  private closed: Error | undefined;
  /** Called for every EVENT packet: its name and message. */
  onEvent: ((name: string, m: ViciSection) => void) | undefined;

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (chunk) => this.onData(chunk));
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error('vici connection closed')));
  }

  /**
   * Connects, retrying EAGAIN for a while: charon accepts vici connections from one thread with a
   * short listen backlog, so a burst of connects (one per window lane) can overflow it.
   */
  static async connect(path: string, retries = 100): Promise<ViciClient> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise<ViciClient>((resolve, reject) => {
          const s = net.connect(path);
          s.once('connect', () => {
            s.removeAllListeners('error');
            resolve(new ViciClient(s));
          });
          s.once('error', reject);
        });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code !== 'EAGAIN' || attempt >= retries) throw new Error(`vici connect ${path}: ${err.message}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** Sends a command. @returns its response message; rejects on CMD_UNKNOWN or a closed socket */
  command(cmd: string, m: ViciSection = {}): Promise<ViciSection> {
    return this.send(PacketType.CMD_REQUEST, cmd, encodeMessage(m), 'cmd');
  }

  /** Registers for an event (child-updown, ike-updown, …). */
  async register(event: string): Promise<void> {
    await this.send(PacketType.EVENT_REGISTER, event, Buffer.alloc(0), 'event');
  }

  /** Sends a command without waiting for its response (which is still consumed in order). */
  fire(cmd: string, m: ViciSection = {}): void {
    this.command(cmd, m).catch(() => undefined);
  }

  close(): void {
    this.sock.end();
  }

  private send(type: number, name: string, body: Buffer, kind: Waiter['kind']): Promise<ViciSection> {
    if (this.closed) return Promise.reject(this.closed);
    const payload = Buffer.concat([Buffer.from([type]), name8(name), body]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(payload.length);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject, kind });
      this.sock.write(Buffer.concat([len, payload]));
    });
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (n < 1 || n > MAX_PACKET) {
        this.fail(new Error(`vici packet length ${n} out of range 1..${MAX_PACKET}`));
        this.sock.destroy();
        return;
      }
      if (this.buf.length < 4 + n) return;
      const pkt = this.buf.subarray(4, 4 + n);
      this.buf = this.buf.subarray(4 + n);
      try {
        this.onPacket(pkt);
      } catch (e) {
        this.fail(e as Error);
        this.sock.destroy();
        return;
      }
    }
  }

  private onPacket(pkt: Buffer): void {
    const type = pkt[0]!;
    switch (type) {
      case PacketType.EVENT: {
        const n = pkt[1] ?? 0;
        if (2 + n > pkt.length) throw new RangeError(`vici event name length ${n} exceeds the packet (${pkt.length})`);
        this.onEvent?.(pkt.toString('utf8', 2, 2 + n), decodeMessage(pkt.subarray(2 + n)));
        return;
      }
      case PacketType.CMD_RESPONSE:
      case PacketType.EVENT_CONFIRM: {
        const w = this.waiters.shift();
        w?.resolve(type === PacketType.CMD_RESPONSE ? decodeMessage(pkt.subarray(1)) : {});
        return;
      }
      case PacketType.CMD_UNKNOWN:
      case PacketType.EVENT_UNKNOWN:
        this.waiters.shift()?.reject(new Error(type === PacketType.CMD_UNKNOWN ? 'vici: unknown command' : 'vici: unknown event'));
        return;
      default:
        throw new RangeError(`unexpected vici packet type ${type}`);
    }
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
}
