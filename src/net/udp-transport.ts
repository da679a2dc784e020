/**
 * The real datagram transport: one node:dgram socket per (listen address, port) for the IKE
 * port (500) and the NAT-T port (4500), behind the Transport seam (transport.ts).
 *
 * - `to` of a received datagram is the local endpoint of the socket it arrived on. A wildcard
 *   listen address (0.0.0.0 / ::) therefore reports the wildcard, not the interface address;
 *   the daemon should listen on explicit addresses (Solaris in.iked binds per interface).
 * - Datagrams larger than `maxDatagram` are dropped and counted (`udp.rx.oversize`).
 * - send() never throws for network conditions: errors are counted (`udp.tx.error`) and logged.
 *   It throws a coded error only when `from` is not bound here (the Transport contract).
 * - `udpEncap` (the daemon sets it with --kernel xfrm): the NAT-T sockets get UDP_ENCAP_ESPINUDP
 *   (sockopt.ts) so that the kernel's XFRM receives ESP-in-UDP on the NAT-T port. The kernel then
 *   eats NAT-keepalives and ESP itself and delivers IKE with its non-ESP marker still in front,
 *   exactly what arrives without the option, so nothing here or in the engine's NAT-T framing
 *   changes (the engine's `rx.natt_keepalive` / `rx.esp_on_ike_port` counters stay at 0 then).
 * - Datagrams the kernel dropped before we read them (receive buffer full: a flood, or the event
 *   loop busy) are counted too (`udp.rx.kernel_drops`): once a second the `drops` column of
 *   /proc/self/net/udp{,6} for our sockets is read and the increase added (Linux only).
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';

import { Counters } from '../util/counters';
import { OakleyError } from '../util/errors';
import { nullLogger, type Logger } from '../util/log';
import { setUdpEncap, udpEncap } from './sockopt';
import { endpointKey, sameEndpoint, type Endpoint, type ReceiveHandler, type ReceivedDatagram, type Transport } from './transport';

export interface UdpTransportOptions {
  /** Literal IPv4/IPv6 addresses to bind (`--listen`). */
  readonly addresses: readonly string[];
  /** IKE port (default 500; 0 = ephemeral, for tests). */
  readonly port?: number;
  /** NAT-T port (default 4500; 0 = ephemeral; null = do not bind a NAT-T socket). */
  readonly natPort?: number | null;
  /** Largest datagram delivered (default 65535); larger ones are dropped and counted. */
  readonly maxDatagram?: number;
  /**
   * Set UDP_ENCAP_ESPINUDP on the NAT-T sockets (Linux kernel IPsec: ESP-in-UDP to XFRM). Needs
   * the addon; open() fails with IKE_ERR_NATIVE_UNAVAILABLE / IKE_ERR_SOCKOPT when it cannot be set.
   */
  readonly udpEncap?: boolean;
  /**
   * SO_RCVBUF asked for on every socket (default RECV_BUFFER_BYTES; 0 = the system default). The
   * kernel caps it at net.core.rmem_max. A flood arrives in bursts; the default ~208 KB holds about
   * 10 ms of 20,000 MM1/s, so a short stall of the event loop let the kernel drop 6-11 % of a
   * spoofed flood (and real peers' packets with it); 4 MB brought that to ~1 % (issue 9).
   */
  readonly recvBufferSize?: number;
  readonly log?: Logger;
  readonly counters?: Counters;
}

interface Bound {
  readonly socket: dgram.Socket;
  readonly local: Endpoint;
  /** The NAT-T socket of its address. */
  readonly natT: boolean;
}

export class UdpTransport implements Transport {
  readonly counters: Counters;
  private readonly handlers: ReceiveHandler[] = [];
  private closed = false;
  private dropsSeen = 0;
  private readonly dropTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly bound: readonly Bound[],
    private readonly maxDatagram: number,
    private readonly log: Logger,
    counters: Counters,
  ) {
    this.counters = counters;
    for (const b of bound) {
      b.socket.on('message', (msg, rinfo) => this.onMessage(b, msg, rinfo));
      // A socket error after bind (ICMP-driven errors on some platforms) must not crash the daemon.
      b.socket.on('error', (err) => {
        this.counters.inc('udp.socket.error');
        this.log.warn('udp socket error', { local: endpointKey(b.local), err });
      });
    }
    if (this.kernelDrops() !== undefined) {
      this.dropTimer = setInterval(() => this.sampleKernelDrops(), 1000);
      this.dropTimer.unref();
    }
  }

  /**
   * Datagrams the kernel dropped at our sockets since they were bound (the `drops` column of
   * /proc/self/net/udp and udp6). @returns undefined when that cannot be read (not Linux)
   */
  kernelDrops(): number | undefined {
    const locals = new Set(this.bound.map((b) => procNetLocal(b.local)));
    let found = false;
    let drops = 0;
    for (const file of ['/proc/self/net/udp', '/proc/self/net/udp6']) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      const r = procNetUdpDrops(text, locals);
      found ||= r.matched > 0;
      drops += r.drops;
    }
    return found ? drops : undefined;
  }

  /** Adds the kernel's drops since the last look to `udp.rx.kernel_drops`. */
  sampleKernelDrops(): void {
    if (this.closed) return;
    const now = this.kernelDrops();
    if (now === undefined || now <= this.dropsSeen) return;
    this.counters.inc('udp.rx.kernel_drops', now - this.dropsSeen);
    this.dropsSeen = now;
  }

  /**
   * Binds every address on the IKE port and (unless natPort is null) the NAT-T port.
   * @returns the transport once every socket is bound
   * @throws OakleyError IKE_ERR_BAD_ARGUMENT for a non-literal address, IKE_ERR_BIND when a bind
   *   fails, IKE_ERR_NATIVE_UNAVAILABLE / IKE_ERR_SOCKOPT when `udpEncap` cannot be set (sockets
   *   already bound are closed again)
   */
  static async open(opts: UdpTransportOptions): Promise<UdpTransport> {
    const log = opts.log ?? nullLogger();
    const counters = opts.counters ?? new Counters();
    const ports = [opts.port ?? 500];
    if (opts.natPort !== null) ports.push(opts.natPort ?? 4500);
    if (opts.addresses.length === 0) throw new OakleyError('IKE_ERR_BAD_ARGUMENT', 'no listen address given');
    for (const a of opts.addresses) {
      if (isIP(a) === 0) throw new OakleyError('IKE_ERR_BAD_ARGUMENT', `listen address '${a}' is not a literal IP address`);
    }
    const bound: Bound[] = [];
    try {
      for (const address of opts.addresses) {
        for (const [i, port] of ports.entries()) {
          const b = await bindOne(address, port, i === 1, opts.recvBufferSize ?? RECV_BUFFER_BYTES);
          bound.push(b);
          if (b.natT && opts.udpEncap) {
            setUdpEncap(b.socket);
            log.debug('UDP_ENCAP_ESPINUDP set on the NAT-T socket', { local: endpointKey(b.local) });
          }
        }
      }
    } catch (e) {
      for (const b of bound) b.socket.close();
      throw e;
    }
    return new UdpTransport(bound, opts.maxDatagram ?? 65535, log, counters);
  }

  get endpoints(): readonly Endpoint[] {
    return this.bound.map((b) => b.local);
  }

  /**
   * The UDP_ENCAP type the kernel reports for the socket bound to `local` (0: none; 2:
   * UDP_ENCAP_ESPINUDP). For checks and tests. @throws like sockopt.udpEncap, or
   * IKE_ERR_BAD_ARGUMENT when `local` is not bound here
   */
  udpEncapOf(local: Endpoint): number {
    const b = this.bound.find((x) => sameEndpoint(x.local, local));
    if (!b) throw new OakleyError('IKE_ERR_BAD_ARGUMENT', `${endpointKey(local)} is not bound by this transport`);
    return udpEncap(b.socket);
  }

  /** SO_RCVBUF of the socket bound to `local`, as the kernel reports it (Linux: twice what it granted). */
  recvBufferOf(local: Endpoint): number {
    const b = this.bound.find((x) => sameEndpoint(x.local, local));
    if (!b) throw new OakleyError('IKE_ERR_BAD_ARGUMENT', `${endpointKey(local)} is not bound by this transport`);
    return b.socket.getRecvBufferSize();
  }

  send(data: Buffer, to: Endpoint, from: Endpoint): void {
    const b = this.bound.find((x) => sameEndpoint(x.local, from));
    if (!b) throw new OakleyError('IKE_ERR_BAD_ARGUMENT', `${endpointKey(from)} is not bound by this transport`);
    if (this.closed) return;
    const fail = (err: unknown): void => {
      this.counters.inc('udp.tx.error');
      this.log.warn('udp send failed', { from: endpointKey(from), to: endpointKey(to), err });
    };
    try {
      b.socket.send(data, to.port, to.address, (err) => {
        if (err) fail(err);
        else this.counters.inc('udp.tx.packets');
      });
    } catch (e) {
      // dgram throws synchronously for bad arguments (port out of range, closed socket).
      fail(e);
    }
  }

  onReceive(handler: ReceiveHandler): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  close(): void {
    if (this.closed) return;
    this.sampleKernelDrops();
    this.closed = true;
    if (this.dropTimer) clearInterval(this.dropTimer);
    for (const b of this.bound) {
      try {
        b.socket.close();
      } catch {
        // already closed
      }
    }
  }

  private onMessage(b: Bound, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    if (msg.length > this.maxDatagram) {
      this.counters.inc('udp.rx.oversize');
      this.log.debug('udp datagram dropped: too large', { local: endpointKey(b.local), size: msg.length, max: this.maxDatagram });
      return;
    }
    this.counters.inc('udp.rx.packets');
    const d: ReceivedDatagram = { data: msg, from: { address: rinfo.address, port: rinfo.port }, to: b.local };
    for (const h of [...this.handlers]) {
      try {
        h(d);
      } catch (err) {
        // A handler bug must not stop delivery to the others or kill the socket.
        this.counters.inc('udp.rx.handler_error');
        this.log.error('udp receive handler threw', { local: endpointKey(b.local), err });
      }
    }
  }
}

/** Receive buffer asked for by default (see UdpTransportOptions.recvBufferSize). */
export const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

function bindOne(address: string, port: number, natT: boolean, recvBufferSize: number): Promise<Bound> {
  const type = isIP(address) === 6 ? 'udp6' : 'udp4';
  // ipv6Only: an IPv6 socket must not also grab the IPv4 port (we bind IPv4 separately).
  const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6', ...(recvBufferSize > 0 ? { recvBufferSize } : {}) });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(new OakleyError('IKE_ERR_BIND', `cannot bind ${endpointKey({ address, port })}: ${err.message}`, undefined, { cause: err }));
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.removeListener('error', onError);
      const a = socket.address();
      resolve({ socket, local: { address, port: a.port }, natT });
    });
  });
}

/**
 * An endpoint as /proc/net/udp{,6} print a local address: every 32-bit word of the address in host
 * byte order as 8 hex digits, a colon, the port as 4 hex digits (upper case).
 */
export function procNetLocal(e: Endpoint): string {
  const v6 = isIP(e.address) === 6;
  const bytes = v6 ? ipv6Bytes(e.address) : Buffer.from(e.address.split('.').map(Number));
  let hex = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const w = bytes.readUInt32BE(i);
    const host = Buffer.alloc(4);
    if (os.endianness() === 'LE') host.writeUInt32LE(w);
    else host.writeUInt32BE(w);
    hex += host.toString('hex');
  }
  return `${hex.toUpperCase()}:${e.port.toString(16).toUpperCase().padStart(4, '0')}`;
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const words = (s: string | undefined): number[] => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, 2 * i));
  return b;
}

/** Sums the `drops` column (the 13th) of the /proc/net/udp rows whose local address is in `locals`. */
export function procNetUdpDrops(text: string, locals: ReadonlySet<string>): { drops: number; matched: number } {
  let drops = 0;
  let matched = 0;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13 || !locals.has(f[1]!)) continue;
    matched++;
    drops += Number(f[12]) || 0;
  }
  return { drops, matched };
}
