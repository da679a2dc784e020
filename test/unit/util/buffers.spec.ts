/** ownedCopy/ownedBuffer: long-lived bytes outside Node's Buffer pool, small ones carved from slabs. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { ownedBuffer, ownedCopy } from '../../../src/util/buffers';

describe('ownedCopy', () => {
  it('copies: later changes to the source do not reach the copy', () => {
    const src = randomBytes(32);
    const copy = ownedCopy(src);
    assert.deepEqual(copy, src);
    src.fill(0);
    assert.notDeepEqual(copy, src);
  });

  it('small copies share slabs that are not the 8 KiB pool, without overlapping; wiping one leaves its neighbours', () => {
    const pool = Buffer.from('x').buffer;
    const copies = Array.from({ length: 40 }, (_, i) => ownedCopy(Buffer.alloc(i % 17 + 1, i + 1)));
    for (const c of copies) assert.notEqual(c.buffer, pool, 'a copy is a slice of the Buffer pool');
    assert.ok(new Set(copies.map((c) => c.buffer)).size < copies.length, 'every small copy has memory of its own');
    copies[10]!.fill(0);
    copies.forEach((c, i) => assert.deepEqual(c, i === 10 ? Buffer.alloc(c.length) : Buffer.alloc(i % 17 + 1, i + 1), `copy ${i}`));
  });

  it('copies of 512 octets or more get exact-size memory', () => {
    const c = ownedCopy(randomBytes(600));
    assert.equal(c.buffer.byteLength, 600);
    assert.equal(ownedBuffer(512).buffer.byteLength, 512);
  });

  it('an empty copy is empty', () => {
    assert.equal(ownedCopy(Buffer.alloc(0)).length, 0);
  });
});
