import assert from 'node:assert/strict';
import { createDiffieHellman, createECDH, randomBytes } from 'node:crypto';

import { bigToBuf, bufToBig, getGroup, type EcpGroup, type ModpGroup } from '../../src/crypto/groups';
import { modexpBatch } from '../../src/crypto/native';
import { loadAddon } from '../../src/crypto/native/addon';
import { modpContext } from '../../src/crypto/native/ke';
import { CryptoErr } from '../../src/util/errors';
import type { KeyExchangeProvider } from '../../src/crypto/types';
import { fixture, hex, nativeBackend, rejectsWithCode } from './util';

interface DhVector { source: string; group: number; kind: 'ecp' | 'modp'; privI: string; privR: string; pubI: string; pubR: string; sharedSecret: string }

function powmod(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

const MODP_GROUPS = [1, 2, 5, 14, 15, 16, 17, 18, 22, 23, 24];
const ECP_GROUPS = [19, 20, 21, 25, 26];

describe('native path: key exchange', () => {
  let ke: KeyExchangeProvider;
  before(() => { ke = nativeBackend().ke; });

  describe('ecp-dh.json (RFC 5903, RFC 5114: groups 19-26, MODP 22-24)', () => {
    const vectors = fixture<DhVector[]>('ecp-dh.json');
    it(`all ${vectors.length} vectors, both directions`, async () => {
      for (const v of vectors) {
        const i = await ke.create(v.group, { privateKey: hex(v.privI) });
        const r = await ke.create(v.group, { privateKey: hex(v.privR) });
        assert.equal(i.publicKey.toString('hex'), v.pubI, v.source);
        assert.equal(r.publicKey.toString('hex'), v.pubR, v.source);
        assert.equal((await i.computeSharedSecret(hex(v.pubR)) as Buffer).toString('hex'), v.sharedSecret, v.source);
        assert.equal((await r.computeSharedSecret(hex(v.pubI)) as Buffer).toString('hex'), v.sharedSecret, v.source);
        assert.equal(i.path, 'native');
        i.dispose();
        r.dispose();
      }
      assert.equal(vectors.length, 11);
    });
  });

  describe('MODP against BigInt and node:crypto', () => {
    it('every MODP group (1-18, 22-24): both sides agree on a |p|-long g^xy', async () => {
      for (const id of MODP_GROUPS) {
        const g = getGroup(id) as ModpGroup;
        const a = await ke.create(id), b = await ke.create(id);
        assert.equal(a.publicKey.length, g.size);
        const s1 = await a.computeSharedSecret(b.publicKey) as Buffer;
        const s2 = await b.computeSharedSecret(a.publicKey) as Buffer;
        assert.deepEqual(s1, s2, `group ${id}`);
        assert.equal(s1.length, g.size);
      }
    });

    it('given exponents: matches BigInt and createDiffieHellman (groups 2, 14, 22)', async () => {
      for (const id of [2, 14, 22]) {
        const g = getGroup(id) as ModpGroup;
        const x = randomBytes(id === 22 ? 19 : 40);
        const y = randomBytes(id === 22 ? 19 : 40);
        const a = await ke.create(id, { privateKey: x });
        const peer = bigToBuf(powmod(bufToBig(g.g), bufToBig(y), g.pBig), g.size);
        assert.deepEqual(a.publicKey, bigToBuf(powmod(bufToBig(g.g), bufToBig(x), g.pBig), g.size));
        const want = bigToBuf(powmod(bufToBig(peer), bufToBig(x), g.pBig), g.size);
        assert.deepEqual(await a.computeSharedSecret(peer), want);
        const dh = createDiffieHellman(g.p, g.g);
        dh.setPrivateKey(x);
        const nodeSecret = dh.computeSecret(peer);
        assert.deepEqual(want.subarray(want.length - nodeSecret.length), nodeSecret);
      }
    });

    it('ModpContext: sync, async and batch agree with BigInt; results are left-padded to |p|', async () => {
      const g = getGroup(14) as ModpGroup;
      const ctx = modpContext(g);
      assert.equal(ctx.size, 256);
      const bases = Array.from({ length: 12 }, (_, i) => (i === 0 ? Buffer.from([2]) : randomBytes(255)));
      const exps = Array.from({ length: 12 }, (_, i) => randomBytes(i === 1 ? 256 : 28));
      exps[1][0] &= 0x7f;
      const want = bases.map((b, i) => bigToBuf(powmod(bufToBig(b), bufToBig(exps[i]), g.pBig), 256));
      for (let i = 0; i < bases.length; i++) {
        assert.deepEqual(ctx.modexp(bases[i], exps[i]), want[i]);
        assert.deepEqual(await ctx.modexpAsync(bases[i], exps[i]), want[i]);
      }
      assert.deepEqual(await ctx.modexpBatch(bases, exps), want);
      for (const jobs of [1, 2, 3, 12, 20]) assert.deepEqual(await modexpBatch(14, bases, exps, jobs), want, `jobs=${jobs}`);
      // A result with leading zero bytes stays |p| long.
      const small = ctx.modexp(Buffer.from([2]), Buffer.from([8]));
      assert.equal(small.length, 256);
      assert.equal(bufToBig(small), 256n);
    });

    it('many async modexps in flight (pool) all correct', async () => {
      const g = getGroup(5) as ModpGroup;
      const exps = Array.from({ length: 64 }, () => randomBytes(32));
      const got = await Promise.all(exps.map((e) => modpContext(g).modexpAsync(g.g, e)));
      got.forEach((r, i) => assert.deepEqual(r, bigToBuf(powmod(2n, bufToBig(exps[i]), g.pBig), g.size)));
      const kes = await Promise.all(Array.from({ length: 32 }, () => ke.create(14)));
      const secrets = await Promise.all(kes.map((k, i) => k.computeSharedSecret(kes[(i + 1) % kes.length].publicKey)));
      const back = await Promise.all(kes.map((k, i) => k.computeSharedSecret(kes[(i + kes.length - 1) % kes.length].publicKey)));
      secrets.forEach((s, i) => assert.deepEqual(s, back[(i + 1) % kes.length]));
    });
  });

  describe('ECP against crypto.createECDH', () => {
    it('every curve: our public value and g^xy match node', async () => {
      for (const id of ECP_GROUPS) {
        const g = getGroup(id) as EcpGroup;
        for (let n = 0; n < 5; n++) {
          const ours = await ke.create(id);
          const theirs = createECDH(g.curve);
          theirs.generateKeys();
          const theirKe = theirs.getPublicKey().subarray(1);
          const s = await ours.computeSharedSecret(theirKe) as Buffer;
          assert.equal(s.length, g.size);
          assert.deepEqual(s, theirs.computeSecret(Buffer.concat([Buffer.from([4]), ours.publicKey])));
          const priv = randomBytes(g.size);
          priv[0] = 0; // keep it below n; also exercises a leading zero byte
          const fixed = await ke.create(id, { privateKey: priv });
          const nodeFixed = createECDH(g.curve);
          nodeFixed.setPrivateKey(priv);
          assert.deepEqual(fixed.publicKey, nodeFixed.getPublicKey().subarray(1), `group ${id}`);
        }
      }
    });

    it('sync and async addon entries agree; many derivations in flight', async () => {
      const addon = loadAddon()!;
      const a = addon.ecKeygen('secp384r1'), b = await addon.ecKeygenAsync('secp384r1');
      const s = addon.ecDerive('secp384r1', a.privateKey, b.publicKey);
      assert.deepEqual(await addon.ecDeriveAsync('secp384r1', b.privateKey, a.publicKey), s);
      const pairs = await Promise.all(Array.from({ length: 40 }, () => addon.ecKeygenAsync('prime256v1')));
      const out = await Promise.all(pairs.map((p, i) => addon.ecDeriveAsync('prime256v1', p.privateKey, pairs[(i + 1) % 40].publicKey)));
      out.forEach((x, i) => assert.deepEqual(x, addon.ecDerive('prime256v1', pairs[(i + 1) % 40].privateKey, pairs[i].publicKey)));
    });
  });

  describe('bad input', () => {
    it('invalid MODP peer values: wrong length, 0, 1, p-1, >= p', async () => {
      const g = getGroup(14) as ModpGroup;
      const a = await ke.create(14);
      for (const bad of [Buffer.alloc(255, 1), Buffer.alloc(256), bigToBuf(1n, 256), bigToBuf(g.pBig - 1n, 256), g.p, Buffer.alloc(256, 0xff)]) {
        await rejectsWithCode(a.computeSharedSecret(bad), CryptoErr.INVALID_KE);
      }
    });

    it('invalid ECP peer points: off the curve, wrong length, coordinate >= p', async () => {
      const g = getGroup(19) as EcpGroup;
      const a = await ke.create(19);
      const good = (await ke.create(19)).publicKey;
      const off = Buffer.from(good);
      off[63] ^= 1;
      await rejectsWithCode(a.computeSharedSecret(off), CryptoErr.INVALID_KE);
      await rejectsWithCode(a.computeSharedSecret(good.subarray(1)), CryptoErr.INVALID_KE);
      await rejectsWithCode(a.computeSharedSecret(Buffer.concat([bigToBuf(g.p, 32), good.subarray(32)])), CryptoErr.INVALID_KE);
      await rejectsWithCode(a.computeSharedSecret(Buffer.alloc(64)), CryptoErr.INVALID_KE);
    });

    it('the addon checks points itself: off-curve point -> coded RangeError IKE_ERR_INVALID_KE_VALUE', async () => {
      const addon = loadAddon()!;
      const a = addon.ecKeygen('prime256v1');
      const bad = Buffer.from(a.publicKey);
      bad[64] ^= 1;
      for (const f of [() => addon.ecDerive('prime256v1', a.privateKey, bad), () => addon.ecDerive('prime256v1', a.privateKey, bad.subarray(1))]) {
        assert.throws(f, (e: Error & { code?: string }) => e instanceof RangeError && e.code === 'IKE_ERR_INVALID_KE_VALUE');
      }
      await assert.rejects(addon.ecDeriveAsync('prime256v1', a.privateKey, bad), (e: Error & { code?: string }) => e.code === 'IKE_ERR_INVALID_KE_VALUE');
      assert.throws(() => addon.ecKeygen('secp256k1'), (e: Error & { code?: string }) => e instanceof TypeError && e.code === 'IKE_ERR_NATIVE_BAD_ARG');
      assert.throws(() => addon.ecKeygen('prime256v1', Buffer.alloc(32)), (e: Error & { code?: string }) => e.code === 'IKE_ERR_NATIVE_BAD_ARG');
      assert.throws(() => addon.ecKeygen('prime256v1', Buffer.alloc(32, 0xff)), (e: Error & { code?: string }) => e.code === 'IKE_ERR_NATIVE_BAD_ARG');
    });

    it('the addon bounds-checks modexp arguments (coded errors, process survives)', async () => {
      const addon = loadAddon()!;
      const ctx = modpContext(getGroup(1) as ModpGroup);
      const code = (e: Error & { code?: string }) => e.code === 'IKE_ERR_NATIVE_BAD_ARG';
      assert.throws(() => ctx.modexp(Buffer.alloc(97, 1), Buffer.from([3])), code);
      assert.throws(() => ctx.modexp(Buffer.alloc(96, 0xff), Buffer.from([3])), code); // base >= p
      assert.throws(() => ctx.modexp(Buffer.from([2]), Buffer.alloc(0)), code);
      assert.throws(() => ctx.modexp('x' as unknown as Buffer, Buffer.from([3])), (e: Error & { code?: string }) => e instanceof TypeError && code(e));
      assert.throws(() => ctx.modexpAsync(Buffer.from([2]), Buffer.alloc(97, 1)), code);
      await assert.rejects(ctx.modexpBatch([Buffer.from([2]), Buffer.alloc(96, 0xff)], [Buffer.from([3]), Buffer.from([3])]), code);
      assert.throws(() => ctx.modexpBatch([Buffer.from([2])], []), code);
      assert.throws(() => new addon.ModpContext(Buffer.from([4])), code);
      assert.throws(() => new addon.ModpContext(Buffer.alloc(0)), code);
      await rejectsWithCode(modexpBatch(1, [Buffer.alloc(96, 0xff)], [Buffer.from([3])]), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(modexpBatch(19, [], []), CryptoErr.BAD_ARGUMENT);
    });

    it('KAT private keys out of range and unknown groups are refused', async () => {
      await rejectsWithCode(ke.create(14, { privateKey: Buffer.alloc(32) }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(ke.create(22, { privateKey: Buffer.alloc(20, 0xff) }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(ke.create(19, { privateKey: Buffer.alloc(32, 0xff) }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(ke.create(14, { exponentBits: 100 }), CryptoErr.BAD_ARGUMENT);
      await rejectsWithCode(ke.create(99), CryptoErr.UNKNOWN_GROUP);
      const k = await ke.create(19);
      k.dispose();
      k.dispose();
      await rejectsWithCode(k.computeSharedSecret(k.publicKey), CryptoErr.BAD_KEY);
    });
  });
});
