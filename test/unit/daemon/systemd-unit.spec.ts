/** contrib/systemd/oakley-iked.service: systemd accepts it, and its command lines are ones iked accepts. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { parseIkedOptions } from '../../../src/daemon/options';

const UNIT = path.resolve(__dirname, '..', '..', '..', '..', 'contrib', 'systemd', 'oakley-iked.service');

/** [section, key, value] for every assignment, in order (systemd allows repeated keys). */
function parseUnit(text: string): [string, string, string][] {
  const out: [string, string, string][] = [];
  let section = '';
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const s = /^\[([A-Za-z]+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      return;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && section, `line ${i + 1} is neither a section nor key=value: ${raw}`);
    out.push([section, kv[1]!, kv[2]!]);
  });
  return out;
}

describe('systemd unit', () => {
  const entries = parseUnit(fs.readFileSync(UNIT, 'utf8'));
  const get = (section: string, key: string): string[] => entries.filter(([s, k]) => s === section && k === key).map(([, , v]) => v);

  it('passes systemd-analyze verify without a warning (when systemd-analyze is installed)', function () {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (probe.error) this.skip();
    // verify checks that ExecStart's program exists; the unit names /usr/bin/node.
    if (!fs.existsSync('/usr/bin/node')) this.skip();
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    const ours = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(path.basename(UNIT)));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(ours, [], 'systemd-analyze complained about the unit');
  });

  it('runs tools/iked with options parseIkedOptions accepts; ExecStartPre is iked -c', () => {
    const [start] = get('Service', 'ExecStart');
    const [pre] = get('Service', 'ExecStartPre');
    for (const cmd of [start, pre]) {
      assert.ok(cmd);
      const argv = cmd.split(/\s+/);
      assert.equal(argv[0], '/usr/bin/node');
      assert.match(argv[1]!, /\/tools\/iked$/);
      parseIkedOptions(argv.slice(2));
    }
    const o = parseIkedOptions(start!.split(/\s+/).slice(2));
    assert.equal(o.check, false);
    assert.equal(o.debug, false, '-d would ignore configuration errors');
    assert.equal(path.dirname(o.control), '/run/oakley');
    assert.equal(parseIkedOptions(pre!.split(/\s+/).slice(2)).check, true);
  });

  it('is hardened: read-only system, writable socket and log directories only, two capabilities', () => {
    const one = (k: string): string => {
      const v = get('Service', k);
      assert.equal(v.length, 1, `${k} set ${v.length} times`);
      return v[0]!;
    };
    assert.equal(one('ProtectSystem'), 'strict');
    assert.deepEqual(one('ReadWritePaths').split(/\s+/).filter((p) => !p.startsWith('-')), ['/run/oakley', '/var/log/oakley']);
    assert.deepEqual(one('CapabilityBoundingSet').split(/\s+/).sort(), ['CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE']);
    assert.deepEqual(one('RestrictAddressFamilies').split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
    for (const k of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome', 'PrivateDevices']) assert.equal(one(k), 'yes', k);
    assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(one('LimitCORE'), '0');
    assert.equal(one('RuntimeDirectory'), 'oakley');
    assert.equal(get('Service', 'MemoryDenyWriteExecute').length, 0, 'V8 needs W+X pages');
    assert.deepEqual(get('Install', 'WantedBy'), ['multi-user.target']);
  });
});
