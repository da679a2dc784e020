/** tools/iked as a user runs it: -c, two daemons negotiating on 127.0.0.1, reload, socket mode, SIGTERM. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freeUdpPorts, runTool, startDaemon, stopDaemon, writeRoot, type Daemon } from '../../src/demo/iked-demo';

describe('tools/iked', function () {
  this.timeout(60000);
  let tmp: string;
  const daemons: Daemon[] = [];

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-iked-test-'));
  });

  after(async () => {
    for (const d of daemons) await stopDaemon(d, 2000);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('-c accepts a good configuration and names file:line:column of a bad one', async () => {
    const root = path.join(tmp, 'check');
    writeRoot(root, { label: 'r', local: '127.0.0.1', remote: '127.0.0.1', remotePort: 5000, psk: 'k' });
    const good = await runTool('iked', ['-c', '--root', root]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /Configuration file .*ike\/config syntactically checks out\./);
    const file = path.join(root, 'ike', 'config');
    fs.writeFileSync(file, '{\n  label "r"\n  bogus_keyword 1\n}\n');
    const bad = await runTool('iked', ['-c', '--root', root]);
    assert.equal(bad.code, 1);
    assert.ok(bad.stderr.includes(`${file}:3:3:`), bad.stderr);
  });

  describe('two daemons on 127.0.0.1', () => {
    let a: Daemon;
    let b: Daemon;
    let rootA: string;

    before(async () => {
      const [portA, natA, portB, natB] = await freeUdpPorts(4);
      rootA = path.join(tmp, 'a');
      const rootB = path.join(tmp, 'b');
      writeRoot(rootA, { label: 'a-to-b', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portB!, psk: 'test key' });
      writeRoot(rootB, { label: 'b-to-a', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portA!, psk: 'test key' });
      a = await startDaemon(rootA, portA!, natA!, ['-p', 'keymat']);
      daemons.push(a);
      b = await startDaemon(rootB, portB!, natB!, ['-p', 'keymat']);
      daemons.push(b);
    });

    it('creates the control socket with mode 0600', () => {
      const st = fs.statSync(a.control);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o600);
    });

    it('negotiates with ikeadm initiate; dump p2 shows mirrored SPIs and equal keys', async () => {
      const init = await runTool('ikeadm', ['--control', a.control, 'initiate', 'a-to-b']);
      assert.equal(init.code, 0, init.stderr + a.log + b.log);
      assert.match(init.stdout, /IPsec SA pair: inbound ESP SPI 0x[0-9a-f]{8}/);
      const dump = async (d: Daemon) => {
        const r = await runTool('ikeadm', ['-j', '--control', d.control, 'dump', 'p2']);
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as { spi: number; direction: string; keys?: { encryption?: string; integrity?: string } }[];
      };
      const pa = await dump(a);
      const pb = await dump(b);
      assert.equal(pa.length, 2);
      assert.equal(pb.length, 2);
      const aIn = pa.find((x) => x.direction === 'inbound')!;
      const aOut = pa.find((x) => x.direction === 'outbound')!;
      const bIn = pb.find((x) => x.direction === 'inbound')!;
      const bOut = pb.find((x) => x.direction === 'outbound')!;
      assert.equal(aIn.spi, bOut.spi);
      assert.equal(aOut.spi, bIn.spi);
      assert.ok(aIn.keys?.encryption && aIn.keys.integrity);
      assert.deepEqual(aIn.keys, bOut.keys);
      assert.deepEqual(aOut.keys, bIn.keys);
      const p1 = await runTool('ikeadm', ['-j', '--control', b.control, 'dump', 'p1']);
      const sas = JSON.parse(p1.stdout) as { state: string; localIsInitiator: boolean }[];
      assert.equal(sas.length, 1);
      assert.equal(sas[0]!.localIsInitiator, false);
    });

    it('initiate LABEL new negotiates a fresh Phase 1 beside the established one', async () => {
      const count = async () => (JSON.parse((await runTool('ikeadm', ['-j', '--control', a.control, 'dump', 'p1'])).stdout) as unknown[]).length;
      const before = await count();
      const again = await runTool('ikeadm', ['--control', a.control, 'initiate', 'a-to-b']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await count(), before, 'reuses the established Phase 1');
      const fresh = await runTool('ikeadm', ['--control', a.control, 'initiate', 'a-to-b', 'new']);
      assert.equal(fresh.code, 0, fresh.stderr);
      assert.equal(await count(), before + 1);
    });

    it('get p1 by cookie pair finds exactly that SA; a cookie that differs in one bit finds none', async () => {
      const sas = JSON.parse((await runTool('ikeadm', ['-j', '--control', a.control, 'dump', 'p1'])).stdout) as { initiatorCookie: string; responderCookie: string }[];
      const { initiatorCookie: ic, responderCookie: rc } = sas[0];
      const found = await runTool('ikeadm', ['-j', '--control', a.control, 'get', 'p1', `0x${ic}`, `0x${rc}`]);
      assert.equal(found.code, 0, found.stderr);
      const got = JSON.parse(found.stdout) as { initiatorCookie: string }[] | { initiatorCookie: string };
      assert.equal((Array.isArray(got) ? got[0] : got).initiatorCookie, ic);
      const flipped = (BigInt(`0x${rc}`) ^ 1n).toString(16).padStart(16, '0');
      const none = await runTool('ikeadm', ['--control', a.control, 'get', 'p1', `0x${ic}`, `0x${flipped}`]);
      assert.notEqual(none.code, 0);
    });

    it('read rule with a broken file keeps the running rules and says where', async () => {
      const broken = path.join(tmp, 'broken.conf');
      fs.writeFileSync(broken, '{\n  label "x"\n  local_addr 127.0.0.1\n  remote_addr nowhere!\n}\n');
      const r = await runTool('ikeadm', ['--control', a.control, 'read', 'rule', broken]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`${broken}:4:`), r.stderr);
      const rules = await runTool('ikeadm', ['-j', '--control', a.control, 'dump', 'rule']);
      assert.deepEqual((JSON.parse(rules.stdout) as { label: string }[]).map((x) => x.label), ['a-to-b']);
      const ok = await runTool('ikeadm', ['--control', a.control, 'read', 'rule']);
      assert.equal(ok.code, 0, ok.stderr);
    });

    it('SIGTERM removes the control socket and exits 0', async () => {
      const code = await stopDaemon(b);
      assert.equal(code, 0, b.log);
      assert.equal(fs.existsSync(b.control), false);
    });
  });
});
