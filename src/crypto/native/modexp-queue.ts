/**
 * Coalescing of the MODP modexps of concurrent negotiations into batches for the AVX-512 IFMA
 * kernel (native/src/ifma_kernel.cc: eight modexps in one instruction stream).
 *
 * Every key-exchange modexp of a group is queued; the queue is flushed once per event-loop turn
 * (setImmediate, so everything the poll phase delivered together - the KE payloads of several
 * peers - is batched). A flush with one item is a plain modexpAsync (OpenSSL); with more it is
 * cut into pool jobs of at most 8 (one kernel run each), so the pool threads share them and each
 * negotiation waits for one run, not for the whole queue. When the kernel is not in use (no IFMA,
 * OAKLEY_MODEXP=portable) nothing is queued.
 */
import type { NativeModpContext } from './addon';

/** Lanes of one kernel run. */
export const IFMA_LANES = 8;

interface Pending {
  base: Buffer;
  exp: Buffer;
  resolve: (v: Buffer) => void;
  reject: (e: unknown) => void;
}

export class ModexpQueue {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly ctx: NativeModpContext) {}

  /** True when batches of this context run on the IFMA kernel, i.e. when queueing pays. */
  get batching(): boolean {
    return this.ctx.batchKernel === 'ifma';
  }

  /** base^exp mod p, batched with the other modexps queued in this event-loop turn. */
  modexp(base: Buffer, exp: Buffer): Promise<Buffer> {
    if (!this.batching) return this.ctx.modexpAsync(base, exp);
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.push({ base, exp, resolve, reject });
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
    for (let i = 0; i < items.length; i += IFMA_LANES) this.run(items.slice(i, i + IFMA_LANES));
  }

  private run(items: Pending[]): void {
    if (items.length === 1) {
      const [it] = items;
      this.ctx.modexpAsync(it.base, it.exp).then(it.resolve, it.reject);
      return;
    }
    this.ctx.modexpBatch(items.map((it) => it.base), items.map((it) => it.exp)).then(
      (out) => items.forEach((it, i) => it.resolve(out[i])),
      // Inputs were validated before queueing, so this is rare; one bad item must not fail the
      // other negotiations of the batch: each is retried alone and gets its own answer.
      () => items.forEach((it) => this.ctx.modexpAsync(it.base, it.exp).then(it.resolve, it.reject)));
  }
}
