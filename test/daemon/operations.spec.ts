/**
 * Operations against real tools/iked processes: debug categories changed at run time with
 * `ikeadm set debug LEVEL FILE`, `-d` with a broken configuration, the --metrics endpoint, JSON logs,
 * and the identities `dump p1` shows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { findSoftHsmModule } from '../../src/crypto/pkcs11';
import { freeUdpPorts, ikeConfigText, runTool, startDaemon, stopDaemon, writeRoot, type Daemon } from '../../src/demo/iked-demo';

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let body = '';
      res.on('data', (b) => (body += b));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

/** The value of one sample line, 0 when absent (prom-client omits unset labels). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function waitFor<T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('tools/iked operations', function () {
  this.timeout(60000);
  let tmp: string;
  const daemons: Daemon[] = [];
  const ikeadm = async (d: Daemon, ...args: string[]) => {
    const r = await runTool('ikeadm', ['--control', d.control, ...args]);
    assert.equal(r.code, 0, `ikeadm ${args.join(' ')}: ${r.stderr}\n${d.log}`);
    return r.stdout;
  };

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-ops-test-'));
  });

  after(async () => {
    for (const d of daemons) await stopDaemon(d, 2000);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('two daemons: A with --metrics, B with --json-logs', () => {
    let a: Daemon;
    let b: Daemon;
    let metricsPort: number;
    const debugFile = (): string => path.join(tmp, 'a-debug.log');

    before(async () => {
      const [portA, natA, portB, natB] = await freeUdpPorts(4);
      const rootA = path.join(tmp, 'a');
      const rootB = path.join(tmp, 'b');
      writeRoot(rootA, { label: 'a-to-b', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portB!, psk: 'ops key' });
      writeRoot(rootB, { label: 'b-to-a', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portA!, psk: 'ops key' });
      a = await startDaemon(rootA, portA!, natA!, ['--metrics', '127.0.0.1:0']);
      daemons.push(a);
      b = await startDaemon(rootB, portB!, natB!, ['--json-logs']);
      daemons.push(b);
      metricsPort = await waitFor('the metrics endpoint', () => {
        const m = /metrics endpoint listening on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(a.log);
        return m ? Number(m[1]) : undefined;
      });
    });

    it('set debug phase1 FILE: a negotiation writes phase1 lines to FILE, but no phase2 or door lines', async () => {
      const before = await scrape(metricsPort);
      assert.equal(sample(before, 'oakley_ike_sas{role="initiator"}'), 0);
      assert.equal(sample(before, 'oakley_events_total{counter="p1.initiator.total"}'), 0);

      const out = await ikeadm(a, 'set', 'debug', 'phase1', debugFile());
      assert.match(out, /Successfully changed debug level from 0x0 to 0x8\n/);
      assert.match(out, /\tPhase 1 SA creation\n/);
      assert.equal(fs.statSync(debugFile()).mode & 0o777, 0o600);
      assert.match(await ikeadm(a, 'get', 'debug'), /Current debug level is 0x8\n/);

      await ikeadm(a, 'initiate', 'a-to-b');
      const text = fs.readFileSync(debugFile(), 'utf8');
      const phase1 = text.split('\n').filter((l) => / debug phase1 /.test(l));
      assert.ok(phase1.length >= 3, text);
      assert.ok(phase1.some((l) => /Main Mode|MM|HDR/i.test(l)), text);
      assert.doesNotMatch(text, / debug door /);
      assert.doesNotMatch(text, / debug phase2 /);
      // info lines follow the log to FILE as well, and stderr no longer gets them.
      assert.match(text, / info  ISAKMP SA [0-9a-f]+:[0-9a-f]+ established/);
      assert.doesNotMatch(a.log, /ISAKMP SA .* established/);
    });

    it('door lines appear once door is in the mask (so their absence above meant something)', async () => {
      await ikeadm(a, 'set', 'debug', 'door+phase2');
      await ikeadm(a, 'get', 'stats');
      const text = fs.readFileSync(debugFile(), 'utf8');
      assert.match(text, / debug door request get stats conn=\d+/);
    });

    it('--metrics: counters and SA gauges moved with the negotiation', async () => {
      const after = await scrape(metricsPort);
      assert.equal(sample(after, 'oakley_events_total{counter="p1.initiator.total"}'), 1);
      assert.equal(sample(after, 'oakley_events_total{counter="p1.initiator.attempts"}'), 1);
      assert.equal(sample(after, 'oakley_current{counter="p1.initiator.current"}'), 1);
      assert.equal(sample(after, 'oakley_ike_sas{role="initiator"}'), 1);
      assert.equal(sample(after, 'oakley_ipsec_sas{direction="inbound"}'), 1);
      assert.equal(sample(after, 'oakley_ipsec_sas{direction="outbound"}'), 1);
      assert.ok(sample(after, 'oakley_events_total{counter="control.requests"}') >= 5);
    });

    it('get stats has no PKCS#11 line when no operation runs on a token', async () => {
      const out = await ikeadm(a, 'get', 'stats');
      assert.match(out, /^Total: +initiator: +1 +responder: +0$/m);
      assert.doesNotMatch(out, /PKCS#11/);
    });

    it('dump p1 shows the identities of both ends', async () => {
      const sas = JSON.parse(await ikeadm(b, '-j', 'dump', 'p1')) as { localId?: { type: string; value: string }; remoteId?: { type: string; value: string } }[];
      assert.equal(sas.length, 1);
      assert.deepEqual(sas[0]!.localId, { type: 'IPv4 address', value: '127.0.0.1' });
      assert.deepEqual(sas[0]!.remoteId, { type: 'IPv4 address', value: '127.0.0.1' });
      const text = await ikeadm(b, 'dump', 'p1');
      assert.match(text, /^LOCID: Responder identity, uid=0, type IPv4 address\nLOCID: 127\.0\.0\.1$/m);
      assert.match(text, /^REMID: Initiator identity, uid=0, type IPv4 address\nREMID: 127\.0\.0\.1$/m);
    });

    it('--json-logs: every stderr line is one JSON object with level, time and msg', () => {
      const lines = b.log.split('\n').filter((l) => l !== '');
      assert.ok(lines.length >= 3, b.log);
      const objs = lines.map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
      for (const o of objs) {
        assert.ok(['info', 'warn', 'error', 'debug'].includes(o.level), JSON.stringify(o));
        assert.ok(!Number.isNaN(Date.parse(o.time)));
      }
      assert.ok(objs.some((o) => /^ISAKMP SA [0-9a-f:]+ established/.test(o.msg)), b.log);
      assert.ok(objs.some((o) => /^IPsec SA pair .* installed/.test(o.msg)), b.log);
    });

    it('closes the metrics endpoint on SIGTERM', async () => {
      assert.equal(await stopDaemon(a), 0, a.log);
      await assert.rejects(scrape(metricsPort), /ECONNREFUSED/);
      assert.match(fs.readFileSync(debugFile(), 'utf8'), / info  stopped/);
    });
  });

  it('get stats names the PKCS#11 library when an operation class runs on a token (SoftHSM2)', async function () {
    const module = findSoftHsmModule();
    if (!module) this.skip();
    const [port, nat] = await freeUdpPorts(2);
    const root = path.join(tmp, 'token');
    const spec = { label: 't', local: '127.0.0.1', remote: '127.0.0.1', remotePort: 9, psk: 'k' };
    writeRoot(root, spec);
    fs.writeFileSync(path.join(root, 'ike', 'config'), `pkcs11_path "${module}"\ncrypto_path rsa pkcs11\n${ikeConfigText(spec)}`);
    const d = await startDaemon(root, port!, nat!);
    daemons.push(d);
    const out = await ikeadm(d, 'get', 'stats');
    assert.ok(out.endsWith(`PKCS#11 library linked in from ${module}\n`), out + d.log);
    assert.equal(await stopDaemon(d), 0, d.log);
  });

  describe('-d', () => {
    let root: string;
    let ports: number[];
    const broken = '{\n  label "x"\n  local_addr 127.0.0.1\n  remote_addr nowhere!\n}\n';

    before(async () => {
      ports = await freeUdpPorts(2);
      root = path.join(tmp, 'd');
      writeRoot(root, { label: 'fixed', local: '127.0.0.1', remote: '127.0.0.1', remotePort: 9, psk: 'k' });
      fs.writeFileSync(path.join(root, 'ike', 'config'), broken);
    });

    it('without -d a broken configuration stops the daemon', async () => {
      const r = await runTool('iked', ['--root', root, '--listen', '127.0.0.1', '--port', String(ports[0]), '--nat-port', String(ports[1]),
        '--control', path.join(root, 'nod.sock')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /configuration error: .*config:4:/);
    });

    it('keeps running with no rules, says why loudly, debugs everything on stderr, and recovers on read rule', async () => {
      const d = await startDaemon(root, ports[0]!, ports[1]!, ['-d']);
      daemons.push(d);
      assert.match(d.log, /CONFIGURATION ERROR, running with NO rules/);
      assert.match(d.log, /config:4:/);
      assert.deepEqual(JSON.parse(await ikeadm(d, '-j', 'dump', 'rule')), []);
      assert.match(await ikeadm(d, 'get', 'debug'), /Current debug level is 0x7ff\n/);
      await waitFor('a door debug line on stderr', () => (/ debug door request get debug/.test(d.log) ? true : undefined));
      writeRoot(root, { label: 'fixed', local: '127.0.0.1', remote: '127.0.0.1', remotePort: 9, psk: 'k' });
      await ikeadm(d, 'read', 'rule');
      assert.deepEqual((JSON.parse(await ikeadm(d, '-j', 'dump', 'rule')) as { label: string }[]).map((r) => r.label), ['fixed']);
      assert.equal(await stopDaemon(d), 0, d.log);
    });
  });
});
