/**
 * Time seam. Exchanges, retransmission, the memory kernel and the memory network read the time
 * and arm timers only through a Clock, so tests drive them deterministically with ManualClock.
 */

/** An armed timer. Opaque to callers; pass it back to `Clock.cancel`. */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds on a monotonic scale: use for intervals and deadlines, not for display. */
  now(): number;
  /** Wall-clock time for display (`dump p1` start times, log timestamps). */
  wallTime(): Date;
  /**
   * Runs `fn` once after `ms` milliseconds (0 and negative mean "as soon as possible").
   * @returns a handle for `cancel`
   */
  schedule(ms: number, fn: () => void): TimerHandle;
  /** Disarms a timer. Cancelling a fired or already cancelled timer is a no-op. */
  cancel(handle: TimerHandle | undefined): void;
}

/**
 * The real clock: `performance.now()` and `setTimeout`. Timers are unref'd by default: the
 * daemon is kept alive by its sockets, never by a pending retransmission.
 */
export class SystemClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  constructor(private readonly opts: { unref?: boolean } = {}) {}

  now(): number {
    return performance.now();
  }

  wallTime(): Date {
    return new Date();
  }

  schedule(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, Math.max(0, ms));
    if (this.opts.unref !== false) t.unref();
    this.timers.set(id, t);
    return { id };
  }

  cancel(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = this.timers.get(handle.id);
    if (t !== undefined) {
      clearTimeout(t);
      this.timers.delete(handle.id);
    }
  }

  /** Number of armed timers (diagnostics). */
  pending(): number {
    return this.timers.size;
  }
}

interface ManualTimer {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every timer that falls due, in due-time
 * order (ties in the order they were armed), setting `now()` to each timer's due time while it
 * runs; timers armed by a callback fire in the same call if they fall due before the target.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private timers: ManualTimer[] = [];

  /**
   * @param start initial `now()` in ms (default 0)
   * @param epochMs wall-clock time that corresponds to `now() === 0`
   */
  constructor(start = 0, private readonly epochMs = Date.UTC(2024, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  wallTime(): Date {
    return new Date(this.epochMs + this.current);
  }

  schedule(ms: number, fn: () => void): TimerHandle {
    const t: ManualTimer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn };
    this.timers.push(t);
    return { id: t.id };
  }

  cancel(handle: TimerHandle | undefined): void {
    if (!handle) return;
    this.timers = this.timers.filter((t) => t.id !== handle.id);
  }

  /** Moves time forward by `ms` (>= 0), firing due timers. @returns how many timers fired */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    return this.advanceTo(this.current + ms);
  }

  /** Moves time to `target` (not backwards), firing due timers. @returns how many timers fired */
  advanceTo(target: number): number {
    if (target < this.current) throw new RangeError(`ManualClock.advanceTo: ${target} is before now (${this.current})`);
    let fired = 0;
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.due > target) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.current = next.due;
      fired++;
      next.fn();
    }
    this.current = target;
    return fired;
  }

  /** Fires everything that is due now (including timers armed with 0 ms by those callbacks). */
  flush(): number {
    return this.advance(0);
  }

  /**
   * Advances timer by timer until none are left or `limitMs` has passed.
   * @returns how many timers fired
   */
  runAll(limitMs = 24 * 3600_000): number {
    const end = this.current + limitMs;
    let fired = 0;
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.due > end) break;
      fired += this.advanceTo(next.due);
    }
    return fired;
  }

  /** Due time of the next timer, or undefined. */
  nextDue(): number | undefined {
    return this.nextTimer()?.due;
  }

  /** Number of armed timers. */
  pending(): number {
    return this.timers.length;
  }

  private nextTimer(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) if (!best || t.due < best.due || (t.due === best.due && t.id < best.id)) best = t;
    return best;
  }
}
