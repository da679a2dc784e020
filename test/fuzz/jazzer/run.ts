/**
 * Runs the jazzer.js targets (targets/*.ts, compiled to dist/test/fuzz/jazzer/targets/*.js).
 *
 *   node dist/test/fuzz/jazzer/run.js [--seconds N] [--coverage] [--jobs N] [target…]
 *
 * Each target runs in its own jazzer process for N seconds (OAKLEY_FUZZ_SECONDS, default 300), with
 * instrumentation of dist/src only, its seed corpus (test/fuzz/corpus/<target>, plus the recorded
 * strongSwan and Oakley packets for the ISAKMP targets) and a working corpus under .tmp/jazzer.
 * Findings land in .tmp/jazzer/<target>/crash-* (and timeout-*, oom-*); a target with a finding
 * fails the run. Prints one line per target and writes .tmp/jazzer/summary.json: executions,
 * libFuzzer edges (cov) and features (ft), corpus size and, with --coverage, istanbul line and
 * branch coverage of dist/src from jazzer's own coverage report.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureJazzerCompat } from './compat';

const ROOT = path.resolve(__dirname, '../../../..');
const DIST = path.join(ROOT, 'dist');
const CORPUS = path.join(ROOT, 'test/fuzz/corpus');
const WORK = path.join(ROOT, '.tmp/jazzer');

/** Target name -> extra seed directories (under test/fuzz/corpus) besides its own. */
export const TARGETS: Readonly<Record<string, readonly string[]>> = {
  'wire-header': ['oakley', 'strongswan'],
  'wire-message': ['oakley', 'strongswan'],
  'wire-natt': ['strongswan-4500'],
  'wire-encrypted': [],
  'wire-payloads': [],
  'wire-attributes': [],
  'wire-id': [],
  'policy-ike-config': [],
  'policy-preshared': [],
  'policy-ipsecinit': [],
  'control-frame': [],
  'xfrm-netlink': [],
  'engine-receive': [],
};
/** Targets whose fuzz function returns a Promise. */
const ASYNC = new Set(['engine-receive']);

export interface TargetResult {
  readonly target: string;
  readonly seconds: number;
  readonly executions: number;
  readonly cov: number;
  readonly ft: number;
  readonly corpus: number;
  readonly finding?: string;
  readonly lines?: number;
  readonly branches?: number;
  readonly exitCode: number | null;
  readonly tail: string;
}

export async function runTarget(target: string, seconds: number, opts: { coverage?: boolean; work?: string } = {}): Promise<TargetResult> {
  const preload = ensureJazzerCompat(ROOT);
  const work = path.join(opts.work ?? WORK, target);
  const live = path.join(work, 'corpus');
  fs.mkdirSync(live, { recursive: true });
  const seeds = [target, ...(TARGETS[target] ?? [])].map((d) => path.join(CORPUS, d)).filter((d) => fs.existsSync(d));
  const covDir = path.join(work, 'coverage');
  const args = [
    path.join(ROOT, 'node_modules/@jazzer.js/core/dist/cli.js'),
    path.join(DIST, 'test/fuzz/jazzer/targets', `${target}.js`),
    live, ...seeds,
    '-i', `${path.sep}dist${path.sep}src${path.sep}`,
    ...(ASYNC.has(target) ? [] : ['--sync']),
    ...(opts.coverage ? ['--coverage', '--coverage_directory', covDir, '--coverage_reporters', 'json-summary'] : []),
    '--',
    `-max_total_time=${seconds}`, '-timeout=20', '-rss_limit_mb=3072', '-max_len=8192',
    `-artifact_prefix=${work}${path.sep}`, '-print_final_stats=1',
  ];
  const child = spawn(process.execPath, args, { cwd: work, env: { ...process.env, LD_PRELOAD: preload }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); if (out.length > 4_000_000) out = out.slice(-1_000_000); });
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const last = (re: RegExp): RegExpMatchArray | undefined => [...out.matchAll(re)].pop();
  const stats = last(/cov: (\d+) ft: (\d+) corp: (\d+)/g);
  const done = last(/Done (\d+) runs in (\d+) second/g) ?? last(/stat::number_of_executed_units: (\d+)/g) ??
    last(/#(\d+)\s+(?:INITED|NEW|REDUCE|pulse|DONE|RELOAD)/g);
  const artifact = last(/Test unit written to (\S+)/g)?.[1];
  const findingLine = out.split('\n').find((l) => /==\d+== (Uncaught Exception|ERROR|Out of memory)|FuzzFinding|libFuzzer: (timeout|out-of-memory)/.test(l));
  let lines: number | undefined;
  let branches: number | undefined;
  const summary = path.join(covDir, 'coverage-summary.json');
  if (opts.coverage && fs.existsSync(summary)) {
    const total = JSON.parse(fs.readFileSync(summary, 'utf8')).total;
    lines = total.lines.pct;
    branches = total.branches.pct;
  }
  const finding = artifact || (exitCode !== 0 && findingLine) ? `${findingLine ?? `exit ${exitCode}`}${artifact ? ` (${artifact})` : ''}` : undefined;
  return {
    target, seconds, executions: Number(done?.[1] ?? 0), cov: Number(stats?.[1] ?? 0), ft: Number(stats?.[2] ?? 0), corpus: Number(stats?.[3] ?? 0),
    ...(finding ? { finding } : {}), ...(lines !== undefined ? { lines, branches } : {}),
    exitCode, tail: out.split('\n').slice(-40).join('\n'),
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let seconds = Number(process.env.OAKLEY_FUZZ_SECONDS ?? 300);
  let coverage = false;
  let jobs = 1;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seconds') seconds = Number(argv[++i]);
    else if (a === '--coverage') coverage = true;
    else if (a === '--jobs') jobs = Number(argv[++i]);
    else names.push(a);
  }
  const todo = names.length ? names : Object.keys(TARGETS);
  for (const n of todo) if (!(n in TARGETS)) throw new Error(`unknown target ${n}; known: ${Object.keys(TARGETS).join(' ')}`);
  const results: TargetResult[] = [];
  const queue = [...todo];
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const r = await runTarget(t, seconds, { coverage });
      results.push(r);
      const cov = r.lines !== undefined ? ` lines ${r.lines}% branches ${r.branches}%` : '';
      console.log(`${t.padEnd(18)} ${String(r.executions).padStart(10)} execs  cov ${r.cov} ft ${r.ft} corpus ${r.corpus}${cov}${r.finding ? `  FINDING: ${r.finding}` : ''}`);
      if (r.finding) console.log(r.tail);
    }
  }));
  fs.mkdirSync(WORK, { recursive: true });
  fs.writeFileSync(path.join(WORK, 'summary.json'), JSON.stringify(results.map(({ tail: _t, ...r }) => r), null, 2));
  const total = results.reduce((s, r) => s + r.executions, 0);
  console.log(`total ${total} executions in ${results.length} targets (${seconds} s each); summary in .tmp/jazzer/summary.json`);
  if (results.some((r) => r.finding)) process.exitCode = 1;
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
