/**
 * Named counters (STYLE A.7: dropped, busy, failed… events are counted). Names are dotted paths,
 * e.g. `p1.initiator.attempts`, `retransmit.sent`, `kernel.sa.added`.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  /** Adds `n` (default 1) to `name`. @returns the new value */
  inc(name: string, n = 1): number {
    const v = (this.values.get(name) ?? 0) + n;
    this.values.set(name, v);
    return v;
  }

  /** Subtracts `n` (default 1), for gauges such as `p1.initiator.current`. @returns the new value */
  dec(name: string, n = 1): number {
    return this.inc(name, -n);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  /** A sorted plain copy of every counter. */
  snapshot(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of [...this.values.keys()].sort()) if (k.startsWith(prefix)) out[k] = this.values.get(k)!;
    return out;
  }

  reset(): void {
    this.values.clear();
  }
}
