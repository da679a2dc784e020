import assert from 'node:assert/strict';
import {
  X509Certificate, constants, createHash, generateKeyPairSync, privateEncrypt, randomBytes, sign, verify, type KeyObject,
} from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadAddon } from '../../src/crypto/native/addon';
import { decodeType1, encodePss, encodeType1, verifyPss } from '../../src/crypto/rsa-emsa';
import { CryptoErr } from '../../src/util/errors';
import type { HashAlg, RsaProvider } from '../../src/crypto/types';
import { nativeBackend, rejectsWithCode } from './util';

const SIZES = [1024, 2048, 3072, 4096];
const HASHES: HashAlg[] = ['sha1', 'sha256', 'sha384', 'sha512'];

describe('native path: RSA', function () {
  this.timeout(300000);
  let rsa: RsaProvider;
  const keys = new Map<number, { priv: KeyObject; pub: KeyObject }>();

  before(() => {
    rsa = nativeBackend().rsa;
    for (const bits of SIZES) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
      keys.set(bits, { priv: privateKey, pub: publicKey });
    }
    // An odd size (modBits - 1 a multiple of 8 for PSS: emLen = k - 1)
    const odd = generateKeyPairSync('rsa', { modulusLength: 1025 });
    keys.set(1025, { priv: odd.privateKey, pub: odd.publicKey });
  });

  for (const bits of SIZES) {
    it(`${bits}-bit: pkcs1 byte-equal to crypto.sign, pkcs1-raw equal to privateEncrypt, PSS both ways`, async () => {
      const { priv, pub } = keys.get(bits)!;
      const sk = await rsa.loadPrivateKey({ der: priv.export({ type: 'pkcs1', format: 'der' }) });
      const pk = await rsa.loadPublicKey({ pem: pub.export({ type: 'spki', format: 'pem' }) });
      assert.equal(sk.bits, bits);
      assert.equal(pk.bits, bits);
      for (const hash of HASHES) {
        const data = randomBytes(100);
        const sig = await sk.sign(data, { padding: 'pkcs1', hash });
        assert.deepEqual(sig, sign(hash, data, priv), `pkcs1 ${hash}`);
        assert.ok(await pk.verify(data, sig, { padding: 'pkcs1', hash }));
        assert.equal(await pk.verify(Buffer.concat([data, Buffer.from([0])]), sig, { padding: 'pkcs1', hash }), false);

        // Default salt = hash length, except where it cannot fit (1024-bit key with SHA-512).
        const hLen = createHash(hash).digest().length;
        const saltLength = hLen + hLen + 2 <= bits / 8 ? undefined : bits / 8 - hLen - 2;
        const pss = await sk.sign(data, { padding: 'pss', hash, saltLength });
        assert.equal(pss.length, bits / 8);
        assert.ok(verify(hash, data, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: saltLength ?? hLen }, pss), `pss ${hash}`);
        assert.ok(await pk.verify(data, pss, { padding: 'pss', hash, saltLength }));
        const nodePss = sign(hash, data, { key: priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 });
        assert.ok(await pk.verify(data, nodePss, { padding: 'pss', hash, saltLength: 20 }), `node pss ${hash}`);
        assert.equal(await pk.verify(data, nodePss, { padding: 'pss', hash, saltLength: 21 }), false);
        const tampered = Buffer.from(nodePss);
        tampered[10] ^= 0x40;
        assert.equal(await pk.verify(data, tampered, { padding: 'pss', hash, saltLength: 20 }), false);
      }
      const hashI = randomBytes(20);
      const raw = await sk.sign(hashI, { padding: 'pkcs1-raw' });
      assert.deepEqual(raw, privateEncrypt({ key: priv, padding: constants.RSA_PKCS1_PADDING }, hashI));
      assert.ok(await pk.verify(hashI, raw, { padding: 'pkcs1-raw' }));
      assert.equal(await pk.verify(randomBytes(20), raw, { padding: 'pkcs1-raw' }), false);
      assert.equal(await pk.verify(hashI, raw.subarray(1), { padding: 'pkcs1-raw' }), false);
      assert.equal(await pk.verify(hashI, Buffer.alloc(bits / 8, 0xff), { padding: 'pkcs1-raw' }), false); // >= n
      sk.dispose();
      sk.dispose();
      await rejectsWithCode(sk.sign(hashI, { padding: 'pkcs1-raw' }), CryptoErr.BAD_KEY);
    });
  }

  it('PSS with a modulus of 8k+1 bits (leading zero octet) and salt length 0', async () => {
    const { priv, pub } = keys.get(1025)!;
    const sk = await rsa.loadPrivateKey({ pem: priv.export({ type: 'pkcs8', format: 'pem' }) });
    const pk = await rsa.loadPublicKey({ der: pub.export({ type: 'pkcs1', format: 'der' }) });
    for (const saltLength of [0, 32]) {
      const data = randomBytes(33);
      const sig = await sk.sign(data, { padding: 'pss', hash: 'sha256', saltLength });
      assert.ok(verify('sha256', data, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, sig));
      assert.ok(await pk.verify(data, sig, { padding: 'pss', hash: 'sha256', saltLength }));
    }
  });

  it('many async signatures in flight are all valid', async () => {
    const { priv, pub } = keys.get(2048)!;
    const sk = await rsa.loadPrivateKey({ pem: priv.export({ type: 'pkcs1', format: 'pem' }) });
    const data = Array.from({ length: 48 }, () => randomBytes(32));
    const sigs = await Promise.all(data.map((d) => sk.sign(d, { padding: 'pkcs1', hash: 'sha256' })));
    sigs.forEach((s, i) => assert.ok(verify('sha256', data[i], pub, s)));
  });

  it('public keys from an X.509 certificate PEM', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'oakley-native-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=oakley-test', '-days', '1',
        '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    } catch {
      rmSync(dir, { recursive: true, force: true });
      this.skip(); // no openssl CLI: the certificate form is covered by the shared rsa-keys tests
    }
    try {
      const cert = readFileSync(join(dir, 'c.pem'));
      const sk = await rsa.loadPrivateKey({ pem: readFileSync(join(dir, 'k.pem')) });
      const pk = await rsa.loadPublicKey({ pem: cert });
      assert.equal(pk.bits, new X509Certificate(cert).publicKey.asymmetricKeyDetails?.modulusLength);
      const d = randomBytes(48);
      assert.ok(await pk.verify(d, await sk.sign(d, { padding: 'pkcs1', hash: 'sha384' }), { padding: 'pkcs1', hash: 'sha384' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('bad input', () => {
    it('garbage DER and token sources are refused with coded errors', async () => {
      await rejectsWithCode(rsa.loadPrivateKey({ der: randomBytes(300) }), CryptoErr.BAD_KEY);
      await rejectsWithCode(rsa.loadPublicKey({ der: randomBytes(300) }), CryptoErr.BAD_KEY);
      await rejectsWithCode(rsa.loadPrivateKey({ pem: 'not a key' }), CryptoErr.BAD_KEY);
      await rejectsWithCode(rsa.loadPrivateKey({ token: { label: 'k' } }), CryptoErr.UNSUPPORTED);
      await rejectsWithCode(rsa.loadPublicKey({ token: { label: 'k' } }), CryptoErr.UNSUPPORTED);
      const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      await rejectsWithCode(rsa.loadPrivateKey({ der: ec.privateKey.export({ type: 'pkcs8', format: 'der' }) }), CryptoErr.BAD_KEY);
    });

    it('the addon refuses garbage DER itself (coded TypeError, process survives)', () => {
      const addon = loadAddon()!;
      const isBadKey = (e: Error & { code?: string }) => e instanceof TypeError && e.code === 'IKE_ERR_BAD_KEY';
      assert.throws(() => new addon.RsaKey(randomBytes(200), true), isBadKey);
      assert.throws(() => new addon.RsaKey(randomBytes(200), false), isBadKey);
      const der = keys.get(1024)!.priv.export({ type: 'pkcs8', format: 'der' });
      assert.throws(() => new addon.RsaKey(Buffer.concat([der, Buffer.from([0])]), true), isBadKey); // trailing byte
      const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'der' });
      assert.throws(() => new addon.RsaKey(ec, true), isBadKey);
      assert.throws(() => new addon.RsaKey(Buffer.alloc(0), true), (e: Error & { code?: string }) => e.code === 'IKE_ERR_NATIVE_BAD_ARG');
    });

    it('the raw operations bounds-check their block', async () => {
      const addon = loadAddon()!;
      const { priv, pub } = keys.get(1024)!;
      const sk = new addon.RsaKey(priv.export({ type: 'pkcs8', format: 'der' }), true);
      const pk = new addon.RsaKey(pub.export({ type: 'spki', format: 'der' }), false);
      const bad = (e: Error & { code?: string }) => e.code === 'IKE_ERR_NATIVE_BAD_ARG';
      await assert.rejects(sk.privateRaw(Buffer.alloc(127)), bad);
      await assert.rejects(sk.privateRaw(Buffer.alloc(128, 0xff)), bad); // >= n
      assert.throws(() => pk.publicRaw(Buffer.alloc(129)), bad);
      assert.throws(() => pk.privateRaw(Buffer.alloc(128)), bad); // public key
      // dispose while a job is in flight: the job holds its own reference.
      const block = encodeType1(randomBytes(20), 128);
      const p = sk.privateRaw(block);
      sk.dispose();
      assert.deepEqual(decodeType1(pk.publicRaw(await p)), block.subarray(block.length - 20));
      assert.throws(() => sk.privateRaw(block), (e: Error & { code?: string }) => e.code === 'IKE_ERR_BAD_KEY');
    });

    it('unusable schemes and oversize pkcs1-raw data are rejected; wrong signatures resolve false', async () => {
      const { priv, pub } = keys.get(1024)!;
      const sk = await rsa.loadPrivateKey({ der: priv.export({ type: 'pkcs8', format: 'der' }) });
      const pk = await rsa.loadPublicKey({ der: pub.export({ type: 'spki', format: 'der' }) });
      await rejectsWithCode(sk.sign(randomBytes(118), { padding: 'pkcs1-raw' }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(sk.sign(randomBytes(8), { padding: 'pss', hash: 'sha512', saltLength: 64 }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(sk.sign(randomBytes(8), { padding: 'pkcs1', hash: 'whirlpool' as HashAlg }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(pk.verify(randomBytes(8), randomBytes(128), { padding: 'oaep' } as never), CryptoErr.BAD_ARGUMENT);
      assert.equal(await pk.verify(randomBytes(8), randomBytes(12), { padding: 'pkcs1', hash: 'sha1' }), false);
    });
  });

  it('rsa-emsa: PSS encode/verify round trip and type-1 decoding edge cases', () => {
    const block = encodePss('sha256', Buffer.from('abc'), 2048);
    assert.equal(block.length, 256);
    assert.ok(verifyPss('sha256', Buffer.from('abc'), block, 2048));
    assert.equal(verifyPss('sha256', Buffer.from('abd'), block, 2048), false);
    assert.equal(decodeType1(Buffer.from('0001ffffffffffffff00aa', 'hex')), null); // 7 bytes of FF
    assert.deepEqual(decodeType1(Buffer.from('0001ffffffffffffffff00aa', 'hex')), Buffer.from([0xaa]));
    assert.equal(decodeType1(Buffer.from('0002ffffffffffffffff00aa', 'hex')), null);
    assert.equal(decodeType1(Buffer.from('0001ffffffffffffffffffff', 'hex')), null);
  });
});
