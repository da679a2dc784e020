/**
 * Control-socket client used by tools/ikeadm (and tests): one connection, requests matched to
 * responses by id, events delivered to a callback. Uses the same frame codec as the server.
 */
import net from 'node:net';

import { OakleyError } from '../util/errors';
import type { Privilege } from '../util/log';
import { ControlErr, FrameDecoder, MAX_FRAME, encodeFrame, isEvent, isResponse, type ControlEvent, type ControlResponse } from './frame';

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number | string, (r: ControlResponse) => void>();
  private readonly decoder: FrameDecoder;
  private closedError: OakleyError | undefined;
  onEvent: ((e: ControlEvent) => void) | undefined;

  private constructor(private readonly socket: net.Socket, private readonly maxFrame: number) {
    this.decoder = new FrameDecoder(maxFrame);
    socket.on('data', (chunk) => {
      let msgs;
      try {
        msgs = this.decoder.push(chunk);
      } catch (e) {
        this.fail(e as OakleyError);
        socket.destroy();
        return;
      }
      for (const m of msgs) {
        if (isResponse(m)) {
          if (m.id === null) {
            // The server rejected our stream; nothing can be matched any more.
            this.fail(new OakleyError(m.ok ? ControlErr.BAD_FRAME : m.error.code, m.ok ? 'unexpected response' : m.error.message));
            continue;
          }
          const cb = this.pending.get(m.id);
          if (cb) {
            this.pending.delete(m.id);
            cb(m);
          }
        } else if (isEvent(m)) this.onEvent?.(m);
      }
    });
    socket.on('error', (e) => this.fail(new OakleyError(ControlErr.CLOSED, e.message)));
    socket.on('close', () => this.fail(new OakleyError(ControlErr.CLOSED, 'control connection closed')));
  }

  /** @throws OakleyError IKE_ERR_CONNECT when nothing listens at `path` */
  static connect(path: string, maxFrame = MAX_FRAME): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(new ControlClient(s, maxFrame));
      });
      s.once('error', (e) => reject(new OakleyError(ControlErr.CONNECT, `cannot connect to ${path}: ${e.message}`)));
    });
  }

  /** Sends one request. @returns the response (ok or not); rejects only if the connection fails */
  request(command: string, args: Record<string, unknown> = {}, privilege?: Privilege): Promise<ControlResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const frame = encodeFrame({ id, command, args, ...(privilege ? { privilege } : {}) }, this.maxFrame);
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) => resolve(r));
      this.rejecters.set(id, reject);
      this.socket.write(frame);
    }).finally(() => this.rejecters.delete(id)) as Promise<ControlResponse>;
  }

  close(): void {
    this.socket.end();
  }

  private readonly rejecters = new Map<number | string, (e: Error) => void>();

  private fail(e: OakleyError): void {
    if (!this.closedError) this.closedError = e;
    for (const [id, rej] of this.rejecters) {
      this.pending.delete(id);
      rej(e);
    }
    this.rejecters.clear();
  }
}
