import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { loadAddon } from '../../src/crypto/native/addon';
import { CryptoErr } from '../../src/util/errors';
import type { CipherAlg, CipherProvider } from '../../src/crypto/types';
import { hex, nativeBackend, rejectsWithCode } from './util';

function nodeCbc(name: string, encrypt: boolean, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = encrypt ? createCipheriv(name, key, iv) : createDecipheriv(name, key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

describe('native path: CBC ciphers', () => {
  let cipher: CipherProvider;
  before(() => { cipher = nativeBackend().cipher; });

  it('AES-128/192/256-CBC and 3DES-CBC equal node:crypto, both directions', () => {
    const cases: [CipherAlg, number, string, number][] = [
      ['aes-cbc', 16, 'aes-128-cbc', 16], ['aes-cbc', 24, 'aes-192-cbc', 16], ['aes-cbc', 32, 'aes-256-cbc', 16],
      ['3des-cbc', 24, 'des-ede3-cbc', 8],
    ];
    for (const [alg, keyLen, name, block] of cases) {
      for (const blocks of [0, 1, 2, 17, 100]) {
        const key = randomBytes(keyLen), iv = randomBytes(block), data = randomBytes(blocks * block);
        const ct = cipher.encrypt(alg, key, iv, data);
        assert.deepEqual(ct, nodeCbc(name, true, key, iv, data), `${name} ${blocks}`);
        assert.deepEqual(cipher.decrypt(alg, key, iv, ct), data);
        assert.deepEqual(cipher.decrypt(alg, key, iv, data), nodeCbc(name, false, key, iv, data));
      }
    }
  });

  it('DES-CBC equals 3DES-CBC with K|K|K, and the FIPS 81 CBC example', () => {
    for (let i = 0; i < 20; i++) {
      const key = randomBytes(8), iv = randomBytes(8), data = randomBytes(8 * (1 + i));
      const ct = cipher.encrypt('des-cbc', key, iv, data);
      assert.deepEqual(ct, nodeCbc('des-ede3-cbc', true, Buffer.concat([key, key, key]), iv, data));
      assert.deepEqual(cipher.decrypt('des-cbc', key, iv, ct), data);
    }
    const fips81 = cipher.encrypt('des-cbc', hex('0123456789abcdef'), hex('1234567890abcdef'), Buffer.from('Now is the time for all '));
    assert.equal(fips81.toString('hex'), 'e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6');
  });

  it('Blowfish-CBC: the Eric Young / Schneier CBC test vector, and round trips for key lengths 5..56', () => {
    const key = hex('0123456789abcdeff0e1d2c3b4a59687');
    const iv = hex('fedcba9876543210');
    const plain = hex('37363534333231204e6f77206973207468652074696d6520666f722000000000'); // "7654321 Now is the time for \0" + pad
    const ct = cipher.encrypt('blowfish-cbc', key, iv, plain);
    assert.equal(ct.toString('hex'), '6b77b4d63006dee605b156e27403979358deb9e7154616d959f1652bd5ff92cc');
    assert.deepEqual(cipher.decrypt('blowfish-cbc', key, iv, ct), plain);
    for (let len = 5; len <= 56; len++) {
      const k = randomBytes(len), v = randomBytes(8), d = randomBytes(64);
      assert.deepEqual(cipher.decrypt('blowfish-cbc', k, v, cipher.encrypt('blowfish-cbc', k, v, d)), d);
    }
  });

  it('does not modify its inputs, and works when output is decrypted in place of input', () => {
    const key = randomBytes(16), iv = randomBytes(16), data = randomBytes(64);
    const copy = Buffer.from(data), ivCopy = Buffer.from(iv);
    const ct = cipher.encrypt('aes-cbc', key, iv, data);
    assert.deepEqual(data, copy);
    assert.deepEqual(iv, ivCopy);
    assert.deepEqual(cipher.decrypt('aes-cbc', key, iv, ct.subarray(0, 32)), data.subarray(0, 32));
  });

  it('supports(): every algorithm at its allowed key lengths', () => {
    assert.ok(cipher.supports('aes-cbc', 16) && cipher.supports('aes-cbc', 32) && !cipher.supports('aes-cbc', 20));
    assert.ok(cipher.supports('3des-cbc', 24) && !cipher.supports('3des-cbc', 16));
    assert.ok(cipher.supports('des-cbc', 8));
    assert.ok(cipher.supports('blowfish-cbc', 16) && cipher.supports('blowfish-cbc', 5) && cipher.supports('blowfish-cbc', 56));
    assert.ok(!cipher.supports('blowfish-cbc', 4) && !cipher.supports('blowfish-cbc', 57));
  });

  it('bad input: wrong key, IV or data lengths -> BAD_ARGUMENT; the addon throws coded errors itself', async () => {
    await rejectsWithCode(() => cipher.encrypt('aes-cbc', randomBytes(15), randomBytes(16), randomBytes(16)), CryptoErr.BAD_ARGUMENT);
    await rejectsWithCode(() => cipher.encrypt('aes-cbc', randomBytes(16), randomBytes(8), randomBytes(16)), CryptoErr.BAD_ARGUMENT);
    await rejectsWithCode(() => cipher.decrypt('3des-cbc', randomBytes(24), randomBytes(8), randomBytes(12)), CryptoErr.BAD_ARGUMENT);
    await rejectsWithCode(() => cipher.encrypt('blowfish-cbc', randomBytes(57), randomBytes(8), randomBytes(8)), CryptoErr.BAD_ARGUMENT);
    await rejectsWithCode(() => cipher.encrypt('rc5-cbc' as CipherAlg, randomBytes(16), randomBytes(8), randomBytes(8)), CryptoErr.UNSUPPORTED);
    const addon = loadAddon()!;
    const range = (e: Error & { code?: string }) => e instanceof RangeError && e.code === 'IKE_ERR_NATIVE_BAD_ARG';
    const type = (e: Error & { code?: string }) => e instanceof TypeError && e.code === 'IKE_ERR_NATIVE_BAD_ARG';
    assert.throws(() => addon.cbc('aes', true, randomBytes(17), randomBytes(16), randomBytes(16)), range);
    assert.throws(() => addon.cbc('aes', true, randomBytes(16), randomBytes(16), randomBytes(15)), range);
    assert.throws(() => addon.cbc('des', true, randomBytes(7), randomBytes(8), randomBytes(8)), range);
    assert.throws(() => addon.cbc('blowfish', true, randomBytes(4), randomBytes(8), randomBytes(8)), range);
    assert.throws(() => addon.cbc('3des', true, randomBytes(24), randomBytes(7), randomBytes(8)), range);
    assert.throws(() => addon.cbc('rc4' as 'aes', true, randomBytes(16), randomBytes(8), randomBytes(8)), type);
    assert.throws(() => addon.cbc('aes', 1 as unknown as boolean, randomBytes(16), randomBytes(16), randomBytes(16)), type);
  });
});
