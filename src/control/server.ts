/**
 * The control server: a unix socket speaking frame.ts, dispatching named commands to handlers
 * (solaris-ike.md §3.7: the door protocol's operations, error codes and privilege rules over a
 * local socket).
 *
 * Access control, in layers:
 *   1. The socket file is created with mode 0600 (umask 0177 around bind, then an explicit chmod),
 *      so only its owner (the daemon's uid) and root can connect. Put it in a directory that is
 *      not writable by others (e.g. /var/run/oakley, 0700) so it cannot be swapped.
 *   2. Peer credentials: each accepted connection's SO_PEERCRED (through the addon,
 *      src/net/sockopt.ts) must name uid 0 or the daemon's effective uid (Solaris: the door
 *      server checks the caller's credentials, solaris-ike.md §3.4/§3.7). Anyone else gets one
 *      IKE_ERR_NO_AUTH error frame and is disconnected before a request is read
 *      (`control.conn.refused_uid`), so a loosened file mode or an inherited descriptor does not
 *      open the door. Without the addon, listen() warns once and the file mode of layer 1 is the
 *      only check. The credentials are passed to handlers and `authorize` in the context.
 *   3. Each command has a required privilege (§3.4: base, modkeys for preshared keys, keymat for
 *      `write preshared`), checked against the daemon's CURRENT privilege on every request.
 *
 * A misbehaving client (oversize or garbage frame) gets one error response and is disconnected;
 * the server and other connections carry on. Handler exceptions become error responses.
 */
import fs from 'node:fs';
import net from 'node:net';

import { OakleyError } from '../util/errors';
import { nullLogger, PRIVILEGES, type Logger, type Privilege } from '../util/log';
import { Counters } from '../util/counters';
import { peerCredentials, sockoptAddon, sockoptUnavailableReason, type PeerCredentials } from '../net/sockopt';
import { ControlErr, FrameDecoder, MAX_FRAME, encodeFrame, isRequest, type ControlRequest, type ControlResponse, type RequestId } from './frame';

export interface ControlContext {
  readonly requestId: RequestId;
  readonly command: string;
  /** Effective privilege for rendering: min(daemon's current level, the level the client asked for). */
  readonly privilege: Privilege;
  /** The daemon's current level. */
  readonly daemonPrivilege: Privilege;
  readonly connectionId: number;
  /** SO_PEERCRED of the connection (absent when the addon is not loaded). */
  readonly peer?: PeerCredentials;
}

export type ControlHandler = (args: Readonly<Record<string, unknown>>, ctx: ControlContext) => Promise<unknown> | unknown;
export type ControlHandlers = Readonly<Record<string, ControlHandler>>;

/**
 * Required privilege per command (§3.4). Anything not listed needs `base`. Preshared keys need
 * `modkeys`; writing them to a file puts key bytes on disk, hence `keymat`.
 */
export const COMMAND_PRIVILEGE: Readonly<Record<string, Privilege>> = {
  'get preshared': 'modkeys',
  'add preshared': 'modkeys',
  'del preshared': 'modkeys',
  'dump preshared': 'modkeys',
  'read preshared': 'modkeys',
  'write preshared': 'keymat',
};

export interface ControlServerOptions {
  readonly path: string;
  readonly handlers: ControlHandlers;
  /** The daemon's current privilege (read on every request, since `set priv` can lower it). */
  readonly privilege: () => Privilege;
  /** Overrides/additions to COMMAND_PRIVILEGE. */
  readonly commandPrivilege?: Readonly<Record<string, Privilege>>;
  /** Socket file mode (default 0o600). */
  readonly mode?: number;
  readonly maxFrame?: number;
  /** Simultaneous connections (default 32); more are closed at once. */
  readonly maxConnections?: number;
  /**
   * uids allowed to connect, checked with SO_PEERCRED (default: 0 and the daemon's effective uid).
   * An empty list turns the check off (the file mode alone then decides, as without the addon).
   */
  readonly allowedUids?: readonly number[];
  /** Extra per-request check; throw an OakleyError (e.g. IKE_ERR_NO_AUTH) to refuse. */
  readonly authorize?: (req: ControlRequest, ctx: ControlContext) => void;
  readonly log?: Logger;
  readonly counters?: Counters;
}

interface Conn {
  readonly id: number;
  readonly socket: net.Socket;
  readonly decoder: FrameDecoder;
  readonly subscriptions: Set<string>;
  readonly peer?: PeerCredentials;
  queue: Promise<void>;
}

const rank = (p: Privilege): number => PRIVILEGES.indexOf(p);
/** How long a refused caller may keep its connection open after the refusal frame. */
const REFUSED_LINGER_MS = 2000;

export class ControlServer {
  readonly counters: Counters;
  private readonly conns = new Set<Conn>();
  /** Refused callers between their refusal frame and close (close() drops them too). */
  private readonly refused = new Set<net.Socket>();
  private nextConn = 1;
  private readonly log: Logger;
  private readonly maxFrame: number;
  /** uids SO_PEERCRED must name, or null when connections are not checked (no addon, or turned off). */
  private readonly allowedUids: ReadonlySet<number> | null;

  private constructor(private readonly server: net.Server, private readonly opts: ControlServerOptions) {
    this.log = opts.log ?? nullLogger();
    this.counters = opts.counters ?? new Counters();
    this.maxFrame = opts.maxFrame ?? MAX_FRAME;
    const uids = opts.allowedUids ?? [0, process.geteuid?.() ?? 0];
    this.allowedUids = uids.length > 0 && sockoptAddon() ? new Set(uids) : null;
    server.on('connection', (s) => this.accept(s));
    server.on('error', (err) => this.log.error('control server error', { err }));
  }

  /**
   * Creates the socket and starts listening. A stale socket file (nothing listening) is replaced;
   * a live one, or a path that is not a socket, is refused.
   * @throws OakleyError IKE_ERR_IN_USE
   */
  static async listen(opts: ControlServerOptions): Promise<ControlServer> {
    await removeStale(opts.path);
    const server = net.createServer({ allowHalfOpen: false });
    const cs = new ControlServer(server, opts);
    const mode = opts.mode ?? 0o600;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(new OakleyError(ControlErr.IN_USE, `cannot listen on ${opts.path}: ${e.message}`, undefined, { cause: e }));
      server.once('error', onError);
      // The umask closes the window between bind() creating the file and the chmod below.
      const old = process.umask(0o177);
      try {
        server.listen(opts.path, () => {
          server.removeListener('error', onError);
          try {
            fs.chmodSync(opts.path, mode);
            resolve();
          } catch (e) {
            server.close();
            reject(e);
          }
        });
      } finally {
        process.umask(old);
      }
    });
    cs.log.info('control socket listening', { path: opts.path, mode: mode.toString(8), ...(cs.allowedUids ? { uids: [...cs.allowedUids].join(',') } : {}) });
    if (!cs.allowedUids && (opts.allowedUids === undefined || opts.allowedUids.length > 0)) {
      cs.log.warn(`control socket: caller credentials cannot be checked (${sockoptUnavailableReason() ?? 'no peer credentials'}); ` +
        `only the socket file mode ${mode.toString(8)} restricts who may connect`);
    }
    return cs;
  }

  get path(): string {
    return this.opts.path;
  }

  get connections(): number {
    return this.conns.size;
  }

  /** Sends an event to every connection subscribed to it (or to `*`). */
  emit(event: string, data: unknown): void {
    let frame: Buffer;
    try {
      frame = encodeFrame({ event, data }, this.maxFrame);
    } catch (err) {
      this.counters.inc('control.event.too_large');
      this.log.warn('control event dropped', { event, err });
      return;
    }
    for (const c of this.conns) {
      if (c.subscriptions.has(event) || c.subscriptions.has('*')) c.socket.write(frame);
    }
  }

  /** Stops listening, drops every connection and removes the socket file. */
  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
    for (const s of this.refused) s.destroy();
    this.refused.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      if (fs.lstatSync(this.opts.path).isSocket()) fs.unlinkSync(this.opts.path);
    } catch {
      // already gone
    }
  }

  private accept(socket: net.Socket): void {
    if (this.conns.size >= (this.opts.maxConnections ?? 32)) {
      this.counters.inc('control.conn.refused');
      socket.destroy();
      return;
    }
    let peer: PeerCredentials | undefined;
    if (this.allowedUids) {
      const refusal = this.checkPeer(socket);
      if (typeof refusal === 'string') {
        // One error frame, then half-close. What the caller sends is read and discarded rather
        // than left unread: closing at once would make the client's first write fail with EPIPE
        // before it reads the frame, and it would report a broken pipe instead of the reason.
        // The peer's own close (or the timer) ends it; the connection never reaches dispatch.
        socket.on('error', () => undefined);
        socket.on('data', () => undefined);
        this.refused.add(socket);
        socket.on('close', () => this.refused.delete(socket));
        socket.setTimeout(REFUSED_LINGER_MS, () => socket.destroy());
        socket.end(encodeFrame({ id: null, ok: false, error: { code: ControlErr.NOT_AUTHORIZED, message: refusal } }, this.maxFrame));
        return;
      }
      peer = refusal;
    }
    const c: Conn = { id: this.nextConn++, socket, decoder: new FrameDecoder(this.maxFrame), subscriptions: new Set(), ...(peer ? { peer } : {}), queue: Promise.resolve() };
    this.conns.add(c);
    this.counters.inc('control.conn.accepted');
    socket.on('data', (chunk) => this.onData(c, chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.conns.delete(c));
  }

  /**
   * SO_PEERCRED of a new connection against allowedUids.
   * @returns the credentials, or the message to refuse the caller with (counted and logged)
   */
  private checkPeer(socket: net.Socket): PeerCredentials | string {
    let cred: PeerCredentials;
    try {
      cred = peerCredentials(socket);
    } catch (err) {
      // Fail closed: a connection whose caller cannot be identified is not served.
      this.counters.inc('control.conn.peercred_error');
      this.log.warn('control connection refused: cannot read its peer credentials', { err });
      return `Permission denied: cannot read the caller's credentials (${(err as Error).message})`;
    }
    if (this.allowedUids!.has(cred.uid)) return cred;
    this.counters.inc('control.conn.refused_uid');
    const allowed = [...this.allowedUids!].join(' or ');
    this.log.warn('control connection refused: caller uid not allowed', { uid: cred.uid, gid: cred.gid, pid: cred.pid, allowed });
    return `Permission denied: uid ${cred.uid} (pid ${cred.pid}) may not use the control socket (only uid ${allowed})`;
  }

  private onData(c: Conn, chunk: Buffer): void {
    let msgs;
    try {
      msgs = c.decoder.push(chunk);
    } catch (e) {
      // The stream can no longer be trusted: answer once, then hang up.
      this.counters.inc('control.frame.bad');
      const err = OakleyError.is(e) ? e : new OakleyError(ControlErr.BAD_FRAME, String(e));
      this.log.warn('control client sent a bad frame', { conn: c.id, err });
      c.socket.end(encodeFrame({ id: null, ok: false, error: { code: err.code, message: err.message } }, this.maxFrame));
      this.conns.delete(c);
      return;
    }
    for (const m of msgs) {
      if (!isRequest(m)) {
        this.counters.inc('control.frame.unexpected');
        continue;
      }
      // One request at a time per connection, so responses come back in order (the Solaris door
      // serializes all requests under a global lock; per-connection order is what clients see).
      c.queue = c.queue.then(() => this.handle(c, m));
    }
  }

  private async handle(c: Conn, req: ControlRequest): Promise<void> {
    const resp = await this.dispatch(c, req);
    if (c.socket.destroyed) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(resp, this.maxFrame);
    } catch (e) {
      const err = e as OakleyError;
      frame = encodeFrame({ id: req.id, ok: false, error: { code: err.code ?? ControlErr.INTERNAL, message: err.message } }, this.maxFrame);
    }
    c.socket.write(frame);
  }

  private async dispatch(c: Conn, req: ControlRequest): Promise<ControlResponse> {
    const fail = (code: string, message: string): ControlResponse => ({ id: req.id, ok: false, error: { code, message } });
    const daemonPrivilege = this.opts.privilege();
    const asked = req.privilege ?? daemonPrivilege;
    const ctx: ControlContext = {
      requestId: req.id,
      command: req.command,
      daemonPrivilege,
      privilege: rank(asked) < rank(daemonPrivilege) ? asked : daemonPrivilege,
      connectionId: c.id,
      ...(c.peer ? { peer: c.peer } : {}),
    };
    this.counters.inc('control.requests');
    if (req.command === 'subscribe') {
      const events = req.args.events;
      if (!Array.isArray(events) || !events.every((e) => typeof e === 'string')) return fail(ControlErr.BAD_ARGS, 'subscribe needs args.events: string[]');
      for (const e of events) c.subscriptions.add(e);
      return { id: req.id, ok: true, result: { subscribed: [...c.subscriptions] } };
    }
    const handler = Object.prototype.hasOwnProperty.call(this.opts.handlers, req.command) ? this.opts.handlers[req.command] : undefined;
    if (!handler) {
      this.counters.inc('control.unknown_command');
      return fail(ControlErr.UNKNOWN_COMMAND, `Unknown command '${req.command}'`);
    }
    const needed = this.opts.commandPrivilege?.[req.command] ?? COMMAND_PRIVILEGE[req.command] ?? 'base';
    if (rank(daemonPrivilege) < rank(needed)) {
      this.counters.inc('control.no_priv');
      return fail(ControlErr.NO_PRIV, `Not allowed at current privilege level ('${req.command}' needs ${needed}, daemon is at ${daemonPrivilege})`);
    }
    try {
      this.opts.authorize?.(req, ctx);
      const result = await handler(req.args, ctx);
      return { id: req.id, ok: true, result: result === undefined ? null : result };
    } catch (e) {
      this.counters.inc('control.handler_error');
      if (OakleyError.is(e)) return fail(e.code, e.message);
      this.log.error('control handler threw', { command: req.command, err: e });
      return fail(ControlErr.INTERNAL, e instanceof Error ? e.message : String(e));
    }
  }
}

/** Removes `path` if it is a socket nobody listens on. */
async function removeStale(path: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new OakleyError(ControlErr.IN_USE, `${path} exists and is not a socket; not replacing it`);
  const live = await new Promise<boolean>((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new OakleyError(ControlErr.IN_USE, `${path} is in use by a running server`);
  fs.unlinkSync(path);
}
