/**
 * Known answers for the PRF and the IKE derivation chains on the pkcs11 path: token HMAC with
 * g^xy as bytes, and the C_DigestKey construction with g^xy as a token-held OpaqueSecret.
 */
import { strict as assert } from 'node:assert';
import { createHmac, randomBytes } from 'node:crypto';

import { HASH_LENGTH } from '../../src/crypto/kdf';
import type { Pkcs11Backend } from '../../src/crypto/pkcs11';
import type { HashAlg, Ikev1AuthKind, SharedSecret } from '../../src/crypto/types';
import { CryptoErr, OakleyError } from '../../src/util/errors';
import { makeTestHsm, type TestHsm } from '../helpers/softhsm';
import { comparable, loadVectors } from '../helpers/vectors';

const HASH: Record<string, HashAlg> = { 'SHA-1': 'sha1', 'SHA2-224': 'sha224', 'SHA2-256': 'sha256', 'SHA2-384': 'sha384', 'SHA2-512': 'sha512' };
const AUTH: Record<string, Ikev1AuthKind> = { psk: 'psk', dsa: 'sig', pke: 'pke' };
const hex = (s: unknown): Buffer => Buffer.from(String(s), 'hex');

describe('pkcs11 key derivation', function () {
  this.timeout(300_000);
  let hsm: TestHsm;
  let b: Pkcs11Backend;

  before(async function () {
    hsm = makeTestHsm(this, ['kdf-a']);
    b = await hsm.open('kdf-a');
  });
  after(async () => hsm?.cleanup());

  /** g^xy as bytes, or imported onto the token as a sensitive generic secret. */
  const secretModes: [string, (v: Buffer) => SharedSecret][] = [
    ['g^xy as bytes', (v) => v],
    ['g^xy on the token (C_DigestKey)', (v) => b.importSharedSecret(v)],
  ];
  const dispose = (s: SharedSecret | undefined): void => { if (s && !Buffer.isBuffer(s)) s.dispose(); };

  for (const [mode, secret] of secretModes) {
    it(`ikev1-kdf.json, every vector, ${mode}`, async () => {
      const vs = loadVectors('ikev1-kdf.json');
      assert.ok(vs.length >= 150);
      for (const [i, v] of vs.entries()) {
        const hash = HASH[v.hashAlg as string];
        const gxy = secret(hex(v.gxy));
        try {
          const k = await b.kdf.ikev1Phase1({
            hash, auth: AUTH[v.authMethod as string], psk: v.psk !== undefined ? hex(v.psk) : undefined,
            ni: hex(v.ni), nr: hex(v.nr), ckyI: hex(v.ckyI), ckyR: hex(v.ckyR), gxy,
          });
          const ctx = `vector ${i} (${v.hashAlg} ${v.authMethod})`;
          assert.equal(k.skeyid.toString('hex'), v.skeyid, `${ctx} SKEYID`);
          assert.equal(k.skeyidD.toString('hex'), v.skeyidD, `${ctx} SKEYID_d`);
          assert.equal(k.skeyidA.toString('hex'), v.skeyidA, `${ctx} SKEYID_a`);
          assert.equal(k.skeyidE.toString('hex'), v.skeyidE, `${ctx} SKEYID_e`);
        } finally {
          dispose(gxy);
        }
      }
    });

    it(`ikev2-kdf.json, every vector, ${mode}`, async () => {
      const vs = loadVectors('ikev2-kdf.json');
      assert.ok(vs.length >= 59);
      let checked = 0;
      for (const [i, v] of vs.entries()) {
        const hash = HASH[v.hashAlg as string];
        const ctx = `vector ${i} (${v.hashAlg})`;
        const ni = hex(v.nInit);
        const nr = hex(v.nResp);
        const gir = secret(hex(v.gir));
        const girNew = v.girNew !== undefined ? secret(hex(v.girNew)) : undefined;
        try {
          const dkmLen = Math.ceil((v.derivedKeyingMaterialLength as number) / 8);
          const sa = await b.kdf.ikev2Sa({ hash, ni, nr, gir, spiI: hex(v.spiInit), spiR: hex(v.spiResp), length: dkmLen });
          assert.equal(sa.skeyseed.toString('hex'), v.sKeySeed, `${ctx} SKEYSEED`);
          const want = comparable(v, 'derivedKeyingMaterial', String(v.derivedKeyingMaterial));
          assert.equal(sa.dkm.toString('hex').slice(0, want.length), want, `${ctx} DKM`);
          const skD = sa.dkm.subarray(0, HASH_LENGTH[hash]);
          const childLen = Math.ceil(((v.derivedKeyingMaterialChildLength as number | undefined) ?? 0) / 8);
          if (v.derivedKeyingMaterialChild !== undefined) {
            const child = await b.kdf.ikev2ChildKeymat({ hash, skD, ni, nr, length: childLen });
            const w = comparable(v, 'derivedKeyingMaterialChild', String(v.derivedKeyingMaterialChild));
            assert.equal(child.toString('hex').slice(0, w.length), w, `${ctx} child DKM`);
          }
          if (v.derivedKeyingMaterialDh !== undefined && girNew) {
            const child = await b.kdf.ikev2ChildKeymat({ hash, skD, girNew, ni, nr, length: childLen });
            const w = comparable(v, 'derivedKeyingMaterialDh', String(v.derivedKeyingMaterialDh));
            assert.equal(child.toString('hex').slice(0, w.length), w, `${ctx} child DKM with DH`);
          }
          if (v.sKeySeedReKey !== undefined && girNew) {
            const rekey = await b.kdf.ikev2RekeySkeyseed({ hash, skDOld: skD, girNew, ni, nr });
            assert.equal(rekey.toString('hex'), v.sKeySeedReKey, `${ctx} rekey SKEYSEED`);
          }
          checked++;
        } finally {
          dispose(gir);
          dispose(girNew);
        }
      }
      assert.equal(checked, vs.length);
    });
  }

  it('prf-hmac-sha2.json (RFC 4868), PRF and truncated AUTH entries', async () => {
    const vs = loadVectors('prf-hmac-sha2.json');
    for (const [i, v] of vs.entries()) {
      const out = await b.kdf.prf(HASH[v.hashAlg as string], hex(v.key), hex(v.data));
      const want = String(v.output);
      assert.equal(out.toString('hex').slice(0, want.length), want, `vector ${i} ${v.name}`);
    }
  });

  it('HMAC key lengths around the token minimum and the block size equal node', async () => {
    for (const hash of ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as HashAlg[]) {
      for (const len of [0, 1, 8, 16, 20, 31, 32, 48, 63, 64, 65, 127, 128, 129, 300]) {
        const key = randomBytes(len);
        const data = randomBytes(len + 7);
        const out = await b.kdf.prf(hash, key, data);
        assert.ok(out.equals(createHmac(hash, key).update(data).digest()), `${hash} key ${len}`);
      }
    }
  });

  it('C_DigestKey construction equals node for long keys and several token-held parts', async () => {
    const s1 = randomBytes(256);
    const s2 = randomBytes(32);
    const t1 = b.importSharedSecret(s1);
    const t2 = b.importSharedSecret(s2);
    try {
      for (const hash of ['sha1', 'sha256', 'sha384', 'sha512'] as HashAlg[]) {
        for (const keyLen of [8, 64, 129, 200]) {
          const key = randomBytes(keyLen);
          const a = randomBytes(9);
          const out = await b.kdf.prfFn(hash, key, [a, t1, Buffer.alloc(0), t2, a]);
          const want = createHmac(hash, key).update(a).update(s1).update(s2).update(a).digest();
          assert.ok(out.equals(want), `${hash} key ${keyLen}`);
        }
      }
      const plus = await b.kdf.prfPlus('sha256', randomBytes(16), randomBytes(40), 200);
      assert.equal(plus.length, 200);
    } finally {
      t1.dispose();
      t2.dispose();
    }
  });

  it('MD5 with a token-held g^xy is refused with TOKEN_MECHANISM (C_DigestKey refuses MD5)', async () => {
    const t = b.importSharedSecret(randomBytes(128));
    try {
      await assert.rejects(
        b.kdf.ikev1Phase1({ hash: 'md5', auth: 'sig', ni: randomBytes(16), nr: randomBytes(16), ckyI: randomBytes(8), ckyR: randomBytes(8), gxy: t }),
        (e: unknown) => OakleyError.is(e, CryptoErr.TOKEN_MECHANISM) && /md5/i.test((e as Error).message));
      // MD5 with bytes is fine on the token
      const k = Buffer.alloc(3, 1);
      assert.ok((await b.kdf.prf('md5', k, k)).equals(createHmac('md5', k).update(k).digest()));
    } finally {
      t.dispose();
    }
  });

  it('a disposed token-held secret is refused', async () => {
    const t = b.importSharedSecret(randomBytes(32));
    t.dispose();
    await assert.rejects(b.kdf.prfFn('sha256', randomBytes(32), [t]), (e: unknown) => OakleyError.is(e, CryptoErr.SECRET_ON_TOKEN));
  });
});
