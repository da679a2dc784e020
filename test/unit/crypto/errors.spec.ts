/** Bad input on every path gives coded errors, and the process carries on. */
import assert from 'node:assert/strict';

import { bigToBuf, getGroup, type ModpGroup } from '../../../src/crypto/groups';
import { openBackend } from '../../../src/crypto/registry';
import { CRYPTO_PATHS, type CryptoBackend } from '../../../src/crypto/types';
import { OakleyError } from '../../../src/util/errors';

for (const path of CRYPTO_PATHS) {
  describe(`errors on the ${path} path`, function () {
    this.timeout(60_000);
    let b: CryptoBackend;
    before(async () => { b = await openBackend(path); });
    after(async () => b?.close());

    it('rejects invalid MODP peer values with IKE_ERR_INVALID_KE_VALUE', async () => {
      const g = getGroup(14) as ModpGroup;
      const ke = await b.ke.create(14);
      for (const bad of [bigToBuf(0n, 256), bigToBuf(1n, 256), bigToBuf(g.pBig - 1n, 256), g.p, Buffer.alloc(128, 7)]) {
        await assert.rejects(ke.computeSharedSecret(bad), (e: unknown) => OakleyError.is(e, 'IKE_ERR_INVALID_KE_VALUE'));
      }
      ke.dispose();
    });

    it('rejects points off the curve and wrong lengths for ECP groups', async () => {
      for (const group of [19, 20, 21]) {
        const ke = await b.ke.create(group);
        const off = Buffer.from(ke.publicKey);
        off[off.length - 1] ^= 1;
        await assert.rejects(ke.computeSharedSecret(off), /not on the curve/);
        await assert.rejects(ke.computeSharedSecret(ke.publicKey.subarray(1)), /length/);
        await assert.rejects(ke.computeSharedSecret(Buffer.alloc(ke.publicKey.length)), /not on the curve/);
        ke.dispose();
      }
    });

    it('rejects unknown groups with IKE_ERR_UNKNOWN_GROUP', async () => {
      for (const group of [0, 3, 4, 27, 31, 1000]) {
        await assert.rejects(b.ke.create(group), (e: unknown) => OakleyError.is(e, 'IKE_ERR_UNKNOWN_GROUP'));
      }
    });

    it('rejects garbage keys and over-long raw signature input', async () => {
      await assert.rejects(b.rsa.loadPrivateKey({ der: Buffer.from('3003020100', 'hex') }), (e: unknown) => OakleyError.is(e));
      await assert.rejects(b.rsa.loadPublicKey({ pem: 'not a key' }), (e: unknown) => OakleyError.is(e));
    });

    it('still works after all that', async () => {
      const a = await b.ke.create(19);
      const c = await b.ke.create(19);
      assert.deepEqual(await a.computeSharedSecret(c.publicKey), await c.computeSharedSecret(a.publicKey));
    });
  });
}
