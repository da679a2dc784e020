/**
 * tools/ikeadm against running tools/iked daemons: add/del/write rule, preshared keys at each
 * privilege level, algorithm lists, certcache, token login/logout, and a negotiation that can only
 * succeed with a pre-shared key added at run time.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createNodeBackend } from '../../src/crypto/node';
import { P1_SUPPORTED_GROUPS } from '../../src/exchange/ikev1/proposals';
import { freeUdpPorts, startDaemon, stopDaemon, TOOLS, type Daemon, type Run } from '../../src/demo/iked-demo';
import { recordToolRun } from '../../src/demo/log-audit';
import { parseIkeConfig, type IkeRule } from '../../src/policy/ike-config';
import { parsePreshared } from '../../src/policy/preshared';

/** Runs tools/ikeadm with `input` on its standard input (runTool gives it none). */
function ikeadm(control: string, args: readonly string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [path.join(TOOLS, 'ikeadm'), '--control', control, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      recordToolRun('ikeadm', ['--control', control, ...args], input, stdout, stderr);
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
    p.stdin!.end(input);
  });
}

async function json<T>(control: string, args: readonly string[]): Promise<T> {
  const r = await ikeadm(control, ['-j', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

const XFORM = 'p1_xform { auth_method preshared oakley_group 14 encr_alg aes(256..256) auth_alg sha256 }';

/** A root whose rules get their p1_xform from a global default, so added rules can inherit it. */
function writeRoot(dir: string, o: { label: string; remotePort: number; psk?: string }): void {
  fs.mkdirSync(path.join(dir, 'ike'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'secret'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'ike', 'config'), [
    '# globals: defaults inherited by every rule, including rules added with ikeadm',
    'p1_lifetime_secs 3600',
    XFORM,
    'p2_pfs 14',
    '{',
    `  label "${o.label}"`,
    '  local_addr 127.0.0.1',
    '  remote_addr 127.0.0.1',
    `  remote_port ${o.remotePort}`,
    '}',
    '',
  ].join('\n'));
  const ps = o.psk === undefined ? '' : `{\n  localidtype IP\n  localid 127.0.0.1\n  remoteidtype IP\n  remoteid 127.0.0.1\n  key "${o.psk}"\n}\n`;
  fs.writeFileSync(path.join(dir, 'secret', 'ike.preshared'), ps, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'ipsecinit.conf'), [
    '{laddr 127.0.0.1 raddr 127.0.0.1} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}',
    '{laddr 127.0.0.1 raddr 10.9.9.9} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}',
    '',
  ].join('\n'));
}

/** The parts of a rule that `write rule` must preserve. */
function ruleShape(r: IkeRule): unknown {
  return {
    label: r.label, localIdType: r.localIdType, p1Mode: r.p1Mode, localAddrs: r.localAddrs, remoteAddrs: r.remoteAddrs,
    p2: r.p2, pfsGroup: r.pfsGroup, preshared: r.preshared, remotePort: r.remotePort,
    xforms: r.xforms.map(({ pos: _pos, ...x }) => x),
  };
}

interface RuleJson { label: string; remoteAddrs: string[]; xforms: { group: number; encryption: string; hash: string }[] }
interface PsJson { local: string; remote: string; key?: string; keyBits?: number }

describe('tools/ikeadm administration commands', function () {
  this.timeout(90000);
  let tmp: string;
  let a: Daemon; // keymat
  let b: Daemon; // modkeys, no pre-shared key at start
  let c: Daemon; // base
  const PSK = 'run-time key';

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-ikeadm-admin-'));
    const [portA, natA, portB, natB, portC, natC] = await freeUdpPorts(6);
    writeRoot(path.join(tmp, 'a'), { label: 'a-to-b', remotePort: portB!, psk: PSK });
    writeRoot(path.join(tmp, 'b'), { label: 'b-to-a', remotePort: portA! });
    writeRoot(path.join(tmp, 'c'), { label: 'c-rule', remotePort: portA! });
    a = await startDaemon(path.join(tmp, 'a'), portA!, natA!, ['-p', 'keymat']);
    b = await startDaemon(path.join(tmp, 'b'), portB!, natB!, ['-p', 'modkeys']);
    c = await startDaemon(path.join(tmp, 'c'), portC!, natC!);
  });

  after(async () => {
    for (const d of [a, b, c]) if (d) await stopDaemon(d, 2000);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('rules', () => {
    it('add rule (inline) inherits the global p1_xform and shows in dump rule', async () => {
      const r = await ikeadm(a.control, ['add', 'rule', '{', 'label', 'extra one', 'local_addr', '127.0.0.1', 'remote_addr', '10.9.9.9', '}']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Successfully created new policy rule 'extra one'/);
      const rules = await json<RuleJson[]>(a.control, ['dump', 'rule']);
      assert.deepEqual(rules.map((x) => x.label), ['a-to-b', 'extra one']);
      const extra = await json<RuleJson[]>(a.control, ['get', 'rule', 'extra one']);
      assert.deepEqual(extra[0]!.remoteAddrs, ['10.9.9.9']);
      assert.deepEqual(extra[0]!.xforms.map((x) => [x.group, x.encryption, x.hash]), [[14, 'aes', 'sha256']]);
      const text = await ikeadm(a.control, ['get', 'rule', 'extra one']);
      assert.match(text.stdout, /GLOBL: Label 'extra one'/);
    });

    it('refuses a label that exists, naming where the old rule came from', async () => {
      const r = await ikeadm(a.control, ['add', 'rule', '{', 'label', 'a-to-b', 'local_addr', '127.0.0.1', 'remote_addr', '10.9.9.9', '}']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Duplicate entry: a rule labelled "a-to-b" exists already \(from .*ike\/config:5:1\)/);
      assert.equal((await json<RuleJson[]>(a.control, ['dump', 'rule'])).length, 2);
    });

    it('refuses a bad rule file with file:line:column and keeps the running rules', async () => {
      const before = await json<RuleJson[]>(a.control, ['dump', 'rule']);
      const file = path.join(tmp, 'bad.rule');
      fs.writeFileSync(file, '{\n  label "bad"\n  local_adr 127.0.0.1\n  remote_addr 10.9.9.9\n}\n');
      const r = await ikeadm(a.control, ['add', 'rule', file]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`${file}:3:3: unknown rule parameter "local_adr"`), r.stderr);
      // Validation at the closing brace (§1.7) also names the added file, with its own line numbers.
      fs.writeFileSync(file, '# no local address\n{\n  label "bad"\n  remote_addr 10.9.9.9\n}\n');
      const r2 = await ikeadm(a.control, ['add', 'rule', file]);
      assert.equal(r2.code, 1);
      assert.ok(r2.stderr.includes(`${file}:5:1: rule "bad" doesn't specify local address`), r2.stderr);
      // Globals are refused: they would change the defaults of every later rule.
      fs.writeFileSync(file, 'p2_pfs 2\n');
      const r3 = await ikeadm(a.control, ['add', 'rule', file]);
      assert.equal(r3.code, 1);
      assert.ok(r3.stderr.includes(`${file}:1:1: add rule takes rules only`), r3.stderr);
      // Parses, but no IPsec policy in ipsecinit.conf covers it: refused as a file load would be.
      fs.writeFileSync(file, '{ label "nopolicy" local_addr 127.0.0.1 remote_addr 10.1.1.1 }\n');
      const r4 = await ikeadm(a.control, ['add', 'rule', file]);
      assert.equal(r4.code, 1);
      assert.match(r4.stderr, /no matching IPsec policy/);
      assert.deepEqual(await json<RuleJson[]>(a.control, ['dump', 'rule']), before);
    });

    it('del rule removes a rule; a missing label is an error listing the rules', async () => {
      const miss = await ikeadm(a.control, ['del', 'rule', 'nosuch']);
      assert.equal(miss.code, 1);
      assert.match(miss.stderr, /No rule labelled "nosuch" \(rules: "a-to-b", "extra one"\)/);
      const r = await ikeadm(a.control, ['del', 'rule', 'extra one']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Successfully deleted selected policy rule 'extra one'/);
      assert.deepEqual((await json<RuleJson[]>(a.control, ['dump', 'rule'])).map((x) => x.label), ['a-to-b']);
      // A rule file added after a delete still inherits the globals.
      const file = path.join(tmp, 'good.rule');
      fs.writeFileSync(file, '{\n  label "from file"\n  local_addr 127.0.0.1\n  remote_addr 10.9.9.9\n  p1_mode main\n}\n');
      const add = await ikeadm(a.control, ['add', 'rule', file]);
      assert.equal(add.code, 0, add.stderr);
      assert.deepEqual((await json<RuleJson[]>(a.control, ['dump', 'rule'])).map((x) => x.label), ['a-to-b', 'from file']);
    });

    it('write rule creates a 0600 file that parses back to the same rules, and never overwrites', async () => {
      const out = path.join(tmp, 'written.rules');
      const r = await ikeadm(a.control, ['-j', 'write', 'rule', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.includes('label'), 'the rules go to the file, not stdout');
      assert.equal(fs.statSync(out).mode & 0o777, 0o600);
      const written = parseIkeConfig(fs.readFileSync(out, 'utf8'), out).rules;
      const configFile = path.join(tmp, 'a', 'ike', 'config');
      const original = parseIkeConfig(fs.readFileSync(configFile, 'utf8'), configFile).rules;
      const added = parseIkeConfig(`${XFORM}\np2_pfs 14\n${fs.readFileSync(path.join(tmp, 'good.rule'), 'utf8')}`, 'x').rules;
      assert.deepEqual(written.map(ruleShape), [...original, ...added].map(ruleShape));
      const again = await ikeadm(a.control, ['write', 'rule', out]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /EEXIST/);
    });
  });

  describe('pre-shared keys', () => {
    it('are refused at base privilege, and write preshared below keymat', async () => {
      for (const args of [['dump', 'preshared'], ['get', 'preshared', '127.0.0.1', '127.0.0.1'], ['del', 'preshared', '127.0.0.1', '127.0.0.1']]) {
        const r = await ikeadm(c.control, args);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /Not allowed at current privilege level \('[a-z ]+' needs modkeys, daemon is at base\)/);
      }
      const out = path.join(tmp, 'ps-from-b');
      const w = await ikeadm(b.control, ['write', 'preshared', out]);
      assert.equal(w.code, 1);
      assert.match(w.stderr, /needs keymat, daemon is at modkeys/);
      assert.ok(!fs.existsSync(out), 'the refused write leaves no file behind');
    });

    it('a key added at run time is used by the next negotiation at once', async () => {
      const miss = await ikeadm(b.control, ['get', 'preshared', '127.0.0.1', '127.0.0.1']);
      assert.equal(miss.code, 1);
      assert.match(miss.stderr, /No pre-shared key covers local 127.0.0.1 and remote 127.0.0.1/);
      const file = path.join(tmp, 'b.psk');
      fs.writeFileSync(file, `{\n  localidtype IP\n  localid 127.0.0.1\n  remoteidtype IP\n  remoteid 127.0.0.1\n  key "${PSK}"\n}\n`, { mode: 0o600 });
      const add = await ikeadm(b.control, ['add', 'preshared', file]);
      assert.equal(add.code, 0, add.stderr);
      const init = await ikeadm(a.control, ['initiate', 'a-to-b']);
      assert.equal(init.code, 0, init.stderr + a.log + b.log);
      assert.match(init.stdout, /IPsec SA pair: inbound ESP SPI 0x[0-9a-f]{8}/);
      const again = await ikeadm(b.control, ['add', 'preshared', file]);
      assert.equal(again.code, 1);
      assert.ok(again.stderr.includes(`${file}:1:1: Duplicate entry`), again.stderr);
    });

    it('dump/get show key bytes only at keymat', async () => {
      const atModkeys = await json<PsJson[]>(b.control, ['dump', 'preshared']);
      assert.equal(atModkeys.length, 1);
      assert.equal(atModkeys[0]!.key, undefined);
      assert.equal(atModkeys[0]!.keyBits, undefined);
      const text = await ikeadm(b.control, ['dump', 'preshared']);
      assert.match(text.stdout, /LOCIP: 127\.0\.0\.1\n/);
      assert.ok(!text.stdout.includes('Pre-shared key ('));
      const atKeymat = await json<PsJson[]>(a.control, ['get', 'preshared', '127.0.0.1', '127.0.0.1']);
      assert.equal(atKeymat[0]!.key, Buffer.from(PSK).toString('hex'));
      const shown = await ikeadm(a.control, ['dump', 'preshared']);
      assert.ok(shown.stdout.includes(`PSKEY: Pre-shared key (${PSK.length} bytes): ${Buffer.from(PSK).toString('hex')}`), shown.stdout);
      const paranoid = await ikeadm(a.control, ['-p', 'dump', 'preshared']);
      assert.ok(!paranoid.stdout.includes(Buffer.from(PSK).toString('hex')));
      assert.match(paranoid.stdout, /Pre-shared key \(\d+ bytes\): X+\n/);
    });

    it('inline add (interactive mode), get by identity pair, del, and a bad file keeps the list', async () => {
      const r = await ikeadm(b.control, [], 'add preshared { localidtype ip localid 127.0.0.1 remoteidtype subnet remoteid 10.9.9.0/24 ike_mode main key 0123456789abcdef }\n');
      assert.equal(r.code, 0);
      assert.match(r.stderr, /Successfully created new preshared key\./);
      const got = await json<PsJson[]>(b.control, ['get', 'preshared', 'ip', '127.0.0.1', 'subnet', '10.9.9.0/24']);
      assert.deepEqual([got[0]!.local, got[0]!.remote], ['127.0.0.1', '10.9.9.0/24']);
      // By address pair: the entry the engine would use for that pair.
      const byAddr = await json<PsJson[]>(b.control, ['get', 'preshared', '127.0.0.1', '10.9.9.77']);
      assert.equal(byAddr[0]!.remote, '10.9.9.0/24');
      const bad = path.join(tmp, 'bad.psk');
      fs.writeFileSync(bad, '{\n  localid 127.0.0.1\n  remoteid 10.8.8.8\n  key 0xabcd\n}\n');
      const refused = await ikeadm(b.control, ['add', 'preshared', bad]);
      assert.equal(refused.code, 1);
      assert.ok(refused.stderr.includes(`${bad}:4:7:`), refused.stderr);
      assert.equal((await json<PsJson[]>(b.control, ['dump', 'preshared'])).length, 2);
      const del = await ikeadm(b.control, ['del', 'preshared', 'ip', '127.0.0.1', 'subnet', '10.9.9.0/24']);
      assert.equal(del.code, 0, del.stderr);
      assert.match(del.stderr, /deleted selected preshared key \(local 127\.0\.0\.1, remote 10\.9\.9\.0\/24\)/);
      const gone = await ikeadm(b.control, ['del', 'preshared', 'ip', '127.0.0.1', 'subnet', '10.9.9.0/24']);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /No pre-shared key for local id 127\.0\.0\.1 and remote id 10\.9\.9\.0\/24/);
      assert.equal((await json<PsJson[]>(b.control, ['dump', 'preshared'])).length, 1);
    });

    it('write preshared (keymat) writes a 0600 file that parses back to the same keys', async () => {
      const add = await ikeadm(a.control, [], 'add preshared { localid 127.0.0.1 remoteid 10.9.9.9 ike_mode main key abc/12 }\n');
      assert.equal(add.code, 0, add.stderr);
      const out = path.join(tmp, 'written.psk');
      const r = await ikeadm(a.control, ['-j', 'write', 'preshared', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.includes(Buffer.from(PSK).toString('hex')), 'keys go to the file only');
      assert.equal(fs.statSync(out).mode & 0o777, 0o600);
      const written = parsePreshared(fs.readFileSync(out, 'utf8'), out);
      const dumped = await json<PsJson[]>(a.control, ['dump', 'preshared']);
      assert.deepEqual(written.map((e) => [e.key.toString('hex'), e.keyBits]), [[Buffer.from(PSK).toString('hex'), PSK.length * 8], ['abc0', 12]]);
      assert.deepEqual(dumped.map((e) => e.keyBits), written.map((e) => e.keyBits));
    });
  });

  describe('algorithms, certificates, tokens', () => {
    it('dump groups lists the groups the engine negotiates and the crypto suite computes', async () => {
      const node = createNodeBackend();
      const groups = await json<{ value: number; strength: number }[]>(a.control, ['dump', 'groups']);
      assert.deepEqual(groups.map((g) => g.value), P1_SUPPORTED_GROUPS.filter((g) => node.ke.supports(g)));
      assert.ok(groups.some((g) => g.value === 14), 'the group the rules use');
      const text = await ikeadm(a.control, ['dump', 'groups']);
      assert.match(text.stdout, /^14 {4}112 {6}2048-bit MODP \(group 14\)$/m);
      assert.match(text.stdout, /Completed dump of groups\n$/);
    });

    it('dump encralgs and authalgs list IKE attribute values', async () => {
      const node = createNodeBackend();
      const encr = await json<{ value: number; name: string; keyLengths?: { min: number; max: number } }[]>(a.control, ['dump', 'encralgs']);
      assert.deepEqual(encr.find((e) => e.name === 'aes-cbc'), { value: 7, name: 'aes-cbc', keyLengths: { min: 128, max: 256 } });
      assert.equal(encr.some((e) => e.name === 'blowfish-cbc'), node.cipher.supports('blowfish-cbc', 16));
      const text = await ikeadm(a.control, ['dump', 'encralgs']);
      assert.match(text.stdout, /^7 {5}aes-cbc {13}128-256$/m);
      const auth = await json<{ value: number; name: string }[]>(a.control, ['dump', 'authalgs']);
      assert.deepEqual(auth, [{ value: 1, name: 'md5' }, { value: 2, name: 'sha1' }, { value: 4, name: 'sha256' }, { value: 5, name: 'sha384' }, { value: 6, name: 'sha512' }]);
    });

    it('dump certcache is empty and flush certcache flushes 0: the daemon holds no certificates yet', async () => {
      assert.deepEqual(await json<unknown[]>(a.control, ['dump', 'certcache']), []);
      const text = await ikeadm(a.control, ['dump', 'certcache']);
      assert.equal(text.stdout, '\nCompleted dump of certcache\n');
      const f = await ikeadm(a.control, ['flush', 'certcache']);
      assert.equal(f.code, 0, f.stderr);
      assert.match(f.stderr, /Successfully flushed cert cache \(0 certificates removed\)/);
    });

    it('token login/logout name a missing token and never show the PIN', async () => {
      const pin = 'secret-pin-4711';
      const r = await ikeadm(a.control, ['token', 'login', 'nosuch'], `${pin}\n`);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /No PKCS#11 token labelled "nosuch" is open in this daemon \(open tokens: none\)/);
      const out = await ikeadm(a.control, ['token', 'logout', 'nosuch']);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /No PKCS#11 token labelled "nosuch"/);
      const noPin = await ikeadm(a.control, ['token', 'login', 'nosuch']);
      assert.equal(noPin.code, 1);
      assert.match(noPin.stderr, /no PIN given/);
      for (const s of [r.stdout, r.stderr, a.log]) assert.ok(!s.includes(pin));
    });
  });
});
