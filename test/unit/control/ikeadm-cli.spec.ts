/** tools/ikeadm as a user runs it, against a ControlServer in a temp directory. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { builtinDefaults, type StatsResult } from '../../../src/control/commands';
import { ControlServer } from '../../../src/control/server';
import { OakleyError } from '../../../src/util/errors';
import type { Privilege } from '../../../src/util/log';

const TOOL = path.resolve(__dirname, '..', '..', '..', '..', 'tools', 'ikeadm');

interface Run { code: number | null; stdout: string; stderr: string }

/** Async spawn: the server runs in this process, so the event loop must stay free. */
function ikeadm(args: string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(TOOL, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

const STATS: StatsResult = { initP1Current: 1, respP1Current: 0, initP1Total: 2, respP1Total: 0, initP1Attempts: 3, respP1Attempts: 0, initP1NoResp: 1, initP1RespFail: 0, respP1Fail: 0 };

describe('tools/ikeadm', function () {
  this.timeout(20000);
  let dir: string;
  let sock: string;
  let server: ControlServer;
  let priv: Privilege = 'base';
  const seen: { command: string; args: unknown }[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-ikeadm-'));
    sock = path.join(dir, 'ikeadm.sock');
    const record = (command: string) => (args: unknown) => {
      seen.push({ command, args });
      return null;
    };
    server = await ControlServer.listen({
      path: sock,
      privilege: () => priv,
      handlers: {
        'get stats': () => STATS,
        'get defaults': () => builtinDefaults(),
        'dump p1': () => [],
        'get priv': () => ({ level: priv }),
        'set priv': (args) => {
          const old = priv;
          priv = args.level as Privilege;
          return { old, level: priv };
        },
        'dump preshared': () => 'PSKEY: For main mode (identity protect) exchanges\n\nCompleted dump of preshared keys',
        'add rule': record('add rule'),
        'read rule': record('read rule'),
        'write rule': () => ({ text: '{ label "r1" }\n' }),
        'del p1': () => {
          throw new OakleyError('IKE_ERR_NO_OBJ', 'Could not find requested phase 1 SA.');
        },
      },
    });
  });
  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('get stats prints the §7.1 block, exit 0', async () => {
    const r = await ikeadm(['--control', sock, 'get', 'stats']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Phase 1 SA counts:\nCurrent:   initiator:          1   responder:          0\n/);
  });

  it('-j prints the result as JSON; get defaults as a table', async () => {
    let r = await ikeadm(['-j', '--control', sock, 'get', 'stats']);
    assert.deepEqual(JSON.parse(r.stdout), STATS);
    r = await ikeadm(['--control', sock, 'get', 'defaults']);
    assert.match(r.stdout, /^p2_lifetime_kb    default      29491200 kilobytes/m);
    r = await ikeadm(['--control', sock, 'dump', 'p1']);
    assert.equal(r.stdout, '\nCompleted dump of phase 1 SA info\n');
  });

  it('daemon errors and usage errors: message on stderr, exit 1', async () => {
    let r = await ikeadm(['--control', sock, 'del', 'p1', '10.0.0.1', '10.0.0.2']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ikeadm: Could not find requested phase 1 SA.\n');
    r = await ikeadm(['--control', sock, 'dump', 'preshared']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ikeadm: Not allowed at current privilege level/);
    r = await ikeadm(['--control', sock, 'read', 'rules']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Unrecognized object 'rules'/);
    r = await ikeadm(['--control', path.join(dir, 'none.sock'), 'get', 'stats']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ikeadm: Unable to communicate with in\.iked/);
    r = await ikeadm(['-n', '--control', sock, 'get', 'p1', 'somehost', '10.0.0.1']);
    assert.match(r.stderr, /not a literal address/);
  });

  it('reads rule files itself and writes rule files O_EXCL 0600', async () => {
    const rules = path.join(dir, 'rules.conf');
    fs.writeFileSync(rules, '{ label "x" }\n');
    let r = await ikeadm(['--control', sock, 'read', 'rule', rules]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, 'ikeadm: Completed read of policy rule configuration information.\n');
    assert.deepEqual(seen.pop(), { command: 'read rule', args: { file: rules, text: '{ label "x" }\n' } });
    const out = path.join(dir, 'out.conf');
    r = await ikeadm(['--control', sock, 'write', 'rule', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(out, 'utf8'), '{ label "r1" }\n');
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    r = await ikeadm(['--control', sock, 'write', 'rule', out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /EEXIST/);
  });

  it('interactive mode: reads commands from stdin, errors return to the prompt, quit ends', async () => {
    priv = 'keymat';
    const r = await ikeadm(['--control', sock], 'get priv\nfrob\nset priv modkeys\ndump preshared\nadd rule { label "a b" local_addr 1.2.3.4 }\nquit\nget stats\n');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Current privilege level is 0x2, access to keying material enabled/);
    assert.match(r.stdout, /Successfully changed privilege level from 0x2 to 0x1/);
    assert.match(r.stdout, /Completed dump of preshared keys/);
    assert.doesNotMatch(r.stdout, /Phase 1 SA counts/);
    assert.match(r.stderr, /ikeadm: Unrecognized command 'frob'\nType help for usage info/);
    assert.deepEqual(seen.pop(), { command: 'add rule', args: { text: '{ label "a b" local_addr 1.2.3.4 }' } });
  });

  it('-h prints usage and exits 0 without connecting', async () => {
    const r = await ikeadm(['-h', '--control', path.join(dir, 'none.sock')]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: ikeadm/);
  });
});
