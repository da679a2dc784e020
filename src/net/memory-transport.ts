/**
 * An in-memory UDP network for tests: several engines, each with a MemoryTransport bound to one or
 * more address:port endpoints, exchange datagrams through a MemoryNetwork. Delivery is
 * asynchronous through the Clock (with ManualClock, `clock.flush()`/`advance()` deliver), in send
 * order unless an impairment says otherwise.
 *
 * Impairments (applied in the order added, to packets matching their predicate):
 *   drop       by predicate, or with a probability drawn from a seeded RNG
 *   duplicate  deliver N extra copies
 *   delay      deliver after extra ms
 *   reorder    hold the packet and release it right after the next packet on the network
 * and a NAPT (`addNat`): datagrams from inside hosts to the outside get their source rewritten
 * to the public address and a mapped port; datagrams to a mapped public port are rewritten back.
 */
import type { Clock } from '../util/clock';
import { Counters } from '../util/counters';
import { OakleyError } from '../util/errors';
import { SeededRng } from '../util/prng';
import { endpointKey, sameEndpoint, type Endpoint, type ReceiveHandler, type ReceivedDatagram, type Transport } from './transport';

/** A datagram on the wire, as the network sees it (after NAT on the sender's side). */
export interface Packet {
  readonly data: Buffer;
  readonly from: Endpoint;
  readonly to: Endpoint;
  /** Sequence number of the send (0, 1, …); copies share it. */
  readonly seq: number;
}

export type PacketPredicate = (p: Packet) => boolean;

export type Impairment =
  | { readonly kind: 'drop'; readonly match?: PacketPredicate; readonly probability?: number }
  | { readonly kind: 'duplicate'; readonly match?: PacketPredicate; readonly copies?: number }
  | { readonly kind: 'delay'; readonly match?: PacketPredicate; readonly ms: number }
  | { readonly kind: 'reorder'; readonly match?: PacketPredicate };

interface ImpairmentEntry {
  readonly imp: Impairment;
  /** How many more packets it may affect (Infinity = unlimited). */
  remaining: number;
}

export interface NatConfig {
  /** Addresses of the hosts behind the NAT. */
  readonly inside: readonly string[];
  /** The NAT's public address. */
  readonly publicAddress: string;
  /** First port handed out (default 40000); each new inside address:port gets the next one. */
  readonly firstPort?: number;
}

interface Nat {
  readonly cfg: NatConfig;
  nextPort: number;
  /** inside endpoint key -> public port */
  readonly out: Map<string, number>;
  /** public port -> inside endpoint */
  readonly back: Map<number, Endpoint>;
}

/** A Transport attached to a MemoryNetwork. */
export class MemoryTransport implements Transport {
  private readonly handlers: ReceiveHandler[] = [];
  private closed = false;
  /** Datagrams delivered to this transport, for assertions. */
  readonly received: ReceivedDatagram[] = [];

  constructor(private readonly net: MemoryNetwork, readonly endpoints: readonly Endpoint[]) {}

  send(data: Buffer, to: Endpoint, from: Endpoint): void {
    if (!this.endpoints.some((e) => sameEndpoint(e, from))) {
      throw new OakleyError('IKE_ERR_BAD_ARGUMENT', `${endpointKey(from)} is not bound by this transport`);
    }
    if (this.closed) return;
    this.net.submit(Buffer.from(data), from, to);
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
    this.closed = true;
    this.net.detach(this);
  }

  /** Called by the network. */
  deliver(d: ReceivedDatagram): void {
    if (this.closed) return;
    this.received.push(d);
    for (const h of [...this.handlers]) h(d);
  }
}

export interface MemoryNetworkOptions {
  readonly clock: Clock;
  /** Seed for probabilistic impairments (default 1). */
  readonly seed?: number;
  /** Base one-way latency in ms (default 0). */
  readonly latencyMs?: number;
  readonly counters?: Counters;
}

export class MemoryNetwork {
  readonly counters: Counters;
  /** Every packet submitted, in order (before impairments), for assertions. */
  readonly log: Packet[] = [];
  private readonly clock: Clock;
  private readonly rng: SeededRng;
  private readonly latencyMs: number;
  private readonly bound = new Map<string, MemoryTransport>();
  private impairments: ImpairmentEntry[] = [];
  private readonly nats: Nat[] = [];
  private held: Packet[] = [];
  private seq = 0;

  constructor(opts: MemoryNetworkOptions) {
    this.clock = opts.clock;
    this.rng = new SeededRng(opts.seed ?? 1);
    this.latencyMs = opts.latencyMs ?? 0;
    this.counters = opts.counters ?? new Counters();
  }

  /**
   * Binds endpoints and returns the transport that owns them.
   * @throws OakleyError IKE_ERR_BAD_ARGUMENT when an endpoint is already bound
   */
  attach(endpoints: readonly Endpoint[]): MemoryTransport {
    for (const e of endpoints) {
      if (this.bound.has(endpointKey(e))) throw new OakleyError('IKE_ERR_BAD_ARGUMENT', `${endpointKey(e)} already bound`);
    }
    const t = new MemoryTransport(this, endpoints);
    for (const e of endpoints) this.bound.set(endpointKey(e), t);
    return t;
  }

  /** Called by MemoryTransport.close(). */
  detach(t: MemoryTransport): void {
    for (const e of t.endpoints) if (this.bound.get(endpointKey(e)) === t) this.bound.delete(endpointKey(e));
  }

  /**
   * Adds an impairment. @param count how many matching packets it affects (default unlimited)
   * @returns a function that removes it
   */
  impair(imp: Impairment, count = Infinity): () => void {
    if (imp.kind === 'drop' && imp.probability !== undefined && !(imp.probability >= 0 && imp.probability <= 1)) {
      throw new RangeError(`drop probability ${imp.probability} not in [0, 1]`);
    }
    const entry: ImpairmentEntry = { imp, remaining: count };
    this.impairments.push(entry);
    return () => {
      this.impairments = this.impairments.filter((x) => x !== entry);
    };
  }

  dropIf(match: PacketPredicate, count = Infinity): () => void {
    return this.impair({ kind: 'drop', match }, count);
  }

  dropWithProbability(probability: number, match?: PacketPredicate): () => void {
    return this.impair({ kind: 'drop', probability, ...(match ? { match } : {}) });
  }

  duplicateIf(match: PacketPredicate, copies = 1, count = Infinity): () => void {
    return this.impair({ kind: 'duplicate', match, copies }, count);
  }

  delayIf(match: PacketPredicate, ms: number, count = Infinity): () => void {
    return this.impair({ kind: 'delay', match, ms }, count);
  }

  reorderIf(match: PacketPredicate, count = Infinity): () => void {
    return this.impair({ kind: 'reorder', match }, count);
  }

  clearImpairments(): void {
    this.impairments = [];
  }

  /**
   * Puts hosts behind a NAPT. Their datagrams to addresses outside get the source rewritten to
   * `publicAddress:<mapped port>`; replies to that port are rewritten back. Hosts inside talk to
   * each other untranslated. The public address need not be bound.
   */
  addNat(cfg: NatConfig): void {
    this.nats.push({ cfg, nextPort: cfg.firstPort ?? 40000, out: new Map(), back: new Map() });
  }

  /** Drops the NAT mappings (a NAT reboot or mapping timeout): the next packet gets a new port. */
  resetNatMappings(): void {
    for (const n of this.nats) {
      n.out.clear();
      n.back.clear();
    }
  }

  /** The public endpoint a NAT currently maps an inside endpoint to, if any. */
  natMapping(inside: Endpoint): Endpoint | undefined {
    for (const n of this.nats) {
      const port = n.out.get(endpointKey(inside));
      if (port !== undefined) return { address: n.cfg.publicAddress, port };
    }
    return undefined;
  }

  /** Called by MemoryTransport.send(). */
  submit(data: Buffer, from: Endpoint, to: Endpoint): void {
    const seq = this.seq++;
    this.counters.inc('net.sent');
    const translated = this.translate({ data, from, to, seq });
    this.log.push(translated);

    let copies = 1;
    let delay = this.latencyMs;
    let reorder = false;
    for (const entry of this.impairments) {
      const imp = entry.imp;
      if (entry.remaining <= 0 || (imp.match && !imp.match(translated))) continue;
      if (imp.kind === 'drop' && imp.probability !== undefined && this.rng.next() >= imp.probability) continue;
      entry.remaining--;
      switch (imp.kind) {
        case 'drop':
          this.counters.inc('net.dropped');
          return;
        case 'duplicate':
          copies += imp.copies ?? 1;
          this.counters.inc('net.duplicated', imp.copies ?? 1);
          break;
        case 'delay':
          delay += imp.ms;
          this.counters.inc('net.delayed');
          break;
        case 'reorder':
          reorder = true;
          break;
      }
    }
    const release = this.held;
    this.held = [];
    if (reorder) {
      // Held back: goes out right after the next packet.
      this.counters.inc('net.reordered');
      for (let i = 0; i < copies; i++) this.held.push(translated);
    } else {
      for (let i = 0; i < copies; i++) this.schedule(translated, delay);
    }
    for (const p of release) this.schedule(p, this.latencyMs);
  }

  /** Releases packets held for reordering when no further packet came. */
  releaseHeld(): void {
    const release = this.held;
    this.held = [];
    for (const p of release) this.schedule(p, this.latencyMs);
  }

  private schedule(p: Packet, delay: number): void {
    this.clock.schedule(delay, () => this.deliverNow(p));
  }

  private deliverNow(p: Packet): void {
    // Inbound NAT: a datagram to a NAT's public address is rewritten to the inside endpoint.
    let to = p.to;
    for (const n of this.nats) {
      if (to.address !== n.cfg.publicAddress) continue;
      const inside = n.back.get(to.port);
      if (!inside) {
        this.counters.inc('net.nat_no_mapping');
        return;
      }
      to = inside;
    }
    const t = this.bound.get(endpointKey(to));
    if (!t) {
      this.counters.inc('net.unreachable');
      return;
    }
    this.counters.inc('net.delivered');
    t.deliver({ data: Buffer.from(p.data), from: p.from, to });
  }

  /** Outbound NAT: rewrite the source of datagrams leaving a NAT. */
  private translate(p: Packet): Packet {
    for (const n of this.nats) {
      if (!n.cfg.inside.includes(p.from.address) || n.cfg.inside.includes(p.to.address)) continue;
      const k = endpointKey(p.from);
      let port = n.out.get(k);
      if (port === undefined) {
        port = n.nextPort++;
        n.out.set(k, port);
        n.back.set(port, p.from);
        this.counters.inc('net.nat_mappings');
      }
      return { ...p, from: { address: n.cfg.publicAddress, port } };
    }
    return p;
  }
}
