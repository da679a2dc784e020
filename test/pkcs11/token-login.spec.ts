/**
 * Token login and logout on a real SoftHSM2 token (what `ikeadm token login|logout` drives):
 * a token opened without a PIN starts logged out, login() unlocks its private keys for every
 * session, a wrong PIN is refused without the PIN in any message, logout() locks token keys and
 * keys imported while logged in (clear TOKEN_PIN error, handles found again after the next login)
 * while exchanges in progress carry on, and a re-initialise keeps whatever login state ikeadm set.
 */
import { strict as assert } from 'node:assert';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';

import { openCryptoSuite } from '../../src/crypto/registry';
import { CryptoErr, OakleyError } from '../../src/util/errors';
import { makeTestHsm, USER_PIN, type TestHsm } from '../helpers/softhsm';

const LABEL = 'login-a';
const WRONG_PIN = '97531113';

/** Asserts an OakleyError with `code` whose message matches `re` and never contains a PIN. */
async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(OakleyError.is(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    for (const pin of [USER_PIN, WRONG_PIN]) {
      assert.ok(!e.message.includes(pin), e.message);
      assert.ok(!JSON.stringify(e.detail ?? {}).includes(pin), JSON.stringify(e.detail));
    }
    return true;
  });
}

describe('pkcs11 token login/logout', function () {
  this.timeout(120_000);
  let hsm: TestHsm;
  const data = Buffer.from('HASH_I octets for a signature');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

  before(async function () {
    hsm = makeTestHsm(this, [LABEL]);
    // A long-term key on the token (private token object), made while logged in; closing this
    // backend closes its sessions, which ends the login (pkcs11-softhsm.md §8).
    const setup = await hsm.open(LABEL);
    await setup.generateRsaKeyPair({ label: 'login-rsa', id: Buffer.from([7]), bits: 2048 });
    await setup.close();
  });
  after(async () => hsm?.cleanup());

  const sha256 = { padding: 'pkcs1', hash: 'sha256' } as const;
  const tokenPub = async (b: Awaited<ReturnType<TestHsm['open']>>) => b.rsa.loadPublicKey({ token: { label: 'login-rsa' } });

  it('without a PIN the token starts logged out: private keys invisible, ephemeral work goes on', async () => {
    const b = await hsm.open(LABEL, { pin: undefined });
    try {
      const [t] = b.tokens;
      assert.equal(t.label, LABEL);
      assert.equal(t.loggedIn, false);
      await rejectsWith(b.rsa.loadPrivateKey({ token: { label: 'login-rsa' } }), CryptoErr.TOKEN_OBJECT, /not logged in/);
      // The public key is a public object: visible without a login.
      assert.equal((await tokenPub(b)).bits, 2048);
      const ke1 = await b.ke.create(14);
      const ke2 = await b.ke.create(14);
      assert.ok(((await ke1.computeSharedSecret(ke2.publicKey)) as Buffer).equals((await ke2.computeSharedSecret(ke1.publicKey)) as Buffer));
      ke1.dispose();
      ke2.dispose();
      assert.equal((await b.kdf.prf('sha256', Buffer.alloc(32, 1), data)).length, 32);
    } finally {
      await b.close();
    }
  });

  it('a wrong PIN is refused with TOKEN_PIN naming CKR_PIN_INCORRECT only; the token stays logged out', async () => {
    const b = await hsm.open(LABEL, { pin: undefined });
    try {
      const [t] = b.tokens;
      await rejectsWith(t.login(WRONG_PIN), CryptoErr.TOKEN_PIN, new RegExp(`C_Login to token "${LABEL}" failed: CKR_PIN_INCORRECT`));
      await rejectsWith(t.login(''), CryptoErr.TOKEN_PIN, /CKR_PIN_(INCORRECT|LEN_RANGE)/);
      assert.equal(t.loggedIn, false);
      // The right PIN still works afterwards (SoftHSM has no lockout, §8).
      assert.equal(await t.login(USER_PIN), 'logged-in');
      assert.equal(t.loggedIn, true);
    } finally {
      await b.close();
    }
  });

  it('login() covers every session; logout() locks token keys and imported keys until the next login', async () => {
    const b = await hsm.open(LABEL, { pin: undefined });
    try {
      const [t] = b.tokens;
      const pub = await tokenPub(b);
      assert.equal(await t.login(USER_PIN), 'logged-in');
      assert.equal(await t.login(USER_PIN), 'already-logged-in');
      const key = await b.rsa.loadPrivateKey({ token: { label: 'login-rsa' } });
      const imported = await b.rsa.loadPrivateKey({ pem });
      // Many signatures in flight: each on a pool session of its own, all logged in by the one C_Login.
      const sigs = await Promise.all(Array.from({ length: 8 }, (_v, i) => key.sign(Buffer.concat([data, Buffer.from([i])]), sha256)));
      for (const [i, sig] of sigs.entries()) assert.equal(await pub.verify(Buffer.concat([data, Buffer.from([i])]), sig, sha256), true);
      assert.ok(verify('sha256', data, publicKey, await imported.sign(data, sha256)));

      // A key exchange started while logged in ...
      const ke = await b.ke.create(14);
      const peer = await b.ke.create(14);
      assert.equal(await t.logout(), 'logged-out');
      assert.equal(t.loggedIn, false);
      // ... still completes: its key pair is an ephemeral public session object.
      assert.ok(((await ke.computeSharedSecret(peer.publicKey)) as Buffer).equals((await peer.computeSharedSecret(ke.publicKey)) as Buffer));
      ke.dispose();
      peer.dispose();

      const locked = new RegExp(`token "${LABEL}" is logged out: its private keys are locked until 'ikeadm token login ${LABEL}'`);
      await rejectsWith(key.sign(data, sha256), CryptoErr.TOKEN_PIN, locked);
      await rejectsWith(imported.sign(data, sha256), CryptoErr.TOKEN_PIN, locked);
      await rejectsWith(b.rsa.loadPrivateKey({ token: { label: 'login-rsa' } }), CryptoErr.TOKEN_OBJECT, /not logged in/);
      // Verification with the public token object and HMAC on the token are unaffected.
      assert.equal(await pub.verify(data, sigs[0]!, sha256), false);
      assert.equal((await b.kdf.prf('sha256', Buffer.alloc(32, 2), data)).length, 32);
      assert.equal(await t.logout(), 'not-logged-in');

      // Login again: the same key objects sign again (handles found again / key imported again).
      assert.equal(await t.login(USER_PIN), 'logged-in');
      assert.equal(await pub.verify(data, await key.sign(data, sha256), sha256), true);
      assert.ok(verify('sha256', data, publicKey, await imported.sign(data, sha256)));
      // IKEv1 raw signature over a bare hash still works with the re-found handle.
      const hash = createHash('sha1').update(data).digest();
      assert.equal(await pub.verify(hash, await key.sign(hash, { padding: 'pkcs1-raw' }), { padding: 'pkcs1-raw' }), true);
    } finally {
      await b.close();
    }
  });

  it('a key imported while logged out stays usable across login and logout (public session object)', async () => {
    const b = await hsm.open(LABEL, { pin: undefined });
    try {
      const [t] = b.tokens;
      const imported = await b.rsa.loadPrivateKey({ pem });
      await t.login(USER_PIN);
      assert.ok(verify('sha256', data, publicKey, await imported.sign(data, sha256)));
      await t.logout();
      assert.ok(verify('sha256', data, publicKey, await imported.sign(data, sha256)));
    } finally {
      await b.close();
    }
  });

  it('a re-initialise of the library keeps the login state ikeadm set', async () => {
    const b = await hsm.open(LABEL, { pin: undefined, reinitializeAfter: 1 });
    try {
      const [t] = b.tokens;
      const pub = await tokenPub(b);
      await t.login(USER_PIN);
      const key = await b.rsa.loadPrivateKey({ token: { label: 'login-rsa' } });
      const gen0 = b.stats().generation;
      await b.kdf.prf('sha256', Buffer.alloc(32, 3), data); // one operation: re-initialise when idle
      assert.ok(b.stats().generation > gen0, 'the library was re-initialised');
      assert.equal(t.loggedIn, true, 'logged in again with the PIN given to login()');
      assert.equal(await pub.verify(data, await key.sign(data, sha256), sha256), true);

      await t.logout();
      const gen1 = b.stats().generation;
      await b.kdf.prf('sha256', Buffer.alloc(32, 4), data);
      assert.ok(b.stats().generation > gen1);
      assert.equal(t.loggedIn, false, 'the logout survives the re-initialise: the PIN was forgotten');
      await rejectsWith(key.sign(data, sha256), CryptoErr.TOKEN_PIN, /is logged out/);
    } finally {
      await b.close();
    }
  });

  it('openCryptoSuite exposes the token and warns when it is open without a login', async () => {
    const warnings: string[] = [];
    const suite = await openCryptoSuite({ ke: 'pkcs11', rsa: 'pkcs11', prf: 'node', cipher: 'node', random: 'node' },
      { pkcs11: { module: hsm.module, tokenLabel: LABEL } }, (level, m) => { if (level === 'warning') warnings.push(m); });
    try {
      assert.deepEqual(suite.fallbacks, []);
      assert.deepEqual(suite.tokens.map((t) => t.label), [LABEL]);
      assert.ok(warnings.some((w) => w.includes(`PKCS#11 token "${LABEL}" is open without a login`) && w.includes(`ikeadm token login ${LABEL}`)),
        warnings.join('\n'));
      const [t] = suite.tokens;
      assert.equal(await t!.login(USER_PIN), 'logged-in');
      const key = await suite.rsa.loadPrivateKey({ token: { label: 'login-rsa' } });
      assert.equal((await key.sign(data, sha256)).length, 256);
      assert.equal(await t!.logout(), 'logged-out');
      await rejectsWith(key.sign(data, sha256), CryptoErr.TOKEN_PIN, /locked/);
    } finally {
      await suite.close();
    }
    const node = await openCryptoSuite({ ke: 'node', rsa: 'node', prf: 'node', cipher: 'node', random: 'node' }, {}, () => {});
    assert.deepEqual(node.tokens, []);
    await node.close();
  });
});
