/** The Prometheus endpoint (src/daemon/metrics.ts) and the `set debug` / `get stats` views. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { NoDestination, pkcs11Library, setDebug } from '../../../src/control/views';
import { startMetrics, type MetricsEndpoint, type SaCounts } from '../../../src/daemon/metrics';
import { getGroup, type ModpGroup } from '../../../src/crypto/groups';
import { createNativeBackend } from '../../../src/crypto/native';
import { modexpBatchStats, modpContext } from '../../../src/crypto/native/ke';
import { Counters } from '../../../src/util/counters';
import { LogDestination, memoryLogger, nullLogger } from '../../../src/util/log';

function get(port: number, urlPath: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const modp = (id: number) => getGroup(id) as ModpGroup;

describe('metrics endpoint', () => {
  const counters = new Counters();
  let sas: SaCounts = { p1: { initiator: 0, responder: 0 }, p2: { inbound: 0, outbound: 0 } };
  let m: MetricsEndpoint;

  before(async () => {
    m = await startMetrics({ host: '127.0.0.1', port: 0, counters, saCounts: () => sas, log: nullLogger() });
  });
  after(() => m.close());

  it('serves counters and SA gauges as Prometheus text, read at scrape time', async () => {
    counters.inc('p1.initiator.attempts');
    counters.inc('p1.initiator.current');
    sas = { p1: { initiator: 1, responder: 0 }, p2: { inbound: 1, outbound: 1 } };
    const r = await get(m.port, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^# TYPE oakley_events_total counter$/m);
    assert.match(r.body, /^oakley_events_total\{counter="p1\.initiator\.attempts"\} 1$/m);
    assert.match(r.body, /^oakley_current\{counter="p1\.initiator\.current"\} 1$/m);
    assert.doesNotMatch(r.body, /oakley_events_total\{counter="p1\.initiator\.current"\}/);
    assert.match(r.body, /^oakley_ike_sas\{role="initiator"\} 1$/m);
    assert.match(r.body, /^oakley_ipsec_sas\{direction="outbound"\} 1$/m);
    counters.inc('p1.initiator.attempts', 4);
    counters.dec('p1.initiator.current');
    const again = await get(m.port, '/metrics');
    assert.match(again.body, /^oakley_events_total\{counter="p1\.initiator\.attempts"\} 5$/m);
    assert.match(again.body, /^oakley_current\{counter="p1\.initiator\.current"\} 0$/m);
  });

  it('exports process memory and V8 heap spaces, read at scrape time', async () => {
    const before = await get(m.port, '/metrics');
    const rss = (body: string): number => Number(/^oakley_memory_bytes\{kind="rss"\} (\d+)$/m.exec(body)?.[1]);
    const held = Buffer.alloc(64 << 20, 1); // touched: 64 MiB more resident
    const after = await get(m.port, '/metrics');
    assert.ok(rss(after.body) - rss(before.body) >= 48 << 20, `rss ${rss(before.body)} -> ${rss(after.body)}`);
    assert.match(after.body, /^oakley_memory_bytes\{kind="array_buffers"\} \d+$/m);
    assert.match(after.body, /^oakley_heap_space_bytes\{space="old_space",stat="used"\} [1-9]\d*$/m);
    assert.match(after.body, /^oakley_heap_space_bytes\{space="new_space",stat="size"\} [1-9]\d*$/m);
    assert.equal(held[held.length - 1], 1);
  });

  it('exports the IFMA batch queues as modexp.batch.* events (native path, AVX-512 IFMA CPUs)', async function () {
    const backend = createNativeBackend();
    if (!backend || modpContext(modp(14)).batchKernel !== 'ifma') this.skip();
    const before = modexpBatchStats();
    const kes = await Promise.all(Array.from({ length: 3 }, () => backend!.ke.create(14)));
    const peer = await backend!.ke.create(14);
    await Promise.all(kes.map((k) => k.computeSharedSecret(peer.publicKey)));
    const after = modexpBatchStats();
    assert.ok(after.batchedItems + after.singles > before.batchedItems + before.singles, 'the queue saw the key exchanges');
    const body = (await get(m.port, '/metrics')).body;
    const value = (name: string) => Number(new RegExp(`^oakley_events_total\\{counter="${name}"\\} (\\d+)$`, 'm').exec(body)?.[1] ?? 0);
    assert.equal(value('modexp.batch.items'), after.batchedItems);
    assert.equal(value('modexp.batch.runs'), after.runs);
    assert.equal(value('modexp.batch.singles'), after.singles);
    for (const k of [...kes, peer]) k.dispose();
    await backend!.close();
  });

  it('reports event-loop delay as lateness: an idle loop near 0, a blocked loop by the time it was blocked', async () => {
    const loopStat = (body: string, stat: string): number => {
      const x = new RegExp(`^oakley_event_loop_delay_seconds\\{stat="${stat}"\\} (\\S+)$`, 'm').exec(body);
      assert.ok(x, `no ${stat} in\n${body}`);
      return Number(x[1]) * 1000;
    };
    await get(m.port, '/metrics'); // resets the histogram
    await new Promise((r) => setTimeout(r, 300));
    const idle = (await get(m.port, '/metrics')).body;
    // monitorEventLoopDelay's raw histogram reads the 5 ms sampling period on an idle loop.
    assert.ok(loopStat(idle, 'p50') < 2.5, `idle p50 ${loopStat(idle, 'p50')} ms`);
    // The interval a reset falls in is not recorded: let the monitor fire once before blocking.
    await new Promise((r) => setTimeout(r, 20));
    const until = performance.now() + 80;
    while (performance.now() < until) { /* block the loop */ }
    await new Promise((r) => setTimeout(r, 30));
    const blocked = (await get(m.port, '/metrics')).body;
    assert.ok(loopStat(blocked, 'max') >= 70 && loopStat(blocked, 'max') < 400, `blocked max ${loopStat(blocked, 'max')} ms`);
  });

  it('serves /metrics only, GET and HEAD only', async () => {
    assert.equal((await get(m.port, '/')).status, 404);
    assert.equal((await get(m.port, '/metrics/x')).status, 404);
    assert.equal((await get(m.port, '/metrics', 'POST')).status, 405);
    const head = await get(m.port, '/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('stops listening on close', async () => {
    const other = await startMetrics({ host: '127.0.0.1', port: 0, counters, saCounts: () => sas, log: nullLogger() });
    assert.equal((await get(other.port, '/metrics')).status, 200);
    await other.close();
    await assert.rejects(get(other.port, '/metrics'), /ECONNREFUSED/);
  });
});

describe('set debug / get stats views', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-views-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('sets the mask, and with a FILE moves every later line there', () => {
    const { log, lines } = memoryLogger({ level: 'info' });
    const dest = new LogDestination();
    assert.deepEqual(setDebug(log, dest, { level: 0x8 }), { old: 0, level: 0x8 });
    assert.equal(log.debugMask, 0x8);
    const file = path.join(tmp, 'dbg.log');
    assert.deepEqual(setDebug(log, dest, { level: 0x108, file }), { old: 0x8, level: 0x108, file });
    log.cat('door').debug('door line');
    log.cat('phase2').debug('not in mask');
    dest.close();
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /debug level changed from 0x8 to 0x108/);
    assert.match(text, /debug door door line/);
    assert.doesNotMatch(text, /not in mask/);
    assert.equal(lines.length, 1, 'only the first change went to the old sink');
  });

  it('refuses a relative path, an unopenable file and a bad level, leaving the mask alone', () => {
    const { log } = memoryLogger({ level: 'info', debugMask: 4 });
    const dest = new LogDestination();
    assert.throws(() => setDebug(log, dest, { level: 1, file: 'rel.log' }), /absolute path/);
    assert.throws(() => setDebug(log, dest, { level: 1, file: path.join(tmp, 'none', 'x.log') }), /cannot open debug file .*ENOENT/);
    assert.throws(() => setDebug(log, dest, { level: -1 }), /level from 0 to 0xffffffff/);
    assert.throws(() => setDebug(log, dest, { level: '8' }), /level from 0/);
    assert.equal(log.debugMask, 4);
  });

  it('refuses debug from 0 without a file when there is no destination (IKE_ERR_NO_DESC)', () => {
    const { log } = memoryLogger({ level: 'info' });
    const nowhere = Object.assign(new LogDestination(), { hasDestination: () => false });
    assert.throws(() => setDebug(log, nowhere, { level: 8 }), (e: { code?: string }) => e.code === NoDestination);
    assert.equal(log.debugMask, 0);
    assert.deepEqual(setDebug(log, nowhere, { level: 0 }), { old: 0, level: 0 });
    log.debugMask = 4;
    assert.deepEqual(setDebug(log, nowhere, { level: 8 }), { old: 4, level: 8 }, 'already on: the destination is whatever it was');
  });

  it('names the PKCS#11 library in get stats only when a class runs on a token', () => {
    const node = { ke: 'node', rsa: 'node', prf: 'native', cipher: 'node', random: 'node' } as const;
    assert.equal(pkcs11Library({ paths: node }, '/lib/x.so'), undefined);
    const token = { ...node, rsa: 'pkcs11' } as const;
    assert.equal(pkcs11Library({ paths: token }, '/lib/x.so', '/lib/y.so'), '/lib/x.so');
    assert.equal(pkcs11Library({ paths: token }, undefined, '/lib/y.so'), '/lib/y.so');
  });
});
