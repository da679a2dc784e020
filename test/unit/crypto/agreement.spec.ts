/**
 * Cross-path agreement on random inputs: for every group and every pair of paths the two sides
 * compute the same g^xy; every derivation chain gives the same keys on every path; a signature
 * made on one path verifies on the others (and a wrong one on none); a ciphertext made on one
 * path decrypts on the others.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { SUPPORTED_GROUPS } from '../../../src/crypto/groups';
import { openBackend } from '../../../src/crypto/registry';
import { CRYPTO_PATHS, type CryptoBackend, type CryptoPath, type HashAlg, type RsaScheme } from '../../../src/crypto/types';

describe('cross-path agreement', function () {
  this.timeout(300_000);
  const backends = new Map<CryptoPath, CryptoBackend>();
  before(async () => {
    for (const p of CRYPTO_PATHS) backends.set(p, await openBackend(p));
  });
  after(async () => {
    for (const b of backends.values()) await b.close();
  });
  const all = () => [...backends.values()];

  for (const group of SUPPORTED_GROUPS) {
    it(`group ${group}: every pair of paths derives the same g^xy`, async () => {
      for (const a of all()) {
        for (const b of all()) {
          const i = await a.ke.create(group);
          const r = await b.ke.create(group);
          const si = await i.computeSharedSecret(r.publicKey);
          const sr = await r.computeSharedSecret(i.publicKey);
          assert.ok(Buffer.isBuffer(si) && Buffer.isBuffer(sr));
          assert.equal(si.toString('hex'), sr.toString('hex'), `${a.path} x ${b.path}`);
          assert.equal(i.publicKey.length, r.publicKey.length);
          i.dispose();
          r.dispose();
        }
      }
    });
  }

  for (const hash of ['md5', 'sha1', 'sha256', 'sha384', 'sha512'] as HashAlg[]) {
    it(`${hash}: IKEv1 and IKEv2 chains agree on every path`, async () => {
      const gxy = randomBytes(256);
      const base = { hash, ni: randomBytes(32), nr: randomBytes(24), ckyI: randomBytes(8), ckyR: randomBytes(8), gxy };
      const results: string[] = [];
      for (const b of all()) {
        const out: Buffer[] = [];
        for (const auth of ['psk', 'sig', 'pke'] as const) {
          const k = await b.kdf.ikev1Phase1({ ...base, auth, psk: randomBytesSeeded(auth), encKeyLength: 32, gxi: gxy, gxr: base.ni, ivLength: 16 });
          out.push(k.skeyid, k.skeyidD, k.skeyidA, k.skeyidE, k.encKey!, k.iv!);
        }
        out.push(await b.kdf.ikev1Keymat({ hash, skeyidD: base.ckyI, gqmxy: gxy, protocol: 3, spi: Buffer.from('c0ffee01', 'hex'), ni: base.ni, nr: base.nr, length: 100 }));
        out.push(await b.kdf.ikev1Keymat({ hash, skeyidD: base.ckyI, protocol: 3, spi: Buffer.from('c0ffee01', 'hex'), ni: base.ni, nr: base.nr, length: 20 }));
        const sa = await b.kdf.ikev2Sa({ hash, ni: base.ni, nr: base.nr, gir: gxy, spiI: base.ckyI, spiR: base.ckyR, length: 200 });
        out.push(sa.skeyseed, sa.dkm);
        out.push(await b.kdf.ikev2ChildKeymat({ hash, skD: sa.dkm.subarray(0, 20), girNew: gxy, ni: base.ni, nr: base.nr, length: 64 }));
        out.push(await b.kdf.ikev2RekeySkeyseed({ hash, skDOld: sa.dkm.subarray(0, 20), girNew: gxy, ni: base.ni, nr: base.nr }));
        out.push(await b.kdf.prfPlus(hash, randomBytesSeeded('k'), Buffer.from('seed'), 77));
        results.push(out.map((x) => x.toString('hex')).join('|'));
      }
      for (let i = 1; i < results.length; i++) assert.equal(results[i], results[0], `${all()[i].path} vs ${all()[0].path}`);
    });
  }

  const schemes: RsaScheme[] = [
    { padding: 'pkcs1-raw' }, { padding: 'pkcs1', hash: 'sha1' }, { padding: 'pkcs1', hash: 'sha256' },
    { padding: 'pkcs1', hash: 'sha512' }, { padding: 'pss', hash: 'sha256' }, { padding: 'pss', hash: 'sha384', saltLength: 20 },
  ];
  for (const bits of [1024, 2048, 3072, 4096]) {
    it(`RSA-${bits}: signatures made on one path verify on every path`, async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
      const pub = publicKey.export({ type: 'spki', format: 'pem' });
      const data = randomBytes(32);
      for (const signer of all()) {
        const key = await signer.rsa.loadPrivateKey({ pem });
        assert.equal(key.bits, bits);
        for (const scheme of schemes) {
          const sig = await key.sign(data, scheme);
          assert.equal(sig.length, bits / 8);
          for (const verifier of all()) {
            const v = await verifier.rsa.loadPublicKey({ pem: pub });
            assert.equal(await v.verify(data, sig, scheme), true, `${signer.path} -> ${verifier.path} ${JSON.stringify(scheme)}`);
            const bad = Buffer.from(sig);
            bad[bad.length - 1] ^= 1;
            assert.equal(await v.verify(data, bad, scheme), false, `tampered ${signer.path} -> ${verifier.path}`);
          }
        }
        key.dispose();
      }
    });
  }

  it('ciphers: a ciphertext made on one path decrypts on every path', () => {
    const cases = [['aes-cbc', 16], ['aes-cbc', 24], ['aes-cbc', 32], ['3des-cbc', 24], ['des-cbc', 8], ['blowfish-cbc', 16]] as const;
    for (const [alg, keyLen] of cases) {
      const key = randomBytes(keyLen);
      const iv = randomBytes(alg === 'aes-cbc' ? 16 : 8);
      const data = randomBytes(96);
      const able = all().filter((b) => b.cipher.supports(alg, keyLen));
      // Blowfish lives only on the native path (node's OpenSSL 3 and SoftHSM lack it); its
      // known-answer test is in test/native/cipher.spec.ts.
      const want = alg === 'blowfish-cbc' ? ['native'] : ['node', 'native', 'pkcs11'];
      assert.deepEqual(able.map((b) => b.path), want, `${alg} is supported on ${able.map((b) => b.path).join(', ')}`);
      for (const a of able) {
        const ct = a.cipher.encrypt(alg, key, iv, data);
        for (const b of able) assert.ok(b.cipher.decrypt(alg, key, iv, ct).equals(data), `${alg}: ${a.path} -> ${b.path}`);
      }
    }
  });
});

function randomBytesSeeded(tag: string): Buffer {
  return Buffer.from(`oakley-test-key-${tag}`);
}
