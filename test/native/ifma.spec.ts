/**
 * The AVX-512 IFMA multi-buffer modexp (native/src/ifma_kernel.cc) against OpenSSL's constant-time
 * modexp (the portable kernel of the same addon), node:crypto and BigInt: groups 14-18, edge
 * values, lane counts, the DH vectors, the key-exchange queue, and the portable switch.
 * Skipped (with the reason) on a CPU without AVX-512 IFMA; everything else here still runs there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createDiffieHellman, randomBytes } from 'node:crypto';

import { bigToBuf, bufToBig, getGroup, type ModpGroup } from '../../src/crypto/groups';
import { modexpBatch } from '../../src/crypto/native';
import { addonPath, loadAddon } from '../../src/crypto/native/addon';
import { modpContext } from '../../src/crypto/native/ke';
import { createNodeBackend } from '../../src/crypto/node';
import { CryptoErr } from '../../src/util/errors';
import { fixture, hex, nativeBackend, rejectsWithCode } from './util';

function powmod(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

const modp = (id: number): ModpGroup => getGroup(id) as ModpGroup;

/** A random value below p, |p| bytes (top bit cleared: the RFC 3526 primes start with 0xff). */
function below(g: ModpGroup): Buffer {
  const b = randomBytes(g.size);
  b[0] &= 0x7f;
  return b;
}

/** Edge bases and exponents of one group, as lanes. */
function edgeLanes(g: ModpGroup): { bases: Buffer[]; exps: Buffer[] } {
  const pm1 = bigToBuf(g.pBig - 1n, g.size);
  const topZero = randomBytes(32);
  topZero[0] = 0;
  topZero[1] = 0;
  topZero[2] &= 0x0f;
  const bases = [Buffer.from([0]), Buffer.from([1]), pm1, pm1, below(g), below(g), Buffer.from([2]), below(g),
    Buffer.alloc(g.size), Buffer.from([0]), below(g)];
  const exps = [randomBytes(32), randomBytes(32), Buffer.alloc(32, 0xff), Buffer.from([1]), topZero, Buffer.alloc(32, 0xff),
    Buffer.alloc(g.size, 0xff), Buffer.alloc(32), randomBytes(7), Buffer.alloc(1), Buffer.from([0, 0, 0, 3])];
  return { bases, exps };
}

describe('native path: AVX-512 IFMA multi-buffer modexp', function () {
  this.timeout(300_000);
  const addon = loadAddon();
  const cpu = addon?.modexpKernels().ifmaCpu ?? false;

  before(function () {
    if (!addon) throw new Error('the native addon must load for these tests');
    if (!cpu) this.skip(); // no AVX-512 IFMA on this CPU: only the portable path exists
  });

  it('reports the kernel: IFMA for groups 14-18, not for the 768-bit group 1', () => {
    for (const id of [14, 15, 16, 17, 18]) {
      assert.equal(modpContext(modp(id)).ifmaAvailable, true, `group ${id}`);
      assert.equal(modpContext(modp(id)).batchKernel, 'ifma');
    }
    assert.equal(modpContext(modp(1)).ifmaAvailable, false);
    assert.equal(modpContext(modp(1)).batchKernel, 'portable');
  });

  for (const id of [14, 15, 16, 17, 18]) {
    it(`group ${id}: random 8-lane batches equal OpenSSL's constant-time modexp, different exponent per lane`, () => {
      const g = modp(id);
      const ctx = modpContext(g);
      const rounds = id === 14 ? 60 : id === 15 ? 24 : id === 16 ? 8 : 4;
      for (let r = 0; r < rounds; r++) {
        const bases = Array.from({ length: 8 }, () => below(g));
        const exps = Array.from({ length: 8 }, (_, i) => randomBytes(i === 7 && r === 0 && id === 14 ? g.size : 32 + ((i * 13 + r) % 33)));
        assert.deepEqual(ctx.modexpBatchSync(bases, exps, 'ifma'), ctx.modexpBatchSync(bases, exps, 'portable'), `round ${r}`);
      }
    });

    it(`group ${id}: edge values (base 0, 1, p-1, 0x00..; exponents 0, 1, all-ones, top bits zero, |p| bytes) equal BigInt`, () => {
      const g = modp(id);
      const ctx = modpContext(g);
      const { bases, exps } = edgeLanes(g);
      const want = bases.map((b, i) => bigToBuf(powmod(bufToBig(b), bufToBig(exps[i]), g.pBig), g.size));
      const got = ctx.modexpBatchSync(bases, exps, 'ifma');
      got.forEach((v, i) => assert.deepEqual(v, want[i], `lane ${i}: base ${bases[i].length} bytes, exp ${exps[i].toString('hex').slice(0, 16)}`));
      assert.deepEqual(ctx.modexpBatchSync(bases, exps, 'portable'), want);
    });
  }

  it('the smaller moduli the kernel also takes (groups 2, 5, 22-24: 1024-2048 bits) equal OpenSSL', () => {
    for (const id of [2, 5, 22, 23, 24]) {
      const g = modp(id);
      const ctx = modpContext(g);
      assert.equal(ctx.ifmaAvailable, true, `group ${id}`);
      for (let r = 0; r < 4; r++) {
        const bases = Array.from({ length: 8 }, () => bigToBuf(bufToBig(randomBytes(g.size)) % g.pBig, g.size));
        const exps = Array.from({ length: 8 }, (_, i) => randomBytes(1 + ((i * 7 + r * 5) % g.size)));
        assert.deepEqual(ctx.modexpBatchSync(bases, exps, 'ifma'), ctx.modexpBatchSync(bases, exps, 'portable'), `group ${id} round ${r}`);
      }
    }
  });

  it('every lane count 1..17 (dummy lanes, lone remainders) and every kernel choice agree', async () => {
    const g = modp(14);
    const ctx = modpContext(g);
    const bases = Array.from({ length: 17 }, () => below(g));
    const exps = Array.from({ length: 17 }, () => randomBytes(32));
    const want = ctx.modexpBatchSync(bases, exps, 'portable');
    for (let n = 1; n <= 17; n++) {
      const b = bases.slice(0, n), e = exps.slice(0, n);
      assert.deepEqual(ctx.modexpBatchSync(b, e, 'ifma'), want.slice(0, n), `ifma x${n}`);
      assert.deepEqual(await ctx.modexpBatch(b, e), want.slice(0, n), `auto x${n}`);
    }
    for (const jobs of [1, 2, 3]) {
      for (const kernel of ['auto', 'ifma', 'portable'] as const) {
        assert.deepEqual(await modexpBatch(14, bases, exps, jobs, kernel), want, `jobs=${jobs} ${kernel}`);
      }
    }
  });

  it('node:crypto agrees (createDiffieHellman.computeSecret), groups 14-18', () => {
    for (const id of [14, 15, 16, 17, 18]) {
      const g = modp(id);
      const peers = Array.from({ length: 8 }, () => below(g));
      const xs = Array.from({ length: 8 }, () => randomBytes(32));
      const got = modpContext(g).modexpBatchSync(peers, xs, 'ifma');
      for (let i = 0; i < 8; i += 3) {
        const dh = createDiffieHellman(g.p, g.g);
        dh.setPrivateKey(xs[i]);
        const s = dh.computeSecret(peers[i]);
        assert.deepEqual(got[i].subarray(g.size - s.length), s, `group ${id} lane ${i}`);
        assert.ok(got[i].subarray(0, g.size - s.length).every((b) => b === 0));
      }
    }
  });

  it('DH vectors (RFC 5114 MODP groups 22-24 in ecp-dh.json) through the kernel', () => {
    interface DhVector { source: string; group: number; kind: string; privI: string; privR: string; pubI: string; pubR: string; sharedSecret: string }
    const vectors = fixture<DhVector[]>('ecp-dh.json').filter((v) => v.kind === 'modp');
    assert.equal(vectors.length, 3);
    for (const v of vectors) {
      const g = modp(v.group);
      const ctx = modpContext(g);
      assert.equal(ctx.ifmaAvailable, true, v.source);
      const [pubI, pubR, s1, s2] = ctx.modexpBatchSync([g.g, g.g, hex(v.pubR), hex(v.pubI)],
        [hex(v.privI), hex(v.privR), hex(v.privI), hex(v.privR)], 'ifma');
      assert.equal(pubI.toString('hex'), v.pubI, v.source);
      assert.equal(pubR.toString('hex'), v.pubR, v.source);
      assert.equal(s1.toString('hex'), v.sharedSecret, v.source);
      assert.equal(s2.toString('hex'), v.sharedSecret, v.source);
    }
  });

  it('cross path: concurrent native key exchanges (queued into IFMA batches) agree with node:crypto', async () => {
    const nativeKe = nativeBackend().ke;
    const nodeKe = createNodeBackend().ke;
    for (const id of [14, 15]) {
      const natives = await Promise.all(Array.from({ length: 10 }, () => nativeKe.create(id)));
      const nodes = await Promise.all(Array.from({ length: 10 }, () => nodeKe.create(id)));
      const a = await Promise.all(natives.map((k, i) => k.computeSharedSecret(nodes[i].publicKey)));
      const b = await Promise.all(nodes.map((k, i) => k.computeSharedSecret(natives[i].publicKey)));
      assert.deepEqual(a, b, `group ${id}`);
      // and the fixed-exponent route: native with a given x equals BigInt
      const g = modp(id);
      const xs = Array.from({ length: 9 }, () => randomBytes(32));
      const kes = await Promise.all(xs.map((x) => nativeKe.create(id, { privateKey: x })));
      kes.forEach((k, i) => assert.deepEqual(k.publicKey, bigToBuf(powmod(2n, bufToBig(xs[i]), g.pBig), g.size)));
      for (const k of [...natives, ...nodes, ...kes]) k.dispose();
    }
  });

  it('argument errors: unknown kernel, IFMA on a modulus it does not take, base >= p names the item', async () => {
    const g = modp(14);
    const ctx = modpContext(g);
    const bad = Buffer.alloc(g.size, 0xff);
    assert.throws(() => ctx.modexpBatchSync([g.g], [Buffer.from([1])], 'bogus' as never), (e: Error & { code?: string }) =>
      e instanceof TypeError && e.code === CryptoErr.NATIVE_BAD_ARG);
    assert.throws(() => modpContext(modp(1)).modexpBatchSync([Buffer.from([2])], [Buffer.from([1])], 'ifma'),
      (e: Error & { code?: string }) => e instanceof RangeError && /modulus/.test(e.message));
    for (const kernel of ['ifma', 'portable', 'auto'] as const) {
      assert.throws(() => ctx.modexpBatchSync([g.g, g.g, bad], [Buffer.from([1]), Buffer.from([2]), Buffer.from([3])], kernel),
        /item 2: base must be below the modulus/, kernel);
    }
    await rejectsWithCode(ctx.modexpBatch([g.g, bad], [Buffer.from([1]), Buffer.from([1])]), CryptoErr.NATIVE_BAD_ARG);
  });

  it('OAKLEY_MODEXP=portable keeps batches on OpenSSL (same results)', () => {
    const probe = `
      const a = require(${JSON.stringify(addonPath())});
      const p = Buffer.from(${JSON.stringify(modp(14).p.toString('hex'))}, 'hex');
      const c = new a.ModpContext(p);
      const r = c.modexpBatchSync([Buffer.from([2]), Buffer.from([3])], [Buffer.from([200]), Buffer.from([100])]);
      process.stdout.write(JSON.stringify({ k: a.modexpKernels(), batch: c.batchKernel, r: r.map((b) => b.toString('hex')) }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', probe], { env: { ...process.env, OAKLEY_MODEXP: 'portable' }, encoding: 'utf8' })) as
      { k: { ifmaCpu: boolean; portableForced: boolean }; batch: string; r: string[] };
    assert.deepEqual(out.k, { ifmaCpu: true, portableForced: true });
    assert.equal(out.batch, 'portable');
    const p = modp(14).pBig;
    assert.deepEqual(out.r, [bigToBuf(powmod(2n, 200n, p), 256).toString('hex'), bigToBuf(powmod(3n, 100n, p), 256).toString('hex')]);
  });
});
