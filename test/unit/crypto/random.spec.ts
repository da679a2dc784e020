/** The native path's pooled CSPRNG (src/crypto/random-pool.ts). */
import assert from 'node:assert/strict';

import { pooledRandomFill } from '../../../src/crypto/random-pool';

describe('pooledRandomFill', () => {
  it('hands out fresh bytes across pool refills: no repeated 16-octet draw, bytes spread evenly', () => {
    const seen = new Set<string>();
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 8192; i++) { // 128 KiB: 32 refills of the 4 KiB pool
      const b = pooledRandomFill(Buffer.alloc(16));
      seen.add(b.toString('hex'));
      for (const x of b) counts[x]!++;
    }
    assert.equal(seen.size, 8192);
    // 512 expected per value, sd ~22.6: a broken pool (zeros, repeats, a stuck region) lands far outside.
    assert.ok(Math.min(...counts) > 380 && Math.max(...counts) < 650, `${Math.min(...counts)}..${Math.max(...counts)}`);
  });

  it('fills odd sizes that straddle the pool end, and large requests directly', () => {
    let total = 0;
    for (const n of [1, 7, 31, 255, 4095, 33, 3]) {
      const b = pooledRandomFill(Buffer.alloc(n));
      assert.equal(b.length, n);
      total += n;
      if (n >= 16) assert.ok(b.some((x) => x !== 0), `${n} octets all zero`);
    }
    assert.ok(total > 4096);
    const big = pooledRandomFill(new Uint8Array(1 << 16));
    assert.ok(big.subarray(-32).some((x) => x !== 0));
  });
});
