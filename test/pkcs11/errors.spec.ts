/**
 * Failure modes of the pkcs11 path: wrong PIN, unknown label, missing module, token directory
 * removed while in use, mechanisms the token refuses, CKR_* normalisation. None may crash the
 * process or put the PIN into a message.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { createSoftHsmToken, openPkcs11Backend, tokenError } from '../../src/crypto/pkcs11';
import { CryptoErr, OakleyError } from '../../src/util/errors';
import { makeTestHsm, SO_PIN, USER_PIN, type TestHsm } from '../helpers/softhsm';

const WRONG_PIN = 'wrong-pin-31337';

function noPin(e: unknown): boolean {
  const text = `${(e as Error).message} ${JSON.stringify((e as OakleyError).detail ?? {})} ${(e as Error).stack}`;
  return !text.includes(WRONG_PIN) && !text.includes(USER_PIN);
}

describe('pkcs11 errors', function () {
  this.timeout(60_000);
  let hsm: TestHsm;
  let tmpTokenDir: string;

  before(async function () {
    hsm = makeTestHsm(this, ['err-a']);
    const before = new Set(readdirSync(join(hsm.dir, 'tokens')));
    createSoftHsmToken({ dir: hsm.dir, label: 'err-tmp', soPin: SO_PIN, pin: USER_PIN, module: hsm.module });
    const created = readdirSync(join(hsm.dir, 'tokens')).filter((d) => !before.has(d));
    assert.equal(created.length, 1);
    tmpTokenDir = join(hsm.dir, 'tokens', created[0]);
  });
  after(async () => hsm?.cleanup());

  it('wrong PIN: TOKEN_PIN, CKR name in detail, PIN nowhere; the right PIN still works', async () => {
    await assert.rejects(openPkcs11Backend({ module: hsm.module, tokenLabel: 'err-a', pin: WRONG_PIN }), (e: unknown) => {
      assert.ok(OakleyError.is(e, CryptoErr.TOKEN_PIN), String(e));
      assert.equal((e as OakleyError).detail?.ckr, 'CKR_PIN_INCORRECT');
      assert.ok(noPin(e));
      return true;
    });
    const b = await hsm.open('err-a');
    assert.equal((await b.kdf.prf('sha256', Buffer.alloc(4), Buffer.alloc(4))).length, 32);
  });

  it('unknown token label: NO_TOKEN listing the labels present', async () => {
    await assert.rejects(openPkcs11Backend({ module: hsm.module, tokenLabel: 'no-such', pin: USER_PIN }), (e: unknown) => {
      assert.ok(OakleyError.is(e, CryptoErr.NO_TOKEN));
      assert.match((e as Error).message, /no-such/);
      assert.match((e as Error).message, /"err-a"/);
      assert.match((e as Error).message, /"err-tmp"/);
      assert.ok(noPin(e));
      return true;
    });
  });

  it('missing module: NO_TOKEN', async () => {
    await assert.rejects(openPkcs11Backend({ module: '/nonexistent/libnothing.so', tokenLabel: 'err-a', pin: USER_PIN }),
      (e: unknown) => OakleyError.is(e, CryptoErr.NO_TOKEN));
  });

  it('without a PIN: public session, KE works, private token keys are invisible', async () => {
    const b = await hsm.open('err-a', { pin: undefined });
    const ke = await b.ke.create(19);
    const peer = await b.ke.create(19);
    assert.equal(((await ke.computeSharedSecret(peer.publicKey)) as Buffer).length, 32);
    ke.dispose();
    peer.dispose();
    await assert.rejects(b.rsa.loadPrivateKey({ token: { label: 'x' } }),
      (e: unknown) => OakleyError.is(e, CryptoErr.TOKEN_OBJECT) && /not logged in/.test((e as Error).message));
  });

  it('MD5 PRF over a token-held g^xy: TOKEN_MECHANISM', async () => {
    const b = await hsm.open('err-a', { keepSecretOnToken: true });
    const a = await b.ke.create(14);
    const c = await b.ke.create(14);
    const gxy = await a.computeSharedSecret(c.publicKey);
    await assert.rejects(
      b.kdf.ikev1Phase1({ hash: 'md5', auth: 'sig', ni: randomBytes(8), nr: randomBytes(8), ckyI: randomBytes(8), ckyR: randomBytes(8), gxy }),
      (e: unknown) => OakleyError.is(e, CryptoErr.TOKEN_MECHANISM));
    // the same secret with SHA-256 works
    const k = await b.kdf.ikev1Phase1({ hash: 'sha256', auth: 'sig', ni: randomBytes(8), nr: randomBytes(8), ckyI: randomBytes(8), ckyR: randomBytes(8), gxy });
    assert.equal(k.skeyidE.length, 32);
    if (!Buffer.isBuffer(gxy)) gxy.dispose();
    a.dispose();
    c.dispose();
  });

  it('CKR_* errors from Pkcs11Error and from plain Error("CKR_X:nn") are normalised', () => {
    const plain = tokenError(new Error('CKR_MECHANISM_INVALID:112'), 'C_SignInit');
    assert.equal(plain.code, CryptoErr.TOKEN_MECHANISM);
    assert.equal(plain.detail?.ckr, 'CKR_MECHANISM_INVALID');
    assert.equal(plain.detail?.ckrCode, 112);
    const coded = Object.assign(new Error('CKR_DEVICE_REMOVED'), { code: 0x32 });
    assert.equal(tokenError(coded, 'x').code, CryptoErr.NO_TOKEN);
    assert.equal(tokenError(Object.assign(new Error('CKR_TOKEN_NOT_PRESENT:224'), {}), 'x').code, CryptoErr.NO_TOKEN);
    assert.equal(tokenError(new Error('CKR_PIN_INCORRECT:160'), 'x').code, CryptoErr.TOKEN_PIN);
    assert.equal(tokenError(new Error('CKR_GENERAL_ERROR:5'), 'x').code, CryptoErr.TOKEN);
    assert.equal(tokenError(new Error('something else'), 'x').code, CryptoErr.TOKEN);
  });

  // Must run last in this file: the err-tmp token is destroyed.
  it('token directory removed mid-run: operations fail cleanly with NO_TOKEN, close() still works', async () => {
    const b = await openPkcs11Backend({ module: hsm.module, tokenLabel: 'err-tmp', pin: USER_PIN });
    try {
      const ref = await b.generateRsaKeyPair({ label: 'tmp-rsa', id: Buffer.from([9]), bits: 1024 });
      const key = await b.rsa.loadPrivateKey({ token: ref });
      await key.sign(Buffer.from('x'), { padding: 'pkcs1', hash: 'sha256' });

      rmSync(tmpTokenDir, { recursive: true, force: true });

      await assert.rejects(key.sign(Buffer.from('x'), { padding: 'pkcs1', hash: 'sha256' }), (e: unknown) => {
        assert.ok(OakleyError.is(e, CryptoErr.NO_TOKEN), String(e));
        assert.ok(noPin(e));
        return true;
      });
      await assert.rejects(b.rsa.loadPrivateKey({ token: ref }), (e: unknown) => OakleyError.is(e, CryptoErr.NO_TOKEN));
      await assert.rejects(b.generateRsaKeyPair({ label: 'again', id: Buffer.from([1]), bits: 1024 }),
        (e: unknown) => OakleyError.is(e) && (e as OakleyError).code !== undefined);
    } finally {
      await b.close();
    }
  });
});
