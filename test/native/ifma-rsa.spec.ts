/**
 * Batched RSA private operations through the AVX-512 IFMA kernel (native/src/ifma_rsa.cc) against
 * OpenSSL (node's privateDecrypt without padding, the addon's RsaKey.privateRaw), and the native
 * signer that batches concurrent signatures (src/crypto/native/rsa.ts). Skipped on a CPU without
 * AVX-512 IFMA.
 */
import assert from 'node:assert/strict';
import { constants, generateKeyPair, privateDecrypt, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

import { bigToBuf, bufToBig } from '../../src/crypto/groups';
import { loadAddon } from '../../src/crypto/native/addon';
import { CryptoErr } from '../../src/util/errors';
import { nativeBackend } from './util';

const generateKeyPairAsync = promisify(generateKeyPair);
const SIZES = [2048, 3072, 4096];

function openssl(key: KeyObject, block: Buffer): Buffer {
  return privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, block);
}

describe('native path: RSA private operations through the IFMA kernel', function () {
  this.timeout(300_000);
  const addon = loadAddon();
  const keys = new Map<number, { priv: KeyObject; pub: KeyObject }>();

  before(async function () {
    if (!addon) throw new Error('the native addon must load for these tests');
    if (!addon.modexpKernels().ifmaCpu) this.skip();
    await Promise.all(SIZES.map(async (bits) => {
      const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: bits });
      keys.set(bits, { priv: privateKey, pub: publicKey });
    }));
  });

  for (const bits of SIZES) {
    it(`RSA-${bits}: batches of 1..9 blocks and edge blocks (0, 1, n-1) equal OpenSSL`, async () => {
      const { priv } = keys.get(bits)!;
      const k = new addon!.IfmaRsaKey(priv.export({ type: 'pkcs8', format: 'der' }));
      assert.equal(k.bits, bits);
      const n = bufToBig(Buffer.from(priv.export({ format: 'jwk' }).n!, 'base64url'));
      const size = bits / 8;
      const blocks: Buffer[] = Array.from({ length: 9 }, () => {
        const b = randomBytes(size);
        b[0] &= 0x7f;
        return b;
      });
      blocks[2] = Buffer.alloc(size);
      blocks[3] = bigToBuf(1n, size);
      blocks[4] = bigToBuf(n - 1n, size);
      const want = blocks.map((b) => openssl(priv, b));
      for (const count of [1, 2, 4, 5, 9]) {
        assert.deepEqual(k.privateRawBatchSync(blocks.slice(0, count)), want.slice(0, count), `${count} blocks`);
      }
      assert.deepEqual(await k.privateRawBatch(blocks), want);
      // PKCS#1 also: the addon's OpenSSL handle agrees
      const ref = new addon!.RsaKey(priv.export({ type: 'pkcs1', format: 'der' }), true);
      assert.deepEqual(await ref.privateRaw(blocks[0]), want[0]);
      ref.dispose();
      k.dispose();
    });
  }

  it('refuses bad blocks (naming the item), public keys, and a disposed key', () => {
    const { priv, pub } = keys.get(3072)!;
    const k = new addon!.IfmaRsaKey(priv.export({ type: 'pkcs8', format: 'der' }));
    const ok = Buffer.alloc(384, 1);
    assert.throws(() => k.privateRawBatchSync([ok, Buffer.alloc(383)]), (e: Error & { code?: string }) =>
      e instanceof RangeError && e.code === CryptoErr.NATIVE_BAD_ARG && /item 1/.test(e.message));
    assert.throws(() => k.privateRawBatchSync([ok, ok, Buffer.alloc(384, 0xff)]), /item 2: RSA input block is not below the modulus/);
    assert.throws(() => new addon!.IfmaRsaKey(pub.export({ type: 'spki', format: 'der' })),
      (e: Error & { code?: string }) => e.code === CryptoErr.BAD_KEY);
    k.dispose();
    k.dispose();
    assert.throws(() => k.privateRawBatchSync([ok]), (e: Error & { code?: string }) => e.code === CryptoErr.BAD_KEY);
  });

  it('native signer: concurrent RSA-3072/4096 signatures (batched) are byte-equal to crypto.sign and verify', async () => {
    const rsa = nativeBackend().rsa;
    for (const bits of [3072, 4096]) {
      const { priv, pub } = keys.get(bits)!;
      const sk = await rsa.loadPrivateKey({ der: priv.export({ type: 'pkcs8', format: 'der' }) });
      const messages = Array.from({ length: 7 }, () => randomBytes(48));
      const sigs = await Promise.all(messages.map((m) => sk.sign(m, { padding: 'pkcs1', hash: 'sha256' })));
      sigs.forEach((s, i) => {
        assert.deepEqual(s, sign('sha256', messages[i], priv), `RSA-${bits} message ${i}`);
        assert.ok(verify('sha256', messages[i], pub, s));
      });
      // a lone signature (OpenSSL route) too
      assert.deepEqual(await sk.sign(messages[0], { padding: 'pkcs1', hash: 'sha256' }), sigs[0]);
      sk.dispose();
    }
  });
});
