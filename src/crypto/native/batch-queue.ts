/**
 * Coalescing of the expensive operations of concurrent negotiations into batches for the AVX-512
 * IFMA kernel (native/src/ifma_kernel.cc: eight modexps in one instruction stream): MODP key
 * exchanges (8 per kernel run) and RSA-3072/4096 private operations (4 per run, lanes p and q).
 *
 * Operations are queued and the queue is flushed once per event-loop turn (setImmediate, so
 * everything the poll phase delivered together - the packets of several peers - is batched). A
 * flush with one item takes the single-operation route (OpenSSL: one kernel run costs as much for
 * one item as for a full one); with more it is cut into pool jobs of one kernel run each, so the
 * pool threads share them and each negotiation waits for one run, not for the whole queue.
 *
 * Under load, batches made per event-loop turn are small (with two cores a turn rarely delivers
 * more than one or two key exchanges), and a kernel run costs the same for two lanes as for eight.
 * So, like Nagle's algorithm: while `maxInFlight` jobs are already running, a partial batch waits
 * in the queue for the next completion (or until it fills) instead of starting another job. An
 * idle queue still starts at once: a lone negotiation gains no latency.
 */

export interface BatchRoutes<T> {
  /** Items per kernel run. */
  readonly lanes: number;
  /** False when batching does not pay here (no IFMA, OAKLEY_MODEXP=portable): every item goes to `one`. */
  readonly batching: () => boolean;
  /** A lone item (OpenSSL). */
  readonly one: (item: T) => Promise<Buffer>;
  /** 2..lanes items as one pool job (the IFMA kernel). */
  readonly many: (items: T[]) => Promise<Buffer[]>;
  /** Jobs running at once before partial batches wait for a completion (default: no limit). */
  readonly maxInFlight?: number;
}

/** What the queue did: kernel runs, items in them, lone items (for the benchmark and tests). */
export interface BatchStats {
  runs: number;
  batchedItems: number;
  singles: number;
}

interface Pending<T> {
  item: T;
  resolve: (v: Buffer) => void;
  reject: (e: unknown) => void;
}

export class BatchQueue<T> {
  private pending: Pending<T>[] = [];
  private scheduled = false;
  private inFlight = 0;
  readonly stats: BatchStats = { runs: 0, batchedItems: 0, singles: 0 };

  constructor(private readonly routes: BatchRoutes<T>) {}

  /** The result for `item`, computed together with the other items queued in this event-loop turn. */
  run(item: T): Promise<Buffer> {
    if (!this.routes.batching()) return this.routes.one(item);
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const { lanes, maxInFlight = Infinity } = this.routes;
    // Full batches always go; a partial one only while fewer than maxInFlight jobs run (else the
    // next completion flushes again).
    while (this.pending.length >= lanes || (this.pending.length > 0 && this.inFlight < maxInFlight)) {
      this.dispatch(this.pending.splice(0, lanes));
    }
  }

  private dispatch(batch: Pending<T>[]): void {
    const { one, many } = this.routes;
    const alone = (p: Pending<T>): Promise<void> => one(p.item).then(p.resolve, p.reject);
    this.inFlight++;
    const done = (): void => {
      this.inFlight--;
      if (this.pending.length > 0 && !this.scheduled) this.flush();
    };
    if (batch.length === 1) {
      this.stats.singles++;
      void alone(batch[0]).finally(done);
      return;
    }
    this.stats.runs++;
    this.stats.batchedItems += batch.length;
    many(batch.map((p) => p.item)).then(
      (out) => batch.forEach((p, i) => p.resolve(out[i])),
      // Inputs were validated before queueing, so this is rare; one bad item must not fail the
      // other negotiations of the batch: each is retried alone and gets its own answer.
      () => Promise.all(batch.map(alone)),
    ).finally(done);
  }
}
