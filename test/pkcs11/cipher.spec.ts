/** CBC ciphers and random numbers on the pkcs11 path, against node:crypto. */
import { strict as assert } from 'node:assert';
import { createCipheriv, randomBytes } from 'node:crypto';

import type { Pkcs11Backend } from '../../src/crypto/pkcs11';
import type { CipherAlg } from '../../src/crypto/types';
import { CryptoErr, OakleyError } from '../../src/util/errors';
import { makeTestHsm, type TestHsm } from '../helpers/softhsm';

describe('pkcs11 ciphers and random', function () {
  this.timeout(60_000);
  let hsm: TestHsm;
  let b: Pkcs11Backend;
  let r: Pkcs11Backend;

  before(async function () {
    hsm = makeTestHsm(this, ['cipher-a']);
    b = await hsm.open('cipher-a');
    r = await hsm.open('cipher-a', { tokenRandom: true });
  });
  after(async () => hsm?.cleanup());

  const cases: [CipherAlg, number, string, (k: Buffer) => Buffer][] = [
    ['aes-cbc', 16, 'aes-128-cbc', (k) => k],
    ['aes-cbc', 24, 'aes-192-cbc', (k) => k],
    ['aes-cbc', 32, 'aes-256-cbc', (k) => k],
    ['3des-cbc', 24, 'des-ede3-cbc', (k) => k],
    // single DES = DES-EDE3 with K|K|K (node's OpenSSL 3 has no des-cbc without the legacy provider)
    ['des-cbc', 8, 'des-ede3-cbc', (k) => Buffer.concat([k, k, k])],
  ];
  for (const [alg, keyLen, nodeName, nodeKey] of cases) {
    it(`${alg} with a ${keyLen}-byte key equals node ${nodeName} and round-trips`, () => {
      assert.equal(b.cipher.supports(alg, keyLen), true);
      const block = alg === 'aes-cbc' ? 16 : 8;
      for (const blocks of [1, 2, 7, 64]) {
        const key = randomBytes(keyLen);
        const iv = randomBytes(block);
        const data = randomBytes(blocks * block);
        const ct = b.cipher.encrypt(alg, key, iv, data);
        const want = createCipheriv(nodeName, nodeKey(key), iv).setAutoPadding(false).update(data);
        assert.ok(ct.equals(want), `${blocks} blocks`);
        assert.ok(b.cipher.decrypt(alg, key, iv, ct).equals(data));
      }
    });
  }

  it('des-cbc known answer (FIPS 81 Appendix C, CBC mode)', () => {
    const ct = b.cipher.encrypt('des-cbc', Buffer.from('0123456789abcdef', 'hex'), Buffer.from('1234567890abcdef', 'hex'),
      Buffer.from('Now is the time for all '));
    assert.equal(ct.toString('hex'), 'e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6');
  });

  it('Blowfish is not supported, with a clear IKE_ERR_UNSUPPORTED', () => {
    assert.equal(b.cipher.supports('blowfish-cbc', 16), false);
    assert.throws(() => b.cipher.encrypt('blowfish-cbc', Buffer.alloc(16), Buffer.alloc(8), Buffer.alloc(8)),
      (e: unknown) => OakleyError.is(e, CryptoErr.UNSUPPORTED) && /blowfish/.test((e as Error).message));
  });

  it('bad key, IV and data lengths are refused', () => {
    assert.equal(b.cipher.supports('aes-cbc', 20), false);
    assert.throws(() => b.cipher.encrypt('aes-cbc', Buffer.alloc(20), Buffer.alloc(16), Buffer.alloc(16)), (e: unknown) => OakleyError.is(e, CryptoErr.BAD_ARGUMENT));
    assert.throws(() => b.cipher.encrypt('aes-cbc', Buffer.alloc(16), Buffer.alloc(8), Buffer.alloc(16)), (e: unknown) => OakleyError.is(e, CryptoErr.BAD_ARGUMENT));
    assert.throws(() => b.cipher.encrypt('aes-cbc', Buffer.alloc(16), Buffer.alloc(16), Buffer.alloc(15)), (e: unknown) => OakleyError.is(e, CryptoErr.BAD_ARGUMENT));
  });

  it('random: node by default, C_GenerateRandom with tokenRandom', () => {
    for (const src of [b.random, r.random]) {
      const buf = Buffer.alloc(4096);
      assert.equal(src.fill(buf), buf);
      assert.ok(buf.some((x) => x !== 0));
      const ones = buf.reduce((n, x) => n + x.toString(2).split('1').length - 1, 0);
      assert.ok(Math.abs(ones - 4096 * 4) < 600, `bit balance ${ones}`);
      assert.equal(src.fill(Buffer.alloc(0)).length, 0);
    }
  });
});
