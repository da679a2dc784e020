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
}

interface Pending<T> {
  item: T;
  resolve: (v: Buffer) => void;
  reject: (e: unknown) => void;
}

export class BatchQueue<T> {
  private pending: Pending<T>[] = [];
  private scheduled = false;

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
    const items = this.pending;
    this.pending = [];
    this.scheduled = false;
    const { lanes } = this.routes;
    for (let i = 0; i < items.length; i += lanes) this.dispatch(items.slice(i, i + lanes));
  }

  private dispatch(batch: Pending<T>[]): void {
    const { one, many } = this.routes;
    const alone = (p: Pending<T>): void => {
      one(p.item).then(p.resolve, p.reject);
    };
    if (batch.length === 1) return alone(batch[0]);
    many(batch.map((p) => p.item)).then(
      (out) => batch.forEach((p, i) => p.resolve(out[i])),
      // Inputs were validated before queueing, so this is rare; one bad item must not fail the
      // other negotiations of the batch: each is retried alone and gets its own answer.
      () => batch.forEach(alone));
  }
}
