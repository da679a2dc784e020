/**
 * SIGHUP re-syncs the kernel policies from ipsecinit.conf (--kernel xfrm), in a network namespace
 * made here: a changed entry is replaced, a new one added, a dropped one removed, as `ip xfrm
 * policy` shows; when the kernel refuses one step (a conflicting policy put there by hand), the
 * steps already done are undone and the old set stays, with the reason in the log. Root and
 * iproute2; the NAT-T socket of this daemon also carries UDP_ENCAP (it must start with it).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createNetnsPair, type NetnsPair } from '../interop/lib/netns';
import { must, run, stopProcess, waitFor } from '../interop/lib/sys';

const TOOLS = path.resolve(__dirname, '..', '..', '..', 'tools');

describe('SIGHUP re-syncs kernel policies (network namespace)', function () {
  this.timeout(120_000);
  let net: NetnsPair | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-resync-'));
  let p: ChildProcess | undefined;
  const log = { text: '' };

  before(async function () {
    const ok = process.getuid?.() === 0 && (await run('ip', ['-V']).catch(() => ({ code: 1 }))).code === 0;
    if (!ok) {
      if (process.env.OAKLEY_KERNEL_REQUIRED === '1') throw new Error('root and iproute2 are needed for test:kernel');
      this.skip();
    }
    net = await createNetnsPair();
  });

  after(async () => {
    if (p) await stopProcess(p);
    await net?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('changed, added and removed ipsecinit.conf entries reach `ip xfrm policy`; a refused step keeps the old set', async () => {
    const n = net!;
    const me = n.outerA;
    const peer = n.outerB;
    const root = path.join(dir, 'a');
    fs.mkdirSync(path.join(root, 'ike'), { recursive: true });
    fs.mkdirSync(path.join(root, 'secret'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(root, 'ike', 'config'), [
      '{', '  label "resync"', `  local_addr ${me}`, `  remote_addr ${peer}`,
      '  p1_xform { auth_method preshared oakley_group 14 encr_alg aes(128..128) auth_alg sha256 }', '}', ''].join('\n'));
    fs.writeFileSync(path.join(root, 'secret', 'ike.preshared'),
      `{\n  localidtype IP\n  localid ${me}\n  remoteidtype IP\n  remoteid ${peer}\n  key "k"\n}\n`, { mode: 0o600 });
    const ipsecinit = path.join(root, 'ipsecinit.conf');
    const esp = 'ipsec {encr_algs aes encr_auth_algs sha256 sa shared}';
    const entry = (port: number, dir = ''): string => `{laddr ${me} raddr ${peer} ulp udp rport ${port}${dir}} ${esp}\n`;
    fs.writeFileSync(ipsecinit, entry(9) + entry(7));

    const control = path.join(root, 'iked.sock');
    p = spawn('ip', ['netns', 'exec', n.a, process.execPath, path.join(TOOLS, 'iked'), '--root', root, '--listen', me,
      '--control', control, '-D', 'all', '--kernel', 'xfrm'], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.on('data', (b) => (log.text += b));
    await waitFor('iked control socket', async () => {
      if (p!.exitCode !== null) throw new Error(`iked exited ${p!.exitCode}: ${log.text}`);
      return fs.existsSync(control) ? true : undefined;
    });
    const policies = (): Promise<string> => must('ip', ['-n', n.a, 'xfrm', 'policy']);
    const out = (port: number): RegExp => new RegExp(`src ${me}/32 dst ${peer}/32 \\s*proto udp dport ${port} \\s*dir out priority 1000`);
    const inb = (port: number): RegExp => new RegExp(`src ${peer}/32 dst ${me}/32 \\s*proto udp sport ${port} \\s*dir in priority 1000`);
    let pol = await policies();
    for (const re of [out(9), inb(9), out(7), inb(7)]) assert.match(pol, re);
    const bypasses = (pol.match(/priority 100 /g) ?? []).length;
    assert.ok(bypasses > 0);

    // Entry 9 becomes outbound-only (a replaced selector is gone, its twin stays), 7 goes, 11 comes.
    fs.writeFileSync(ipsecinit, entry(9, ' dir out') + entry(11));
    const hup = log.text.length;
    p.kill('SIGHUP');
    await waitFor('policy re-sync logged', async () => (/kernel policies re-synced/.test(log.text.slice(hup)) ? true : undefined), 20_000);
    pol = await policies();
    for (const re of [out(9), out(11), inb(11)]) assert.match(pol, re);
    for (const re of [inb(9), out(7), inb(7)]) assert.doesNotMatch(pol, re);
    assert.equal((pol.match(/priority 100 /g) ?? []).length, bypasses, 'the IKE bypasses are untouched');
    assert.match(log.text.slice(hup), /added[^\n]*2[^\n]*removed[^\n]*3|"added":2.*"removed":3/s);

    // The kernel refuses: a policy for port 13 put there by hand makes NEWPOLICY fail with EEXIST.
    await must('ip', ['-n', n.a, 'xfrm', 'policy', 'add', 'src', `${me}/32`, 'dst', `${peer}/32`, 'proto', 'udp', 'dport', '13', 'dir', 'out', 'action', 'block']);
    const before = await policies();
    fs.writeFileSync(ipsecinit, entry(15) + entry(13));
    const hup2 = log.text.length;
    p.kill('SIGHUP');
    await waitFor('refusal logged', async () => (/reload failed; keeping the running configuration/.test(log.text.slice(hup2)) ? true : undefined), 20_000);
    assert.match(log.text.slice(hup2), /kernel refused the new ipsecinit\.conf policies \(the old ones stay installed\): adding policy outbound .*:13 ipsec esp transport: XFRM NEWPOLICY: already exists \(EEXIST\)/);
    const after = await policies();
    const norm = (s: string): string[] => s.split(/(?=^src )/m).map((x) => x.trim()).sort();
    assert.deepEqual(norm(after), norm(before), 'the SPD is as it was before the refused reload');
    assert.doesNotMatch(after, out(15), 'the step that went in before the refusal was undone');
    assert.equal(p.exitCode, null, 'the daemon is alive');

    // Shutdown removes what Oakley installed, and only that.
    assert.equal(await stopProcess(p), 0);
    p = undefined;
    const left = await policies();
    assert.match(left, /dport 13 \s*dir out action block priority 0/);
    assert.equal(norm(left).length, 1, left);
  });
});
