/**
 * Closing the pkcs11 path while operations are in flight: close() waits for pkcs11js' pool-thread
 * calls to finish before the sessions close (closing under them crashed the process), and new
 * operations after close() fail with a coded error.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { openBackend } from '../../src/crypto/registry';
import { OakleyError } from '../../src/util/errors';

describe('pkcs11 path: close with operations in flight', function () {
  this.timeout(60_000);

  it('waits for in-flight signatures and key exchanges, then refuses new work', async () => {
    const b = await openBackend('pkcs11');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = await b.rsa.loadPrivateKey({ pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
    const peer = await b.ke.create(14);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      work.push(key.sign(randomBytes(32), { padding: 'pkcs1', hash: 'sha256' }));
      work.push(b.ke.create(14).then((ke) => ke.computeSharedSecret(peer.publicKey)));
    }
    const closing = b.close();
    const results = await Promise.allSettled(work);
    await closing;
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(OakleyError.is(r.reason), String(r.reason));
    }
    assert.ok(ok > 0, 'operations already started completed');
    await assert.rejects(key.sign(randomBytes(32), { padding: 'pkcs1', hash: 'sha256' }), (e: unknown) => OakleyError.is(e));
  });
});
