/**
 * The datagram seam between exchanges and the network. The daemon binds UDP 500/4500 sockets
 * behind it (src/net/udp.ts, later); tests use MemoryNetwork (memory-transport.ts). No I/O here.
 */

/** An IP address (textual, IPv4 dotted or IPv6) and a UDP port. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** A received datagram. `from` is the source as this host sees it (after any NAT). */
export interface ReceivedDatagram {
  readonly data: Buffer;
  readonly from: Endpoint;
  /** The local endpoint it arrived on. */
  readonly to: Endpoint;
}

export type ReceiveHandler = (dgram: ReceivedDatagram) => void;

export interface Transport {
  /** Local endpoints this transport is bound to (e.g. 192.0.2.1:500 and 192.0.2.1:4500). */
  readonly endpoints: readonly Endpoint[];
  /**
   * Sends one datagram. Never throws for network conditions (UDP is fire-and-forget); throws a
   * coded error when `from` is not one of `endpoints`.
   * @param data the whole UDP payload (for port 4500, including the non-ESP marker)
   * @param to destination
   * @param from local source endpoint
   */
  send(data: Buffer, to: Endpoint, from: Endpoint): void;
  /** Registers a receive handler. @returns a function that unregisters it */
  onReceive(handler: ReceiveHandler): () => void;
  /** Unbinds; later sends are ignored and nothing more is delivered. */
  close(): void;
}

export function endpointKey(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}
