/**
 * Floods of first Main Mode messages from spoofed sources (issue 9): the half-open cap and the
 * per-source rate keep the responder's state bounded, drops are counted, and a real peer's
 * negotiation completes while the flood goes on.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { Admission, DEFAULT_ADMISSION } from '../../../src/exchange/ikev1/admission';
import { buildP1SaPayload } from '../../../src/exchange/ikev1/proposals';
import type { Phase1Context } from '../../../src/exchange/ikev1/phase1-context';
import { ManualClock } from '../../../src/util/clock';
import { Counters } from '../../../src/util/counters';
import { ExchangeType } from '../../../src/wire/ikev1/types';
import { encodeMessage } from '../../../src/wire/ikev1/message';
import { A, B, makeBed, pskCredentials } from './harness';
import { P1_AES128, p2, qmRule, sleep, waitFor } from './phase2-helpers';

const PSK_A = pskCredentials({ [B.address]: 'flood secret' });
const PSK_B = pskCredentials({ [A.address]: 'flood secret' });

function mm1(): Buffer {
  const header = { icookie: randomBytes(8), rcookie: Buffer.alloc(8), nextPayload: 0, version: 0x10, exchangeType: ExchangeType.IDENTITY_PROTECTION, flags: 0, messageId: 0 };
  return encodeMessage(header, [buildP1SaPayload([P1_AES128])]).datagram;
}

describe('admission: per-source rate and half-open cap', () => {
  const fake = (n: number) => ({ n }) as unknown as Phase1Context;

  it('a source gets its burst, then its rate; other sources are not affected', () => {
    const clock = new ManualClock(0);
    const counters = new Counters();
    const adm = new Admission({ maxHalfOpen: 0, perSourceRate: 10, perSourceBurst: 5 }, clock, counters);
    const admitted = Array.from({ length: 8 }, () => adm.admitSource('198.51.100.1')).filter(Boolean).length;
    assert.equal(admitted, 5);
    assert.equal(counters.get('p1.rate_limited'), 3);
    assert.equal(adm.admitSource('198.51.100.2'), true);
    clock.advance(100); // one token at 10/s
    assert.equal(adm.admitSource('198.51.100.1'), true);
    assert.equal(adm.admitSource('198.51.100.1'), false);
    clock.advance(60_000); // refills, but never above the burst
    assert.equal(Array.from({ length: 8 }, () => adm.admitSource('198.51.100.1')).filter(Boolean).length, 5);
  });

  it('the oldest embryonic SA makes room; settled SAs leave the count', () => {
    const counters = new Counters();
    const adm = new Admission({ ...DEFAULT_ADMISSION, maxHalfOpen: 3 }, new ManualClock(0), counters);
    const sas = [0, 1, 2, 3, 4].map(fake);
    assert.equal(adm.addEmbryonic(sas[0]!), undefined);
    adm.addEmbryonic(sas[1]!);
    adm.addEmbryonic(sas[2]!);
    adm.settled(sas[1]!);
    assert.equal(adm.addEmbryonic(sas[3]!), undefined, 'room after one settled');
    assert.equal(adm.addEmbryonic(sas[4]!), sas[0], 'the oldest goes');
    assert.equal(adm.halfOpen, 3);
    assert.equal(counters.get('p1.half_open_evicted'), 1);
    assert.equal(counters.get('p1.half_open.current'), 3);
  });
});

describe('IKEv1 responder under a flood of spoofed MM1', function () {
  this.timeout(30_000);

  it('stays within the cap, counts the drops, and a real negotiation completes during the flood', async () => {
    const bed = await makeBed({
      rulesA: [qmRule('to-b', p2())], rulesB: [qmRule('any', p2())], credsA: PSK_A, credsB: PSK_B,
      settingsB: { admission: { maxHalfOpen: 200, perSourceRate: 5, perSourceBurst: 20 } },
    });
    const spoofers = Array.from({ length: 40 }, (_, i) => ({ address: `198.51.100.${i + 1}`, port: 500 }));
    const wires = spoofers.map((s) => bed.net.attach([s]));
    let stop = false;
    let sent = 0;
    let peak = 0;
    const flood = (async () => {
      while (!stop) {
        for (let i = 0; i < spoofers.length; i++) wires[i]!.send(mm1(), B, spoofers[i]!);
        sent += spoofers.length;
        peak = Math.max(peak, bed.b.engine.phase1Sas().length);
        await sleep(1);
      }
    })();
    try {
      await sleep(50);
      const ctx = await bed.a.engine.initiate(A, B);
      const pair = await bed.a.engine.quickMode(ctx);
      assert.ok(pair.inbound.spi > 0);
      await waitFor(() => sent >= 4000, 'the flood to reach 4000 packets', 20_000);
      stop = true;
      await flood;
      const c = bed.b.counters;
      if (process.env.FLOOD_DEBUG) console.log(sent, peak, c.snapshot());
      assert.ok(sent >= 4000, `flood sent ${sent}`);
      assert.ok(peak <= 200 + 2, `responder SAs peaked at ${peak} (cap 200 embryonic + the real one)`);
      assert.ok(c.get('p1.rate_limited') > 0, 'per-source rate limiting dropped some');
      assert.ok(c.get('p1.half_open_evicted') > 0, 'the cap evicted some');
      assert.equal(c.get('p1.rate_limited') + c.get('p1.created'), sent + 1, 'every MM1 was either refused or admitted');
      await waitFor(() => bed.b.kernel.size === 2, 'B installed the real pair');
    } finally {
      stop = true;
      await flood;
      await bed.close();
    }
  });
});
