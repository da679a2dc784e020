/** `npm run demo` runs the iked demo; the crypto-paths demo is its sibling. Both are run here and their output checked. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { findSoftHsmModule } from '../../src/crypto/pkcs11/softhsm';
import { REPO_ROOT } from '../helpers/vectors';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run demo (crypto paths)', function () {
  this.timeout(120_000);
  it('derives equal keys on a SoftHSM2 token and on the native path, and verifies the token signature', () => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'src', 'demo', 'crypto-paths.js')], { encoding: 'utf8', timeout: 110_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /initiator: key exchange on pkcs11, RSA on pkcs11, derivation on pkcs11/);
    assert.match(r.stdout, /responder: key exchange on native, RSA on native, derivation on native/);
    for (const f of ['skeyid', 'skeyidD', 'skeyidA', 'skeyidE', 'encKey', 'iv']) assert.match(r.stdout, new RegExp(`^${f} +equal`, 'm'));
    assert.match(r.stdout, /SIG_I made on the SoftHSM2 token, verified on the native path: valid/);
    assert.equal((r.stdout.match(/^KEYMAT SPI [0-9a-f]{8} equal/gm) ?? []).length, 2);
    assert.doesNotMatch(r.stdout, /DIFFERENT|INVALID/);
  });
});

describe('npm run demo (tools/iked: pre-shared key, then a certificate whose key is on a SoftHSM2 token)', function () {
  this.timeout(120_000);
  it('exits 0, shows both negotiations and the certcache markers, and leaves no daemon running', () => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'src', 'demo', 'iked-demo.js')], { encoding: 'utf8', timeout: 110_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\(rule "demo-a-to-b"\): aes-256\/sha256\/group 14\/preshared/);
    assert.match(r.stdout, /\n# demo OK\n$/);
    const pids = /# daemon PIDs: ([\d ]+)/.exec(r.stdout)![1]!.split(' ').map(Number);
    for (const pid of pids) assert.ok(!alive(pid), `iked ${pid} still running`);
    if (!findSoftHsmModule()) return;
    assert.equal(pids.length, 3);
    assert.match(r.stdout, /Available tokens with library ".*":\n\n"oakley-demo {21}"/);
    assert.match(r.stdout, /\(In PKCS#11 hardware token "oakley-demo {21}"\)/);
    const locked = r.stdout.indexOf('[Private key linked but locked]');
    const login = r.stdout.indexOf("PKCS#11 operation successful: logged in to token 'oakley-demo'");
    const available = r.stdout.indexOf('CN=iked-a.demo\n\t Issuer Name: C=US, O=Oakley Demo, CN=iked-a.demo\n\t\t[Private key available]');
    assert.ok(locked > 0 && login > locked && available > login, 'locked, then login, then available');
    assert.match(r.stdout, /\(rule "demo-a-to-c"\): aes-256\/sha256\/group 14\/rsa_sig/);
    assert.match(r.stdout, /REMID: DN "C=US, O=Oakley Demo, CN=iked-a\.demo"/);
    assert.ok(!r.stdout.includes('52718364'), 'the demo PIN is never printed');
  });
});
