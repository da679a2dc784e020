/**
 * A flood of spoofed Main Mode MM1 from many loopback sources at a real tools/iked (issue 9):
 * memory stays bounded, drops are counted (metrics endpoint), and a real peer's negotiations
 * complete during the flood. Short budget here; OAKLEY_FLOOD_RATE / OAKLEY_FLOOD_SECONDS for the
 * long run (20000 packets/s for 30 s).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { freeUdpPorts, runTool, startDaemon, stopDaemon, writeRoot, type Daemon } from '../../src/demo/iked-demo';

const RATE = Number(process.env.OAKLEY_FLOOD_RATE ?? 3000);
const SECONDS = Number(process.env.OAKLEY_FLOOD_SECONDS ?? 6);
const SOURCES = 100;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function metrics(port: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => {
        const out = new Map<string, number>();
        for (const m of body.matchAll(/^oakley_(?:events_total|current)\{counter="([^"]+)"\} (\S+)$/gm)) out.set(m[1]!, Number(m[2]));
        resolve(out);
      });
    }).on('error', reject);
  });
}

describe('tools/iked under a flood of spoofed MM1', function () {
  this.timeout(SECONDS * 1000 + 90_000);
  let tmp: string;
  const daemons: Daemon[] = [];

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-flood-'));
  });

  after(async () => {
    for (const d of daemons) await stopDaemon(d, 3000);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(`bounded memory, counted drops, real negotiations complete (${RATE}/s for ${SECONDS} s from ${SOURCES} sources)`, async () => {
    const [portA, natA, portB, natB, metricsPort] = await freeUdpPorts(5);
    const rootA = path.join(tmp, 'a');
    const rootB = path.join(tmp, 'b');
    writeRoot(rootA, { label: 'a-to-b', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portB!, psk: 'flood key' });
    writeRoot(rootB, { label: 'b-any', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portA!, psk: 'flood key' });
    // B answers anyone on 127/8 (so the spoofed sources reach the admission checks), with tight bounds.
    const cfgB = path.join(rootB, 'ike', 'config');
    fs.writeFileSync(cfgB, fs.readFileSync(cfgB, 'utf8').replace('remote_addr 127.0.0.1', 'remote_addr 127.0.0.0/8')
      .replace('# Oakley demo rule', '# flood target\np1_half_open_max 500\np1_new_per_source 5'));
    const a = await startDaemon(rootA, portA!, natA!);
    daemons.push(a);
    const b = await startDaemon(rootB, portB!, natB!, ['--metrics', `127.0.0.1:${metricsPort}`]);
    daemons.push(b);
    const pidB = b.proc.pid!;
    const warm = await runTool('ikeadm', ['--control', a.control, 'initiate', 'a-to-b']);
    assert.equal(warm.code, 0, warm.stderr + b.log);
    const baseline = rssKb(pidB);

    const gen = spawn(process.execPath, [path.join(__dirname, 'flood-generator.js'), String(portB), String(RATE), String(SECONDS), String(SOURCES)],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let genOut = '';
    gen.stdout!.on('data', (d) => (genOut += d));
    const genDone = new Promise<number | null>((r) => gen.on('exit', r));
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssKb(pidB));
      } catch { /* exited: caught below */ }
    }, 100);
    let ok = 0;
    let failed = 0;
    const deadline = Date.now() + SECONDS * 1000;
    try {
      await new Promise((r) => setTimeout(r, 500));
      while (Date.now() < deadline - 500) {
        const r = await runTool('ikeadm', ['--control', a.control, 'initiate', 'a-to-b', 'new'], 20_000);
        if (r.code === 0) ok++;
        else failed++;
      }
      assert.equal(await genDone, 0, 'the generator ran');
    } finally {
      clearInterval(sampler);
      gen.kill();
    }
    const sent = Number(genOut.trim());
    const m = await metrics(metricsPort!);
    const limited = m.get('p1.rate_limited') ?? 0;
    const evicted = m.get('p1.half_open_evicted') ?? 0;
    const created = m.get('p1.created') ?? 0;
    process.stdout.write(`      flood: sent ${sent}, rate-limited ${limited}, admitted ${created}, evicted ${evicted}, ` +
      `half-open now ${m.get('p1.half_open.current')}; RSS ${baseline} kB -> peak ${peak} kB; real negotiations ${ok} ok, ${failed} failed\n`);
    const p1 = await runTool('ikeadm', ['-j', '--control', b.control, 'dump', 'p1']);
    assert.equal(p1.code, 0, p1.stderr);
    if (process.env.FLOOD_DEBUG) {
      process.stdout.write(`p1 SAs on B: ${(JSON.parse(p1.stdout) as unknown[]).length}\n${[...m].filter(([k]) => /^(p1|rx|tx|udp)/.test(k)).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
      process.stdout.write(b.log.split('\n').filter((l) => !/CONNECTING|CREATED/.test(l)).slice(-15).join('\n') + '\n');
    }
    assert.ok(b.proc.exitCode === null, 'B is still running');
    assert.ok(sent >= RATE * SECONDS * 0.5, `the generator sent ${sent}`);
    assert.ok(ok >= 1 && failed === 0, `real negotiations during the flood: ${ok} ok, ${failed} failed`);
    assert.ok(limited > 0 || evicted > 0, 'the per-source rate or the half-open cap engaged');
    assert.ok((m.get('p1.half_open.current') ?? 0) <= 500, 'half-open SAs within the cap');
    assert.ok(created <= 2 + 100 * (10 + 5 * (SECONDS + 5)), `admitted ${created}: no more than the per-source rate allows`);
    assert.ok(peak - baseline < 150_000, `RSS grew by ${peak - baseline} kB`);
  });
});
