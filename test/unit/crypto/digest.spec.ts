/** src/crypto/digest.ts: one-shot digests of concatenated parts (NAT-D, the Phase 1 IV, RSA encodings). */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { digest } from '../../../src/crypto/digest';
import { HASH_ALGS } from '../../../src/crypto/types';

describe('digest', () => {
  it('equals the FIPS 180-2 known answer for SHA-256("abc"), split into parts or not', () => {
    const want = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    assert.equal(digest('sha256', Buffer.from('abc')).toString('hex'), want);
    assert.equal(digest('sha256', Buffer.from('a'), Buffer.alloc(0), Buffer.from('bc')).toString('hex'), want);
  });

  it('equals createHash over the concatenation for every hash the engine negotiates', () => {
    const parts = [Buffer.from('0123456789abcdef', 'hex'), Buffer.from('fedcba9876543210', 'hex'), Buffer.from([192, 0, 2, 1]), Buffer.from([1, 244])];
    for (const h of HASH_ALGS) {
      const want = createHash(h).update(Buffer.concat(parts)).digest();
      assert.deepEqual(digest(h, ...parts), want, h);
      assert.deepEqual(digest(h), createHash(h).digest(), `${h} of nothing`);
    }
  });
});
