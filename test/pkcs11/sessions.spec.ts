/**
 * Sessions on the pkcs11 path: many operations in flight at once (one pool session each), the
 * login kept by the anchor session, and re-initialisation (reinitializeAfter) that keeps token
 * keys, imported keys and the login usable.
 */
import { strict as assert } from 'node:assert';
import { constants, createHash, generateKeyPairSync, verify } from 'node:crypto';

import { makeTestHsm, type TestHsm } from '../helpers/softhsm';

describe('pkcs11 sessions', function () {
  this.timeout(120_000);
  let hsm: TestHsm;
  const data = Buffer.from('AUTH octets');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const pubPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();

  before(async function () {
    hsm = makeTestHsm(this, ['sess-a']);
  });
  after(async () => hsm?.cleanup());

  it('50 signatures, 50 DH exchanges and 50 HMACs in flight at once all succeed', async () => {
    const b = await hsm.open('sess-a');
    const ref = await b.generateRsaKeyPair({ label: 'sess-rsa', id: Buffer.from([1]), bits: 2048 });
    const key = await b.rsa.loadPrivateKey({ token: ref });
    const tokenPub = await b.rsa.loadPublicKey({ token: ref });
    const peer = await b.ke.create(14);
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const msg = Buffer.concat([data, Buffer.from([i])]);
      ops.push(key.sign(msg, { padding: 'pss', hash: 'sha256' }).then(async (sig) => {
        assert.equal(await tokenPub.verify(msg, sig, { padding: 'pss', hash: 'sha256' }), true);
      }));
      ops.push(b.ke.create(14).then(async (ke) => {
        try {
          const s = await ke.computeSharedSecret(peer.publicKey);
          const back = await peer.computeSharedSecret(ke.publicKey);
          assert.ok((s as Buffer).equals(back as Buffer));
        } finally {
          ke.dispose();
        }
      }));
      ops.push(b.kdf.prf('sha256', Buffer.from([i]), msg).then((mac) => assert.equal(mac.length, 32)));
    }
    await Promise.all(ops);
    peer.dispose();
    const { sessions } = b.stats();
    assert.ok(sessions > 1 && sessions <= 150, `pool of ${sessions} sessions`);
    // The pool sessions did not disturb the login: the private token key still signs.
    assert.equal((await key.sign(data, { padding: 'pkcs1', hash: 'sha256' })).length, 256);
  });

  it('the login survives closing another backend on the same token (anchor session)', async () => {
    const b1 = await hsm.open('sess-a');
    const b2 = await hsm.open('sess-a');
    const k1 = await b1.rsa.loadPrivateKey({ token: { label: 'sess-rsa' } });
    await (await b2.rsa.loadPrivateKey({ token: { label: 'sess-rsa' } })).sign(data, { padding: 'pkcs1', hash: 'sha1' });
    await b2.close();
    assert.equal((await k1.sign(data, { padding: 'pkcs1', hash: 'sha1' })).length, 256);
  });

  it('reinitializeAfter: re-initialises when idle; token keys, imported keys and login keep working', async () => {
    const b = await hsm.open('sess-a', { reinitializeAfter: 10 });
    const tokenKey = await b.rsa.loadPrivateKey({ token: { label: 'sess-rsa' } });
    const imported = await b.rsa.loadPrivateKey({ pem });
    const importedPub = await b.rsa.loadPublicKey({ pem: pubPem });
    const gen0 = b.stats().generation;
    for (let i = 0; i < 35; i++) {
      const a = await b.ke.create(19);
      const c = await b.ke.create(19);
      await a.computeSharedSecret(c.publicKey);
      a.dispose();
      c.dispose();
    }
    const st = b.stats();
    assert.ok(st.reinitializations >= 3, `reinitialised ${st.reinitializations} times`);
    assert.ok(st.generation > gen0);
    const sig = await tokenKey.sign(data, { padding: 'pkcs1', hash: 'sha256' });
    assert.equal(sig.length, 256);
    const sig2 = await imported.sign(data, { padding: 'pss', hash: 'sha256' });
    assert.ok(verify('sha256', data, { key: pubPem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig2));
    assert.equal(await importedPub.verify(data, sig2, { padding: 'pss', hash: 'sha256' }), true);
    assert.equal((await b.kdf.prf('sha1', createHash('sha1').digest(), data)).length, 20);
  });

  it('a live key exchange or token-held secret defers re-initialisation until disposed', async () => {
    const b = await hsm.open('sess-a', { reinitializeAfter: 5, keepSecretOnToken: true });
    const live = await b.ke.create(14);
    const peer = await b.ke.create(14);
    const gxy = await live.computeSharedSecret(peer.publicKey);
    const r0 = b.stats().reinitializations;
    for (let i = 0; i < 20; i++) await b.kdf.prf('sha256', Buffer.alloc(32, i), data);
    assert.equal(b.stats().reinitializations, r0, 'no re-initialise while objects are live');
    const k = await b.kdf.ikev2Sa({ hash: 'sha256', ni: Buffer.alloc(16, 1), nr: Buffer.alloc(16, 2), gir: gxy,
      spiI: Buffer.alloc(8, 3), spiR: Buffer.alloc(8, 4), length: 64 });
    assert.equal(k.dkm.length, 64);
    live.dispose();
    peer.dispose();
    if (!Buffer.isBuffer(gxy)) gxy.dispose();
    assert.equal(b.stats().reinitializations, r0 + 1, 're-initialised once everything was disposed');
  });
});
