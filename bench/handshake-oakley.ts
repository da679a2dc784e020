/**
 * The Oakley half of the handshake bench: two tools/iked on 127.0.0.1 (A initiates, B responds),
 * driven over W control connections to A with `initiate LABEL new` (a fresh Phase 1 + Quick Mode
 * each; the request returns once A has installed the IPsec SA pair). CPU and RSS come from
 * /proc/<pid>, the event-loop delay from each daemon's --metrics endpoint (reset per scrape).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { ControlClient } from '../src/control/client';
import { freeUdpPorts, stopDaemon, TOOLS, type Daemon } from '../src/demo/iked-demo';
import { DnPki, type DnIssued } from '../test/unit/keystore/dn-pki';
import { drive, freeTcpPort, measurePhase, measureSlices, median, onAbort, pinToCpus, type PhaseResult, type Proposal, type SideFigures, type Workload } from './handshake-common';

export interface OakleyOptions extends Workload {
  /** crypto_path all PATH (node | native | pkcs11); undefined: the daemon's default. */
  readonly cryptoPath?: string;
  /** More global ike/config lines (e.g. dh_exponent_bits 256, pkcs11_token "x"). */
  readonly configExtra: readonly string[];
  /** Sequential negotiations for the window-1 latency phase (0: skip). */
  readonly n1: number;
  /** Write V8 CPU profiles of A (iked-a-PID) and B (the responder, iked-b-PID) into this directory. */
  readonly cpuProfDir?: string;
  /** Extra node options for both daemons (e.g. --max-semi-space-size=32), for experiments. */
  readonly nodeArgs?: readonly string[];
  /** OAKLEY_WORKER_NICE for both daemons (auto, idle or 0..19); undefined: the daemon's default (auto). */
  readonly workerNice?: string;
  /** After the full-window phase: `pairs` × (n negotiations on CPU 0, n on CPUs 0-1), same daemons. */
  readonly scaling?: { readonly pairs: number; readonly n: number };
  readonly log: (line: string) => void;
}

/** The in-run 1 -> 2 core scaling measurement: the same two daemons re-pinned between phases. */
export interface ScalingResult {
  readonly n: number;
  /** Rates (negotiations/s) and CPU ms per negotiation (both sides) of each phase, in run order. */
  readonly oneCore: { readonly ratePerSec: number; readonly cpuMsPerNegotiation: number; readonly eventLoopDelayP99Ms?: number }[];
  readonly twoCores: { readonly ratePerSec: number; readonly cpuMsPerNegotiation: number; readonly eventLoopDelayP99Ms?: number }[];
  readonly oneCoreRate: number;
  readonly twoCoresRate: number;
  /** Median 2-core rate / median 1-core rate. */
  readonly ratio: number;
}

export interface OakleyResult {
  readonly status: 'ok' | 'error';
  readonly reason?: string;
  readonly window?: PhaseResult;
  readonly window1?: PhaseResult;
  readonly scaling?: ScalingResult;
  readonly cpuProfile?: string;
}

const PSK = 'oakley handshake bench pre-shared key';
const CA_DN = 'C=XX, O=Oakley Bench, CN=Bench CA';
const dnOf = (cn: string): string => `C=XX, O=Oakley Bench, CN=${cn}`;

interface Side {
  readonly label: string;
  readonly ownCn: string;
  readonly peerCn: string;
  readonly peerPort: number;
  readonly own?: DnIssued;
}

function xform(p: Proposal, auth: 'psk' | 'rsa'): string {
  const encr = p.encr === 'aes' ? `aes(${p.keyBits}..${p.keyBits})` : '3des';
  return `p1_xform { auth_method ${auth === 'psk' ? 'preshared' : 'rsa_sig'} oakley_group ${p.group} encr_alg ${encr} auth_alg ${p.hash} }`;
}

/** ROOT/ike/config, ipsecinit.conf and the PSK file or the certificate stores of one daemon. */
function writeBenchRoot(root: string, o: OakleyOptions, s: Side, ca?: DnIssued): void {
  fs.mkdirSync(path.join(root, 'ike', 'publickeys'), { recursive: true });
  fs.mkdirSync(path.join(root, 'secret', 'ike.privatekeys'), { recursive: true, mode: 0o700 });
  const rsa = o.auth === 'rsa';
  const globals = [
    'p1_lifetime_secs 3600',
    ...(rsa ? [`cert_root "${CA_DN}"`] : []),
    ...(o.cryptoPath ? [`crypto_path all ${o.cryptoPath}`] : []),
    ...o.configExtra,
  ];
  const ids = rsa ? [`  local_id_type dn`, `  local_id "${dnOf(s.ownCn)}"`, `  remote_id "${dnOf(s.peerCn)}"`] : [];
  fs.writeFileSync(path.join(root, 'ike', 'config'), `# written by bench/handshake-oakley.ts
${globals.join('\n')}
{
  label "${s.label}"
  local_addr 127.0.0.1
  remote_addr 127.0.0.1
  remote_port ${s.peerPort}
${ids.join('\n')}
  ${xform(o.proposal, o.auth)}
  p2_pfs ${o.proposal.group}
}
`);
  const espEncr = o.proposal.encr === 'aes' ? `aes(${o.proposal.keyBits}..${o.proposal.keyBits})` : '3des';
  fs.writeFileSync(path.join(root, 'ipsecinit.conf'),
    `{laddr 127.0.0.1 raddr 127.0.0.1} ipsec {encr_algs ${espEncr} encr_auth_algs ${o.proposal.hash === 'md5' ? 'sha1' : o.proposal.hash} sa shared}\n`);
  if (rsa) {
    fs.writeFileSync(path.join(root, 'ike', 'publickeys', '0'), ca!.certPem);
    fs.writeFileSync(path.join(root, 'ike', 'publickeys', '1'), s.own!.certPem);
    fs.writeFileSync(path.join(root, 'secret', 'ike.privatekeys', '0'), s.own!.keyPem, { mode: 0o600 });
  } else {
    fs.writeFileSync(path.join(root, 'secret', 'ike.preshared'),
      `{\n  localidtype IP\n  localid 127.0.0.1\n  remoteidtype IP\n  remoteid 127.0.0.1\n  key "${PSK}"\n}\n`, { mode: 0o600 });
  }
}

/** tools/iked in the foreground with its log in ROOT/iked.log and a metrics endpoint; waits for the control socket. */
async function startIked(root: string, port: number, natPort: number, metricsPort: number, nodeArgs: readonly string[],
  workerNice?: string): Promise<Daemon> {
  const control = path.join(root, 'iked.sock');
  const proc = spawn(process.execPath, [...nodeArgs, path.join(TOOLS, 'iked'), '--root', root, '--listen', '127.0.0.1', '--port', String(port),
    '--nat-port', String(natPort), '--control', control, '--log', path.join(root, 'iked.log'), '--metrics', `127.0.0.1:${metricsPort}`],
  { stdio: ['ignore', 'ignore', 'pipe'], cwd: root, env: { ...process.env, ...(workerNice !== undefined ? { OAKLEY_WORKER_NICE: workerNice } : {}) } });
  const d: Daemon = { proc, control, log: '' };
  proc.stderr!.on('data', (b) => (d.log = (d.log + b).slice(-8192)));
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(control)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      throw new Error(`iked did not start (exit ${proc.exitCode}): ${d.log}${logTail(root)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return d;
}

function logTail(root: string): string {
  try {
    return fs.readFileSync(path.join(root, 'iked.log'), 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

/** GET /metrics as name{labels} -> value. */
function scrape(port: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        const m = new Map<string, number>();
        for (const line of body.split('\n')) {
          const x = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
          if (x) m.set(x[1]!, Number(x[2]));
        }
        resolve(m);
      });
    }).on('error', reject);
  });
}

const loopFigures = (m: Map<string, number>): Pick<SideFigures, 'eventLoopDelayP99Ms' | 'eventLoopDelayMaxMs'> => {
  const p99 = m.get('oakley_event_loop_delay_seconds{stat="p99"}');
  const max = m.get('oakley_event_loop_delay_seconds{stat="max"}');
  return { ...(p99 !== undefined ? { eventLoopDelayP99Ms: p99 * 1000 } : {}), ...(max !== undefined ? { eventLoopDelayMaxMs: max * 1000 } : {}) };
};

/** The responder's memory at a settled point: RSS (lowest over the settling pause) and its parts at the end of it. */
export interface MemoryBreakdown {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly oldSpaceUsed: number;
  readonly arrayBuffers: number;
  readonly external: number;
}

function memoryOf(m: Map<string, number>, rssKb: number): MemoryBreakdown {
  const g = (k: string): number => m.get(k) ?? NaN;
  return {
    rss: rssKb * 1024, heapUsed: g('oakley_memory_bytes{kind="heap_used"}'), heapTotal: g('oakley_memory_bytes{kind="heap_total"}'),
    oldSpaceUsed: g('oakley_heap_space_bytes{space="old_space",stat="used"}'), arrayBuffers: g('oakley_memory_bytes{kind="array_buffers"}'),
    external: g('oakley_memory_bytes{kind="external"}'),
  };
}

function perSa(a: MemoryBreakdown, b: MemoryBreakdown, n: number): MemoryBreakdown {
  const d = (k: keyof MemoryBreakdown): number => (b[k] - a[k]) / n;
  return { rss: d('rss'), heapUsed: d('heapUsed'), heapTotal: d('heapTotal'), oldSpaceUsed: d('oldSpaceUsed'), arrayBuffers: d('arrayBuffers'), external: d('external') };
}

function showMemory(m: MemoryBreakdown, unit: 'MiB' | 'B' = 'MiB'): string {
  const f = (x: number): string => (unit === 'MiB' ? `${(x / 1048576).toFixed(1)} MiB` : `${Math.round(x)} B`);
  return `rss ${f(m.rss)}, V8 heap ${f(m.heapUsed)} used of ${f(m.heapTotal)} (old space ${f(m.oldSpaceUsed)} used), ` +
    `array buffers ${f(m.arrayBuffers)}, external ${f(m.external)}`;
}

/** oakley_events_total counters that changed between two scrapes, by counter name. */
function eventsMoved(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const m = /^oakley_events_total\{counter="([^"]+)"\}$/.exec(k);
    const d = v - (before.get(k) ?? 0);
    if (m && d !== 0) out[m[1]!] = d;
  }
  return out;
}

/**
 * 1 -> 2 core scaling with the same (warm) daemons: `pairs` rounds of one phase with every thread
 * of both on CPU 0 and one on CPUs 0-1, alternating which comes first so slow drift cancels;
 * medians of each. Leaves both daemons on CPUs 0-1.
 */
async function measureScaling(pidA: number, pidB: number, pairs: number, n: number, window: number,
  one: (i: number, lane: number) => Promise<void>, hooks: Parameters<typeof measurePhase>[5], log: (l: string) => void): Promise<ScalingResult> {
  const oneCore: ScalingResult['oneCore'] = [];
  const twoCores: ScalingResult['twoCores'] = [];
  const figures = (p: PhaseResult): ScalingResult['oneCore'][number] => {
    const loop = [p.initiator.eventLoopDelayP99Ms, p.responder.eventLoopDelayP99Ms].filter((x): x is number => x !== undefined);
    return { ratePerSec: p.ratePerSec, cpuMsPerNegotiation: p.cpuMsPerNegotiation, ...(loop.length ? { eventLoopDelayP99Ms: Math.max(...loop) } : {}) };
  };
  for (let i = 0; i < pairs; i++) {
    for (const cpus of i % 2 === 0 ? [1, 2] : [2, 1]) {
      for (const pid of [pidA, pidB]) pinToCpus(pid, cpus);
      const p = await measurePhase(pidA, pidB, n, window, one, { ...hooks, name: `oakley scaling ${cpus} CPU${cpus > 1 ? 's' : ''}` });
      (cpus === 1 ? oneCore : twoCores).push(figures(p));
    }
  }
  const oneCoreRate = median(oneCore.map((x) => x.ratePerSec));
  const twoCoresRate = median(twoCores.map((x) => x.ratePerSec));
  log(`oakley scaling: 1 CPU ${oneCoreRate.toFixed(1)}/s, 2 CPUs ${twoCoresRate.toFixed(1)}/s (medians of ${pairs}): ${(twoCoresRate / oneCoreRate).toFixed(2)}×`);
  return { n, oneCore, twoCores, oneCoreRate, twoCoresRate, ratio: twoCoresRate / oneCoreRate };
}

/** Runs the warm-up, the window-1 phase and the full-window phase; everything started is stopped. */
export async function runOakley(o: OakleyOptions): Promise<OakleyResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-hs-bench-'));
  const daemons: Daemon[] = [];
  const clients: ControlClient[] = [];
  let pki: DnPki | undefined;
  let result: OakleyResult;
  const unregister = onAbort(() => {
    for (const d of daemons) d.proc.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  try {
    const [portA, natA, portB, natB] = await freeUdpPorts(4);
    const [metricsA, metricsB] = [await freeTcpPort(), await freeTcpPort()];
    let ca: DnIssued | undefined;
    let certA: DnIssued | undefined;
    let certB: DnIssued | undefined;
    if (o.auth === 'rsa') {
      pki = new DnPki();
      ca = pki.selfSigned('ca', '/C=XX/O=Oakley Bench/CN=Bench CA');
      certA = pki.issue('ca', 'a', '/C=XX/O=Oakley Bench/CN=a.bench', ['DNS:a.bench']);
      certB = pki.issue('ca', 'b', '/C=XX/O=Oakley Bench/CN=b.bench', ['DNS:b.bench']);
    }
    const rootA = path.join(tmp, 'a');
    const rootB = path.join(tmp, 'b');
    writeBenchRoot(rootA, o, { label: 'bench-a', ownCn: 'a.bench', peerCn: 'b.bench', peerPort: portB!, ...(certA ? { own: certA } : {}) }, ca);
    writeBenchRoot(rootB, o, { label: 'bench-b', ownCn: 'b.bench', peerCn: 'a.bench', peerPort: portA!, ...(certB ? { own: certB } : {}) }, ca);
    const profArgs = (who: string): string[] =>
      o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir, '--cpu-prof-name', `iked-${who}-${process.pid}.cpuprofile`] : [];
    const a = await startIked(rootA, portA!, natA!, metricsA, [...profArgs('a'), ...(o.nodeArgs ?? [])], o.workerNice);
    daemons.push(a);
    const b = await startIked(rootB, portB!, natB!, metricsB, [...profArgs('b'), ...(o.nodeArgs ?? [])], o.workerNice);
    daemons.push(b);
    const pidA = a.proc.pid!;
    const pidB = b.proc.pid!;
    if (o.cpus !== undefined) for (const pid of [pidA, pidB]) pinToCpus(pid, o.cpus);
    for (let i = 0; i < Math.max(1, o.window); i++) clients.push(await ControlClient.connect(a.control));
    const one = async (_i: number, lane: number): Promise<void> => {
      const r = await clients[lane]!.request('initiate', { label: 'bench-a', fresh: true });
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    };
    const ikeSasOfB = async (): Promise<number | undefined> => (await scrape(metricsB)).get('oakley_ike_sas{role="responder"}');

    // Warm-up: JIT, first-use allocations, the crypto paths' lazy set-up.
    const warm = await drive(Math.max(1, o.warmup), o.window, one);
    if (warm.completed === 0) throw new Error(`warm-up negotiations failed: ${warm.firstError}\n--- A ---\n${logTail(rootA)}\n--- B ---\n${logTail(rootB)}`);
    o.log(`oakley: warm-up ${warm.completed} ok, ${warm.failed} failed`);

    let atStart: Map<string, number>[] = [];
    const hooks = {
      name: 'oakley', log: o.log,
      before: async () => {
        atStart = await Promise.all([scrape(metricsA), scrape(metricsB)]);
      },
      after: async () => {
        const [mA, mB] = await Promise.all([scrape(metricsA), scrape(metricsB)]);
        const eA = eventsMoved(atStart[0]!, mA);
        const eB = eventsMoved(atStart[1]!, mB);
        const shown = (e: Record<string, number>): string => Object.entries(e).filter(([k]) => /retransmit\.resent|busy|drop|gave_up|fail|modexp\.batch|starved/.test(k))
          .map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
        o.log(`oakley: initiator events: ${shown(eA)}; responder events: ${shown(eB)}`);
        return { initiator: { ...loopFigures(mA), events: eA }, responder: { ...loopFigures(mB), events: eB } };
      },
    };
    const window1 = o.n1 > 0 ? await measurePhase(pidA, pidB, o.n1, 1, one, hooks) : undefined;
    // What the responder's settled RSS is made of (V8 heap spaces, buffers), before and after.
    const memory: Record<string, MemoryBreakdown> = {};
    const settled = async (when: 'before' | 'after', rssKb: number): Promise<void> => {
      memory[when] = memoryOf(await scrape(metricsB), rssKb);
      o.log(`oakley: responder memory ${when}: ${showMemory(memory[when]!)}`);
    };
    const full = await measureSlices(pidA, pidB, o.n, o.window, o.slices, one, { ...hooks, rss: true, settled, responderIkeSas: ikeSasOfB });
    if (memory['before'] && memory['after'] && full.completed > 0) {
      o.log(`oakley: responder memory per SA: ${showMemory(perSa(memory['before'], memory['after'], full.completed), 'B')}`);
    }
    const scaling = o.scaling ? await measureScaling(pidA, pidB, o.scaling.pairs, o.scaling.n, o.window, one, hooks, o.log) : undefined;
    if (scaling && o.cpus !== undefined) for (const pid of [pidA, pidB]) pinToCpus(pid, o.cpus);
    result = { status: 'ok', window: full, ...(window1 ? { window1 } : {}), ...(scaling ? { scaling } : {}) };
  } catch (e) {
    result = { status: 'error', reason: (e as Error).message };
  } finally {
    for (const c of clients) c.close();
    for (const d of daemons) await stopDaemon(d, 10_000);
    unregister();
    pki?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (o.cpuProfDir) {
    const f = path.join(o.cpuProfDir, `iked-b-${process.pid}.cpuprofile`);
    if (fs.existsSync(f)) return { ...result, cpuProfile: f };
  }
  return result;
}
