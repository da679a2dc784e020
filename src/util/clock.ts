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

/** A timer of the SystemClock heap; `index` is its heap slot (-1 once fired or cancelled). */
interface HeapTimer extends TimerHandle {
  readonly due: number;
  fn: (() => void) | undefined;
  index: number;
}

/**
 * The real clock: `performance.now()` and Node timers. Short timers (under a second: packet
 * delivery in tests, retransmissions) are plain `setTimeout`s. Long ones (lifetimes, expire_timer,
 * DPD, the memory kernel's SA lifetimes: several per SA for as long as it lives) share one binary
 * heap (due time, then arming order) behind a single Node timer, one small object each instead of
 * a Node Timeout, a wrapper closure and a map entry. The heap fires one timer per Node callback,
 * so promise jobs run between two callbacks as they do between separate Node timers. Timers are
 * unref'd by default: the daemon is kept alive by its sockets, never by a pending retransmission.
 */
export class SystemClock implements Clock {
  /** Timers at least this long go to the heap. */
  static readonly HEAP_MIN_MS = 1000;
  private nextId = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly heap: HeapTimer[] = [];
  private node: NodeJS.Timeout | undefined;
  /** Due time the heap's Node timer is armed for. */
  private armedFor = Infinity;

  constructor(private readonly opts: { unref?: boolean } = {}) {}

  now(): number {
    return performance.now();
  }

  wallTime(): Date {
    return new Date();
  }

  schedule(ms: number, fn: () => void): TimerHandle {
    if (!(ms >= SystemClock.HEAP_MIN_MS)) {
      const id = this.nextId++;
      const t = setTimeout(() => {
        this.timers.delete(id);
        fn();
      }, Math.max(0, ms));
      if (this.opts.unref !== false) t.unref();
      this.timers.set(id, t);
      return { id };
    }
    const t: HeapTimer = { id: this.nextId++, due: this.now() + ms, fn, index: this.heap.length };
    this.heap.push(t);
    this.up(t.index);
    if (this.heap[0] === t) this.arm();
    return t;
  }

  cancel(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = handle as Partial<HeapTimer>;
    if (t.index === undefined) {
      const n = this.timers.get(handle.id);
      if (n !== undefined) {
        clearTimeout(n);
        this.timers.delete(handle.id);
      }
      return;
    }
    if (t.index < 0 || this.heap[t.index] !== t) return;
    this.remove(t.index);
    // The Node timer stays armed for an earlier due time if the head went; it re-arms when it fires.
  }

  /** Number of armed timers (diagnostics). */
  pending(): number {
    return this.timers.size + this.heap.length;
  }

  private arm(): void {
    const head = this.heap[0];
    if (!head) {
      if (this.node) clearTimeout(this.node);
      this.node = undefined;
      this.armedFor = Infinity;
      return;
    }
    if (this.node && this.armedFor <= head.due) return;
    if (this.node) clearTimeout(this.node);
    this.armedFor = head.due;
    this.node = setTimeout(() => this.fire(), Math.max(0, Math.ceil(head.due - this.now())));
    if (this.opts.unref !== false) this.node.unref();
  }

  private fire(): void {
    this.node = undefined;
    this.armedFor = Infinity;
    // Node timers run on the loop's millisecond clock, so one can fire a fraction of a
    // millisecond before performance.now() reaches its due time: such a timer counts as due.
    const head = this.heap[0];
    try {
      if (head && head.due <= this.now() + 1) {
        this.remove(0);
        const fn = head.fn!;
        head.fn = undefined;
        fn();
      }
    } finally {
      this.arm();
    }
  }

  private remove(i: number): void {
    const h = this.heap;
    const t = h[i]!;
    const last = h.pop()!;
    t.index = -1;
    if (last !== t) {
      h[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
  }

  private before(a: HeapTimer, b: HeapTimer): boolean {
    return a.due < b.due || (a.due === b.due && a.id < b.id);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i]!, h[p]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i]!;
    const b = h[j]!;
    h[i] = b;
    h[j] = a;
    a.index = j;
    b.index = i;
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
