/**
 * Retransmission of requests, answering duplicate requests from a response cache, and the
 * expire_timer for incomplete negotiations (solaris-ike.md §1.4/§5.6 timers).
 *
 * Initiator side: a request is sent, then retransmitted after retry_timer_init, the wait doubling
 * each time up to retry_timer_max, `retry_limit` times. After the last retransmission one more
 * (doubled, capped) wait is allowed for an answer; then the negotiation gives up. With the
 * defaults (0.5 s, 30 s, 5):
 *
 *   t=0      send
 *   t=0.5    retransmit 1   (waited 0.5)
 *   t=1.5    retransmit 2   (waited 1)
 *   t=3.5    retransmit 3   (waited 2)
 *   t=7.5    retransmit 4   (waited 4)
 *   t=15.5   retransmit 5   (waited 8)
 *   t=31.5   give up        (waited 16)
 *
 * Responder side (RFC 2408 §5.1, RFC 2409 §5.x "retransmissions"; STYLE A.3): a datagram equal to
 * the last answered request gets the stored response again; one equal to the request being worked
 * on is dropped as busy.
 */
import { hash, timingSafeEqual } from 'node:crypto';

import type { Clock, TimerHandle } from '../util/clock';
import { ownedCopy, scratchBuffer, scratchCopy } from '../util/buffers';
import { Counters } from '../util/counters';

/** Solaris defaults: retry_timer_init 0.5 s, retry_timer_max 30 s, retry_limit 5, expire_timer 300 s. */
export const RETRANSMIT_DEFAULTS = Object.freeze({
  initMs: 500,
  maxMs: 30_000,
  limit: 5,
  expireMs: 300_000,
});

export interface RetransmitConfig {
  /** retry_timer_init, ms. */
  readonly initMs: number;
  /** retry_timer_max, ms. */
  readonly maxMs: number;
  /** retry_limit: number of retransmissions before giving up. */
  readonly limit: number;
}

/**
 * The waits of a retransmission schedule: `limit` waits before each retransmission plus the final
 * wait before giving up, each `init * 2^i` capped at `max`.
 */
export function retransmitSchedule(cfg: RetransmitConfig = RETRANSMIT_DEFAULTS): number[] {
  const out: number[] = [];
  let wait = cfg.initMs;
  for (let i = 0; i <= cfg.limit; i++) {
    out.push(Math.min(wait, cfg.maxMs));
    wait *= 2;
  }
  return out;
}

export interface RetransmitHooks {
  /** Sends (or re-sends) the datagram. `attempt` is 0 for the first send. */
  send(datagram: Buffer, attempt: number): void;
  /** The peer never answered: called once, after the last wait. */
  giveUp(): void;
}

/**
 * One outstanding request. `start()` sends immediately and arms the timer; `stop()` is called when
 * the matching response arrived (or the SA went away). A stopped retransmitter never fires again.
 */
export class Retransmitter {
  private readonly schedule: number[];
  private timer?: TimerHandle;
  private attemptValue = 0;
  private activeValue = false;
  private datagram?: Buffer;

  constructor(
    private readonly clock: Clock,
    private readonly hooks: RetransmitHooks,
    cfg: RetransmitConfig = RETRANSMIT_DEFAULTS,
    private readonly counters: Counters = new Counters(),
  ) {
    if (!(cfg.initMs > 0) || !(cfg.maxMs >= cfg.initMs) || !(cfg.limit >= 0)) {
      throw new RangeError(`bad retransmit config ${JSON.stringify(cfg)}`);
    }
    this.schedule = retransmitSchedule(cfg);
  }

  /** Number of sends so far (1 after start, 1 + retransmissions later). */
  get sends(): number {
    return this.activeValue || this.attemptValue > 0 ? this.attemptValue : 0;
  }

  get active(): boolean {
    return this.activeValue;
  }

  /**
   * Sends `datagram` now and retransmits it on schedule. Calling start again replaces the
   * outstanding request (the next message of the exchange) and restarts the schedule.
   */
  start(datagram: Buffer): void {
    this.cancelTimer();
    this.datagram = datagram;
    this.attemptValue = 0;
    this.activeValue = true;
    this.fire();
  }

  /** The response arrived: stop retransmitting. Idempotent. */
  stop(): void {
    this.cancelTimer();
    this.activeValue = false;
    this.datagram = undefined;
  }

  private fire(): void {
    const attempt = this.attemptValue;
    this.hooks.send(this.datagram!, attempt);
    this.counters.inc(attempt === 0 ? 'retransmit.first_send' : 'retransmit.resent');
    this.attemptValue++;
    this.timer = this.clock.schedule(this.schedule[attempt], () => {
      this.timer = undefined;
      if (!this.activeValue) return;
      if (attempt + 1 < this.schedule.length) {
        this.fire();
      } else {
        this.activeValue = false;
        this.datagram = undefined;
        this.counters.inc('retransmit.gave_up');
        this.hooks.giveUp();
      }
    });
  }

  private cancelTimer(): void {
    this.clock.cancel(this.timer);
    this.timer = undefined;
  }
}

/** Constant-time equality of two datagrams, with the (public) length compared first. */
export function sameDatagram(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export type DuplicateVerdict =
  /** Not seen: process it. */
  | { readonly kind: 'new' }
  /** The request being worked on right now: drop it. */
  | { readonly kind: 'busy' }
  /** An answered request: send these stored responses again, do nothing else. */
  | { readonly kind: 'replay'; readonly responses: readonly Buffer[] };

interface CacheEntry {
  /** SHA-256 of the request, then the responses back to back: one exact-size buffer per entry. */
  readonly blob: Buffer;
  /** End offsets of the responses in `blob`; undefined while the request is in progress. */
  ends: number[] | undefined;
  /** The exchange it belongs to (Quick Mode: the message ID), for {@link ResponseCache.finish}. */
  readonly tag: number;
}

const DIGEST_OCTETS = 32;

/**
 * The responder's memory of recent requests. Phase 1 keeps one entry per SA; Quick Mode and
 * Informational exchanges one per message ID, so `capacity` bounds the memory (oldest evicted).
 * A request is remembered by its SHA-256 (an established SA keeps its entries for its lifetime,
 * and a Quick Mode request with KE is ~400 octets); responses are copied in.
 */
export class ResponseCache {
  private entries: CacheEntry[] = [];

  constructor(private readonly capacity = 8, private readonly counters: Counters = new Counters()) {
    if (!(capacity >= 1)) throw new RangeError('ResponseCache capacity must be >= 1');
  }

  /**
   * Classifies a received datagram.
   * @returns 'replay' with the stored responses, 'busy' for the request in progress, else 'new'
   */
  check(datagram: Buffer): DuplicateVerdict {
    const e = this.find(datagram);
    if (!e) return { kind: 'new' };
    if (e.ends === undefined) {
      this.counters.inc('duplicate.busy');
      return { kind: 'busy' };
    }
    this.counters.inc('duplicate.replayed');
    return { kind: 'replay', responses: responsesOf(e) };
  }

  /** Marks a request as being processed (a retransmission of it is then 'busy'). */
  begin(request: Buffer, tag = 0): void {
    this.forget(request);
    this.push({ blob: scratchCopy(this.digest(request)), ends: undefined, tag });
  }

  /**
   * Stores the response(s) sent for `request` (begun or not). An empty list means "answered with
   * silence": the duplicate is dropped without an answer.
   */
  answer(request: Buffer, responses: readonly Buffer[], tag = 0): void {
    const digest = this.digest(request);
    const blob = scratchBuffer(DIGEST_OCTETS + responses.reduce((n, r) => n + r.length, 0));
    digest.copy(blob);
    let at = DIGEST_OCTETS;
    // map, not push: an exact-size array (a pushed one reserves 17 slots, 152 octets, per entry).
    const ends = responses.map((r) => (at += r.copy(blob, at)));
    const i = this.entries.findIndex((x) => sameDatagram(x.blob.subarray(0, DIGEST_OCTETS), digest));
    if (i >= 0) this.entries[i] = { blob, ends, tag };
    else this.push({ blob, ends, tag });
  }

  /**
   * An exchange is over: forgets its requests but `last` (the final request, kept only when it
   * was answered: the peer may not have the answer and ask again). A late copy of an earlier
   * request then has no entry, and the caller drops it as an exchange it has finished (Quick
   * Mode: a used message ID). This is what keeps an established SA from holding the Quick Mode
   * responses (g^y and all, ~500 octets) for its lifetime.
   */
  finish(tag: number, last?: Buffer): void {
    const keep = last && this.find(last);
    const kept = keep?.ends?.length ? settled(keep) : undefined;
    this.entries = this.entries.filter((x) => x.tag !== tag).concat(kept ?? []);
  }

  /** Forgets a request (processing failed and a retransmission should be tried afresh). */
  forget(request: Buffer): void {
    const digest = this.digest(request);
    this.entries = this.entries.filter((x) => !sameDatagram(x.blob.subarray(0, DIGEST_OCTETS), digest));
  }

  clear(): void {
    this.entries = [];
  }

  /**
   * Forgets all but the newest request, and that one too when it was answered with silence (an
   * established Phase 1 answers only its last request again, and drops late messages itself).
   */
  keepLast(): void {
    const last = this.entries.at(-1);
    this.entries = last?.ends?.length ? [settled(last)] : [];
  }

  private find(datagram: Buffer): CacheEntry | undefined {
    if (this.entries.length === 0) return undefined;
    const digest = this.digest(datagram);
    return this.entries.find((x) => sameDatagram(x.blob.subarray(0, DIGEST_OCTETS), digest));
  }

  private push(e: CacheEntry): void {
    this.entries.push(e);
    while (this.entries.length > this.capacity) this.entries.shift();
  }

  private digest(request: Buffer): Buffer {
    return digestOf(request);
  }

  get size(): number {
    return this.entries.length;
  }
}

/**
 * SHA-256 of a request. check(), begin() and answer() of one datagram come one after the other, so
 * the last digest is kept (one slot for all caches: a per-cache slot would keep a datagram per SA).
 */
let lastRequest: Buffer | undefined;
let lastLength = -1;
let lastDigest: Buffer | undefined;

function digestOf(request: Buffer): Buffer {
  if (request !== lastRequest || request.length !== lastLength || !lastDigest) {
    lastDigest = hash('sha256', request, 'buffer') as Buffer;
    lastRequest = request;
    lastLength = request.length;
  }
  return lastDigest;
}

/** An entry that outlives its exchange, moved from scratch into long-lived memory. */
function settled(e: CacheEntry): CacheEntry {
  return { blob: ownedCopy(e.blob), ends: e.ends, tag: e.tag };
}

function responsesOf(e: CacheEntry): Buffer[] {
  let start = DIGEST_OCTETS;
  return e.ends!.map((end) => {
    const r = e.blob.subarray(start, end);
    start = end;
    return r;
  });
}

/**
 * expire_timer: an incomplete negotiation is discarded after `ms` (default 300 s). The returned
 * handle is cancelled with `clock.cancel` once the negotiation completes.
 */
export function armExpireTimer(clock: Clock, onExpire: () => void, ms: number = RETRANSMIT_DEFAULTS.expireMs): TimerHandle {
  return clock.schedule(ms, onExpire);
}
