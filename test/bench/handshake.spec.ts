/**
 * Smoke test of `npm run bench:handshake` (bench/handshake.ts): two tools/iked, 20 fresh MM+QM
 * negotiations with 4 in flight, strongSwan skipped. Checks that all 20 completed and that the
 * JSON file has the fields the report and the issue-8 targets are read from. Not a timed test:
 * no figure is compared with a target.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { parseHandshakeOptions, runHandshakeBench, type HandshakeReport } from '../../bench/handshake';
import { measureSlices, parseProposal } from '../../bench/handshake-common';
import { decodeMessage, encodeMessage } from '../../bench/vici';

describe('bench:handshake', function () {
  this.timeout(120_000);
  let out: string;

  before(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-hs-spec-'));
  });

  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it('runs 20 negotiations with window 4 between two iked and writes the JSON report and the chart', async () => {
    const twoCpus = os.cpus().length >= 2;
    const opts = parseHandshakeOptions(['--n=20', '--window=4', '--n1=2', '--warmup=8', '--cpus=1', '--slices=2', `--scaling=${twoCpus ? 1 : 0}`,
      '--no-strongswan', `--out=${out}`], {}, out);
    const report = await runHandshakeBench(opts, () => undefined);
    assert.equal(report.oakley.status, 'ok', report.oakley.reason);
    assert.equal(report.strongswan.status, 'skipped');
    const w = report.oakley.window!;
    assert.equal(w.completed, 20, w.firstError);
    assert.equal(w.failed, 0);
    assert.equal(report.oakley.window1?.completed, 2);
    // Two slices of 10: medians over them, sums of counts.
    assert.deepEqual(w.slices?.map((x) => x.n), [10, 10]);
    assert.equal(w.ratePerSec, (w.slices![0]!.ratePerSec + w.slices![1]!.ratePerSec) / 2, 'the median of two is their mean');
    const scaling = report.targets.find((t) => t.id === 'scaling')!;
    if (twoCpus) {
      const sc = report.oakley.scaling!;
      assert.equal(sc.oneCore.length, 1);
      assert.equal(sc.twoCores.length, 1);
      assert.ok(sc.oneCoreRate > 0 && sc.twoCoresRate > 0);
      assert.equal(sc.ratio, sc.twoCoresRate / sc.oneCoreRate);
      assert.notEqual(scaling.verdict, 'n/a', scaling.measured);
      assert.equal(sc.n, 20, 'min(N, 2000) per scaling phase');
    } else {
      assert.equal(scaling.verdict, 'n/a');
    }

    const files = fs.readdirSync(out);
    const json = files.find((f) => /^handshake-\d.*\.json$/.test(f));
    assert.ok(json, `no handshake-*.json in ${files.join(', ')}`);
    assert.ok(files.some((f) => /^handshake-\d.*\.svg$/.test(f)), 'no handshake-*.svg');
    const r = JSON.parse(fs.readFileSync(path.join(out, json), 'utf8')) as HandshakeReport;
    const phase = r.oakley.window!;
    for (const k of ['ratePerSec', 'cpuMsPerNegotiation', 'latencyP50Ms', 'latencyP99Ms', 'rssPerSaKb', 'wallMs', 'otherLoadMs'] as const) {
      assert.equal(typeof phase[k], 'number', `oakley.window.${k}`);
    }
    for (const side of [phase.initiator, phase.responder]) {
      assert.equal(typeof side.cpuMsPerNegotiation, 'number');
      assert.equal(typeof side.eventLoopDelayP99Ms, 'number', 'the daemons report event-loop delay through --metrics');
    }
    assert.ok(phase.responderIkeSas !== undefined && phase.responderIkeSas >= 20);
    assert.deepEqual(r.targets.map((t) => t.id), ['cpu', 'rate', 'loop', 'scaling', 'rss', 'latency']);
    assert.equal(r.options.proposal, 'aes128-sha256-modp2048');
    assert.equal(r.machine.loadBefore.length, 3);
    assert.equal(r.options.cpus, 1);
    assert.equal(r.options.warmup, 8);
  });

  it('--warmup defaults to 2000, slices to one per 2000, scaling to 3 pairs on 2+ CPUs; --cpus is refused beyond the machine', () => {
    const o = parseHandshakeOptions([], {}, '/tmp');
    assert.equal(o.warmup, 2000);
    assert.equal(o.slices, 1);
    assert.equal(parseHandshakeOptions(['--n=10000'], {}, '/tmp').slices, 5);
    assert.equal(parseHandshakeOptions(['--n=3', '--slices=9'], {}, '/tmp').slices, 3, 'never more slices than negotiations');
    assert.equal(o.scaling, os.cpus().length >= 2 ? 3 : undefined);
    assert.equal(parseHandshakeOptions(['--scaling=0'], {}, '/tmp').scaling, undefined);
    assert.deepEqual(parseHandshakeOptions(['--node-args=--max-semi-space-size=8  --single-threaded-gc'], {}, '/tmp').nodeArgs,
      ['--max-semi-space-size=8', '--single-threaded-gc']);
    assert.equal(parseHandshakeOptions(['--worker-nice=idle'], {}, '/tmp').workerNice, 'idle');
    assert.equal(parseHandshakeOptions([], { WORKER_NICE: '10' }, '/tmp').workerNice, '10');
    assert.throws(() => parseHandshakeOptions(['--worker-nice=20'], {}, '/tmp'), /--worker-nice/);
    assert.equal(o.cpus, undefined, 'no pinning unless asked');
    assert.equal(parseHandshakeOptions(['--cpus=1'], {}, '/tmp').cpus, 1);
    assert.throws(() => parseHandshakeOptions([`--cpus=${os.cpus().length + 1}`], {}, '/tmp'), /--cpus: this machine has/);
    assert.throws(() => parseHandshakeOptions(['--warmup=0'], {}, '/tmp'), /--warmup/);
  });

  it('measureSlices hands out indices 0..n-1 once across its slices (strongSwan names connections by them)', async () => {
    const seen: number[] = [];
    const p = await measureSlices(process.pid, process.pid, 10, 2, 3, async (i) => {
      seen.push(i);
    }, { name: 'spec' });
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(p.slices?.map((x) => x.n), [3, 3, 4]);
    assert.equal(p.completed, 10);
  });

  it('parses proposals and refuses unknown ones', () => {
    assert.deepEqual(parseProposal('aes256-sha1-modp3072'), { text: 'aes256-sha1-modp3072', encr: 'aes', keyBits: 256, hash: 'sha1', group: 15 });
    assert.throws(() => parseProposal('aes128-sha256-modp999'), /ENCR-HASH-GROUP/);
    assert.throws(() => parseHandshakeOptions(['--window=0'], {}, '/tmp'), /--window/);
  });

  it('vici messages round-trip (sections, lists, key-values) and truncation is refused', () => {
    const m = { child: 'b1', timeout: '-1', sec: { list: ['a', 'bc'], inner: { k: 'v' } } };
    const b = encodeMessage(m);
    assert.deepEqual(decodeMessage(b), m);
    assert.throws(() => decodeMessage(b.subarray(0, b.length - 3)), RangeError);
  });
});
