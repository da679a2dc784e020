/**
 * RSA on the pkcs11 path against node:crypto: imported PEM/DER keys and keys generated on the
 * token; PKCS#1 v1.5 (byte-identical), raw PKCS#1 (IKEv1), PSS; verification both ways.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, createHash, generateKeyPairSync, publicDecrypt, sign, verify, type KeyObject } from 'node:crypto';

import type { Pkcs11Backend } from '../../src/crypto/pkcs11';
import type { HashAlg, RsaScheme } from '../../src/crypto/types';
import { CryptoErr, OakleyError } from '../../src/util/errors';
import { makeTestHsm, type TestHsm } from '../helpers/softhsm';

describe('pkcs11 RSA', function () {
  this.timeout(120_000);
  let hsm: TestHsm;
  let b: Pkcs11Backend;
  const keys: Record<number, { priv: KeyObject; pem: string; pubPem: string }> = {};

  before(async function () {
    hsm = makeTestHsm(this, ['rsa-a']);
    b = await hsm.open('rsa-a');
    for (const bits of [1024, 2048, 3072]) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
      keys[bits] = {
        priv: privateKey,
        pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        pubPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      };
    }
  });
  after(async () => hsm?.cleanup());

  const data = Buffer.from('IKE_SA_INIT octets | Nr | prf(SK_pi, IDi)');

  for (const bits of [1024, 2048, 3072]) {
    describe(`imported ${bits}-bit PEM key`, () => {
      it('pkcs1 signatures are byte-identical to crypto.sign, for every hash', async () => {
        const k = await b.rsa.loadPrivateKey({ pem: keys[bits].pem });
        try {
          assert.equal(k.bits, bits);
          for (const hash of ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as HashAlg[]) {
            if (bits === 1024 && hash === 'sha512') continue; // fits, but keep runtime short
            const sig = await k.sign(data, { padding: 'pkcs1', hash });
            assert.equal(sig.length, bits / 8);
            assert.ok(sig.equals(sign(hash, data, keys[bits].priv)), hash);
          }
        } finally {
          k.dispose();
        }
      });

      it('pkcs1-raw (IKEv1 HASH_I) is recovered by publicDecrypt; input over k-11 is refused', async () => {
        const k = await b.rsa.loadPrivateKey({ pem: keys[bits].pem });
        try {
          const hashI = createHash('sha1').update(data).digest();
          const sig = await k.sign(hashI, { padding: 'pkcs1-raw' });
          assert.ok(publicDecrypt({ key: keys[bits].pubPem, padding: constants.RSA_PKCS1_PADDING }, sig).equals(hashI));
          const max = Buffer.alloc(bits / 8 - 11, 0x5a);
          assert.equal((await k.sign(max, { padding: 'pkcs1-raw' })).length, bits / 8);
          await assert.rejects(k.sign(Buffer.alloc(bits / 8 - 10), { padding: 'pkcs1-raw' }),
            (e: unknown) => OakleyError.is(e, CryptoErr.BAD_ARGUMENT));
        } finally {
          k.dispose();
        }
      });

      it('PSS signatures verify with crypto.verify (default and explicit salt)', async () => {
        const k = await b.rsa.loadPrivateKey({ pem: keys[bits].pem });
        try {
          for (const [hash, saltLength] of [['sha256', undefined], ['sha384', 48], ['sha1', 0], ['sha256', 17]] as [HashAlg, number | undefined][]) {
            const sig = await k.sign(data, { padding: 'pss', hash, saltLength });
            assert.ok(verify(hash, data, { key: keys[bits].pubPem, padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: saltLength ?? createHash(hash).digest().length }, sig), `${hash}/${saltLength}`);
          }
          await assert.rejects(k.sign(data, { padding: 'pss', hash: 'md5' }), (e: unknown) => OakleyError.is(e, CryptoErr.UNSUPPORTED));
        } finally {
          k.dispose();
        }
      });

      it('node signatures verify on the token; wrong ones give false', async () => {
        const pub = await b.rsa.loadPublicKey({ pem: keys[bits].pubPem });
        const schemes: [RsaScheme, Buffer][] = [
          [{ padding: 'pkcs1', hash: 'sha256' }, sign('sha256', data, keys[bits].priv)],
          [{ padding: 'pss', hash: 'sha256' }, sign('sha256', data, { key: keys[bits].priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })],
        ];
        for (const [scheme, sig] of schemes) {
          assert.equal(await pub.verify(data, sig, scheme), true, scheme.padding);
          const bad = Buffer.from(sig);
          bad[5] ^= 1;
          assert.equal(await pub.verify(data, bad, scheme), false);
          assert.equal(await pub.verify(Buffer.from('other'), sig, scheme), false);
          assert.equal(await pub.verify(data, sig.subarray(1), scheme), false);
        }
        const raw = Buffer.alloc(20, 3);
        const k = await b.rsa.loadPrivateKey({ pem: keys[bits].pem });
        assert.equal(await pub.verify(raw, await k.sign(raw, { padding: 'pkcs1-raw' }), { padding: 'pkcs1-raw' }), true);
        k.dispose();
      });
    });
  }

  it('DER (PKCS#1 and PKCS#8) private keys and DER public keys load', async () => {
    const { priv, pubPem } = keys[2048];
    const k1 = await b.rsa.loadPrivateKey({ der: priv.export({ format: 'der', type: 'pkcs1' }) });
    const k8 = await b.rsa.loadPrivateKey({ der: priv.export({ format: 'der', type: 'pkcs8' }) });
    const pub = await b.rsa.loadPublicKey({ der: Buffer.from(pubPem.replace(/-----[^-]+-----|\s/g, ''), 'base64') });
    const s1 = await k1.sign(data, { padding: 'pkcs1', hash: 'sha256' });
    const s8 = await k8.sign(data, { padding: 'pkcs1', hash: 'sha256' });
    assert.ok(s1.equals(s8));
    assert.equal(await pub.verify(data, s1, { padding: 'pkcs1', hash: 'sha256' }), true);
    k1.dispose();
    k8.dispose();
  });

  it('an X.509 certificate (PEM and DER) gives the public key', async function () {
    let certPem: string;
    try {
      const keyFile = join(hsm.dir, 'cert-key.pem');
      writeFileSync(keyFile, keys[2048].pem, { mode: 0o600 });
      certPem = execFileSync('openssl', ['req', '-x509', '-new', '-key', keyFile, '-subj', '/CN=oakley-test', '-days', '1'],
        { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    } catch {
      this.skip();
    }
    const sig = sign('sha256', data, keys[2048].priv);
    const fromPem = await b.rsa.loadPublicKey({ pem: certPem });
    assert.equal(fromPem.bits, 2048);
    assert.equal(await fromPem.verify(data, sig, { padding: 'pkcs1', hash: 'sha256' }), true);
    const der = Buffer.from(certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const fromDer = await b.rsa.loadPublicKey({ der });
    assert.equal(await fromDer.verify(data, sig, { padding: 'pkcs1', hash: 'sha256' }), true);
  });

  it('keys outside 1024-4096 bits and non-RSA keys are refused', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 768 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await assert.rejects(b.rsa.loadPrivateKey({ pem: small }), (e: unknown) => OakleyError.is(e, CryptoErr.BAD_KEY));
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await assert.rejects(b.rsa.loadPrivateKey({ pem: ec }), (e: unknown) => OakleyError.is(e, CryptoErr.BAD_KEY));
    await assert.rejects(b.rsa.loadPrivateKey({ pem: 'not a key' }), (e: unknown) => OakleyError.is(e, CryptoErr.BAD_KEY));
  });

  describe('keys generated on the token', () => {
    it('generate, find by label, by id, by both; sign; verify with the token public key and node', async () => {
      const id = Buffer.from('a1b2', 'hex');
      await b.generateRsaKeyPair({ label: 'ike-rsa', id, bits: 2048 });
      for (const ref of [{ label: 'ike-rsa' }, { id }, { label: 'ike-rsa', id }]) {
        const k = await b.rsa.loadPrivateKey({ token: ref });
        assert.equal(k.bits, 2048);
        const sig = await k.sign(data, { padding: 'pkcs1', hash: 'sha256' });
        assert.equal(sig.length, 256);
        const pub = await b.rsa.loadPublicKey({ token: ref });
        assert.equal(await pub.verify(data, sig, { padding: 'pkcs1', hash: 'sha256' }), true);
        const pss = await k.sign(data, { padding: 'pss', hash: 'sha384' });
        assert.equal(await pub.verify(data, pss, { padding: 'pss', hash: 'sha384' }), true);
        k.dispose();
      }
      // A 3072-bit token key reports its size from CKA_MODULUS
      await b.generateRsaKeyPair({ label: 'ike-rsa-3k', id: Buffer.from([3]), bits: 3072 });
      const k3 = await b.rsa.loadPrivateKey({ token: { label: 'ike-rsa-3k' } });
      assert.equal(k3.bits, 3072);
      assert.equal((await k3.sign(data, { padding: 'pkcs1-raw' })).length, 384);
    });

    it('a missing token key gives TOKEN_OBJECT naming the reference', async () => {
      await assert.rejects(b.rsa.loadPrivateKey({ token: { label: 'nope' } }),
        (e: unknown) => OakleyError.is(e, CryptoErr.TOKEN_OBJECT) && /nope/.test((e as Error).message));
      await assert.rejects(b.rsa.loadPrivateKey({ token: { id: Buffer.from('ffff', 'hex') } }),
        (e: unknown) => OakleyError.is(e, CryptoErr.TOKEN_OBJECT) && /ffff/.test((e as Error).message));
      await assert.rejects(b.rsa.loadPrivateKey({ token: {} }), (e: unknown) => OakleyError.is(e, CryptoErr.BAD_ARGUMENT));
    });
  });
});
