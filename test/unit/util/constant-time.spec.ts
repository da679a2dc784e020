import assert from 'node:assert/strict';

import { sameBytes, sameCookiePair } from '../../../src/util/constant-time';

describe('constant-time comparisons', () => {
  const i = Buffer.from('0123456789abcdef', 'hex');
  const r = Buffer.from('fedcba9876543210', 'hex');

  it('sameBytes: equal octets only, any length difference is false', () => {
    assert.equal(sameBytes(Buffer.from(i), i), true);
    assert.equal(sameBytes(i, r), false);
    assert.equal(sameBytes(i, i.subarray(0, 7)), false);
    assert.equal(sameBytes(Buffer.alloc(0), Buffer.alloc(0)), true);
  });

  it('sameCookiePair: the 16-octet SPI must be icookie then rcookie', () => {
    assert.equal(sameCookiePair(Buffer.concat([i, r]), i, r), true);
    assert.equal(sameCookiePair(Buffer.concat([r, i]), i, r), false);
    const flipped = Buffer.concat([i, r]);
    flipped[15] ^= 1;
    assert.equal(sameCookiePair(flipped, i, r), false);
    assert.equal(sameCookiePair(Buffer.concat([i, r, Buffer.alloc(1)]), i, r), false);
    assert.equal(sameCookiePair(i, i, r), false);
  });
});
