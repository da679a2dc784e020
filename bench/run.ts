/**
 * `npm run bench`: every expensive IKE operation on every crypto path (node, native, pkcs11),
 * side by side with `openssl speed` from the same invocation, plus the three targets of the
 * crypto-path issue as PASS/FAIL lines. Options: bench/lib/options.ts (or --help).
 *
 * Output: a progress line on stderr, the table on stdout, bench/results/crypto-<timestamp>.json,
 * bench/results/latest.json and bench/results/crypto.svg (+ crypto.png when ImageMagick's
 * `convert` or `rsvg-convert` is installed).
 */
import { POOL_SIZE, POOL_SIZE_FROM_USER } from './pool-env'; // first: before anything uses the libuv pool

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';

import { loadAddon } from '../src/crypto/native/addon';
import type { CryptoPath } from '../src/crypto/types';
import { KDF_OPS } from './crypto/kdf.bench';
import { ifmaSection, type IfmaReport } from './crypto/ifma.bench';
import { KE_OPS } from './crypto/ke.bench';
import { SkipOp, type OpDef, type PreparedOp } from './crypto/op';
import { RSA_OPS, setRsaKeyDir } from './crypto/rsa.bench';
import { target1, target2, target3, type TargetResult } from './crypto/targets.bench';
import { closePaths, openPaths, type PathStatus } from './lib/backends';
import { sampleAlternating, sampleBenchmarkJs, warmUp, type Sample } from './lib/harness';
import { OpensslReference, opensslVersion, type OpensslAlg } from './lib/openssl';
import { opSelected, parseOptions, USAGE, type BenchOptions } from './lib/options';
import { Progress } from './lib/progress';
import { renderIfmaSvg } from './lib/ifma-svg';
import { deriveRatios, formatTable, type CellResult, type OpResult } from './lib/results';
import { alternate, median, min } from './lib/stats';
import { renderSvg } from './lib/svg';

export const ALL_OPS: readonly OpDef[] = [...KE_OPS, ...RSA_OPS, ...KDF_OPS];

const benchDir = __dirname.includes('/dist/') ? join(__dirname, '..', '..', 'bench') : __dirname;

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

interface Cell {
  readonly path: CryptoPath;
  readonly prepared: PreparedOp;
  readonly result: CellResult;
  readonly samples: Sample[];
}

/** Prepares, checks and warms one op on every open path, then samples them alternately. */
async function measureOp(op: OpDef, paths: readonly PathStatus[], o: BenchOptions, progress: Progress): Promise<CellResult[]> {
  const results: CellResult[] = [];
  const cells: Cell[] = [];
  for (const p of paths) {
    if (!p.backend) {
      results.push({ path: p.path, status: 'skipped', reason: p.reason });
      continue;
    }
    progress.step(`${p.path} ${op.id} (prepare)`);
    let prepared: PreparedOp | undefined;
    try {
      prepared = await op.prepare(p.backend);
      const bad = await prepared.check();
      if (bad) throw new Error(`wrong result: ${bad}`);
      await warmUp(prepared.run, Math.min(o.sampleMs, 300));
      const result: CellResult = { path: p.path, status: 'ok', method: op.micro ? 'benchmark.js' : 'alternating', detail: prepared.detail };
      results.push(result);
      cells.push({ path: p.path, prepared, result, samples: [] });
    } catch (e) {
      await prepared?.close();
      const skipped = e instanceof SkipOp;
      results.push({ path: p.path, status: skipped ? 'skipped' : 'error', reason: firstLine(e) });
    }
  }
  for (let r = 0; r < o.samples; r++) {
    for (const c of alternate(cells, r)) {
      if (c.result.status !== 'ok') continue;
      progress.note(`${c.path} ${op.id} sample ${r + 1}/${o.samples}`);
      try {
        const s = op.micro
          ? await sampleBenchmarkJs(`${c.path} ${op.id}`, c.prepared.run, o.sampleMs)
          : await sampleAlternating(c.prepared.run, o.sampleMs);
        c.samples.push(s);
      } catch (e) {
        c.result.status = 'error';
        c.result.reason = `failed during sampling: ${firstLine(e)}`;
      }
    }
  }
  for (const c of cells) {
    await c.prepared.close();
    if (c.result.status !== 'ok') continue;
    c.result.samplesUs = c.samples.map((s) => s.us);
    if (op.micro) c.result.rmePct = c.samples.map((s) => s.rme ?? NaN);
    c.result.medianUs = median(c.result.samplesUs);
    c.result.bestUs = min(c.result.samplesUs);
  }
  return results;
}

function opensslAlgsFor(ops: readonly OpDef[]): OpensslAlg[] {
  const algs: OpensslAlg[] = [];
  for (const op of ops) if ('alg' in op.openssl && !algs.includes(op.openssl.alg)) algs.push(op.openssl.alg);
  return algs;
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: benchDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function toPng(svgFile: string, pngFile: string): string | null {
  for (const [cmd, args] of [['rsvg-convert', ['-o', pngFile, svgFile]], ['convert', ['-density', '110', svgFile, pngFile]]] as const) {
    try {
      execFileSync(cmd, [...args], { stdio: 'ignore', timeout: 60_000 });
      return cmd;
    } catch {
      // next converter
    }
  }
  return null;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2), process.env, benchDir);
  if (o.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const t0 = Date.now();
  const startedAt = new Date();
  const load0 = loadavg();
  const ops = ALL_OPS.filter((op) => opSelected(op.id, o.ops));
  const ifmaOn = o.ifma && opSelected('ifma', o.ops);
  if (ops.length === 0 && !ifmaOn) throw new Error(`OPS=${o.ops?.join(',')} selects no operation\n${USAGE}`);
  mkdirSync(o.outDir, { recursive: true });
  setRsaKeyDir(join(o.outDir, 'keys'));

  const algs = o.openssl ? opensslAlgsFor(ops) : [];
  const progress = new Progress(1 + algs.length * o.opensslRuns + ops.length * o.backends.length + (o.targets ? 3 : 0) + (ifmaOn ? 1 : 0));
  progress.step(`opening backends: ${o.backends.join(', ')}`);
  const paths = await openPaths(o.backends);

  const openssl = new OpensslReference(algs);
  const opensslPass = async (run: number): Promise<void> => {
    for (const alg of algs) {
      progress.step(`openssl speed ${alg} (run ${run}/${o.opensslRuns})`);
      await openssl.runOnce(alg);
    }
  };
  const ossl = o.openssl ? await opensslVersion() : { version: null, error: 'reference skipped' };

  const results: OpResult[] = [];
  let failed = false;
  try {
    if (o.openssl && ossl.version) await opensslPass(1);
    // Further openssl runs are spread evenly over the run (e.g. middle and end) so they see the same drift.
    const midpoints = new Set<number>();
    for (let k = 1; k < o.opensslRuns; k++) midpoints.add(Math.round((k * ops.length) / (o.opensslRuns - 1)));
    let run = 1;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      const cells = await measureOp(op, paths, o, progress);
      const ref = op.openssl;
      results.push({
        id: op.id, label: op.label, what: op.what, cells,
        openssl: 'alg' in ref ? { alg: ref.alg, op: ref.op, factor: ref.factor, note: ref.note, available: false } : { note: ref.none, available: false, reason: ref.none },
      });
      if (o.openssl && ossl.version && midpoints.has(i + 1)) await opensslPass(++run);
    }
    while (o.openssl && ossl.version && run < o.opensslRuns) await opensslPass(++run);

    // openssl figures into each op
    for (const r of results) {
      const c = r.openssl;
      if (!c.alg) continue;
      if (!o.openssl) {
        c.reason = 'openssl reference skipped (--no-openssl / OPENSSL=0)';
        continue;
      }
      if (!ossl.version) {
        c.reason = `openssl not runnable: ${ossl.error}`;
        continue;
      }
      const row = openssl.row(c.alg);
      const fig = row?.figures.find((f) => f.op === c.op);
      if (!row || !row.available || !fig) {
        c.reason = row?.reason ?? `openssl speed ${c.alg}: no ${c.op} figure`;
        continue;
      }
      c.available = true;
      c.runsOpsPerSec = fig.runs;
      const perOp = 1e6 / median(fig.runs);
      c.usPerOp = perOp * (c.factor ?? 1);
      c.opsPerSec = 1e6 / c.usPerOp;
    }
    for (const r of results) deriveRatios(r);

    const targetResults: TargetResult[] = [];
    if (o.targets) {
      const topts = { samples: o.samples, sampleMs: o.sampleMs, poolSize: POOL_SIZE, quick: o.quick, note: (s: string) => progress.note(s) };
      const m14 = results.find((r) => r.id === 'modp14');
      const nodeUs = m14?.cells.find((c) => c.path === 'node')?.medianUs;
      const nativeUs = m14?.cells.find((c) => c.path === 'native')?.medianUs;
      progress.step('target 1: native vs node modexp');
      targetResults.push(await target1(topts, nodeUs && nativeUs ? { nodeUs, nativeUs } : undefined));
      progress.step('target 2: async scaling');
      targetResults.push(await target2(topts));
      progress.step('target 3: event-loop delay');
      targetResults.push(await target3(topts));
    }
    let ifma: IfmaReport | undefined;
    if (ifmaOn) {
      progress.step('IFMA modexp vs OpenSSL, dudect');
      ifma = await ifmaSection({ samples: o.samples, sampleMs: o.sampleMs, quick: o.quick, note: (s: string) => progress.note(s) });
    }
    progress.end();

    // ---- report ----
    const durationS = (Date.now() - t0) / 1000;
    const load1 = loadavg();
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const addonOpenssl = paths.find((p) => p.path === 'native' && p.backend) ? loadAddon()?.opensslVersion : undefined;
    const lines: string[] = [];
    lines.push(`Oakley crypto paths — ${startedAt.toISOString()}  (${o.quick ? 'quick run' : o.ops ? 'selected ops' : 'full run'}, ${durationS.toFixed(0)} s)`);
    lines.push(`${cpu}, ${availableParallelism()} CPUs; node ${process.version} (OpenSSL ${process.versions.openssl}); ${ossl.version ?? 'openssl: ' + ossl.error}`);
    lines.push(`UV_THREADPOOL_SIZE=${POOL_SIZE}${POOL_SIZE_FROM_USER ? ' (from the environment)' : ' (set by the bench)'}; load average ${load0[0].toFixed(2)} at start, ${load1[0].toFixed(2)} at end`);
    lines.push(`${o.samples} alternating samples of ~${o.sampleMs} ms per cell; figures are medians (wall clock); 'best' is the fastest sample`);
    for (const p of paths) if (!p.backend) lines.push(`path ${p.path}: SKIPPED — ${p.reason}`);
    lines.push('');
    lines.push(formatTable(results));
    lines.push('');
    lines.push('What is timed:');
    for (const r of results) lines.push(`  ${r.label.padEnd(22)} ${r.what}`);
    lines.push('openssl references:');
    for (const r of results) lines.push(`  ${r.label.padEnd(22)} ${r.openssl.available ? r.openssl.note : 'n/a — ' + (r.openssl.reason ?? r.openssl.note)}`);
    if (targetResults.length) {
      lines.push('');
      lines.push('Targets:');
      for (const t of targetResults) {
        lines.push(`${t.verdict} target ${t.id}: ${t.title}`);
        lines.push(`     ${t.summary}`);
        for (const d of t.details) lines.push(`       ${d}`);
      }
    }

    if (ifma) {
      lines.push('');
      lines.push(...ifma.lines);
    }

    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const json = {
      schema: 'oakley-bench-crypto/1',
      startedAt: startedAt.toISOString(),
      durationS,
      commit: gitCommit(),
      machine: { cpu, cpus: availableParallelism(), loadavgStart: load0, loadavgEnd: load1 },
      node: { version: process.version, openssl: process.versions.openssl, uvThreadpoolSize: POOL_SIZE, poolSizeFromUser: POOL_SIZE_FROM_USER },
      openssl: { version: ossl.version, error: ossl.error, rows: openssl.all() },
      addonOpenssl,
      options: o,
      paths: paths.map((p) => ({ path: p.path, available: p.backend !== null, reason: p.reason, openMs: p.openMs })),
      ops: results,
      targets: targetResults,
      ifma,
    };
    const jsonFile = join(o.outDir, `crypto-${stamp}.json`);
    writeFileSync(jsonFile, JSON.stringify(json, null, 2) + '\n');
    writeFileSync(join(o.outDir, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
    const svgFile = join(o.outDir, 'crypto.svg');
    writeFileSync(svgFile, renderSvg(results, o.backends, {
      title: 'Oakley crypto paths: time per operation (lower is better)',
      subtitle: `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC · ${cpu} · ${availableParallelism()} CPUs · node ${process.version} · ` +
        `${(ossl.version ?? '').split(' ').slice(0, 2).join(' ')} · medians of ${o.samples} alternating samples${o.quick ? ' (quick run)' : ''}`,
      notes: [
        'openssl speed -elapsed, run in the same invocation: MODP bars = 2 × ffdhNNNN derive (same size, short exponent);',
        'ECP bars = one ecdhpNNN derive (openssl does not time key generation); RSA and HMAC bars = the same operation.',
        `Wall-clock medians on a shared machine: 1-min load average ${load0[0].toFixed(2)} at start, ${load1[0].toFixed(2)} at end; '×fastest' compares the paths of one operation.`,
      ],
    }));
    if (ifma && ifma.rows.length) {
      writeFileSync(join(o.outDir, 'ifma.svg'), renderIfmaSvg(ifma.rows, 'IFMA multi-buffer modexp vs OpenSSL constant-time modexp (per core)',
        `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC · ${cpu} · load ${load0[0].toFixed(2)}→${load1[0].toFixed(2)} · ${o.samples} samples`));
    }
    const pngFile = join(o.outDir, 'crypto.png');
    const converter = toPng(svgFile, pngFile);
    lines.push('');
    lines.push(`results: ${jsonFile}`);
    lines.push(`         ${join(o.outDir, 'latest.json')}`);
    if (ifma && ifma.rows.length) lines.push(`ifma:    ${join(o.outDir, 'ifma.svg')}`);
    lines.push(`chart:   ${svgFile}${converter ? `\n         ${pngFile} (${converter})` : ' (no PNG: neither rsvg-convert nor convert is installed)'}`);
    process.stdout.write(lines.join('\n') + '\n');
    failed = targetResults.some((t) => t.verdict === 'FAIL');
  } finally {
    progress.end();
    await closePaths(paths);
  }
  // Targets are reported, not enforced as a test: a FAIL does not change the exit status unless asked.
  return failed && process.env.BENCH_STRICT === '1' ? 1 : 0;
}

main().then((code) => {
  process.exitCode = code;
}, (e) => {
  process.stderr.write(`\nbench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 2;
});
