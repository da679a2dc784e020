/** Suites: per-class paths, self-test on registration, fallback to node with a warning. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createSoftHsmToken } from '../../../src/crypto/pkcs11';
import { openBackend, openCryptoSuite, type BackendOptions } from '../../../src/crypto/registry';
import type { CryptoBackend, CryptoPath } from '../../../src/crypto/types';
import { REPO_ROOT } from '../../helpers/vectors';

describe('crypto suites', function () {
  this.timeout(120_000);

  it('serves each class from the path asked for', async () => {
    const logs: string[] = [];
    const suite = await openCryptoSuite({ ke: 'pkcs11', rsa: 'native', prf: 'node', cipher: 'pkcs11', random: 'pkcs11' }, {},
      (_level, m) => logs.push(m));
    try {
      assert.deepEqual(suite.paths, { ke: 'pkcs11', rsa: 'native', prf: 'node', cipher: 'pkcs11', random: 'pkcs11' });
      assert.deepEqual(suite.fallbacks, []);
      assert.equal(suite.ke.path, 'pkcs11');
      assert.equal(suite.rsa.path, 'native');
      assert.ok(logs.some((m) => m === 'crypto path for ke: pkcs11'));
    } finally {
      await suite.close();
    }
  });

  it('applies the configured exponent length to every key exchange', async () => {
    const suite = await openCryptoSuite({ ke: 'native', rsa: 'node', prf: 'node', cipher: 'node', random: 'node' }, { exponentBits: 'full' }, () => {});
    try {
      const ke = await suite.ke.create(14);
      assert.equal(ke.publicKey.length, 256);
      // A bad length is refused by the same policy code on every path.
      await assert.rejects(
        openCryptoSuite({ ke: 'node', rsa: 'node', prf: 'node', cipher: 'node', random: 'node' }, { exponentBits: 64 }, () => {})
          .then((s) => s.ke.create(14).finally(() => s.close())),
        /between 224/);
    } finally {
      await suite.close();
    }
  });

  it('does not use a backend that fails its known-answer tests, and says so', async () => {
    const broken = async (path: CryptoPath, o: BackendOptions): Promise<CryptoBackend> => {
      const real = await openBackend(path, o);
      return {
        ...real, path: real.path, ke: real.ke, rsa: real.rsa, cipher: real.cipher, random: real.random, close: () => real.close(),
        kdf: { ...real.kdf, path: real.kdf.path, ikev1Phase1: async (i) => ({ ...(await real.kdf.ikev1Phase1(i)), skeyidA: Buffer.alloc(20) }) },
      };
    };
    const warnings: string[] = [];
    const suite = await openCryptoSuite({ ke: 'native', rsa: 'native', prf: 'native', cipher: 'node', random: 'node' }, {},
      (level, m) => { if (level === 'warning') warnings.push(m); }, broken);
    try {
      assert.deepEqual(suite.paths, { ke: 'node', rsa: 'node', prf: 'node', cipher: 'node', random: 'node' });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /native crypto path is not available \(known-answer tests failed: ikev1 case \d: skeyidA differs.*\); using node:crypto instead/);
    } finally {
      await suite.close();
    }
  });

  it('falls back to node when the configured token is not there, naming the label', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oakley-registry-'));
    try {
      const token = createSoftHsmToken({ dir, label: 'ike-present', soPin: '87654321', pin: '24680' });
      const warnings: string[] = [];
      const suite = await openCryptoSuite({ ke: 'pkcs11', rsa: 'pkcs11', prf: 'node', cipher: 'node', random: 'node' },
        { pkcs11: { module: token.module, tokenLabel: 'no-such-token', pin: '24680' } },
        (level, m) => { if (level === 'warning') warnings.push(m); });
      try {
        assert.equal(suite.paths.ke, 'node');
        assert.match(warnings[0], /pkcs11 crypto path is not available.*no-such-token/);
        assert.doesNotMatch(warnings[0], /24680/);
      } finally {
        await suite.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('falls back to node:crypto with one clear warning when the addon cannot load', () => {
    const registry = join(REPO_ROOT, 'dist', 'src', 'crypto', 'registry.js');
    const script = `
      const Module = require('module');
      const orig = Module.prototype.require;
      Module.prototype.require = function (req, ...rest) {
        if (String(req).endsWith('oakley.node')) throw new Error('simulated: cannot open shared object');
        return orig.call(this, req, ...rest);
      };
      const { openCryptoSuite } = require(${JSON.stringify(registry)});
      openCryptoSuite({ ke: 'native', rsa: 'native', prf: 'native', cipher: 'native', random: 'node' }).then(async (s) => {
        const ke = await s.ke.create(19);
        console.log(JSON.stringify({ paths: s.paths, ke: ke.path }));
        await s.close();
      });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.paths, { ke: 'node', rsa: 'node', prf: 'node', cipher: 'node', random: 'node' });
    assert.equal(out.ke, 'node');
    assert.match(r.stderr, /native addon could not be loaded.*simulated/);
    assert.match(r.stderr, /native crypto path is not available/);
  });
});
