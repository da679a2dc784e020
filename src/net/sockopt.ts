/**
 * Socket options node does not expose, through the addon (native/src/sockopt.cc):
 *
 *   UDP_ENCAP (SOL_UDP 100) = UDP_ENCAP_ESPINUDP (2) on the NAT-T socket, so that with the Linux
 *     kernel's IPsec (--kernel xfrm) ESP-in-UDP (RFC 3948) arriving on port 4500 reaches XFRM.
 *     Kernel semantics (net/ipv4/xfrm4_input.c, __xfrm4_udp_encap_rcv; verified by
 *     test/unit/net/sockopt.spec.ts): a datagram of one 0xff byte (NAT-keepalive) is eaten; one
 *     longer than an ESP header whose first 4 bytes are non-zero is ESP and goes to XFRM; every
 *     other datagram, IKE with its 4-byte zero non-ESP marker included, is delivered to the socket
 *     UNCHANGED. The marker is not stripped, so the transport and the engine's NAT-T framing work
 *     the same with or without the option.
 *   SO_PEERCRED of an accepted unix-socket connection: who connected to the control socket.
 *
 * The only place that reaches into node's socket internals for the descriptor is socketFd().
 * The addon is optional: {@link sockoptAddon} returns null (and says why) when it cannot load.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';

import { addonPath } from '../crypto/native/addon';
import { OakleyError } from '../util/errors';

/** linux/udp.h */
export const UDP_ENCAP_ESPINUDP = 2;

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** What native/src/sockopt.cc exports. */
export interface SockoptAddon {
  setUdpEncap(fd: number, type: number): void;
  udpEncap(fd: number): number;
  peerCredentials(fd: number): PeerCredentials;
}

let loaded: { addon: SockoptAddon | null; error: string | null } | undefined;

/** The addon's socket-option functions, or null when the addon (or this part of it) is missing. Cached. */
export function sockoptAddon(): SockoptAddon | null {
  if (!loaded) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const a = require(addonPath()) as Partial<SockoptAddon>;
      if (typeof a.setUdpEncap !== 'function' || typeof a.udpEncap !== 'function' || typeof a.peerCredentials !== 'function') {
        throw new Error('the addon has no socket-option functions (rebuild it: npm run build:native)');
      }
      loaded = { addon: a as SockoptAddon, error: null };
    } catch (e) {
      loaded = { addon: null, error: (e as Error).message };
    }
  }
  return loaded.addon;
}

/** Why {@link sockoptAddon} is null (null when it loaded). */
export function sockoptUnavailableReason(): string | null {
  sockoptAddon();
  return loaded?.error ?? null;
}

/**
 * The file descriptor under a bound dgram socket or a connected net socket (Linux/Unix only).
 *
 * Node has no public API for it. A dgram socket keeps its UDPWrap in the state object under the
 * symbol `Symbol('state symbol')` (lib/dgram.js kStateSymbol); `socket._handle` reaches the same
 * handle but is deprecated for dgram (DEP0112) and prints a warning, so it is only the fallback.
 * A net.Socket's `_handle` (a Pipe/TCP wrap) is not deprecated. Both wraps expose `fd` (-1 on
 * Windows or before bind/connect).
 * @throws OakleyError IKE_ERR_SOCKOPT when no descriptor can be found
 */
export function socketFd(socket: dgram.Socket | net.Socket): number {
  type Handle = { fd?: unknown } | null | undefined;
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  let handle: Handle;
  if (state) handle = (socket as unknown as Record<symbol, { handle?: Handle } | undefined>)[state]?.handle;
  handle ??= (socket as unknown as { _handle?: Handle })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new OakleyError('IKE_ERR_SOCKOPT', 'the socket has no file descriptor (not bound or connected, or not a Unix platform)');
  return fd;
}

/**
 * Sets UDP_ENCAP_ESPINUDP on a bound dgram socket.
 * @throws OakleyError IKE_ERR_NATIVE_UNAVAILABLE without the addon; IKE_ERR_SOCKOPT when the
 *   kernel refuses (e.g. built without CONFIG_XFRM), with detail.errno
 */
export function setUdpEncap(socket: dgram.Socket): void {
  onFd(socket, (a, fd) => a.setUdpEncap(fd, UDP_ENCAP_ESPINUDP));
}

/** The UDP_ENCAP type of a bound dgram socket (0: none). @throws like {@link setUdpEncap} */
export function udpEncap(socket: dgram.Socket): number {
  return onFd(socket, (a, fd) => a.udpEncap(fd));
}

/** SO_PEERCRED of a connected unix socket. @throws like {@link setUdpEncap} */
export function peerCredentials(socket: net.Socket): PeerCredentials {
  return onFd(socket, (a, fd) => a.peerCredentials(fd));
}

/** Runs one addon call on the socket's descriptor; addon errors become IKE_ERR_SOCKOPT with detail.errno. */
function onFd<T>(socket: dgram.Socket | net.Socket, call: (a: SockoptAddon, fd: number) => T): T {
  const a = need();
  const fd = socketFd(socket);
  try {
    return call(a, fd);
  } catch (e) {
    throw coded(e);
  }
}

function need(): SockoptAddon {
  const a = sockoptAddon();
  if (!a) throw new OakleyError('IKE_ERR_NATIVE_UNAVAILABLE', `the native addon is needed for socket options: ${sockoptUnavailableReason()}`);
  return a;
}

function coded(e: unknown): OakleyError {
  if (OakleyError.is(e)) return e;
  const err = e as Error & { errno?: number };
  return new OakleyError('IKE_ERR_SOCKOPT', err.message, err.errno !== undefined ? { errno: err.errno } : undefined, { cause: e });
}
