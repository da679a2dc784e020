/**
 * XFRM on the running kernel, in network namespaces made here (TEST-NET addresses, veth), removed
 * in after() whatever happens. Needs root (CAP_NET_ADMIN) and iproute2; strace for the encoding
 * comparison. This kernel has XFRM but no ESP: NEWSA/UPDSA for ESP fail with EPROTONOSUPPORT, so
 * those are proven by encoding against iproute2's request, and the negotiation test asserts that
 * both daemons reached the install and failed there cleanly.
 *
 *   A 192.0.2.1 (ns a) ---- veth ---- B 192.0.2.2 (ns b)
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createNetnsPair, type NetnsPair } from '../interop/lib/netns';
import { must, run, sleep, stopProcess, waitFor } from '../interop/lib/sys';
import type { IpsecSaSpec } from '../../src/kernel/types';
import { saRequest } from '../../src/kernel/xfrm/messages';
import { decodeAttrs, splitMessages } from '../../src/kernel/xfrm/netlink';
import { decodeSa } from '../../src/kernel/xfrm/messages';

const TOOLS = path.resolve(__dirname, '..', '..', '..', 'tools');
const KERNEL_HELPER = path.resolve(__dirname, 'helper.js');

function required(): boolean {
  return process.env.OAKLEY_KERNEL_REQUIRED === '1';
}

/** Runs the helper (test/kernel/helper.ts) in a namespace: one XfrmKernel operation, JSON out. */
async function helper(ns: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await run('ip', ['netns', 'exec', ns, process.execPath, KERNEL_HELPER, JSON.stringify(args)], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`helper ${JSON.stringify(args)} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('XFRM kernel interface (network namespaces)', function () {
  this.timeout(120_000);
  let net: NetnsPair | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-xfrm-'));
  const procs: ChildProcess[] = [];

  before(async function () {
    const ok = process.getuid?.() === 0 && (await run('ip', ['-V']).catch(() => ({ code: 1 }))).code === 0;
    if (!ok) {
      if (required()) throw new Error('root and iproute2 are needed for test:kernel');
      this.skip();
    }
    net = await createNetnsPair();
  });

  after(async () => {
    for (const p of procs) await stopProcess(p);
    await net?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ALLOCSPI creates a larval ESP state that `ip xfrm state` shows; DELSA removes it', async () => {
    const out = await helper(net!.a, { op: 'allocspi', src: net!.outerB, dst: net!.outerA });
    const spi = (out.spi as number) >>> 0;
    assert.ok(spi >= 256);
    const states = await must('ip', ['-n', net!.a, 'xfrm', 'state']);
    assert.match(states, new RegExp(`proto esp spi 0x${spi.toString(16).padStart(8, '0')}`));
    await helper(net!.a, { op: 'delsa', dst: net!.outerA, spi });
    assert.doesNotMatch(await must('ip', ['-n', net!.a, 'xfrm', 'state']), new RegExp(`0x${spi.toString(16).padStart(8, '0')}`));
  });

  it('a larval state reaching the kernel\'s ACQUIRE timeout arrives as a hard EXPIRE', async () => {
    // net.core.xfrm_acq_expires is per namespace: the larval SA's hard lifetime.
    await must('ip', ['netns', 'exec', net!.a, 'sysctl', '-qw', 'net.core.xfrm_acq_expires=2']);
    const out = await helper(net!.a, { op: 'expire', src: net!.outerB, dst: net!.outerA, waitMs: 15000 });
    assert.equal(out.kind, 'hard');
    assert.equal((out.sa as { spi: number }).spi, out.spi);
    await must('ip', ['netns', 'exec', net!.a, 'sysctl', '-qw', 'net.core.xfrm_acq_expires=30']);
  });

  it('NEWSA for ESP fails here with EPROTONOSUPPORT as KernelErr.UNSUPPORTED + kernel.sa_unsupported', async () => {
    const out = await helper(net!.a, { op: 'addsa', src: net!.outerA, dst: net!.outerB });
    assert.equal(out.code, 'IKE_ERR_KERNEL_UNSUPPORTED');
    assert.equal(out.errno, 93);
    assert.equal(out.counter, 1);
  });

  it('NEWSA/UPDSA requests equal what `ip xfrm state add` sends for the same SA, field by field', async function () {
    if ((await run('strace', ['-V']).catch(() => ({ code: 1 }))).code !== 0) {
      if (required()) throw new Error('strace is needed (scripts/setup.sh --kernel)');
      this.skip();
    }
    const enc = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const auth = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');
    const cases: { name: string; spec: IpsecSaSpec; ip: string[] }[] = [
      {
        name: 'tunnel, AES-CBC + HMAC-SHA256, NAT-T, lifetimes',
        spec: {
          src: '192.0.2.1', dst: '192.0.2.2', spi: 0x1000, protocol: 'esp', direction: 'outbound', mode: 'tunnel',
          encapsulation: { type: 'udp', srcPort: 4500, dstPort: 4500 }, encryption: { alg: 'aes-cbc', key: enc },
          integrity: { alg: 'hmac-sha256', key: auth }, replayWindow: 32,
          lifetimes: { soft: { seconds: 20, bytes: 1000 }, hard: { seconds: 30, bytes: 2000 } },
          selectors: { src: { address: '198.51.100.0', prefixLength: 24 }, dst: { address: '203.0.113.0', prefixLength: 24 } },
        },
        ip: ['proto', 'esp', 'spi', '0x1000', 'reqid', '0', 'mode', 'tunnel', 'replay-window', '32', 'enc', 'cbc(aes)', `0x${enc.toString('hex')}`,
          'auth-trunc', 'hmac(sha256)', `0x${auth.toString('hex')}`, '128', 'encap', 'espinudp', '4500', '4500', '0.0.0.0',
          'sel', 'src', '198.51.100.0/24', 'dst', '203.0.113.0/24',
          'limit', 'time-soft', '20', 'limit', 'time-hard', '30', 'limit', 'byte-soft', '1000', 'limit', 'byte-hard', '2000'],
      },
      {
        name: 'transport, AES-GCM-16 (rfc4106), no lifetimes in bytes',
        spec: {
          src: '192.0.2.1', dst: '192.0.2.2', spi: 0x2000, protocol: 'esp', direction: 'outbound', mode: 'transport',
          encapsulation: { type: 'none' }, encryption: { alg: 'aes-gcm', key: enc, salt: Buffer.from('01020304', 'hex'), icvLength: 16 },
          replayWindow: 32, lifetimes: { soft: { seconds: 50, bytes: 0 }, hard: { seconds: 60, bytes: 0 } },
        },
        ip: ['proto', 'esp', 'spi', '0x2000', 'reqid', '0', 'mode', 'transport', 'replay-window', '32',
          'aead', 'rfc4106(gcm(aes))', `0x${enc.toString('hex')}01020304`, '128', 'sel', 'src', '192.0.2.1/32', 'dst', '192.0.2.2/32',
          'limit', 'time-soft', '50', 'limit', 'time-hard', '60'],
      },
    ];
    for (const c of cases) {
      for (const verb of ['add', 'update'] as const) {
        const r = await run('ip', ['netns', 'exec', net!.a, 'strace', '-e', 'trace=sendmsg', '-xx', '-s', '65536',
          'ip', 'xfrm', 'state', verb, 'src', c.spec.src, 'dst', c.spec.dst, ...c.ip]);
        const m = /iov_base=\[\{nlmsg_len=(\d+), nlmsg_type=(XFRM_MSG_\w+), nlmsg_flags=([\w|]+), nlmsg_seq=\d+, nlmsg_pid=\d+\}, "((?:\\x[0-9a-f]{2})*)"/.exec(r.stderr);
        assert.ok(m, `no sendmsg in strace output for ${c.name} (${verb}): ${r.stderr.slice(0, 400)}`);
        const theirsBody = Buffer.from(m[4]!.replace(/\\x/g, ''), 'hex');
        const ours = saRequest(verb, c.spec, 1);
        assert.equal(ours.length, Number(m[1]), `${c.name} ${verb}: nlmsg_len`);
        assert.equal(m[2], verb === 'add' ? 'XFRM_MSG_NEWSA' : 'XFRM_MSG_UPDSA');
        assert.equal(ours.readUInt16LE(6), 0x5, `${c.name}: flags REQUEST|ACK as iproute2 (${m[3]})`);
        // Field by field through our decoder, then octet for octet.
        const theirs = Buffer.concat([ours.subarray(0, 16), theirsBody]);
        const a = decodeSa(splitMessages(ours)[0]!.payload, decodeAttrs);
        const b = decodeSa(splitMessages(theirs)[0]!.payload, decodeAttrs);
        assert.deepEqual(a, b, `${c.name} ${verb}: decoded fields differ`);
        assert.equal(ours.subarray(16).toString('hex'), theirsBody.toString('hex'), `${c.name} ${verb}: octets differ`);
      }
    }
  });

  it('ipsecinit.conf policies appear in `ip xfrm policy`; an ACQUIRE makes two daemons negotiate; policies vanish at shutdown', async () => {
    const n = net!;
    const side = (name: string, me: string, peer: string, ipsec: string) => {
      const root = path.join(dir, name);
      fs.mkdirSync(path.join(root, 'ike'), { recursive: true });
      fs.mkdirSync(path.join(root, 'secret'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(root, 'ike', 'config'), [
        'retry_limit 3', 'retry_timer_init 1', 'retry_timer_max 2',
        '{', `  label "kx-${name}"`, `  local_addr ${me}`, `  remote_addr ${peer}`,
        '  p1_xform { auth_method preshared oakley_group 14 encr_alg aes(128..128) auth_alg sha256 }', '}', ''].join('\n'));
      fs.writeFileSync(path.join(root, 'ipsecinit.conf'), ipsec);
      fs.writeFileSync(path.join(root, 'secret', 'ike.preshared'),
        `{\n  localidtype IP\n  localid ${me}\n  remoteidtype IP\n  remoteid ${peer}\n  key "kernel test key"\n}\n`, { mode: 0o600 });
      return root;
    };
    const esp = 'ipsec {encr_algs aes encr_auth_algs sha256 sa shared}';
    const rootA = side('a', n.outerA, n.outerB, `{laddr ${n.outerA} raddr ${n.outerB} ulp udp rport 9} ${esp}\n`);
    const rootB = side('b', n.outerB, n.outerA, `{laddr ${n.outerB} raddr ${n.outerA} ulp udp lport 9} ${esp}\n`);
    const start = async (ns: string, root: string, address: string) => {
      const control = path.join(root, 'iked.sock');
      const p = spawn('ip', ['netns', 'exec', ns, process.execPath, path.join(TOOLS, 'iked'), '--root', root, '--listen', address,
        '--control', control, '-D', 'all', '--kernel', 'xfrm'], { stdio: ['ignore', 'ignore', 'pipe'] });
      procs.push(p);
      const log = { text: '' };
      p.stderr!.on('data', (b) => (log.text += b));
      await waitFor('iked control socket', async () => {
        if (p.exitCode !== null) throw new Error(`iked exited ${p.exitCode}: ${log.text}`);
        return fs.existsSync(control) ? true : undefined;
      });
      return { p, log };
    };
    const a = await start(n.a, rootA, n.outerA);
    const b = await start(n.b, rootB, n.outerB);

    const polA = await must('ip', ['-n', n.a, 'xfrm', 'policy']);
    assert.match(polA, new RegExp(`src ${n.outerA}/32 dst ${n.outerB}/32 \\s*proto udp dport 9 \\s*dir out priority 1000`));
    assert.match(polA, new RegExp(`src ${n.outerB}/32 dst ${n.outerA}/32 \\s*proto udp sport 9 \\s*dir in priority 1000`));
    assert.match(polA, /proto udp sport 500 \s*dir out priority 100/);
    assert.match(polA, /proto udp dport 4500 \s*dir in priority 100/);

    // Traffic hitting the policy: the kernel sends ACQUIRE; nobody runs `ikeadm initiate`.
    await must('ip', ['netns', 'exec', n.a, 'bash', '-c', `echo hi > /dev/udp/${n.outerB}/9`]);
    await waitFor('A: the SA install refused by the kernel', async () => (/IKE_ERR_KERNEL_UNSUPPORTED|cannot install this SA/.test(a.log.text) ? true : undefined), 30_000);
    await waitFor('B: the SA install refused by the kernel', async () => (/cannot install this SA/.test(b.log.text) ? true : undefined), 30_000);
    assert.match(a.log.text, /ACQUIRE 192\.0\.2\.1 -> 192\.0\.2\.2/);
    assert.match(a.log.text, /ISAKMP SA .* established/);
    assert.match(b.log.text, /ISAKMP SA .* established/);
    assert.match(a.log.text, /Requested type not found/);
    await sleep(500);
    assert.equal(a.p.exitCode, null, 'A is alive');
    assert.equal(b.p.exitCode, null, 'B is alive');
    // The larval inbound SAs of the failed Quick Mode were released on both sides.
    assert.doesNotMatch(await must('ip', ['-n', n.b, 'xfrm', 'state']), /spi 0x(?!00000000)/);

    assert.equal(await stopProcess(a.p), 0);
    assert.equal(await stopProcess(b.p), 0);
    assert.equal((await must('ip', ['-n', n.a, 'xfrm', 'policy'])).trim(), '');
    assert.equal((await must('ip', ['-n', n.b, 'xfrm', 'policy'])).trim(), '');
  });
});
