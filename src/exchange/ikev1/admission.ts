/**
 * Admission of new Phase 1 negotiations as responder, against floods of (possibly spoofed) first
 * messages. IKEv1 has no cookie challenge, so two bounds keep memory and work finite:
 *
 *  - Per-source rate: a token bucket per source address (`perSourceRate` new SAs per second, burst
 *    `perSourceBurst`). A source over its rate is ignored (counter `p1.rate_limited`). At most
 *    `MAX_SOURCES` buckets are kept; the least recently used go first.
 *  - Half-open cap: an SA that answered MM1/AM1 but has not yet seen the initiator's next message is
 *    "embryonic" — a spoofed MM1 never gets further, a real peer's MM3 follows within a round trip.
 *    At most `maxHalfOpen` embryonic SAs exist; a new one evicts the oldest (counter
 *    `p1.half_open_evicted`), so a flood can only shorten how long an embryonic SA waits and real
 *    peers keep completing.
 */
import type { Clock } from '../../util/clock';
import type { Counters } from '../../util/counters';
import type { Phase1Context } from './phase1-context';

export interface AdmissionSettings {
  /** Embryonic responder SAs kept at most (0 = no cap). */
  readonly maxHalfOpen: number;
  /** New responder SAs per second per source address (0 = no limit). */
  readonly perSourceRate: number;
  /** Bucket size: new SAs a source may open at once. */
  readonly perSourceBurst: number;
}

export const DEFAULT_ADMISSION: AdmissionSettings = { maxHalfOpen: 4096, perSourceRate: 500, perSourceBurst: 1000 };

/** Source buckets kept at most. */
const MAX_SOURCES = 16384;

interface Bucket {
  tokens: number;
  at: number;
}

export class Admission {
  private readonly buckets = new Map<string, Bucket>();
  private readonly embryonic = new Set<Phase1Context>();

  constructor(private readonly settings: AdmissionSettings, private readonly clock: Clock, private readonly counters: Counters) {}

  /** Takes a token for a new SA from `address`. @returns false when the source is over its rate */
  admitSource(address: string): boolean {
    const s = this.settings;
    if (s.perSourceRate <= 0) return true;
    const now = this.clock.now();
    let b = this.buckets.get(address);
    if (b) {
      this.buckets.delete(address); // re-inserted below: Map order is least recently used first
      b.tokens = Math.min(s.perSourceBurst, b.tokens + ((now - b.at) / 1000) * s.perSourceRate);
      b.at = now;
    } else {
      b = { tokens: s.perSourceBurst, at: now };
      if (this.buckets.size >= MAX_SOURCES) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(address, b);
    if (b.tokens < 1) {
      this.counters.inc('p1.rate_limited');
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  /** Registers a new embryonic SA. @returns the SA evicted to make room, if any */
  addEmbryonic(ctx: Phase1Context): Phase1Context | undefined {
    let victim: Phase1Context | undefined;
    if (this.settings.maxHalfOpen > 0 && this.embryonic.size >= this.settings.maxHalfOpen) {
      victim = this.embryonic.values().next().value;
      if (victim) {
        this.embryonic.delete(victim);
        this.counters.inc('p1.half_open_evicted');
        this.counters.dec('p1.half_open.current');
      }
    }
    this.embryonic.add(ctx);
    this.counters.inc('p1.half_open.current');
    return victim;
  }

  /** The SA got past its first exchange, or is gone. */
  settled(ctx: Phase1Context): void {
    if (this.embryonic.delete(ctx)) this.counters.dec('p1.half_open.current');
  }

  get halfOpen(): number {
    return this.embryonic.size;
  }

  get trackedSources(): number {
    return this.buckets.size;
  }
}
