/**
 * Main Mode between two engines in one process.
 *
 *   A (initiator)                         B (responder)
 *   MM1 HDR, SA, VIDs            -->
 *                                <--      MM2 HDR, SA, VIDs
 *   MM3 HDR, KE, Ni, NAT-D x2    -->
 *                                <--      MM4 HDR, KE, Nr, NAT-D x2
 *   MM5 HDR*, IDii, HASH_I       -->
 *                                <--      MM6 HDR*, IDir, HASH_R
 */
import assert from 'node:assert/strict';

import type { Ikev1Rule } from '../../../src/exchange/ikev1/config';
import { CryptoErr, OakleyError } from '../../../src/util/errors';
import { NotifyType } from '../../../src/wire/ikev1/iana';
import type { P1Transform } from '../../../src/exchange/ikev1/proposals';
import type { SharedSecret } from '../../../src/crypto/types';
import { A, B, makeBed, pskCredentials, type Bed } from './harness';

function rule(label: string, p1: P1Transform[]): Ikev1Rule {
  return {
    label, mode: 'main', p1,
    p2: { esp: [{ encr: 'aes', keyLengths: { min: 128, max: 128 }, auth: 'hmac-sha256' }], pfsGroup: 14, lifetimeSeconds: 3600, mode: 'tunnel' },
  };
}

const SUITES: [string, P1Transform][] = [
  ['3des-sha1-modp1024', { encr: '3des', hash: 'sha1', auth: 'preshared', group: 2, lifetimeSeconds: 3600 }],
  ['aes128-sha256-modp2048', { encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', auth: 'preshared', group: 14, lifetimeSeconds: 3600 }],
  ['aes128-sha256-ecp256', { encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', auth: 'preshared', group: 19, lifetimeSeconds: 3600 }],
];

/** Main Mode with one PSK suite between A and B. */
function pskBed() {
  const t = SUITES[1][1];
  return makeBed({
    rulesA: [rule('to-b', [t])], rulesB: [rule('from-a', [t])],
    credsA: pskCredentials({ [B.address]: 'secret one' }), credsB: pskCredentials({ [A.address]: 'secret one' }),
  });
}

/** Only B's suite gets the wrapped g^xy (the providers behind both suites are shared). */
function slowOrFailingGxy(bed: Bed, gxy: (compute: (peer: Buffer) => Promise<SharedSecret>, peer: Buffer) => Promise<SharedSecret>): void {
  const ke = bed.b.crypto.ke;
  (bed.b.crypto as { ke: typeof ke }).ke = { path: ke.path, supports: (g) => ke.supports(g), create: async (group, options) => {
    const k = await ke.create(group, options);
    const compute = k.computeSharedSecret.bind(k);
    return Object.assign(Object.create(k) as typeof k, { computeSharedSecret: (peer: Buffer) => gxy(compute, peer) });
  } };
}

describe('IKEv1 Main Mode with pre-shared keys', function () {
  this.timeout(30_000);
  for (const [name, t] of SUITES) {
    it(`${name}: both sides establish the ISAKMP SA with identical keys`, async () => {
      const bed = await makeBed({
        rulesA: [rule('to-b', [t])], rulesB: [rule('from-a', [t])],
        credsA: pskCredentials({ [B.address]: 'secret one' }), credsB: pskCredentials({ [A.address]: 'secret one' }),
      });
      try {
        const ctx = await bed.a.engine.initiate(A, B);
        const peer = bed.b.engine.phase1Sas()[0];
        assert.equal(ctx.sa.state, 'ESTABLISHED');
        await new Promise((r) => setTimeout(r, 10));
        assert.equal(peer.sa.state, 'ESTABLISHED');
        for (const k of ['SKEYID', 'SKEYID_d', 'SKEYID_a', 'SKEYID_e', 'encKey', 'iv'] as const) {
          assert.ok(ctx.sa.keys[k]!.equals(peer.sa.keys[k]!), `${k} differs`);
        }
      } finally {
        await bed.close();
      }
    });
  }

  it('a wrong pre-shared key fails on both sides with AUTHENTICATION-FAILED', async () => {
    const t = SUITES[1][1];
    const bed = await makeBed({
      rulesA: [rule('to-b', [t])], rulesB: [rule('from-a', [t])],
      credsA: pskCredentials({ [B.address]: 'secret one' }), credsB: pskCredentials({ [A.address]: 'secret two' }),
    });
    try {
      await assert.rejects(bed.a.engine.initiate(A, B), /reported AUTHENTICATION_FAILED during Phase 1/);
      assert.equal(bed.b.counters.get('p1.failed'), 1);
      assert.equal(bed.b.counters.get('tx.notify.AUTHENTICATION_FAILED'), 1);
      assert.ok(bed.b.logs.some((l) => /pre-shared keys probably differ/.test(l)));
      assert.equal(bed.a.engine.phase1Sas().length + bed.b.engine.phase1Sas().length, 0, 'no state left');
    } finally {
      await bed.close();
    }
  });

  it('when the Phase 1 lifetime runs out the ISAKMP SA is deleted on both sides, with a Delete', async () => {
    const t: P1Transform = { ...SUITES[1][1], lifetimeSeconds: 1 };
    const bed = await makeBed({
      rulesA: [rule('to-b', [t])], rulesB: [rule('from-a', [{ ...t, lifetimeSeconds: 3600 }])],
      credsA: pskCredentials({ [B.address]: 'secret one' }), credsB: pskCredentials({ [A.address]: 'secret one' }),
    });
    try {
      await bed.a.engine.initiate(A, B);
      const gone = () => bed.a.engine.phase1Sas().length + bed.b.engine.phase1Sas().length === 0;
      for (let i = 0; i < 100 && !gone(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(gone(), 'both ISAKMP SAs deleted');
      // Both sides run the negotiated lifetime: whichever expires first sends a Delete; the other
      // either receives it (and deletes) or expires on its own and sends one too.
      const sent = bed.a.counters.get('tx.delete.ISAKMP') + bed.b.counters.get('tx.delete.ISAKMP');
      const received = bed.a.counters.get('rx.delete.ISAKMP') + bed.b.counters.get('rx.delete.ISAKMP');
      assert.ok(sent >= 1, 'a Delete was sent');
      assert.ok(sent === 2 || received === 1, `sent ${sent}, received ${received}`);
    } finally {
      await bed.close();
    }
  });

  it('a failure of the responder\'s own crypto path (token gone) is reported to the initiator, which stops at once', async () => {
    const bed = await pskBed();
    try {
      slowOrFailingGxy(bed, async () => {
        throw new OakleyError(CryptoErr.NO_TOKEN, 'C_DeriveKey failed: CKR_TOKEN_NOT_PRESENT (token missing or removed)');
      });
      await assert.rejects(bed.a.engine.initiate(A, B), /reported INVALID_KEY_INFORMATION during Phase 1/);
      assert.equal(bed.b.counters.get('tx.notify.INVALID_KEY_INFORMATION'), 1);
      assert.ok(bed.b.logs.some((l) => /failed: C_DeriveKey failed: CKR_TOKEN_NOT_PRESENT/.test(l)));
      assert.equal(bed.a.counters.get('retransmit.resent'), 0, 'the initiator did not wait for its retransmission limit');
      assert.equal(bed.a.engine.phase1Sas().length + bed.b.engine.phase1Sas().length, 0, 'no state left');
    } finally {
      await bed.close();
    }
  });

  it('a protected error from a responder that never got MM5 (chain still at the initial IV) fails the initiator at once', async () => {
    const bed = await pskBed();
    try {
      // Every encrypted Main Mode datagram from A (MM5 and its retransmissions) is lost.
      bed.net.impair({ kind: 'drop', match: (p) => p.from.address === A.address && p.data[18] === 2 && (p.data[19] & 1) === 1 });
      const initiated = bed.a.engine.initiate(A, B);
      initiated.catch(() => undefined);
      let bctx = bed.b.engine.phase1Sas()[0];
      for (let i = 0; i < 200 && !(bctx?.sa.keys.encKey && bed.a.counters.get('retransmit.first_send') >= 3); i++) {
        await new Promise((r) => setTimeout(r, 5));
        bctx = bed.b.engine.phase1Sas()[0];
      }
      assert.ok(bctx?.sa.keys.encKey, 'B derived its keys after MM3');
      assert.ok(!bctx.sa.keys.iv!.equals(bed.a.engine.phase1Sas()[0].sa.keys.iv!), 'A\'s chain moved on with MM5, B\'s did not');
      // B gives the SA up as strongSwan does: a protected Informational, IV from its own chain.
      bed.b.engine.sendNotify(bctx, NotifyType.INVALID_PAYLOAD_TYPE, true);
      await assert.rejects(initiated, /reported INVALID_PAYLOAD_TYPE during Phase 1 \(protected Informational\)/);
      assert.equal(bed.a.counters.get('rx.bad_hash'), 0);
      assert.equal(bed.a.engine.phase1Sas().length, 0, 'A holds nothing');
    } finally {
      await bed.close();
    }
  });

  // MM4 is sent before the responder computes g^xy, so the initiator (computing the same at the
  // same time) can send MM5 while the responder is still busy with MM3.
  //   A: MM3 -->  B: MM4 <-- (B still deriving g^xy)  A: MM5 --> (waits)  B: MM6 <-- once done
  it('an MM5 that overtakes the responder\'s own key derivation waits instead of costing a retransmission', async () => {
    const bed = await pskBed();
    try {
      slowOrFailingGxy(bed, async (compute, peer) => {
        await new Promise((r) => setTimeout(r, 150));
        return compute(peer);
      });
      const t0 = performance.now();
      const ctx = await bed.a.engine.initiate(A, B);
      assert.equal(ctx.sa.state, 'ESTABLISHED');
      assert.equal(bed.b.counters.get('rx.deferred'), 1, 'MM5 waited for the responder');
      assert.equal(bed.b.counters.get('rx.busy'), 0);
      assert.equal(bed.a.counters.get('retransmit.resent'), 0, 'no retransmission was needed');
      assert.ok(performance.now() - t0 < 450, `established in ${(performance.now() - t0).toFixed(0)} ms, before the first retransmission`);
    } finally {
      await bed.close();
    }
  });
});
