/** Group table, exponent policy and peer-value validation (shared by every path). */
import assert from 'node:assert/strict';
import { createDiffieHellmanGroup, randomFillSync } from 'node:crypto';

import {
  SUPPORTED_GROUPS, bigToBuf, defaultExponentBits, exponentBitsFor, getGroup, randomExponent, validateEcpPublic,
  validateModpPublic, type EcpGroup, type ModpGroup,
} from '../../../src/crypto/groups';
import { OakleyError } from '../../../src/util/errors';

const leftPadTo = (b: Buffer, n: number) => Buffer.concat([Buffer.alloc(n - b.length), b]);

const modp = (id: number) => getGroup(id) as ModpGroup;
const ecp = (id: number) => getGroup(id) as EcpGroup;

describe('DH groups', () => {
  it('covers the groups of RFC 2409, 3526, 5114 and 5903', () => {
    assert.deepEqual(SUPPORTED_GROUPS, [1, 2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]);
  });

  it('has the RFC 3526 primes that node:crypto knows', () => {
    for (const [id, name] of [[1, 'modp1'], [2, 'modp2'], [5, 'modp5'], [14, 'modp14'], [18, 'modp18']] as const) {
      assert.ok(modp(id).p.equals(createDiffieHellmanGroup(name).getPrime()), `group ${id}`);
    }
  });

  it('rejects an unknown group with a coded error naming it', () => {
    assert.throws(() => getGroup(3), (e: unknown) => OakleyError.is(e, 'IKE_ERR_UNKNOWN_GROUP') && /group 3/.test(e.message));
  });

  it('picks exponent lengths: >= 2x strength, whole 64-bit words, >= OpenSSL, < |p|', () => {
    const expect: Record<number, number> = { 1: 767, 2: 1023, 5: 256, 14: 256, 15: 320, 16: 384, 17: 384, 18: 448 };
    for (const [id, bits] of Object.entries(expect)) assert.equal(defaultExponentBits(modp(+id)), bits, `group ${id}`);
    assert.equal(exponentBitsFor(modp(14), 'full'), 2047);
    assert.equal(exponentBitsFor(modp(24)), 256); // RFC 5114: x below q, whatever was asked
    assert.throws(() => exponentBitsFor(modp(14), 100), /between 224/);
    assert.throws(() => exponentBitsFor(modp(14), 2048), /between/);
  });

  it('draws exponents of exactly the requested length, and below q for RFC 5114 groups', () => {
    for (let i = 0; i < 50; i++) {
      const x = randomExponent(modp(14), 256, randomFillSync);
      assert.equal(x.length, 32);
      assert.ok(x[0] & 0x80);
      const y = randomExponent(modp(22), 160, randomFillSync);
      assert.ok(BigInt('0x' + y.toString('hex')) < modp(22).qBig!);
    }
  });

  it('validates MODP peer values: 1 < y < p-1, exact length', () => {
    const g = modp(14);
    const bad = [0n, 1n, g.pBig - 1n, g.pBig];
    for (const v of bad) {
      const buf = v < g.pBig ? bigToBuf(v, g.size) : g.p;
      assert.throws(() => validateModpPublic(g, buf), (e: unknown) => OakleyError.is(e, 'IKE_ERR_INVALID_KE_VALUE'));
    }
    assert.throws(() => validateModpPublic(g, Buffer.alloc(255, 1)), /length 255 bytes, expected 256/);
    assert.throws(() => validateModpPublic(g, Buffer.alloc(256, 0xff)), /not below p/);
    assert.throws(() => validateModpPublic(g, bigToBuf(1n, g.size)), /0 or 1/);
    validateModpPublic(g, bigToBuf(2n, g.size));
    validateModpPublic(g, bigToBuf(g.pBig - 2n, g.size));
    validateModpPublic(g, bigToBuf(1n << 2040n, g.size)); // high bytes set, low ones zero
  });

  it('requires RFC 5114 peer values to lie in the order-q subgroup (RFC 6989 §2.2)', () => {
    for (const id of [22, 23, 24]) {
      const g = modp(id);
      validateModpPublic(g, leftPadTo(g.g, g.size)); // g itself generates the subgroup
      // 2 is not in the subgroup of any of these groups (the published vectors' values are).
      assert.throws(() => validateModpPublic(g, bigToBuf(2n, g.size)), /not in the prime-order subgroup/, `group ${id}`);
    }
  });

  it('validates ECP peer values: on the curve, coordinates below p, exact length', () => {
    const g = ecp(19);
    const gen = Buffer.from('6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296' +
      '4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5', 'hex'); // P-256 base point
    assert.deepEqual(validateEcpPublic(g, gen).subarray(1), gen);
    const off = Buffer.from(gen);
    off[63] ^= 1;
    assert.throws(() => validateEcpPublic(g, off), /not on the curve/);
    assert.throws(() => validateEcpPublic(g, Buffer.alloc(64)), /not on the curve/);
    assert.throws(() => validateEcpPublic(g, gen.subarray(1)), /length 63 bytes, expected 64/);
    assert.throws(() => validateEcpPublic(g, Buffer.concat([bigToBuf(g.p, 32), gen.subarray(32)])), /below the field prime/);
  });
});
