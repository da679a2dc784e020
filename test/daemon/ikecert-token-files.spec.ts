/**
 * Token keys and certificates represented on disk by PKCS#11 hint files (solaris-ike.md §4.2,
 * §4.5), with two real tools/iked and a SoftHSM2 token:
 *  - `ikecert certlocal -ks -T TOKEN -p` stores the PIN in the root-only (0600) hint file, so the
 *    daemon logs in by itself: the key is available at start, without `ikeadm token login`, and
 *    negotiates in both roles; the PIN shows in no output and no log;
 *  - the certificate made with the key, and the peer's certificate added with `ikecert certdb -a
 *    -T TOKEN`, live on the token: their publickeys slots are hint files (0600), which `ikecert
 *    certdb -l/-e` and the daemon read through the token;
 *  - A's DH also runs on the token (crypto_path ke pkcs11): with the token directory renamed away
 *    negotiations fail cleanly; once it is back the next negotiation re-initialises the library,
 *    finds the token again and logs in with the stored PIN, without an operator.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { freeUdpPorts, startDaemon, type Daemon, type Run } from '../../src/demo/iked-demo';
import { tokenFixture, tokenRuleConfig, tool } from './token-tools';

const LABEL = 'ike-p';
const PIN = '71402958';
const DN_A = 'C=US, O=Oakley Test, CN=gw-a.stored-pin.test';
const DN_B = 'C=US, O=Oakley Test, CN=gw-b.file.test';

describe('ikecert -T -p and certificate hint files + tools/iked', function () {
  this.timeout(120_000);
  let tmp: string;
  let module: string;
  let rootA: string;
  let rootB: string;
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  const outputs: string[] = [];
  const logs = (): string => `\n--- A ---\n${a?.log}\n--- B ---\n${b?.log}`;

  const run = async (name: string, args: readonly string[], input = ''): Promise<Run> => {
    const r = await tool(name, args, input);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const ikeadm = (d: Daemon, args: readonly string[], input = ''): Promise<Run> => run('ikeadm', ['--control', d.control, ...args], input);
  const pubA = (slot: string): string => path.join(rootA, 'ike', 'publickeys', slot);

  const fx = tokenFixture('oakley-ikecert-files-', LABEL, PIN, () => [a, b]);
  before(() => {
    tmp = fx.tmp;
    module = fx.module;
    rootA = path.join(tmp, 'a');
    rootB = path.join(tmp, 'b');
  });

  it('certlocal -ks -T -p: key and certificate on the token, the PIN in the 0600 key hint file, a certificate hint file in publickeys', async () => {
    const genA = await run('ikecert', ['certlocal', '-ks', '-m', '2048', '-D', DN_A, '-T', LABEL, '-p', '--root', rootA, '--pkcs11-module', module], `${PIN}\n`);
    assert.equal(genA.code, 0, genA.stderr);
    const keyHint = path.join(rootA, 'secret', 'ike.privatekeys', '0');
    assert.equal(fs.readFileSync(keyHint, 'utf8'), `${LABEL.padEnd(32)}\n${PIN}\n${DN_A}\nrsa-sha256\n`);
    // The certificate slot is a hint too (the certificate object is public: no PIN stored there).
    assert.equal(fs.readFileSync(pubA('0'), 'utf8'), `${LABEL.padEnd(32)}\n\n${DN_A}\nrsa-sha256\n`);
    for (const f of [keyHint, pubA('0')]) {
      const st = fs.statSync(f);
      assert.equal(st.mode & 0o777, 0o600, f);
      assert.equal(st.uid, process.getuid!(), f);
    }
    // What -ks printed is what the token holds and what certdb -e reads through the hint file.
    const exported = await run('ikecert', ['certdb', '-e', '-f', 'pem', 'SLOT=0', '--root', rootA, '--pkcs11-module', module]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(new X509Certificate(exported.stdout).subject.replace(/\n/g, ', '), 'C=US, O=Oakley Test, CN=gw-a.stored-pin.test');
    assert.ok(new X509Certificate(exported.stdout).raw.equals(new X509Certificate(genA.stdout).raw));

    const genB = await run('ikecert', ['certlocal', '-ks', '-m', '2048', '-D', DN_B, '--root', rootB]);
    assert.equal(genB.code, 0, genB.stderr);
    const addB = await run('ikecert', ['certdb', '-a', '--root', rootB], exported.stdout);
    assert.equal(addB.code, 0, addB.stderr);
    // B's certificate goes onto A's token with -T: A's slot 1 becomes a hint file.
    const eB = await run('ikecert', ['certdb', '-e', 'SLOT=0', '--root', rootB]);
    const addA = await run('ikecert', ['certdb', '-a', '-T', LABEL, '--root', rootA, '--pkcs11-module', module], `${PIN}\n${eB.stdout}`);
    assert.equal(addA.code, 0, addA.stderr);
    assert.match(addA.stderr, /Certificate stored on PKCS#11 token "ike-p"/);
    assert.equal(fs.readFileSync(pubA('1'), 'utf8'), `${LABEL.padEnd(32)}\n\n${DN_B}\nrsa-sha256\n`);
    assert.equal(fs.statSync(pubA('1')).mode & 0o777, 0o600);

    const list = await run('ikecert', ['certdb', '-l', '--root', rootA, '--pkcs11-module', module]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`Certificate Slot Name: 0 {3}Key Type: rsa\\n\\t\\(Private key in certlocal slot 0\\)\\n\\t\\(In PKCS#11 hardware token "${LABEL} {27}"\\)\\n` +
      `\\t\\(PKCS#11 object identifier "${DN_A}"\\)\\n\\t\\(Certificate on PKCS#11 token "${LABEL} {27}"\\)\\n\\tSubject Name: <${DN_A}>`));
    assert.match(list.stdout, new RegExp(`Certificate Slot Name: 1 {3}Key Type: rsa\\n\\t\\(Certificate on PKCS#11 token "${LABEL} {27}"\\)\\n\\tSubject Name: <${DN_B}>`));
  });

  it('the daemon logs in with the stored PIN: the key is available at start without token login and negotiates in both roles', async () => {
    const [portA, natA, portB, natB] = await freeUdpPorts(4);
    fs.writeFileSync(path.join(rootA, 'ike', 'config'), tokenRuleConfig({ own: DN_A, peer: DN_B, label: 'a-to-b', remotePort: portB!, token: LABEL, module, ke: 'pkcs11' }));
    fs.writeFileSync(path.join(rootB, 'ike', 'config'), tokenRuleConfig({ own: DN_B, peer: DN_A, label: 'b-to-a', remotePort: portA! }));
    for (const r of [rootA, rootB]) fs.writeFileSync(path.join(r, 'ipsecinit.conf'), '{laddr 127.0.0.1 raddr 127.0.0.1} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}\n');
    a = await startDaemon(rootA, portA!, natA!);
    b = await startDaemon(rootB, portB!, natB!);
    assert.doesNotMatch(a.log, /skipped|not a usable/, a.log);
    assert.match(a.log, /crypto path for ke: pkcs11/, 'A\'s DH runs on the token (acceleration path)');
    const cache = await ikeadm(a, ['dump', 'certcache']);
    assert.equal(cache.code, 0, cache.stderr);
    assert.match(cache.stdout, /Subject Name: C=US, O=Oakley Test, CN=gw-a\.stored-pin\.test\n.*\n\t\t\[Private key available\]/);
    // B's certificate, read from the token through publickeys/1, is the pinned peer.
    assert.match(cache.stdout, /Subject Name: C=US, O=Oakley Test, CN=gw-b\.file\.test\n.*\n\t\t\[trusted certificate\]/);
    const init = await ikeadm(a, ['initiate', 'a-to-b']);
    assert.equal(init.code, 0, `${init.stderr}${logs()}`);
    assert.match(init.stdout, /Phase 1 SA .* \(rule "a-to-b"\): aes-128\/sha256\/group 14\/rsa_sig/);
    const back = await ikeadm(b, ['initiate', 'b-to-a', 'new']);
    assert.equal(back.code, 0, `${back.stderr}${logs()}`);
  });

  it('token directory gone: negotiations fail cleanly (DH and signature on the token); back again, A recovers by itself with the stored PIN', async () => {
    const tokens = path.join(tmp, 'hsm', 'tokens');
    fs.renameSync(tokens, `${tokens}.away`);
    try {
      const r = await ikeadm(a!, ['initiate', 'a-to-b', 'new']);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /token "ike-p" is no longer usable \(C_GetTokenInfo: CKR_GENERAL_ERROR; token directory removed\?\)/);
      const cache = await ikeadm(a!, ['dump', 'certcache']);
      assert.match(cache.stdout, /CN=gw-a\.stored-pin\.test\n.*\n\t\t\[Private key linked but locked\]/);
      assert.equal(a!.proc.exitCode, null, a!.log);
    } finally {
      fs.renameSync(`${tokens}.away`, tokens);
    }
    await new Promise((res) => setTimeout(res, 1100)); // an operation re-initialises at most once a second
    const again = await ikeadm(a!, ['initiate', 'a-to-b', 'new']);
    assert.equal(again.code, 0, `${again.stderr}${logs()}`);
    assert.match(again.stdout, /Phase 1 SA .* \(rule "a-to-b"\): aes-128\/sha256\/group 14\/rsa_sig/);
  });

  it('no PIN in any tool output or daemon log', async () => {
    assert.ok(!a!.log.includes(PIN) && !b!.log.includes(PIN), 'PIN in a daemon log');
    for (const o of outputs) assert.ok(!o.includes(PIN), `PIN in tool output: ${o}`);
  });
});
