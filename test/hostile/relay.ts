/**
 * A UDP impairment relay for IKE (issue 9, "hostile networks"): real dgram sockets, forwarding
 * between an initiator and a responder while dropping, duplicating, delaying and reordering
 * datagrams, every decision drawn from a seeded PRNG (src/util/prng.ts), every action counted.
 *
 * It behaves like a NAT with port forwards, which is what a userspace proxy is anyway:
 *
 *   client (Oakley A)                relay                               target (B)
 *   A:500  ---->  listen L1 (e.g. X:500)  -- session socket S1 (U:e1) -->  B:500
 *   A:4500 ---->  listen L2 (e.g. X:4500) -- session socket S2 (U:e2) -->  B:4500
 *          <----  (replies to S_n leave from L_n, back to the client source that opened S_n)
 *
 * One session socket per (listen socket, client source) pair, created on the first datagram and
 * kept for the relay's life, so both directions stay on a consistent 5-tuple: A sees the peer at
 * X, B sees it at U:eN. The address/port rewrite makes both ends detect NAT (RFC 3947 NAT-D) and
 * float to the NAT-T port; that second flow is why the relay forwards both IKE ports. Payloads
 * are never touched (the non-ESP marker travels through unchanged), so the listen port a client
 * floats to must forward to the target's NAT-T port.
 *
 * Impairment of one datagram (per direction, one PRNG per direction seeded from `seed`):
 *   drop with probability `loss`; otherwise send 1 copy, or 2 with probability `duplicate`; each
 *   copy waits a uniform delay in `delayMs`, plus `reorderMs` with probability `reorder` (later
 *   datagrams then overtake it). "reordered" counts copies delivered after a datagram of the same
 *   direction that arrived later. The decision stream is fixed by the seed; which datagram meets
 *   which decision follows arrival order, which the daemons' timing decides.
 *
 * Run standalone (inside a network namespace, for the strongSwan interop test):
 *   node relay.js '<RelayConfig JSON>'
 * prints one JSON line `{"ready":…}`, then answers stdin lines `stats` (a JSON RelayStats line) and
 * `profile <ImpairmentProfile JSON>`; exits on stdin end or SIGTERM after a final stats line.
 */
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import readline from 'node:readline';

import { SeededRng } from '../../src/util/prng';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface ImpairmentProfile {
  /** Probability of dropping a datagram, 0..1. */
  readonly loss: number;
  /** Probability of sending a datagram twice (when not dropped). */
  readonly duplicate: number;
  /** Probability of holding one copy back by `reorderMs` more. */
  readonly reorder: number;
  /** Base delay of every copy, uniform in [min, max] ms. */
  readonly delayMs: readonly [number, number];
  /** Extra delay of a held-back copy, uniform in [min, max] ms. */
  readonly reorderMs: readonly [number, number];
}

export const NO_IMPAIRMENT: ImpairmentProfile = Object.freeze<ImpairmentProfile>({ loss: 0, duplicate: 0, reorder: 0, delayMs: [0, 0], reorderMs: [0, 0] });

export interface RelayForward {
  /** Name in the stats, e.g. "ike" or "nat-t". */
  readonly name: string;
  /** Where clients send (the address their rule names as the peer). */
  readonly listen: Endpoint;
  /** Where the relay forwards to. */
  readonly target: Endpoint;
  /** Local address of the session sockets facing the target (port chosen by the system). */
  readonly upstreamAddress: string;
  /**
   * 'source' (default): one session socket per client source, as a NAT does. 'ike-sa': one per
   * client source and IKE initiator cookie, so each IKE SA reaches the target from its own port
   * (a NAT that maps per flow). strongSwan needs this to keep many IKEv1 SAs with one peer
   * apart: a new Main Mode from the same address:port and IDs counts as a reauthentication there,
   * which adopts the older SA's CHILD_SAs and deletes the older IKE_SA 10 s later.
   */
  readonly sessionPer?: 'source' | 'ike-sa';
}

export interface RelayConfig {
  readonly seed: number;
  readonly forwards: readonly RelayForward[];
  readonly profile: ImpairmentProfile;
  /**
   * When set, one line per datagram and per delivered copy is appended to this file: time (ms
   * since open), direction, forward, session port, ISAKMP cookies / exchange type / message ID /
   * flags, length, and the decision (drop, dup, hold, deliver). For following one cookie pair.
   */
  readonly trace?: string;
  /**
   * Towards the target only: drop (count as `stale`) a delayed copy of an IKE SA's datagram when a
   * different, later datagram of the same IKE SA has already been delivered to the target. For a
   * target that cannot survive stale messages: strongSwan 5.9's IKEv1 responder recognises only a
   * repeat of the last request, so an MM1 copy arriving after MM3 is parsed as the expected MM5
   * ("IDii payload missing") and the half-open IKE_SA is destroyed, silently for the initiator.
   * Loss, duplicates, reordering between IKE SAs and within one exchange step stay as they are.
   */
  readonly dropStaleToTarget?: boolean;
}

/** What happened in one direction (client->target "out", target->client "back"). */
export interface DirectionStats {
  received: number;
  dropped: number;
  duplicated: number;
  /** Copies held back by `reorderMs`. */
  heldBack: number;
  /** Copies delivered after a datagram of this direction that arrived later. */
  reordered: number;
  /** Copies put on the wire (received - dropped + duplicated - stale, once all timers ran). */
  delivered: number;
  /** Datagrams whose bytes equal an earlier datagram of this direction: the endpoints' retransmissions and replayed responses. */
  repeats: number;
  /** NAT-T framed (non-ESP marker) and NAT-T keepalive datagrams received. */
  natT: number;
  keepalives: number;
  /** Send errors (e.g. a session socket closed under a pending timer). */
  sendErrors: number;
  /** Copies dropped because a later datagram of their IKE SA was delivered first (`dropStaleToTarget`). */
  stale: number;
}

export interface RelayStats {
  readonly out: DirectionStats;
  readonly back: DirectionStats;
  readonly sessions: number;
  readonly perForward: Readonly<Record<string, { out: number; back: number }>>;
}

const emptyDirection = (): DirectionStats => ({
  received: 0, dropped: 0, duplicated: 0, heldBack: 0, reordered: 0, delivered: 0, repeats: 0, natT: 0, keepalives: 0, sendErrors: 0, stale: 0,
});

interface Session {
  readonly client: Endpoint;
  readonly socket: dgram.Socket;
}

interface Listener {
  readonly forward: RelayForward;
  readonly socket: dgram.Socket;
  /** Session sockets by client source "address:port" (a promise while binding, so a burst from a new source shares one). */
  readonly sessions: Map<string, Promise<Session>>;
}

interface Direction {
  readonly stats: DirectionStats;
  readonly rng: SeededRng;
  /** Arrival sequence numbers: next to assign, highest delivered. */
  nextSeq: number;
  maxDelivered: number;
  /** Digests of every datagram seen, for `repeats`. */
  readonly seen: Set<string>;
  /** Drop copies overtaken by a later datagram of their IKE SA (`dropStaleToTarget`). */
  readonly dropStale: boolean;
  /** Per initiator cookie: arrival number and digest of the latest datagram delivered. */
  readonly latestPerSa: Map<string, { seq: number; digest: string }>;
}

function bindSocket(address: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    s.once('error', reject);
    s.bind(port, address, () => {
      s.removeListener('error', reject);
      resolve(s);
    });
  });
}

export class ImpairmentRelay {
  private profileValue: ImpairmentProfile;
  private readonly listeners: Listener[] = [];
  private readonly dirs: { out: Direction; back: Direction };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sessionSockets: dgram.Socket[] = [];
  private readonly perForward: Record<string, { out: number; back: number }> = {};
  private closed = false;
  private readonly traceFd: number | undefined;
  private readonly t0 = Date.now();

  private constructor(config: RelayConfig) {
    this.profileValue = config.profile;
    this.traceFd = config.trace ? fs.openSync(config.trace, 'a') : undefined;
    const dir = (salt: number, dropStale: boolean): Direction => ({
      stats: emptyDirection(), rng: new SeededRng((config.seed ^ salt) >>> 0), nextSeq: 0, maxDelivered: -1, seen: new Set(), dropStale, latestPerSa: new Map(),
    });
    this.dirs = { out: dir(0x0f0f0f0f, config.dropStaleToTarget === true), back: dir(0x70707070, false) };
  }

  /** Binds every listen socket. @throws when a listen address/port is taken */
  static async open(config: RelayConfig): Promise<ImpairmentRelay> {
    checkProfile(config.profile);
    const r = new ImpairmentRelay(config);
    try {
      for (const f of config.forwards) {
        const socket = await bindSocket(f.listen.address, f.listen.port);
        const entry: Listener = { forward: f, socket, sessions: new Map<string, Promise<Session>>() };
        r.perForward[f.name] = { out: 0, back: 0 };
        socket.on('message', (msg, rinfo) => void r.fromClient(entry, msg, { address: rinfo.address, port: rinfo.port }));
        socket.on('error', () => undefined); // ICMP unreachable etc.: UDP is lossy anyway
        r.listeners.push(entry);
      }
    } catch (e) {
      r.close();
      throw e;
    }
    return r;
  }

  get profile(): ImpairmentProfile {
    return this.profileValue;
  }

  /** Changes the impairment for datagrams received from now on (e.g. a clean link for teardown). */
  setProfile(p: ImpairmentProfile): void {
    checkProfile(p);
    this.profileValue = p;
  }

  /** The listen endpoints actually bound (port 0 resolved). */
  listenEndpoints(): Record<string, Endpoint> {
    return Object.fromEntries(this.listeners.map((l) => [l.forward.name, { address: l.forward.listen.address, port: l.socket.address().port }]));
  }

  stats(): RelayStats {
    const copy = (d: DirectionStats): DirectionStats => ({ ...d });
    return {
      out: copy(this.dirs.out.stats), back: copy(this.dirs.back.stats),
      sessions: this.sessionSockets.length,
      perForward: JSON.parse(JSON.stringify(this.perForward)) as RelayStats['perForward'],
    };
  }

  /** Datagrams still waiting on a delay timer. */
  get pending(): number {
    return this.timers.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sessionSockets) s.close();
    for (const l of this.listeners) l.socket.close();
    if (this.traceFd !== undefined) fs.closeSync(this.traceFd);
  }

  private trace(what: string, d: Direction, msg: Buffer, session: string): void {
    if (this.traceFd === undefined) return;
    const dir = d === this.dirs.out ? 'out' : 'back';
    fs.writeSync(this.traceFd, `${Date.now() - this.t0} ${dir} ${session} ${describeDatagram(msg)} ${what}\n`);
  }

  private async fromClient(l: Listener, msg: Buffer, from: Endpoint): Promise<void> {
    const key = `${from.address}:${from.port}` + (l.forward.sessionPer === 'ike-sa' ? `/${initiatorCookie(msg)}` : '');
    let pending = l.sessions.get(key);
    if (!pending) {
      pending = this.openSession(l, from);
      l.sessions.set(key, pending);
    }
    const s = await pending;
    this.perForward[l.forward.name]!.out++;
    this.impair(this.dirs.out, msg, s.socket, l.forward.target, `${l.forward.name}:${s.socket.address().port}`);
  }

  /** One session socket per client source; what the target answers on it goes back to that source. */
  private async openSession(l: Listener, client: Endpoint): Promise<Session> {
    const socket = await bindSocket(l.forward.upstreamAddress, 0);
    this.sessionSockets.push(socket);
    if (this.closed) socket.close();
    socket.on('message', (m, rinfo) => {
      if (rinfo.address !== l.forward.target.address || rinfo.port !== l.forward.target.port) return; // not our target: a NAT drops it too
      this.perForward[l.forward.name]!.back++;
      this.impair(this.dirs.back, m, l.socket, client, `${l.forward.name}:${socket.address().port}`);
    });
    socket.on('error', () => undefined);
    return { client, socket };
  }

  private impair(d: Direction, msg: Buffer, via: dgram.Socket, to: Endpoint, session = ''): void {
    if (this.closed) return;
    const st = d.stats;
    const p = this.profileValue;
    st.received++;
    if (msg.length === 1 && msg[0] === 0xff) st.keepalives++;
    else if (msg.length >= 4 && msg.readUInt32BE(0) === 0) st.natT++;
    const digest = createHash('sha256').update(msg).digest('base64');
    if (d.seen.has(digest)) st.repeats++;
    else d.seen.add(digest);
    const seq = d.nextSeq++;
    // Always draw the same number of values per datagram, so one decision never shifts the next.
    const dropRoll = d.rng.next();
    const dupRoll = d.rng.next();
    const rolls = [0, 1].map(() => ({ delay: d.rng.next(), hold: d.rng.next(), extra: d.rng.next() }));
    if (dropRoll < p.loss) {
      st.dropped++;
      this.trace(`#${seq} drop`, d, msg, session);
      return;
    }
    const copies = dupRoll < p.duplicate ? 2 : 1;
    if (copies === 2) st.duplicated++;
    const data = Buffer.from(msg);
    const sa = d.dropStale ? initiatorCookie(msg) : '';
    for (let i = 0; i < copies; i++) {
      const r = rolls[i]!;
      let wait = p.delayMs[0] + r.delay * (p.delayMs[1] - p.delayMs[0]);
      if (r.hold < p.reorder) {
        st.heldBack++;
        wait += p.reorderMs[0] + r.extra * (p.reorderMs[1] - p.reorderMs[0]);
      }
      const deliver = (): void => {
        if (this.closed) return;
        if (sa) {
          const latest = d.latestPerSa.get(sa);
          if (latest && latest.seq > seq && latest.digest !== digest) {
            st.stale++;
            this.trace(`#${seq} stale (#${latest.seq} delivered first): dropped`, d, data, session);
            return;
          }
          if (!latest || latest.seq < seq) d.latestPerSa.set(sa, { seq, digest });
        }
        if (seq < d.maxDelivered) st.reordered++;
        else d.maxDelivered = seq;
        st.delivered++;
        this.trace(`#${seq} deliver${copies === 2 ? ` copy ${i + 1}/2` : ''} after ${Math.round(wait)} ms`, d, data, session);
        via.send(data, to.port, to.address, (err) => {
          if (err) {
            st.sendErrors++;
            this.trace(`#${seq} send error ${err.message}`, d, data, session);
          }
        });
      };
      if (wait <= 0) {
        deliver();
        continue;
      }
      const t = setTimeout(() => {
        this.timers.delete(t);
        deliver();
      }, Math.round(wait));
      this.timers.add(t);
    }
  }
}

/** `icookie:rcookie xchg msgid flags len` of an ISAKMP datagram (after a non-ESP marker), or what else it is. */
export function describeDatagram(msg: Buffer): string {
  if (msg.length === 1 && msg[0] === 0xff) return 'keepalive';
  const at = msg.length >= 4 && msg.readUInt32BE(0) === 0 ? 4 : 0;
  if (msg.length < at + 28) return `runt len ${msg.length}`;
  const h = msg.subarray(at, at + 28);
  return `${h.subarray(0, 8).toString('hex')}:${h.subarray(8, 16).toString('hex')} x${h[18]} m${h.readUInt32BE(20).toString(16).padStart(8, '0')} ` +
    `f${h[19]} len ${msg.length}${at ? ' natt' : ''}`;
}

/**
 * The initiator cookie of an ISAKMP datagram, after the non-ESP marker on the NAT-T port (RFC 3948
 * §2.2: four zero octets); '' for keepalives and runts.
 */
export function initiatorCookie(msg: Buffer): string {
  const at = msg.length >= 4 && msg.readUInt32BE(0) === 0 ? 4 : 0;
  return msg.length >= at + 28 ? msg.subarray(at, at + 8).toString('hex') : '';
}

function checkProfile(p: ImpairmentProfile): void {
  const prob = (x: number) => x >= 0 && x <= 1;
  const range = (r: readonly [number, number]) => r.length === 2 && r[0] >= 0 && r[1] >= r[0];
  if (!prob(p.loss) || !prob(p.duplicate) || !prob(p.reorder) || !range(p.delayMs) || !range(p.reorderMs)) {
    throw new RangeError(`bad impairment profile ${JSON.stringify(p)}`);
  }
}

/** Sums both directions: what the report quotes. */
export function totals(s: RelayStats): DirectionStats {
  const out = emptyDirection();
  for (const k of Object.keys(out) as (keyof DirectionStats)[]) out[k] = s.out[k] + s.back[k];
  return out;
}

async function main(argv: readonly string[]): Promise<void> {
  const config = JSON.parse(argv[0] ?? '') as RelayConfig;
  const relay = await ImpairmentRelay.open(config);
  const write = (o: unknown): boolean => process.stdout.write(JSON.stringify(o) + '\n');
  write({ ready: relay.listenEndpoints(), pid: process.pid });
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    write({ final: relay.stats() });
    relay.close();
    process.exitCode = 0;
  };
  process.on('SIGTERM', finish);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [cmd, ...rest] = line.trim().split(' ');
    try {
      if (cmd === 'stats') write({ stats: relay.stats(), pending: relay.pending });
      else if (cmd === 'profile') {
        relay.setProfile(JSON.parse(rest.join(' ')) as ImpairmentProfile);
        write({ profile: relay.profile });
      } else write({ error: `unknown command ${JSON.stringify(cmd)}` });
    } catch (e) {
      write({ error: (e as Error).message });
    }
  });
  rl.on('close', finish);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`relay: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
