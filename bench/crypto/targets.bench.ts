/**
 * The three targets of the crypto-path issue, checked by measurement and printed as PASS/FAIL
 * (never as timed tests):
 *
 *  1. native modexp at least as fast as node:crypto's for the same exponent length (MODP-14);
 *  2. the async native path sustains >= 1.8x its one-in-flight rate on 2 idle cores;
 *  3. event-loop delay p99 < 5 ms while 1,000 async native modexps (MODP-14) are in flight.
 *
 * They use the addon's ModpContext directly (src/crypto/native/addon.ts): modexp (calling thread),
 * modexpAsync (libuv pool) and modexpBatch (many modexps as one pool job).
 */
import { execFile } from 'node:child_process';
import { createDiffieHellman, randomFillSync } from 'node:crypto';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { defaultExponentBits, getGroup, leftPad, randomExponent, type ModpGroup } from '../../src/crypto/groups';
import { modexpBatch } from '../../src/crypto/native';
import { loadAddon, nativeLoadError, type NativeModpContext } from '../../src/crypto/native/addon';
import { sampleBenchmarkJsSync } from '../lib/harness';
import { alternate, median, nowNs } from '../lib/stats';
import { peerValue } from './ke.bench';

export type Verdict = 'PASS' | 'FAIL' | 'SKIP';

export interface TargetResult {
  readonly id: 1 | 2 | 3;
  readonly title: string;
  readonly verdict: Verdict;
  /** One line with the deciding figures. */
  readonly summary: string;
  /** Supporting figures, printed indented. */
  readonly details: string[];
  readonly data: Record<string, unknown>;
}

export interface TargetOptions {
  readonly samples: number;
  readonly sampleMs: number;
  readonly poolSize: number;
  readonly quick: boolean;
  /** Progress label callback. */
  readonly note: (label: string) => void;
}

const fmt = (x: number, d = 1): string => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

interface Modp14 {
  readonly group: ModpGroup;
  readonly ctx: NativeModpContext;
  readonly x: Buffer;
  readonly peer: Buffer;
  readonly bits: number;
}

function modp14(): Modp14 | string {
  const addon = loadAddon();
  if (!addon) return `native addon unavailable (${nativeLoadError()?.message.split('\n')[0] ?? 'not loaded'})`;
  const group = getGroup(14) as ModpGroup;
  const bits = defaultExponentBits(group);
  return { group, ctx: new addon.ModpContext(group.p), x: randomExponent(group, bits, randomFillSync), peer: peerValue(14), bits };
}

const skip = (id: 1 | 2 | 3, title: string, why: string): TargetResult =>
  ({ id, title, verdict: 'SKIP', summary: why, details: [], data: { skipped: why } });

// ---------------------------------------------------------------------------------------------
// 1. native modexp vs node:crypto, same exponent
// ---------------------------------------------------------------------------------------------

/** Noise band for "at least as fast": both paths run the same OpenSSL BN code (perf-anchors §5). */
export const T1_TOLERANCE = 1.03;

export async function target1(o: TargetOptions, seam?: { nodeUs: number; nativeUs: number }): Promise<TargetResult> {
  const title = 'native modexp >= node:crypto speed (MODP-14, same exponent bits)';
  const m = modp14();
  if (typeof m === 'string') return skip(1, title, m);
  const dh = createDiffieHellman(m.group.p, m.group.g);
  const nodeModexp = (): Buffer => {
    dh.setPrivateKey(m.x);
    return dh.computeSecret(m.peer);
  };
  const nativeModexp = (): Buffer => m.ctx.modexp(m.peer, m.x);
  if (!leftPad(nodeModexp(), m.group.size).equals(nativeModexp())) {
    return { id: 1, title, verdict: 'FAIL', summary: 'native and node modexp results differ', details: [], data: {} };
  }
  // Paired rounds: node and native back to back (order alternating), one ratio per round, so slow
  // drifts in machine load cancel; the verdict is on the median of the per-round ratios.
  const cells = [{ name: 'node', run: nodeModexp }, { name: 'native', run: nativeModexp }];
  const us: Record<string, number[]> = { node: [], native: [] };
  const ratios: number[] = [];
  const rounds = Math.max(2 * o.samples + 1, o.quick ? 7 : 11);
  const ms = Math.min(o.sampleMs, 250);
  for (let r = 0; r < rounds; r++) {
    for (const c of alternate(cells, r)) {
      o.note(`target 1: ${c.name} modexp, round ${r + 1}/${rounds}`);
      us[c.name].push((await sampleBenchmarkJsSync(`${c.name} modexp`, c.run, ms)).us);
    }
    ratios.push(us.native[r] / us.node[r]);
  }
  const nodeUs = median(us.node);
  const nativeUs = median(us.native);
  const ratio = median(ratios);
  const sorted = [...ratios].sort((a, b) => a - b);
  const q1 = sorted[Math.floor((sorted.length - 1) / 4)];
  const q3 = sorted[Math.ceil((3 * (sorted.length - 1)) / 4)];
  const details = [
    `node DiffieHellman.setPrivateKey+computeSecret: median ${fmt(nodeUs)} µs/op (rounds ${us.node.map((x) => fmt(x, 0)).join(' ')})`,
    `native ModpContext.modexp:                      median ${fmt(nativeUs)} µs/op (rounds ${us.native.map((x) => fmt(x, 0)).join(' ')})`,
    `per-round native/node: median ${fmt(ratio, 3)}, quartiles ${fmt(q1, 3)}..${fmt(q3, 3)}; benchmark.js (sync), ${rounds} paired rounds of ~${ms} ms; ` +
      `PASS when the median ratio <= ${T1_TOLERANCE} (noise band: same OpenSSL code)`,
  ];
  return {
    id: 1, title, verdict: ratio <= T1_TOLERANCE ? 'PASS' : 'FAIL',
    summary: `native ${fmt(nativeUs)} µs vs node ${fmt(nodeUs)} µs per ${m.bits}-bit-exponent modexp: native/node = ${fmt(ratio, 3)} (median of paired rounds)`,
    details, data: { exponentBits: m.bits, nodeUs, nativeUs, ratio, ratios, tolerance: T1_TOLERANCE, samples: us, seam },
  };
}

// ---------------------------------------------------------------------------------------------
// 2. async scaling on the libuv pool
// ---------------------------------------------------------------------------------------------

/** Wall-clock ops/s with `k` chains of `op` in flight for about `ms`. */
async function throughput(k: number, op: () => Promise<number>, ms: number): Promise<number> {
  const t0 = nowNs();
  const deadline = t0 + BigInt(Math.round(ms * 1e6));
  let done = 0;
  const chain = async (): Promise<void> => {
    while (nowNs() < deadline) {
      const n = await op(); // not `done += await op()`: that reads `done` before the await and loses updates
      done += n;
    }
  };
  await Promise.all(Array.from({ length: k }, chain));
  return done / (Number(nowNs() - t0) / 1e9);
}

function syncThroughput(op: () => void, ms: number): number {
  const t0 = nowNs();
  const deadline = t0 + BigInt(Math.round(ms * 1e6));
  let done = 0;
  while (nowNs() < deadline) {
    op();
    done++;
  }
  return done / (Number(nowNs() - t0) / 1e9);
}

/**
 * Control: can this process get two cores at all? One plain busy child process alone, then two at
 * once; each times its own fixed loop. scaling = 2 * t(alone) / mean t(pair): 2.0 when the second
 * vCPU is free, ~1.0 when someone else holds it.
 */
const BUSY = 'const t=process.hrtime.bigint();let x=1;for(let i=0;i<1e8;i++)x=(x*1103515245+12345)|0;' +
  'process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6)+" "+(x&1));';

function busyChild(): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', BUSY], { timeout: 60_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(Number(String(stdout).split(' ')[0]));
    });
  });
}

export async function twoCoreControl(rounds: number, note: (s: string) => void): Promise<{ aloneMs: number[]; pairMs: number[] }> {
  const aloneMs: number[] = [];
  const pairMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    note(`control: busy processes, round ${r + 1}/${rounds}`);
    const first = r % 2 === 0;
    if (first) aloneMs.push(await busyChild());
    const pair = await Promise.all([busyChild(), busyChild()]);
    pairMs.push((pair[0] + pair[1]) / 2);
    if (!first) aloneMs.push(await busyChild());
  }
  return { aloneMs, pairMs };
}

export const T2_TARGET = 1.8;

export async function target2(o: TargetOptions): Promise<TargetResult> {
  const title = `async native path >= ${T2_TARGET}x its 1-in-flight rate (MODP-14 modexp, 2 cores)`;
  const m = modp14();
  if (typeof m === 'string') return skip(2, title, m);
  const BATCH = 32;
  const bases = Array.from({ length: BATCH }, () => m.peer);
  const exps = Array.from({ length: BATCH }, () => m.x);
  const one = async (): Promise<number> => {
    await m.ctx.modexpAsync(m.peer, m.x);
    return 1;
  };
  // The native path's batch entry: one call, split into `jobs` pool jobs (src/crypto/native/ke.ts).
  const batch = (jobs: number) => async (): Promise<number> => (await modexpBatch(14, bases, exps, jobs)).length;
  const modes: Array<{ name: string; measure: (ms: number) => Promise<number> }> = [
    { name: 'sync (main thread)', measure: async (ms) => syncThroughput(() => m.ctx.modexp(m.peer, m.x), ms) },
    { name: 'async K=1', measure: (ms) => throughput(1, one, ms) },
    { name: 'async K=2', measure: (ms) => throughput(2, one, ms) },
    { name: 'async K=4', measure: (ms) => throughput(4, one, ms) },
    { name: 'async K=8', measure: (ms) => throughput(8, one, ms) },
    { name: `modexpBatch x${BATCH}, 1 job`, measure: (ms) => throughput(1, batch(1), ms) },
    { name: `modexpBatch x${BATCH}, 2 jobs`, measure: (ms) => throughput(1, batch(2), ms) },
  ];
  // Control before and after the timed modes (machine load drifts), then warm the pool threads.
  const before = o.quick ? { aloneMs: [], pairMs: [] } : await twoCoreControl(1, o.note);
  await throughput(4, one, 100);
  const rates: Record<string, number[]> = Object.fromEntries(modes.map((x) => [x.name, []]));
  const rounds = Math.max(o.samples, o.quick ? 3 : 5);
  const ms = Math.max(o.sampleMs, 300);
  const load0 = loadavg()[0];
  for (let r = 0; r < rounds; r++) {
    for (const mode of alternate(modes, r)) {
      o.note(`target 2: ${mode.name}, sample ${r + 1}/${rounds}`);
      rates[mode.name].push(await mode.measure(ms));
    }
  }
  const med = (name: string): number => median(rates[name]);
  const k1 = med('async K=1');
  const k4 = med('async K=4');
  const k8 = med('async K=8');
  const ratio = k4 / k1;
  const after = await twoCoreControl(o.quick ? 1 : 2, o.note);
  const control = {
    aloneMs: [...before.aloneMs, ...after.aloneMs], pairMs: [...before.pairMs, ...after.pairMs],
    scaling: 2 * median([...before.aloneMs, ...after.aloneMs]) / median([...before.pairMs, ...after.pairMs]),
  };
  const details = [
    `UV_THREADPOOL_SIZE=${o.poolSize}; ${rounds} alternating ${ms}-ms samples per mode; medians (ops/s, wall clock); 1-min load average at start ${fmt(load0, 2)}`,
    ...modes.map((x) => `${x.name.padEnd(24)} ${fmt(med(x.name), 0).padStart(8)} ops/s   (${fmt(med(x.name) / k1, 2)}x K=1, ${fmt(med(x.name) / med('sync (main thread)'), 2)}x sync)`),
    `control, two plain busy processes vs one: ${fmt(control.scaling, 2)}x (alone ${control.aloneMs.map((x) => fmt(x, 0)).join('/')} ms, ` +
      `pair ${control.pairMs.map((x) => fmt(x, 0)).join('/')} ms) — ${control.scaling >= 1.8 ? 'the second core is available' : 'the second core is NOT fully available to this process right now'}`,
    `K=4 scaling relative to what the OS gave the control: ${fmt(ratio / control.scaling, 2)} (1.0 = the pool used all the parallelism there was)`,
  ];
  if (ratio > 2.1) {
    details.push(`note: ${fmt(ratio, 2)}x is above the 2-core ideal — other load depressed the 1-in-flight rate (the kernel shares CPU ` +
      'per thread, so 2 busy pool threads win more of a contended machine than 1); read it as "scales", not as the exact factor');
  }
  let verdict: Verdict = ratio >= T2_TARGET ? 'PASS' : 'FAIL';
  let summary = `K=4 in flight ${fmt(k4, 0)} ops/s vs K=1 ${fmt(k1, 0)} ops/s: ${fmt(ratio, 2)}x (K=8: ${fmt(k8 / k1, 2)}x)`;
  if (verdict === 'FAIL' && control.scaling < T2_TARGET) {
    summary += `; the OS gave only ${fmt(control.scaling, 2)}x to two plain processes, so the machine, not the addon, may be the limit`;
  }
  if (o.poolSize < 2) {
    verdict = 'FAIL';
    summary += `; UV_THREADPOOL_SIZE=${o.poolSize} cannot use two cores`;
  }
  return {
    id: 2, title, verdict, summary, details,
    data: { poolSize: o.poolSize, rounds, sampleMs: ms, ratesOpsPerSec: rates, medians: Object.fromEntries(modes.map((x) => [x.name, med(x.name)])), ratio, target: T2_TARGET, control, loadavgStart: load0 },
  };
}

// ---------------------------------------------------------------------------------------------
// 3. event-loop delay with 1,000 modexps in flight
// ---------------------------------------------------------------------------------------------

export const T3_LIMIT_MS = 5;
const IN_FLIGHT = 1000;

export async function target3(o: TargetOptions): Promise<TargetResult> {
  const title = `event-loop delay p99 < ${T3_LIMIT_MS} ms with ${IN_FLIGHT} async native modexps in flight (MODP-14)`;
  const m = modp14();
  if (typeof m === 'string') return skip(3, title, m);
  const runs: Array<{ p50: number; p99: number; max: number; mean: number; wallMs: number; submitMs: number; count: number }> = [];
  const reps = o.quick ? 1 : 3;
  // Baseline: the same histogram with nothing in flight (what the machine itself does to a 1 ms timer).
  o.note('target 3: baseline, nothing in flight');
  const base = monitorEventLoopDelay({ resolution: 1 });
  base.enable();
  await new Promise((resolve) => setTimeout(resolve, 300));
  base.disable();
  const baseline = { p50: base.percentile(50) / 1e6, p99: base.percentile(99) / 1e6, max: base.max / 1e6, count: base.count };
  for (let r = 0; r < reps; r++) {
    o.note(`target 3: ${IN_FLIGHT} modexps in flight, run ${r + 1}/${reps}`);
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const t0 = nowNs();
    const all: Array<Promise<Buffer>> = [];
    for (let i = 0; i < IN_FLIGHT; i++) all.push(m.ctx.modexpAsync(m.peer, m.x));
    const submitMs = Number(nowNs() - t0) / 1e6;
    await Promise.all(all);
    const wallMs = Number(nowNs() - t0) / 1e6;
    h.disable();
    runs.push({
      p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, mean: h.mean / 1e6,
      wallMs, submitMs, count: h.count,
    });
  }
  const p99 = median(runs.map((x) => x.p99));
  const details = [
    `monitorEventLoopDelay resolution 1 ms; ${reps} run(s); figures are the timer's intervals, so the 1 ms resolution itself is included (p50 ~1 ms)`,
    `baseline, nothing in flight (300 ms): p50 ${fmt(baseline.p50, 2)} ms, p99 ${fmt(baseline.p99, 2)} ms, max ${fmt(baseline.max, 2)} ms`,
    ...runs.map((x, i) => `run ${i + 1}: p50 ${fmt(x.p50, 2)} ms, p99 ${fmt(x.p99, 2)} ms, max ${fmt(x.max, 2)} ms, ` +
      `${x.count} timer samples; submit ${fmt(x.submitMs, 1)} ms, all done in ${fmt(x.wallMs, 0)} ms (${fmt(IN_FLIGHT / x.wallMs * 1000, 0)} ops/s)`),
  ];
  return {
    id: 3, title, verdict: p99 < T3_LIMIT_MS ? 'PASS' : 'FAIL',
    summary: `p99 event-loop delay ${fmt(p99, 2)} ms (median of ${reps}; worst max ${fmt(Math.max(...runs.map((x) => x.max)), 2)} ms)`,
    details, data: { inFlight: IN_FLIGHT, runs, baseline, p99Ms: p99, limitMs: T3_LIMIT_MS, poolSize: o.poolSize },
  };
}
