/**
 * Every known-answer vector of test/fixtures/vectors (NIST CAVS/ACVP IKEv1 and IKEv2 KDF, RFC 5903
 * and RFC 5114 DH, RFC 4868 PRF) on every crypto path, through the same case runner as
 * tools/ike-cavp. The native path must load (no skip), and the pkcs11 path runs on a private
 * SoftHSM2 token made for this test.
 */
import assert from 'node:assert/strict';

import { OUTPUT_FIELDS, classify, runCase } from '../../../src/crypto/cavp';
import { openBackend } from '../../../src/crypto/registry';
import { CRYPTO_PATHS, type CryptoBackend } from '../../../src/crypto/types';
import { VECTOR_FILES, comparable, loadVectors } from '../../helpers/vectors';

for (const path of CRYPTO_PATHS) {
  describe(`known-answer vectors on the ${path} path`, function () {
    let backend: CryptoBackend;
    before(async function () {
      this.timeout(120_000);
      backend = await openBackend(path);
    });
    after(async () => backend?.close());

    for (const file of VECTOR_FILES) {
      const cases = loadVectors(file);
      it(`${file}: all ${cases.length} cases`, async function () {
        this.timeout(300_000);
        let compared = 0;
        for (let i = 0; i < cases.length; i++) {
          const c = cases[i];
          const got = await runCase(backend, c, i);
          for (const field of OUTPUT_FIELDS[classify(c, i)]) {
            if (typeof c[field] !== 'string') continue;
            assert.equal(comparable(c, field, got[field] as string), comparable(c, field, c[field] as string),
              `${file} case ${i} (${String(c.source)}): ${field}`);
            compared++;
          }
        }
        assert.ok(compared >= cases.length, `only ${compared} outputs compared`);
      });
    }
  });
}
