/**
 * Control-channel framing (STYLE A.7), shared by the daemon's control server and tools/ikeadm so
 * the two cannot drift.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                  Length (bytes of JSON, big-endian)           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   ~                 UTF-8 JSON object (Length bytes)              ~
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Messages:
 *   request   {id, command, args, privilege?}         client -> server
 *   response  {id, ok: true, result} | {id, ok: false, error: {code, message}}
 *   event     {event, data}                           server -> subscribed client
 *
 * The length is checked against the maximum BEFORE anything is buffered, so a hostile peer
 * cannot make either side allocate more than maxFrame + 4 bytes.
 */
import { OakleyError } from '../util/errors';
import { PRIVILEGES, type Privilege } from '../util/log';

/** Default maximum JSON body size: 1 MiB. */
export const MAX_FRAME = 1024 * 1024;

export const ControlErr = {
  /** A frame (sent or received) is larger than the maximum. */
  FRAME_TOO_LARGE: 'IKE_ERR_FRAME_TOO_LARGE',
  /** A frame is not UTF-8 JSON, or not a well-formed message. */
  BAD_FRAME: 'IKE_ERR_BAD_FRAME',
  UNKNOWN_COMMAND: 'IKE_ERR_UNKNOWN_CMD',
  /** Not allowed at the daemon's current privilege level (§3.4). */
  NO_PRIV: 'IKE_ERR_NO_PRIV',
  NOT_AUTHORIZED: 'IKE_ERR_NO_AUTH',
  BAD_ARGS: 'IKE_ERR_DATA_INVALID',
  INTERNAL: 'IKE_ERR_SYS_ERR',
  /** Usage errors found by ikeadm itself, before anything is sent. */
  USAGE: 'IKE_ERR_USAGE',
  /** The control socket path is in use by a live server, or is not a socket. */
  IN_USE: 'IKE_ERR_IN_USE',
  CONNECT: 'IKE_ERR_CONNECT',
  CLOSED: 'IKE_ERR_CLOSED',
} as const;

export type RequestId = number | string;

export interface ControlRequest {
  readonly id: RequestId;
  readonly command: string;
  readonly args: Readonly<Record<string, unknown>>;
  /** The level the client wants to operate at; the server uses min(this, daemon level). */
  readonly privilege?: Privilege;
}

export interface ControlErrorBody {
  readonly code: string;
  readonly message: string;
}

export type ControlResponse =
  | { readonly id: RequestId | null; readonly ok: true; readonly result: unknown }
  | { readonly id: RequestId | null; readonly ok: false; readonly error: ControlErrorBody };

export interface ControlEvent {
  readonly event: string;
  readonly data: unknown;
}

export type ControlMessage = ControlRequest | ControlResponse | ControlEvent;

/**
 * Encodes one message as a frame.
 * @throws OakleyError IKE_ERR_FRAME_TOO_LARGE when the JSON exceeds maxFrame
 */
export function encodeFrame(msg: ControlMessage, maxFrame = MAX_FRAME): Buffer {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  if (body.length > maxFrame) {
    throw new OakleyError(ControlErr.FRAME_TOO_LARGE, `control frame of ${body.length} bytes exceeds the maximum of ${maxFrame}`);
  }
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Streaming decoder: feed it whatever the socket gives (partial frames, several frames at once);
 * it returns the complete messages. After an error the decoder is poisoned (every later push
 * throws) because the stream position can no longer be trusted; the caller closes the connection.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: OakleyError | undefined;

  constructor(private readonly maxFrame = MAX_FRAME) {}

  /**
   * @returns the messages completed by this chunk, in order
   * @throws OakleyError IKE_ERR_FRAME_TOO_LARGE or IKE_ERR_BAD_FRAME
   */
  push(chunk: Buffer): ControlMessage[] {
    if (this.failed) throw this.failed;
    if (chunk.length) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: ControlMessage[] = [];
    try {
      for (;;) {
        if (this.buffered < 4) break;
        const head = this.peek(4);
        const len = head.readUInt32BE(0);
        if (len > this.maxFrame) {
          throw new OakleyError(ControlErr.FRAME_TOO_LARGE, `control frame of ${len} bytes exceeds the maximum of ${this.maxFrame}`);
        }
        if (this.buffered < 4 + len) break;
        const frame = this.take(4 + len).subarray(4);
        out.push(parseMessage(frame));
      }
    } catch (e) {
      this.failed = OakleyError.is(e) ? e : new OakleyError(ControlErr.BAD_FRAME, String(e));
      this.chunks = [];
      this.buffered = 0;
      throw this.failed;
    }
    return out;
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return frame;
  }
}

function bad(msg: string): OakleyError {
  return new OakleyError(ControlErr.BAD_FRAME, msg);
}

function isId(v: unknown): v is RequestId {
  return (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && v.length <= 64);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses and shape-checks one frame body.
 * @throws OakleyError IKE_ERR_BAD_FRAME
 */
export function parseMessage(body: Buffer): ControlMessage {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw bad('control frame is not valid UTF-8');
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('control frame is not valid JSON');
  }
  if (!isObject(v)) throw bad('control frame is not a JSON object');
  if ('command' in v) {
    if (!isId(v.id)) throw bad('request id must be an integer or a short string');
    if (typeof v.command !== 'string' || v.command.length === 0 || v.command.length > 64) throw bad('request command must be a non-empty string');
    const args = v.args === undefined ? {} : v.args;
    if (!isObject(args)) throw bad('request args must be an object');
    if (v.privilege !== undefined && !(PRIVILEGES as readonly unknown[]).includes(v.privilege)) throw bad('request privilege must be base, modkeys or keymat');
    return { id: v.id, command: v.command, args, ...(v.privilege !== undefined ? { privilege: v.privilege as Privilege } : {}) };
  }
  if ('ok' in v) {
    if (!(v.id === null || isId(v.id))) throw bad('response id must be an integer, a short string or null');
    if (v.ok === true) return { id: v.id, ok: true, result: v.result };
    if (v.ok !== false) throw bad('response ok must be a boolean');
    const e = v.error;
    if (!isObject(e) || typeof e.code !== 'string' || typeof e.message !== 'string') throw bad('error response needs error{code, message}');
    return { id: v.id, ok: false, error: { code: e.code, message: e.message } };
  }
  if ('event' in v) {
    if (typeof v.event !== 'string') throw bad('event name must be a string');
    return { event: v.event, data: v.data };
  }
  throw bad('control frame is neither a request, a response nor an event');
}

export function isRequest(m: ControlMessage): m is ControlRequest {
  return 'command' in m;
}

export function isResponse(m: ControlMessage): m is ControlResponse {
  return 'ok' in m;
}

export function isEvent(m: ControlMessage): m is ControlEvent {
  return 'event' in m;
}
