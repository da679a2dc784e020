/**
 * Shared pieces of the handshake bench (bench/handshake.ts): the workload options, per-process
 * CPU and RSS from /proc, the windowed driver and the per-implementation result shape.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';

/** One IKEv1 MM+QM proposal as strongSwan spells it (aes128-sha256-modp2048); PFS uses the same group. */
export interface Proposal {
  readonly text: string;
  readonly encr: 'aes' | '3des';
  readonly keyBits: number;
  readonly hash: 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';
  /** IKE (Oakley) group number. */
  readonly group: number;
}

const GROUPS: Readonly<Record<string, number>> = {
  modp1024: 2, modp1536: 5, modp2048: 14, modp3072: 15, modp4096: 16, modp6144: 17, modp8192: 18, ecp256: 19, ecp384: 20,
};

/** @throws Error naming the accepted shape */
export function parseProposal(text: string): Proposal {
  const m = /^(aes(128|192|256)|3des)-(md5|sha1|sha256|sha384|sha512)-([a-z0-9]+)$/.exec(text);
  const group = m ? GROUPS[m[4]!] : undefined;
  if (!m || group === undefined) {
    throw new Error(`--proposal: expected ENCR-HASH-GROUP such as aes128-sha256-modp2048 (groups ${Object.keys(GROUPS).join(', ')}), not "${text}"`);
  }
  return { text, encr: m[1] === '3des' ? '3des' : 'aes', keyBits: m[2] ? Number(m[2]) : 192, hash: m[3] as Proposal['hash'], group };
}

export type Auth = 'psk' | 'rsa';

export interface Workload {
  readonly n: number;
  readonly window: number;
  readonly proposal: Proposal;
  readonly auth: Auth;
  /** Unmeasured negotiations first (JIT and allocator steady state for Oakley, caches for both). */
  readonly warmup: number;
  /** Pin both daemons (every thread) to CPUs 0..cpus-1; undefined: no pinning. */
  readonly cpus?: number;
  /** The full-window phase is measured in this many slices (measureSlices), medians reported. */
  readonly slices: number;
}

/**
 * Restricts every thread of `pid` (and the threads it starts later) to CPUs 0..cpus-1 with
 * `taskset -a -p`, for the 1-core vs 2-core scaling figure.
 * @throws Error when taskset fails or is missing
 */
export function pinToCpus(pid: number, cpus: number): void {
  const list = cpus === 1 ? '0' : `0-${cpus - 1}`;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', list, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`taskset -a -p -c ${list} ${pid} failed: ${(e as Error).message}`);
  }
}

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime+stime of `pid` in ms (/proc/PID/stat fields 14 and 15, after the parenthesised comm). */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** Resident set size of `pid` in KiB (/proc/PID/status VmRSS). */
export function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** How long the RSS figures wait for a process to settle (V8's memory reducer starts ~8 s after allocation slows). */
export const RSS_SETTLE_MS = 10_000;

/**
 * The lowest RSS of `pid` over `ms` (sampled every 250 ms): what the process holds once the
 * garbage of a burst is collected, taken the same way before and after a phase so that neither
 * side of the difference carries uncollected garbage the other does not.
 */
export async function settledRssKb(pid: number, ms = RSS_SETTLE_MS): Promise<number> {
  let low = rssKb(pid);
  for (let t = 0; t < ms; t += 250) {
    await new Promise((r) => setTimeout(r, 250));
    low = Math.min(low, rssKb(pid));
  }
  return low;
}

/** Busy CPU ms of the whole machine (all CPUs) from /proc/stat, to tell what others used. */
export function machineBusyMs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const busy = line.reduce((a, b) => a + b, 0) - (line[3] ?? 0) - (line[4] ?? 0);
  return (busy * 1000) / CLK_TCK;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface DriveResult {
  readonly completed: number;
  readonly failed: number;
  readonly firstError?: string;
  /** Wall time from the first start to the last completion. */
  readonly wallMs: number;
  /** Per-negotiation setup latency, sorted ascending. */
  readonly latenciesMs: number[];
}

/**
 * Runs `n` negotiations with at most `window` in flight: `lanes` workers, each starting the next
 * index when its previous one ends. `one(i, lane)` resolves when negotiation i is established.
 */
export async function drive(n: number, window: number, one: (i: number, lane: number) => Promise<void>,
  progress?: (done: number) => void): Promise<DriveResult> {
  let next = 0;
  let completed = 0;
  let failed = 0;
  let firstError: string | undefined;
  const lat: number[] = [];
  const t0 = performance.now();
  let tEnd = t0;
  const lane = async (l: number): Promise<void> => {
    while (next < n) {
      const i = next++;
      const s = performance.now();
      try {
        await one(i, l);
        completed++;
        lat.push(performance.now() - s);
        tEnd = performance.now();
      } catch (e) {
        failed++;
        firstError ??= (e as Error).message;
      }
      progress?.(completed + failed);
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, (_x, l) => lane(l)));
  return { completed, failed, ...(firstError ? { firstError } : {}), wallMs: tEnd - t0, latenciesMs: lat.sort((a, b) => a - b) };
}

/** One side (initiator or responder) of one implementation. */
export interface SideFigures {
  readonly cpuMs: number;
  readonly cpuMsPerNegotiation: number;
  readonly rssBeforeKb: number;
  readonly rssAfterKb: number;
  readonly eventLoopDelayP99Ms?: number;
  readonly eventLoopDelayMaxMs?: number;
  /** Daemon event counters that moved during the phase (retransmissions, drops...), when known. */
  readonly events?: Readonly<Record<string, number>>;
}

/** One measured phase (full window, or window 1) of one implementation. */
export interface PhaseResult {
  readonly window: number;
  readonly n: number;
  readonly completed: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly wallMs: number;
  readonly ratePerSec: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly initiator: SideFigures;
  readonly responder: SideFigures;
  /** initiator + responder CPU per negotiation. */
  readonly cpuMsPerNegotiation: number;
  /** Busy CPU ms of the machine minus the two daemons' during the phase: what others used. */
  readonly otherLoadMs: number;
  /** Responder RSS growth per established SA (KiB), when measured. */
  readonly rssPerSaKb?: number;
  /** IKE SAs the responder holds after the phase, when known. */
  readonly responderIkeSas?: number;
  /**
   * When the phase was measured in slices (measureSlices): each slice's own figures. The rate,
   * CPU per negotiation, latency and event-loop figures above are then medians over the slices.
   */
  readonly slices?: SliceFigures[];
}

/** The figures of one slice of a sliced phase. */
export interface SliceFigures {
  readonly n: number;
  readonly ratePerSec: number;
  readonly cpuMsPerNegotiation: number;
  readonly initiatorCpuMs: number;
  readonly responderCpuMs: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly eventLoopDelayP99Ms?: number;
}

export function phaseFrom(d: DriveResult, n: number, window: number, initiator: SideFigures, responder: SideFigures, otherLoadMs: number,
  extra: { rssPerSaKb?: number; responderIkeSas?: number } = {}): PhaseResult {
  return {
    window, n, completed: d.completed, failed: d.failed, ...(d.firstError ? { firstError: d.firstError } : {}),
    wallMs: d.wallMs, ratePerSec: d.completed / (d.wallMs / 1000),
    latencyP50Ms: percentile(d.latenciesMs, 50), latencyP99Ms: percentile(d.latenciesMs, 99),
    initiator, responder, cpuMsPerNegotiation: initiator.cpuMsPerNegotiation + responder.cpuMsPerNegotiation, otherLoadMs, ...extra,
  };
}

/** CPU and RSS snapshot of the two processes plus the machine, for before/after differences. */
export interface Snapshot {
  readonly cpuI: number;
  readonly cpuR: number;
  readonly rssI: number;
  readonly rssR: number;
  readonly busy: number;
}

export function snapshot(pidI: number, pidR: number): Snapshot {
  return { cpuI: cpuMs(pidI), cpuR: cpuMs(pidR), rssI: rssKb(pidI), rssR: rssKb(pidR), busy: machineBusyMs() };
}

export function sides(a: Snapshot, b: Snapshot, completed: number): { initiator: SideFigures; responder: SideFigures; otherLoadMs: number } {
  const per = (x: number): number => (completed > 0 ? x / completed : NaN);
  const ci = b.cpuI - a.cpuI;
  const cr = b.cpuR - a.cpuR;
  return {
    initiator: { cpuMs: ci, cpuMsPerNegotiation: per(ci), rssBeforeKb: a.rssI, rssAfterKb: b.rssI },
    responder: { cpuMs: cr, cpuMsPerNegotiation: per(cr), rssBeforeKb: a.rssR, rssAfterKb: b.rssR },
    otherLoadMs: Math.max(0, b.busy - a.busy - ci - cr),
  };
}

export function loadAverage(): number[] {
  return os.loadavg().map((x) => Number(x.toFixed(2)));
}

export interface PhaseHooks {
  /** Before the CPU snapshot (e.g. a metrics scrape that resets the loop histograms). */
  readonly before?: () => Promise<unknown>;
  /** After the closing snapshot: extra per-side figures (event-loop delay). */
  readonly after?: () => Promise<{ initiator?: Partial<SideFigures>; responder?: Partial<SideFigures> }>;
  /** Measure the responder's RSS growth per SA (after a settling pause). */
  readonly rss?: boolean;
  /** Called right after each settled RSS reading (with rss), e.g. to log what the memory is made of. */
  readonly settled?: (when: 'before' | 'after', rssKb: number) => Promise<void>;
  /** IKE SAs the responder holds, asked after the phase. */
  readonly responderIkeSas?: () => Promise<number | undefined>;
  readonly log?: (line: string) => void;
  /** Name in progress lines. */
  readonly name: string;
}

/**
 * One measured phase: `n` negotiations with `window` in flight between initiator `pidI` and
 * responder `pidR`, CPU and RSS from /proc before and after.
 */
export async function measurePhase(pidI: number, pidR: number, n: number, window: number,
  one: (i: number, lane: number) => Promise<void>, h: PhaseHooks): Promise<PhaseResult> {
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const rss0 = h.rss ? await settledRssKb(pidR) : undefined;
  if (rss0 !== undefined) await h.settled?.('before', rss0);
  await h.before?.();
  const s0 = snapshot(pidI, pidR);
  let lastShown = 0;
  const d = await drive(n, window, one, (done) => {
    if (done - lastShown >= Math.max(100, n / 10)) {
      lastShown = done;
      h.log?.(`${h.name}: ${done}/${n}`);
    }
  });
  // The responder may still be installing the last pairs when the initiator reports them.
  await pause(300);
  const s1 = snapshot(pidI, pidR);
  const more = (await h.after?.()) ?? {};
  const sd = sides(s0, s1, d.completed);
  let rssPerSaKb: number | undefined;
  if (rss0 !== undefined && d.completed > 0) {
    const rss1 = await settledRssKb(pidR);
    await h.settled?.('after', rss1);
    rssPerSaKb = (rss1 - rss0) / d.completed;
  }
  const ikeSas = await h.responderIkeSas?.();
  const p = phaseFrom(d, n, window, { ...sd.initiator, ...more.initiator }, { ...sd.responder, ...more.responder }, sd.otherLoadMs, {
    ...(rssPerSaKb !== undefined ? { rssPerSaKb } : {}), ...(ikeSas !== undefined ? { responderIkeSas: ikeSas } : {}),
  });
  h.log?.(`${h.name}: window ${window}: ${d.completed}/${n} in ${(d.wallMs / 1000).toFixed(1)} s, ${p.ratePerSec.toFixed(1)}/s, ` +
    `p50 ${p.latencyP50Ms.toFixed(1)} ms`);
  return p;
}

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

/** Sum of two event-counter records. */
function addEvents(a?: Readonly<Record<string, number>>, b?: Readonly<Record<string, number>>): Record<string, number> | undefined {
  if (!a && !b) return undefined;
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b ?? {})) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * One measured phase as `slices` consecutive phases of about n/slices negotiations each (so
 * machine noise shows as spread rather than as one number): rate, CPU per negotiation, latency
 * and event-loop p99 are medians over the slices; counts, CPU totals and events are sums; the
 * RSS growth per SA is over the whole phase. `one` sees indices 0..n-1 across all slices, as in
 * one phase. slices = 1 is measurePhase.
 */
export async function measureSlices(pidI: number, pidR: number, n: number, window: number, slices: number,
  one: (i: number, lane: number) => Promise<void>, h: PhaseHooks): Promise<PhaseResult> {
  const k = Math.max(1, Math.min(slices, n));
  if (k === 1) return measurePhase(pidI, pidR, n, window, one, h);
  const rss0 = h.rss ? await settledRssKb(pidR) : undefined;
  if (rss0 !== undefined) await h.settled?.('before', rss0);
  const parts: PhaseResult[] = [];
  for (let i = 0; i < k; i++) {
    const from = Math.floor((n * i) / k);
    const ni = Math.floor((n * (i + 1)) / k) - from;
    const last = i === k - 1;
    const { rss: _rss, settled: _settled, responderIkeSas, ...rest } = h;
    // Negotiation indices run on across slices (strongSwan's are connection names, b1..bN).
    const shifted = (j: number, lane: number): Promise<void> => one(from + j, lane);
    parts.push(await measurePhase(pidI, pidR, ni, window, shifted, { ...rest, ...(last && responderIkeSas ? { responderIkeSas } : {}) }));
  }
  const completed = parts.reduce((a, p) => a + p.completed, 0);
  let rssPerSaKb: number | undefined;
  if (rss0 !== undefined && completed > 0) {
    const rss1 = await settledRssKb(pidR);
    await h.settled?.('after', rss1);
    rssPerSaKb = (rss1 - rss0) / completed;
  }
  const side = (pick: (p: PhaseResult) => SideFigures): SideFigures => {
    const xs = parts.map(pick);
    const loop = xs.map((x) => x.eventLoopDelayP99Ms).filter((x): x is number => x !== undefined);
    const max = xs.map((x) => x.eventLoopDelayMaxMs).filter((x): x is number => x !== undefined);
    const events = xs.reduce<Record<string, number> | undefined>((a, x) => addEvents(a, x.events), undefined);
    return {
      cpuMs: xs.reduce((a, x) => a + x.cpuMs, 0), cpuMsPerNegotiation: median(xs.map((x) => x.cpuMsPerNegotiation)),
      rssBeforeKb: xs[0]!.rssBeforeKb, rssAfterKb: xs.at(-1)!.rssAfterKb,
      ...(loop.length ? { eventLoopDelayP99Ms: median(loop) } : {}), ...(max.length ? { eventLoopDelayMaxMs: Math.max(...max) } : {}),
      ...(events ? { events } : {}),
    };
  };
  const firstError = parts.find((p) => p.firstError)?.firstError;
  const ikeSas = parts.at(-1)!.responderIkeSas;
  return {
    window, n, completed, failed: parts.reduce((a, p) => a + p.failed, 0), ...(firstError ? { firstError } : {}),
    wallMs: parts.reduce((a, p) => a + p.wallMs, 0), ratePerSec: median(parts.map((p) => p.ratePerSec)),
    latencyP50Ms: median(parts.map((p) => p.latencyP50Ms)), latencyP99Ms: median(parts.map((p) => p.latencyP99Ms)),
    initiator: side((p) => p.initiator), responder: side((p) => p.responder),
    cpuMsPerNegotiation: median(parts.map((p) => p.cpuMsPerNegotiation)),
    otherLoadMs: parts.reduce((a, p) => a + p.otherLoadMs, 0),
    ...(rssPerSaKb !== undefined ? { rssPerSaKb } : {}), ...(ikeSas !== undefined ? { responderIkeSas: ikeSas } : {}),
    slices: parts.map((p) => {
      const loop = [p.initiator.eventLoopDelayP99Ms, p.responder.eventLoopDelayP99Ms].filter((x): x is number => x !== undefined);
      return {
        n: p.n, ratePerSec: p.ratePerSec, cpuMsPerNegotiation: p.cpuMsPerNegotiation, initiatorCpuMs: p.initiator.cpuMs,
        responderCpuMs: p.responder.cpuMs, latencyP50Ms: p.latencyP50Ms, latencyP99Ms: p.latencyP99Ms,
        ...(loop.length ? { eventLoopDelayP99Ms: Math.max(...loop) } : {}),
      };
    }),
  };
}

const aborters = new Set<() => Promise<void> | void>();

/**
 * Registers what must be undone if the bench is interrupted (SIGINT/SIGTERM): the normal paths
 * clean up in `finally`, which a signal skips. @returns the function that unregisters it
 */
export function onAbort(fn: () => Promise<void> | void): () => void {
  aborters.add(fn);
  return () => aborters.delete(fn);
}

/** Installs SIGINT/SIGTERM handlers that run every registered clean-up, then exit 130. */
export function cleanUpOnSignals(): void {
  const handler = (): void => {
    process.stderr.write('\ninterrupted: stopping the daemons and deleting the namespaces\n');
    Promise.allSettled([...aborters].map(async (f) => f())).finally(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
