import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';

import * as reference from '../../src/crypto/kdf';
import { loadAddon } from '../../src/crypto/native/addon';
import { CryptoErr } from '../../src/util/errors';
import type { HashAlg, Ikev1AuthKind, KeyDerivation, OpaqueSecret } from '../../src/crypto/types';
import { fixture, hashOf, hex, nativeBackend, rejectsWithCode } from './util';

interface V1 { source: string; hashAlg: string; authMethod: string; ckyI: string; ckyR: string; ni: string; nr: string; gxy: string; psk?: string; skeyid: string; skeyidD: string; skeyidA: string; skeyidE: string }
interface V2 {
  source: string; hashAlg: string; nInit: string; nResp: string; gir: string; girNew: string; spiInit: string; spiResp: string;
  derivedKeyingMaterialLength: number; derivedKeyingMaterialChildLength: number; sKeySeed: string; derivedKeyingMaterial: string;
  derivedKeyingMaterialChild: string; derivedKeyingMaterialDh: string; sKeySeedReKey: string;
}
interface VPrf { name: string; hashAlg: string; key: string; data: string; outputLength: number; output: string }

const HLEN: Record<HashAlg, number> = reference.HASH_LENGTH;

const nodePrf: reference.PrfFn = async (hash, key, parts) => {
  const h = createHmac(hash, key);
  for (const p of parts) h.update(p as Buffer);
  return h.digest();
};

describe('native path: key derivation', () => {
  let kdf: KeyDerivation;
  before(() => { kdf = nativeBackend().kdf; });

  describe('IKEv1 Phase 1 vectors (ikev1-kdf.json)', () => {
    const vectors = fixture<V1[]>('ikev1-kdf.json');
    it(`all ${vectors.length} vectors`, async () => {
      for (const [i, v] of vectors.entries()) {
        const auth: Ikev1AuthKind = v.authMethod === 'dsa' ? 'sig' : (v.authMethod as Ikev1AuthKind);
        const k = await kdf.ikev1Phase1({
          hash: hashOf(v.hashAlg), auth, psk: v.psk !== undefined ? hex(v.psk) : undefined, ni: hex(v.ni), nr: hex(v.nr),
          ckyI: hex(v.ckyI), ckyR: hex(v.ckyR), gxy: hex(v.gxy),
        });
        const at = `vector ${i} (${v.source})`;
        assert.equal(k.skeyid.toString('hex'), v.skeyid, at);
        assert.equal(k.skeyidD.toString('hex'), v.skeyidD, at);
        assert.equal(k.skeyidA.toString('hex'), v.skeyidA, at);
        assert.equal(k.skeyidE.toString('hex'), v.skeyidE, at);
        assert.equal(k.encKey, undefined);
        assert.equal(k.iv, undefined);
      }
      assert.ok(vectors.length >= 150);
    });
  });

  describe('IKEv2 vectors (ikev2-kdf.json)', () => {
    const vectors = fixture<V2[]>('ikev2-kdf.json');
    it(`all ${vectors.length} vectors: SKEYSEED, DKM, child, child with PFS, rekey`, async () => {
      for (const [i, v] of vectors.entries()) {
        const hash = hashOf(v.hashAlg);
        const at = `vector ${i} (${v.source})`;
        // Non-byte lengths (1890 bits): compare only the whole bytes.
        const dkmLen = Math.floor(v.derivedKeyingMaterialLength / 8);
        const childLen = Math.floor(v.derivedKeyingMaterialChildLength / 8);
        const ni = hex(v.nInit), nr = hex(v.nResp);
        const sa = await kdf.ikev2Sa({ hash, ni, nr, gir: hex(v.gir), spiI: hex(v.spiInit), spiR: hex(v.spiResp), length: dkmLen });
        assert.equal(sa.skeyseed.toString('hex'), v.sKeySeed, at);
        assert.equal(sa.dkm.toString('hex'), v.derivedKeyingMaterial.slice(0, 2 * dkmLen), at);
        const skD = sa.dkm.subarray(0, HLEN[hash]);
        const child = await kdf.ikev2ChildKeymat({ hash, skD, ni, nr, length: childLen });
        assert.equal(child.toString('hex'), v.derivedKeyingMaterialChild.slice(0, 2 * childLen), at);
        const childDh = await kdf.ikev2ChildKeymat({ hash, skD, girNew: hex(v.girNew), ni, nr, length: childLen });
        assert.equal(childDh.toString('hex'), v.derivedKeyingMaterialDh.slice(0, 2 * childLen), at);
        const rekey = await kdf.ikev2RekeySkeyseed({ hash, skDOld: skD, girNew: hex(v.girNew), ni, nr });
        assert.equal(rekey.toString('hex'), v.sKeySeedReKey, at);
      }
      assert.ok(vectors.length >= 59);
    });
  });

  describe('HMAC-SHA2 PRF vectors (prf-hmac-sha2.json)', () => {
    const vectors = fixture<VPrf[]>('prf-hmac-sha2.json');
    it(`all ${vectors.length} vectors (truncated to outputLength)`, async () => {
      for (const v of vectors) {
        const out = await kdf.prf(hashOf(v.hashAlg), hex(v.key), hex(v.data));
        assert.equal(out.subarray(0, v.outputLength / 8).toString('hex'), v.output, v.name);
      }
    });
  });

  describe('matches the shared TypeScript reference (src/crypto/kdf.ts) on random inputs', () => {
    const hashes: HashAlg[] = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'];

    it('prf and prf+ (every length up to a few blocks, and the 255-block maximum)', async () => {
      for (const hash of hashes) {
        const key = randomBytes(1 + (hash.length * 7) % 100), seed = randomBytes(70);
        assert.deepEqual(await kdf.prf(hash, key, seed), await nodePrf(hash, key, [seed]));
        for (const len of [0, 1, HLEN[hash] - 1, HLEN[hash], HLEN[hash] + 1, 3 * HLEN[hash] + 5, 255 * HLEN[hash]]) {
          assert.deepEqual(await kdf.prfPlus(hash, key, seed, len), await reference.prfPlus(nodePrf, hash, key, [seed], len), `${hash} ${len}`);
        }
        await rejectsWithCode(kdf.prfPlus(hash, key, seed, 255 * HLEN[hash] + 1), CryptoErr.BAD_ARGUMENT);
      }
    });

    it('IKEv1 Phase 1 with Appendix B key expansion and the Phase 1 IV', async () => {
      for (const hash of hashes) {
        for (const auth of ['psk', 'sig', 'pke'] as const) {
          for (const encKeyLength of [0, 8, 16, 24, 32, 56, 64]) {
            const input = {
              hash, auth, psk: auth === 'psk' ? randomBytes(13) : undefined, ni: randomBytes(16), nr: randomBytes(32),
              ckyI: randomBytes(8), ckyR: randomBytes(8), gxy: randomBytes(256), encKeyLength,
              gxi: randomBytes(256), gxr: randomBytes(256), ivLength: Math.min(16, HLEN[hash]),
            };
            const want = await reference.ikev1Phase1(nodePrf, input);
            const got = await kdf.ikev1Phase1(input);
            assert.deepEqual(got, want, `${hash} ${auth} ${encKeyLength}`);
          }
        }
      }
    });

    it('Quick Mode KEYMAT with and without PFS, multi-block', async () => {
      for (const hash of hashes) {
        for (const pfs of [false, true]) {
          for (const length of [1, 16, 20, 36, 64, 100, 300]) {
            const input = {
              hash, skeyidD: randomBytes(HLEN[hash]), gqmxy: pfs ? randomBytes(128) : undefined, protocol: 3,
              spi: randomBytes(4), ni: randomBytes(20), nr: randomBytes(20), length,
            };
            assert.deepEqual(await kdf.ikev1Keymat(input), await reference.ikev1Keymat(nodePrf, input), `${hash} pfs=${pfs} ${length}`);
          }
        }
      }
    });

    it('IKEv2 SA, child (with and without new g^ir) and rekey', async () => {
      for (const hash of hashes) {
        const sa = { hash, ni: randomBytes(32), nr: randomBytes(32), gir: randomBytes(384), spiI: randomBytes(8), spiR: randomBytes(8), length: 200 };
        assert.deepEqual(await kdf.ikev2Sa(sa), await reference.ikev2Sa(nodePrf, sa));
        for (const girNew of [undefined, randomBytes(66)]) {
          const c = { hash, skD: randomBytes(HLEN[hash]), girNew, ni: randomBytes(24), nr: randomBytes(24), length: 160 };
          assert.deepEqual(await kdf.ikev2ChildKeymat(c), await reference.ikev2ChildKeymat(nodePrf, c));
        }
        const r = { hash, skDOld: randomBytes(HLEN[hash]), girNew: randomBytes(256), ni: randomBytes(32), nr: randomBytes(32) };
        assert.deepEqual(await kdf.ikev2RekeySkeyseed(r), await reference.ikev2RekeySkeyseed(nodePrf, r));
      }
    });
  });

  describe('bad input', () => {
    const opaque: OpaqueSecret = { kind: 'opaque', path: 'pkcs11', length: 256, dispose: () => {} };
    const base = { hash: 'sha256' as const, ni: randomBytes(16), nr: randomBytes(16) };

    it('rejects a token-held g^xy with SECRET_ON_TOKEN', async () => {
      await rejectsWithCode(kdf.ikev2Sa({ ...base, gir: opaque, spiI: randomBytes(8), spiR: randomBytes(8), length: 32 }), CryptoErr.SECRET_ON_TOKEN);
      await rejectsWithCode(kdf.ikev1Phase1({ ...base, auth: 'sig', ckyI: randomBytes(8), ckyR: randomBytes(8), gxy: opaque }), CryptoErr.SECRET_ON_TOKEN);
      await rejectsWithCode(kdf.ikev1Keymat({ hash: 'sha1', skeyidD: randomBytes(20), gqmxy: opaque, protocol: 3, spi: randomBytes(4), ni: base.ni, nr: base.nr, length: 32 }), CryptoErr.SECRET_ON_TOKEN);
      await rejectsWithCode(kdf.ikev2ChildKeymat({ ...base, skD: randomBytes(32), girNew: opaque, length: 32 }), CryptoErr.SECRET_ON_TOKEN);
      await rejectsWithCode(kdf.ikev2RekeySkeyseed({ ...base, skDOld: randomBytes(32), girNew: opaque }), CryptoErr.SECRET_ON_TOKEN);
    });

    it('rejects wrong lengths, unknown hashes and missing psk with BAD_ARGUMENT', async () => {
      const v1 = { ...base, auth: 'psk' as const, psk: Buffer.from('k'), ckyI: randomBytes(8), ckyR: randomBytes(8), gxy: randomBytes(32) };
      await rejectsWithCode(kdf.ikev1Phase1({ ...v1, ckyI: randomBytes(7) }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(kdf.ikev1Phase1({ ...v1, psk: undefined }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(kdf.ikev1Phase1({ ...v1, gxi: randomBytes(32), gxr: randomBytes(32), ivLength: 33 }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(kdf.ikev1Phase1({ ...v1, hash: 'sha3' as HashAlg }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(kdf.ikev2Sa({ ...base, gir: randomBytes(32), spiI: randomBytes(8), spiR: randomBytes(9), length: 32 }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(kdf.ikev1Keymat({ hash: 'sha1', skeyidD: randomBytes(20), protocol: 256, spi: randomBytes(4), ni: base.ni, nr: base.nr, length: 32 }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(kdf.prf('sha1', 'key' as unknown as Buffer, Buffer.alloc(1)), CryptoErr.BAD_ARGUMENT);
    });

    it('the addon itself bounds-checks and throws coded TypeError/RangeError (process survives)', () => {
      const addon = loadAddon()!;
      const codeOf = (f: () => unknown): [string, string] => {
        try {
          f();
        } catch (e) {
          return [(e as Error).constructor.name, String((e as { code?: unknown }).code)];
        }
        return ['none', 'none'];
      };
      assert.deepEqual(codeOf(() => addon.prf('sha999' as 'sha1', Buffer.alloc(1), Buffer.alloc(1))), ['TypeError', 'IKE_ERR_NATIVE_BAD_ARG']);
      assert.deepEqual(codeOf(() => addon.prf('sha1', 5 as unknown as Buffer, Buffer.alloc(1))), ['TypeError', 'IKE_ERR_NATIVE_BAD_ARG']);
      assert.deepEqual(codeOf(() => addon.prfPlus('sha1', Buffer.alloc(1), Buffer.alloc(1), 255 * 20 + 1)), ['RangeError', 'IKE_ERR_NATIVE_BAD_ARG']);
      assert.deepEqual(codeOf(() => addon.prfPlus('sha1', Buffer.alloc(1), Buffer.alloc(1), -1)), ['RangeError', 'IKE_ERR_NATIVE_BAD_ARG']);
      assert.deepEqual(codeOf(() => addon.ikev2Sa('sha1', Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(32), Buffer.alloc(7), Buffer.alloc(8), 20)), ['RangeError', 'IKE_ERR_NATIVE_BAD_ARG']);
      assert.deepEqual(codeOf(() => addon.ikev1Phase1('sha1', 'psk', null, Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(32), 0, null, null, 0)), ['TypeError', 'IKE_ERR_NATIVE_BAD_ARG']);
      assert.deepEqual(codeOf(() => (addon.ikev2Rekey as unknown as () => Buffer)()), ['TypeError', 'IKE_ERR_NATIVE_BAD_ARG']);
    });
  });
});
