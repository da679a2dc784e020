/**
 * The hardware-key lifecycle (issue 6): `ikecert certlocal -ks -T TOKEN` makes A's key pair on a
 * SoftHSM2 token (B keeps a file key made by ikecert), each side pins the other's self-signed
 * certificate with cert_trust, and two real tools/iked negotiate rsa_sig Main Mode.
 *
 *   A (key on token "ike-a", RSA on the pkcs11 path) --MM5 IDii=DN, CERT, SIG_I--> B (file key)
 *   SIG_I is made by the token: A has no key file at all, only the PKCS#11 hint file, and the
 *   key object is CKA_SENSITIVE, never extractable and generated on the token (CKA_LOCAL).
 *
 * Then: A's token starts logged out ("[Private key linked but locked]", negotiations refused
 * with a message naming `ikeadm token login`), a wrong PIN is refused clearly, the right PIN
 * unlocks the key without a restart, `token logout` locks it again (negotiation fails, daemon
 * up), `token login` restores it. Token faults (issue 9): the token directory renamed away under
 * the running daemon makes a fresh negotiation fail cleanly (B is notified, the established SA
 * still runs Quick Mode), token login is refused while it is missing, and after it is restored
 * `token login` re-initialises the library and the key negotiates again; finally the key object
 * is deleted from the token: A's signing call fails, B is told, both daemons stay up.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import * as P from 'pkcs11js';

import { freeUdpPorts, startDaemon, type Daemon, type Run } from '../../src/demo/iked-demo';
import { destroyObjects, findObjects, openToken, privateKeyProtection } from '../../src/keystore/ikecert/token-store';
import { tokenFixture, tokenRuleConfig, tool } from './token-tools';

const LABEL = 'ike-a';
const PIN = '40617283';
const WRONG_PIN = '11110000';
const DN_A = 'C=US, O=Oakley Test, CN=gw-a.token.test';
const DN_B = 'C=US, O=Oakley Test, CN=gw-b.file.test';

describe('ikecert -T + tools/iked: rsa_sig Main Mode with the private key on a SoftHSM2 token', function () {
  this.timeout(120_000);
  let tmp: string;
  let module: string;
  let rootA: string;
  let rootB: string;
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  const outputs: string[] = [];

  const ikeadm = async (d: Daemon, args: readonly string[], input = ''): Promise<Run> => {
    const r = await tool('ikeadm', ['--control', d.control, ...args], input);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const ikecert = async (args: readonly string[], input = ''): Promise<Run> => {
    const r = await tool('ikecert', args, input);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const logs = (): string => `\n--- A ---\n${a?.log}\n--- B ---\n${b?.log}`;
  const initiate = (): Promise<Run> => ikeadm(a!, ['initiate', 'a-to-b', 'new']);
  const certcacheA = async (): Promise<string> => {
    const r = await ikeadm(a!, ['dump', 'certcache']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const tokens = (): string => path.join(tmp, 'hsm', 'tokens');
  const stat = async (d: Daemon, name: string): Promise<number> => {
    const r = await ikeadm(d, ['-j', 'get', 'stats']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Record<string, number>)[name]!;
  };
  const until = async (ok: () => boolean, why: string): Promise<void> => {
    for (let i = 0; i < 100 && !ok(); i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok(ok(), why);
  };
  const bothUp = async (): Promise<void> => {
    for (const d of [a!, b!]) {
      assert.equal(d.proc.exitCode, null, `a daemon exited${logs()}`);
      const r = await ikeadm(d, ['get', 'stats']);
      assert.equal(r.code, 0, r.stderr);
    }
  };

  const fx = tokenFixture('oakley-ikecert-token-', LABEL, PIN, () => [a, b]);
  before(() => {
    tmp = fx.tmp;
    module = fx.module;
    rootA = path.join(tmp, 'a');
    rootB = path.join(tmp, 'b');
  });

  it('ikecert makes A\'s key pair on the token and B\'s on disk; each side imports the other\'s certificate', async () => {
    const genA = await ikecert(['certlocal', '-ks', '-m', '2048', '-t', 'rsa-sha256', '-D', DN_A, '-A', 'IP=127.0.0.1', '-T', LABEL,
      '--root', rootA, '--pkcs11-module', module], `${PIN}\n`);
    assert.equal(genA.code, 0, genA.stderr);
    assert.match(genA.stderr, /Certificate added to database\. \(certdb slot 0, private key in certlocal slot 0, key on PKCS#11 token "ike-a"\)/);
    const genB = await ikecert(['certlocal', '-ks', '-m', '2048', '-D', DN_B, '--root', rootB]);
    assert.equal(genB.code, 0, genB.stderr);
    // A holds only a hint file: the key is nowhere on disk.
    const hint = fs.readFileSync(path.join(rootA, 'secret', 'ike.privatekeys', '0'), 'utf8');
    assert.equal(hint, `${LABEL.padEnd(32)}\n\n${DN_A}\nrsa-sha256\n`);
    assert.equal(fs.statSync(path.join(rootA, 'secret', 'ike.privatekeys', '0')).mode & 0o777, 0o600);
    for (const [from, to] of [[rootA, rootB], [rootB, rootA]] as const) {
      const e = await ikecert(['certdb', '-e', '-f', 'pem', 'SLOT=0', '--root', from]);
      assert.equal(e.code, 0, e.stderr);
      const add = await ikecert(['certdb', '-a', '--root', to], e.stdout);
      assert.equal(add.code, 0, add.stderr);
    }
    const list = await ikecert(['certdb', '-l', '--root', rootA]);
    assert.match(list.stdout, /Certificate Slot Name: 0 {3}Key Type: rsa\n\t\(Private key in certlocal slot 0\)\n\t\(In PKCS#11 hardware token "ike-a {27}"\)\n/);
    assert.match(list.stdout, /Certificate Slot Name: 1 {3}Key Type: rsa\n\tSubject Name: <C=US, O=Oakley Test, CN=gw-b\.file\.test>/);
  });

  it('A starts with the token logged out: the key is "linked but locked" and a negotiation is refused, naming token login', async () => {
    const [portA, natA, portB, natB] = await freeUdpPorts(4);
    fs.writeFileSync(path.join(rootA, 'ike', 'config'), tokenRuleConfig({ own: DN_A, peer: DN_B, label: 'a-to-b', remotePort: portB!, token: LABEL, module }));
    fs.writeFileSync(path.join(rootB, 'ike', 'config'), tokenRuleConfig({ own: DN_B, peer: DN_A, label: 'b-to-a', remotePort: portA! }));
    for (const r of [rootA, rootB]) fs.writeFileSync(path.join(r, 'ipsecinit.conf'), '{laddr 127.0.0.1 raddr 127.0.0.1} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}\n');
    a = await startDaemon(rootA, portA!, natA!);
    b = await startDaemon(rootB, portB!, natB!);
    assert.match(await certcacheA(), /Subject Name: C=US, O=Oakley Test, CN=gw-a\.token\.test\n.*\n\t\t\[Private key linked but locked\]/);
    const init = await initiate();
    assert.notEqual(init.code, 0, init.stdout);
    assert.match(a.log, /private key .*ike\.privatekeys\/0 is on PKCS#11 token "ike-a", which is logged out: the key is locked until 'ikeadm token login ike-a'/, logs());
    await bothUp();
  });

  it('a wrong PIN at token login is refused clearly; the key stays locked', async () => {
    const r = await ikeadm(a!, ['token', 'login', LABEL], `${WRONG_PIN}\n`);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /PKCS#11 login on token "ike-a" failed: the PIN was not accepted \(CKR_PIN_INCORRECT\)/);
    assert.match(await certcacheA(), /\[Private key linked but locked\]/);
    await bothUp();
  });

  it('after token login (no restart) A and B negotiate; the signature came from the token, whose key is still non-extractable', async () => {
    const login = await ikeadm(a!, ['token', 'login', LABEL], `${PIN}\n`);
    assert.equal(login.code, 0, login.stderr);
    assert.match(await certcacheA(), /CN=gw-a\.token\.test\n.*\n\t\t\[Private key available\]/);
    const init = await initiate();
    assert.equal(init.code, 0, `${init.stderr}${logs()}`);
    assert.match(init.stdout, /Phase 1 SA .* \(rule "a-to-b"\): aes-128\/sha256\/group 14\/rsa_sig/);
    const cacheB = await ikeadm(b!, ['dump', 'certcache']);
    assert.match(cacheB.stdout, /CN=gw-a\.token\.test\n.*\n\t\t\[trusted certificate\]/);
    // B checked SIG_I against A's certificate; the only holder of that private key is the token.
    const token = openToken(module, LABEL, PIN);
    try {
      const [h, more] = findObjects(token, P.CKO_PRIVATE_KEY, { label: DN_A });
      assert.ok(h && !more, 'exactly one private key object');
      assert.deepEqual(privateKeyProtection(token, h), { sensitive: true, extractable: false, neverExtractable: true, local: true });
      assert.equal(findObjects(token, P.CKO_CERTIFICATE, { label: DN_A }).length, 1, 'the certificate is on the token too');
    } finally {
      token.close();
    }
    assert.deepEqual(fs.readdirSync(path.join(rootA, 'secret', 'ike.privatekeys')), ['0']);
    assert.match(a!.log, /crypto path for rsa: pkcs11/, 'the daemon signs on the pkcs11 path');
  });

  it('token logout locks the key: the next negotiation fails cleanly; token login makes it work again', async () => {
    const out = await ikeadm(a!, ['token', 'logout', LABEL]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(await certcacheA(), /CN=gw-a\.token\.test\n.*\n\t\t\[Private key linked but locked\]/);
    const refused = await initiate();
    assert.notEqual(refused.code, 0, refused.stdout);
    assert.match(refused.stderr, /is on PKCS#11 token "ike-a", which is logged out: the key is locked until 'ikeadm token login ike-a'/);
    await bothUp();
    const login = await ikeadm(a!, ['token', 'login', LABEL], `${PIN}\n`);
    assert.equal(login.code, 0, login.stderr);
    const again = await initiate();
    assert.equal(again.code, 0, `${again.stderr}${logs()}`);
  });

  it('the token directory removed under the running daemon: a fresh negotiation fails cleanly, B is told, established SAs keep working', async () => {
    const failedB = await stat(b!, 'respP1Fail');
    const failedA = await stat(a!, 'initP1RespFail');
    fs.renameSync(tokens(), `${tokens()}.away`);
    const r = await initiate();
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /the private key .*ike\.privatekeys\/0 is on PKCS#11 token "ike-a", which is not usable: token "ike-a" is no longer usable \(C_GetTokenInfo: CKR_GENERAL_ERROR; token directory removed\?\); re-initialising the PKCS#11 library failed \(C_Initialize .* failed: CKR_GENERAL_ERROR.*\); once it is back, 'ikeadm token login ike-a'/);
    // A told B in the clear (MM5 never came): B's responder SA ended at once, not at its retransmission limit.
    await until(() => /Phase 1 with 127\.0\.0\.1:\d+ failed: peer 127\.0\.0\.1 reported AUTHENTICATION_FAILED during Phase 1/.test(b!.log), `B never heard of it${logs()}`);
    assert.equal(await stat(b!, 'respP1Fail'), failedB + 1);
    assert.ok(await stat(a!, 'initP1RespFail') >= failedA);
    assert.match(await certcacheA(), /CN=gw-a\.token\.test\n.*\n\t\t\[Private key linked but locked\]/);
    // The Phase 1 SA negotiated before the loss still carries Quick Mode (no signature needed).
    const qm = await ikeadm(a!, ['initiate', 'a-to-b']);
    assert.equal(qm.code, 0, `${qm.stderr}${logs()}`);
    assert.match(qm.stdout, /IPsec SA pair: inbound ESP SPI 0x[0-9a-f]{8}/);
    await bothUp();
  });

  it('token login while the directory is still missing is refused, naming the missing token', async () => {
    const r = await ikeadm(a!, ['token', 'login', LABEL], `${PIN}\n`);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /PKCS#11 login on token "ike-a" failed: token "ike-a" is no longer usable .*re-initialising the PKCS#11 library failed/);
    await bothUp();
  });

  it('directory restored: token login re-initialises the library and finds the token by label; the key is available and a fresh rsa_sig negotiation succeeds', async () => {
    fs.renameSync(`${tokens()}.away`, tokens());
    assert.match(await certcacheA(), /\[Private key linked but locked\]/, 'still locked before the login');
    const login = await ikeadm(a!, ['token', 'login', LABEL], `${PIN}\n`);
    assert.equal(login.code, 0, `${login.stderr}${logs()}`);
    assert.match(await certcacheA(), /CN=gw-a\.token\.test\n.*\n\t\t\[Private key available\]/);
    const again = await initiate();
    assert.equal(again.code, 0, `${again.stderr}${logs()}`);
    assert.match(again.stdout, /Phase 1 SA .* \(rule "a-to-b"\): aes-128\/sha256\/group 14\/rsa_sig/);
    await bothUp();
  });

  it('A\'s key object deleted from the token: A\'s signing call fails (responder), B is told AUTHENTICATION_FAILED, both stay up', async () => {
    const token = openToken(module, LABEL, PIN);
    try {
      assert.equal(destroyObjects(token, [P.CKO_PRIVATE_KEY], { label: DN_A }), 1);
    } finally {
      token.close();
    }
    const r = await ikeadm(b!, ['initiate', 'b-to-a', 'new']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /peer 127\.0\.0\.1 reported AUTHENTICATION_FAILED during Phase 1/);
    assert.match(a!.log, /Phase 1 with 127\.0\.0\.1:\d+ failed: RSA sign \(pkcs1-raw\) failed: CKR_(KEY|OBJECT)_HANDLE_INVALID/, logs());
    // The next attempt names the missing key instead of a handle.
    const next = await ikeadm(b!, ['initiate', 'b-to-a', 'new']);
    assert.notEqual(next.code, 0, next.stdout);
    assert.match(a!.log, /no RSA private key with label "C=US, O=Oakley Test, CN=gw-a\.token\.test" on token "ike-a"/, logs());
    await bothUp();
  });

  it('no PIN appears in any tool output or daemon log', async () => {
    for (const pin of [PIN, WRONG_PIN]) {
      assert.ok(!a!.log.includes(pin) && !b!.log.includes(pin), 'PIN in a daemon log');
      for (const o of outputs) assert.ok(!o.includes(pin), `PIN in tool output: ${o}`);
    }
  });
});
