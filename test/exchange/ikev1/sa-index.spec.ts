/**
 * The engine's per-peer indexes (engine.ts phase1SasWith, phase2-state.ts addPair): the questions
 * asked on every negotiation (INITIAL-CONTACT, an SA to reuse, a Delete's SPI, a kernel expire's
 * SA) are answered from the peer's SAs or an SA-key map instead of a copy of every SA the daemon
 * holds. These check that the indexes hold exactly what the full lists would answer, through
 * creation, deletion, failure and pair removal.
 */
import assert from 'node:assert/strict';

import { hasPairsWith, pairOf, pairWithSpi, removePair } from '../../../src/exchange/ikev1/phase2-state';
import { A, B, makeBed, pskCredentials } from './harness';
import { p2, pairsOf, qmRule, waitFor } from './phase2-helpers';

const pskBed = () => makeBed({ rulesA: [qmRule('to-b', p2())], rulesB: [qmRule('from-a', p2())],
  credsA: pskCredentials({ [B.address]: 'index secret' }), credsB: pskCredentials({ [A.address]: 'index secret' }) });

describe('IKEv1 engine SA indexes', function () {
  this.timeout(60_000);

  it('files Phase 1 SAs by peer: two SAs, newest reused, deletion and failure unfile them', async () => {
    const bed = await pskBed();
    try {
      const e = bed.a.engine;
      const first = await e.initiate(A, B);
      const second = await e.initiate(A, B);
      assert.deepEqual([...e.phase1SasWith(B.address)], [first, second]);
      assert.equal(e.phase1SasWith('192.0.2.77').size, 0);
      assert.equal(e.established(B), second, 'the newest usable SA');
      assert.deepEqual(e.phase1Sas().filter((c) => c.sa.peer.address === B.address), [...e.phase1SasWith(B.address)]);
      e.deletePhase1(second, 'test');
      assert.deepEqual([...e.phase1SasWith(B.address)], [first]);
      assert.equal(e.established(B), first);
      e.fail(first, new Error('test failure'), false);
      assert.equal(e.phase1SasWith(B.address).size, 0);
      assert.equal(e.established(B), undefined);
      assert.equal(e.phase1Count, 0);
    } finally {
      await bed.close();
    }
  });

  it('files IPsec SA pairs by peer and by SA: pairOf, pairWithSpi and hasPairsWith follow removal', async () => {
    const bed = await pskBed();
    try {
      const e = bed.a.engine;
      const ctx = await e.initiate(A, B);
      const one = await e.quickMode(ctx);
      const two = await e.quickMode(ctx);
      await waitFor(() => pairsOf(e).length === 2, 'two pairs');
      assert.deepEqual(pairsOf(e), [one, two]);
      assert.equal(hasPairsWith(e, B.address), true);
      assert.equal(hasPairsWith(e, '192.0.2.77'), false);
      for (const p of [one, two]) {
        assert.equal(pairOf(e, p.inbound), p);
        assert.equal(pairOf(e, p.outbound), p);
        assert.equal(pairWithSpi(e, B.address, 'esp', p.outbound.spi), p, 'a Delete names the SPI its sender receives on');
        assert.equal(pairWithSpi(e, B.address, 'esp', p.inbound.spi), p, 'our own inbound SPI is accepted too');
        assert.equal(pairWithSpi(e, '192.0.2.77', 'esp', p.outbound.spi), undefined, 'another peer cannot name it');
      }
      assert.equal(pairOf(e, { ...one.inbound, spi: (one.inbound.spi ^ 0x5a5a5a5a) >>> 0 }), undefined);
      await removePair(e, one, 'test');
      assert.equal(pairOf(e, one.inbound), undefined);
      assert.equal(pairWithSpi(e, B.address, 'esp', one.outbound.spi), undefined);
      assert.deepEqual(pairsOf(e), [two]);
      await removePair(e, two, 'test');
      assert.equal(hasPairsWith(e, B.address), false);
    } finally {
      await bed.close();
    }
  });
});
