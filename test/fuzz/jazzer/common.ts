/**
 * Shared invariants of the jazzer.js fuzz targets (targets/*.ts).
 *
 *  - typed failures only: a decoder returns, or throws an OakleyError (WireError, XfrmWireError and
 *    the config/control errors are all OakleyErrors); any other exception is a finding;
 *  - bounded input: inputs above MAX_INPUT are ignored (a datagram cannot be larger), so the
 *    fuzzer spends its time on shapes, not sizes;
 *  - bounded time: every call is timed; one above SLOW_MS is re-run and is a finding when it is
 *    slow again (a lone GC or scheduler stall on a loaded machine is not; libFuzzer's -timeout
 *    catches true hangs, this catches super-linear slowness well below that);
 *  - bounded memory: the heap is sampled every HEAP_EVERY executions and a steady climb beyond
 *    HEAP_GROWTH_MB above the first sample is a finding (libFuzzer's -rss_limit_mb is the backstop).
 */
import { OakleyError } from '../../../src/util/errors';

export const MAX_INPUT = 65_535;
export const SLOW_MS = Number(process.env.OAKLEY_FUZZ_SLOW_MS ?? 2000);
const HEAP_EVERY = 20_000;
const HEAP_GROWTH_MB = Number(process.env.OAKLEY_FUZZ_HEAP_MB ?? 512);

export class FuzzFinding extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FuzzFinding';
  }
}

let executions = 0;
let heapBase = -1;

function watchHeap(): void {
  if (++executions % HEAP_EVERY !== 0) return;
  const used = process.memoryUsage().heapUsed;
  if (heapBase < 0) { heapBase = used; return; }
  if (used - heapBase > HEAP_GROWTH_MB * 1024 * 1024) {
    (globalThis as { gc?: () => void }).gc?.();
    const after = process.memoryUsage().heapUsed;
    if (after - heapBase > HEAP_GROWTH_MB * 1024 * 1024) {
      throw new FuzzFinding(`heap grew by ${Math.round((after - heapBase) / 1048576)} MB over ${executions} executions`);
    }
  }
}

/** Runs one decoder call: returns its result, undefined after an OakleyError; anything else is a finding. */
export function typed<T>(what: string, fn: () => T): T | undefined {
  const once = (): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (OakleyError.is(e)) return undefined;
      throw new FuzzFinding(`${what} threw ${(e as Error)?.name ?? typeof e} instead of a typed error: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
  };
  let t0 = performance.now();
  let out = once();
  if (performance.now() - t0 > SLOW_MS) {
    t0 = performance.now();
    out = once();
    const ms = performance.now() - t0;
    if (ms > SLOW_MS) throw new FuzzFinding(`${what} took ${ms.toFixed(0)} ms on one input, twice`);
  }
  return out;
}

/** Wraps a synchronous target body with the size cap and the heap watch. */
export function target(body: (data: Buffer) => void): (data: Buffer) => void {
  return (data: Buffer) => {
    if (data.length > MAX_INPUT) return;
    body(data);
    watchHeap();
  };
}

/** Text targets: the parsers take strings, the fuzzer gives bytes. */
export function text(data: Buffer): string {
  return data.toString('latin1');
}
