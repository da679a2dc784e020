/**
 * Token recovery on a real SoftHSM2 token (issue 6/9: "token removed while running ... recovers
 * after `ikeadm token login`"). The token directory is renamed away under an open backend, so
 * SoftHSM answers CKR_GENERAL_ERROR / CKR_OBJECT_HANDLE_INVALID; operations fail with NO_TOKEN,
 * the token forgets its login, and a KE key pair made before the loss cannot be used after the
 * re-initialise. Once the directory is back, the library is re-initialised (by an operation or by
 * login()), the token is found again by label, and after login() the token key (found again by
 * label: handles died) signs. A key object deleted from the token fails signing with a clear error.
 */
import { strict as assert } from 'node:assert';
import { createPublicKey, verify } from 'node:crypto';
import { renameSync } from 'node:fs';
import { join } from 'node:path';

import * as P from 'pkcs11js';

import type { Pkcs11Backend } from '../../src/crypto/pkcs11';
import type { RsaPrivateKey } from '../../src/crypto/types';
import { CryptoErr, OakleyError } from '../../src/util/errors';
import { makeTestHsm, USER_PIN, type TestHsm } from '../helpers/softhsm';

const LABEL = 'recover-a';

async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(OakleyError.is(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes(USER_PIN), e.message);
    return true;
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('pkcs11 token recovery (token directory removed and restored)', function () {
  this.timeout(120_000);
  let hsm: TestHsm;
  let b: Pkcs11Backend;
  let key: RsaPrivateKey;
  let tokens: string;
  const away = (): void => renameSync(tokens, `${tokens}.away`);
  const back = (): void => renameSync(`${tokens}.away`, tokens);
  const data = Buffer.from('HASH_I octets');
  const sha256 = { padding: 'pkcs1', hash: 'sha256' } as const;
  let publicPem: string;

  before(async function () {
    hsm = makeTestHsm(this, [LABEL]);
    tokens = join(hsm.dir, 'tokens');
    b = await hsm.open(LABEL);
    const ref = await b.generateRsaKeyPair({ label: 'rec-rsa', id: Buffer.from([3]), bits: 2048 });
    key = await b.rsa.loadPrivateKey({ token: ref });
    const pub = b.token.attribute(b.token.find([{ type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY }, { type: P.CKA_LABEL, value: 'rec-rsa' }])[0]!, P.CKA_MODULUS);
    publicPem = createPublicKey({ key: { kty: 'RSA', n: pub.toString('base64url'), e: 'AQAB' }, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' }).toString();
  });
  after(async () => hsm?.cleanup());

  const signs = async (): Promise<void> => {
    const sig = await key.sign(data, sha256);
    assert.ok(verify('sha256', data, publicPem, sig), 'the token signature verifies');
  };

  it('works before the loss', async () => {
    await signs();
    const ke = await b.ke.create(14);
    ke.dispose();
    assert.equal(b.tokens[0]!.loggedIn, true);
  });

  it('directory gone: signing and KE fail with NO_TOKEN, the login is forgotten, login() says the token is still missing', async () => {
    const before = await b.ke.create(14);
    const reinits = b.stats().reinitializations;
    away();
    try {
      await rejectsWith(key.sign(data, sha256), CryptoErr.NO_TOKEN, /token "recover-a" is no longer usable \(C_GetTokenInfo: CKR_GENERAL_ERROR; token directory removed\?\)/);
      assert.equal(b.tokens[0]!.loggedIn, false, 'a lost token is not logged in');
      await sleep(1100); // one automatic re-initialise a second at most
      await rejectsWith(b.ke.create(14), CryptoErr.NO_TOKEN, /re-initialising the PKCS#11 library failed \(C_Initialize .* failed: CKR_GENERAL_ERROR/);
      assert.ok(b.stats().reinitializations > reinits, 'the operation tried a re-initialise');
      await rejectsWith(b.tokens[0]!.login(USER_PIN), CryptoErr.NO_TOKEN, /token "recover-a" is no longer usable .*re-initialising the PKCS#11 library failed/);
      // A key pair from before the loss cannot be used after a re-initialise (its handle died).
      await rejectsWith(before.computeSharedSecret(before.publicKey), CryptoErr.NO_TOKEN, /died with its session: the PKCS#11 library was re-initialised/);
      before.dispose();
    } finally {
      back();
    }
  });

  it('directory back: the next operation finds the token again (public work resumes), the key stays locked until login()', async () => {
    await sleep(1100);
    const ke = await b.ke.create(14);
    ke.dispose();
    assert.equal(b.tokens[0]!.loggedIn, false);
    await rejectsWith(key.sign(data, sha256), CryptoErr.TOKEN_PIN, /logged out: its private keys are locked until 'ikeadm token login recover-a'/);
    assert.equal(await b.tokens[0]!.login(USER_PIN), 'logged-in');
    await signs();
    assert.equal(b.token.recoveries, 1);
  });

  it('login() alone re-initialises: directory removed and restored with no operation in between', async () => {
    away();
    await rejectsWith(key.sign(data, sha256), CryptoErr.NO_TOKEN, /no longer usable/);
    back();
    assert.equal(await b.tokens[0]!.login(USER_PIN), 'logged-in');
    await signs();
    assert.equal(b.token.recoveries, 2);
  });

  it('the key object deleted from the token: signing fails clearly, then names the missing key; other work goes on', async () => {
    const [h] = b.token.find([{ type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY }, { type: P.CKA_LABEL, value: 'rec-rsa' }]);
    b.token.runSync('test: delete the key', (s) => b.token.p.C_DestroyObject(s, h!));
    await rejectsWith(key.sign(data, sha256), CryptoErr.TOKEN_OBJECT, /RSA sign \(pkcs1\) failed: CKR_(OBJECT|KEY)_HANDLE_INVALID/);
    await rejectsWith(key.sign(data, sha256), CryptoErr.TOKEN_OBJECT, /no RSA private key with label "rec-rsa" and id 03 on token "recover-a"/);
    const ke = await b.ke.create(14);
    ke.dispose();
    assert.equal(b.tokens[0]!.loggedIn, true);
  });
});
