/**
 * Two samplers, one result shape (µs per op of one sample):
 *
 *  - sampleAlternating: our own loop for async operations. One op in flight, awaited, repeated
 *    until the sample has lasted `sampleMs` (at least one op); wall clock (hrtime), as
 *    `openssl speed -elapsed`.
 *  - sampleBenchmarkJs: benchmark.js in deferred mode for short operations (its adaptive cycle
 *    count keeps timer overhead out; deferred because every seam call returns a Promise), and in
 *    sync mode for synchronous calls (target 1).
 *
 * The caller alternates cells (paths) sample by sample (stats.alternate), so slow drifts in machine
 * load hit every path alike; the reported figure is the median of the samples.
 */
import Benchmark from 'benchmark';

import { nowNs } from './stats';

// Call the test function by reference: benchmark.js would otherwise decompile its source text and
// lose the closure it needs.
(Benchmark.support as { decompilation: boolean }).decompilation = false;

export interface Sample {
  /** µs per operation. */
  readonly us: number;
  /** Operations timed in this sample. */
  readonly n: number;
  /** benchmark.js relative margin of error (%), when it timed the sample. */
  readonly rme?: number;
}

export async function sampleAlternating(run: () => Promise<unknown>, sampleMs: number): Promise<Sample> {
  const budget = BigInt(Math.round(sampleMs * 1e6));
  const t0 = nowNs();
  let n = 0;
  let elapsed = 0n;
  do {
    await run();
    n++;
    elapsed = nowNs() - t0;
  } while (elapsed < budget);
  return { us: Number(elapsed) / 1e3 / n, n };
}

function runBenchmark(bench: Benchmark, failure: () => unknown = () => undefined): Promise<Sample> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    bench.on('abort', () => fail(failure() ?? new Error(`${bench.name} aborted`)));
    bench.on('error', () => fail(bench.error ?? failure()));
    bench.on('complete', () => {
      if (settled) return;
      if (bench.error || failure() || !(bench.hz > 0)) return fail(bench.error ?? failure() ?? new Error(`${bench.name}: no result`));
      settled = true;
      resolve({ us: 1e6 / bench.hz, n: bench.stats.sample.length * (bench.count || 1), rme: bench.stats.rme });
    });
    bench.run({ async: true });
  });
}

/** benchmark.js, deferred: `run` returns a Promise. */
export function sampleBenchmarkJs(name: string, run: () => Promise<unknown>, sampleMs: number): Promise<Sample> {
  let failure: unknown;
  const bench = new Benchmark(name, {
    defer: true,
    maxTime: sampleMs / 1000,
    minSamples: 5,
    delay: 0,
    fn(deferred: Benchmark.Deferred) {
      run().then(() => deferred.resolve(), (e) => {
        failure = e;
        bench.abort();
        deferred.resolve();
      });
    },
  });
  return runBenchmark(bench, () => failure);
}

/** benchmark.js, synchronous `run`. */
export function sampleBenchmarkJsSync(name: string, run: () => unknown, sampleMs: number): Promise<Sample> {
  const bench = new Benchmark(name, { fn: run, maxTime: sampleMs / 1000, minSamples: 5, delay: 0 });
  return runBenchmark(bench);
}

/** Runs `run` for about `ms` (at least twice) to warm caches, JIT and token sessions. */
export async function warmUp(run: () => Promise<unknown>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let n = 0;
  while (n < 2 || Date.now() < end) {
    await run();
    n++;
  }
}
