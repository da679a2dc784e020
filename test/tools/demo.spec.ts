/** `npm run demo` runs its demo program; this runs the same program and checks what it prints. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { REPO_ROOT } from '../helpers/vectors';

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
