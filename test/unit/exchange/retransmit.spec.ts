/** Retransmission timeline, response cache, expire_timer. */
import assert from 'node:assert/strict';

import { armExpireTimer, RETRANSMIT_DEFAULTS, ResponseCache, Retransmitter, retransmitSchedule, sameDatagram } from '../../../src/exchange/retransmit';
import { ManualClock } from '../../../src/util/clock';
import { Counters } from '../../../src/util/counters';

describe('Retransmitter', () => {
  it('has the Solaris schedule 0.5/1/2/4/8 s then a 16 s final wait', () => {
    assert.deepEqual(retransmitSchedule(), [500, 1000, 2000, 4000, 8000, 16000]);
    assert.deepEqual(retransmitSchedule({ initMs: 500, maxMs: 3000, limit: 5 }), [500, 1000, 2000, 3000, 3000, 3000]);
  });

  it('sends at 0, retransmits at 0.5/1.5/3.5/7.5/15.5 s and gives up at 31.5 s', () => {
    const clock = new ManualClock();
    const sends: [number, number][] = [];
    let gaveUpAt = -1;
    const counters = new Counters();
    const r = new Retransmitter(clock, { send: (_d, a) => sends.push([clock.now(), a]), giveUp: () => { gaveUpAt = clock.now(); } }, RETRANSMIT_DEFAULTS, counters);
    r.start(Buffer.from('MM1'));
    clock.advance(60_000);
    assert.deepEqual(sends, [[0, 0], [500, 1], [1500, 2], [3500, 3], [7500, 4], [15500, 5]]);
    assert.equal(gaveUpAt, 31500);
    assert.equal(r.active, false);
    assert.deepEqual(counters.snapshot(), { 'retransmit.first_send': 1, 'retransmit.gave_up': 1, 'retransmit.resent': 5 });
  });

  it('stops when the answer arrives and restarts the schedule for the next request', () => {
    const clock = new ManualClock();
    const sends: string[] = [];
    let gaveUp = false;
    const r = new Retransmitter(clock, { send: (d) => sends.push(`${d}@${clock.now()}`), giveUp: () => { gaveUp = true; } });
    r.start(Buffer.from('MM1'));
    clock.advance(700);
    r.start(Buffer.from('MM3'));
    clock.advance(600);
    r.stop();
    clock.advance(100_000);
    assert.deepEqual(sends, ['MM1@0', 'MM1@500', 'MM3@700', 'MM3@1200']);
    assert.equal(gaveUp, false);
  });
});

describe('ResponseCache', () => {
  const req = Buffer.from('request-1');
  it('classifies new, busy (in progress) and replay (answered) requests', () => {
    const counters = new Counters();
    const c = new ResponseCache(2, counters);
    assert.equal(c.check(req).kind, 'new');
    c.begin(req);
    assert.equal(c.check(Buffer.from('request-1')).kind, 'busy');
    c.answer(req, [Buffer.from('response-1')]);
    const v = c.check(Buffer.from('request-1'));
    assert.equal(v.kind, 'replay');
    assert.deepEqual(v.kind === 'replay' && v.responses.map(String), ['response-1']);
    assert.equal(c.check(Buffer.from('request-2')).kind, 'new');
    assert.deepEqual(counters.snapshot(), { 'duplicate.busy': 1, 'duplicate.replayed': 1 });
  });

  it('does not match datagrams of different length or content, and evicts the oldest', () => {
    const c = new ResponseCache(2);
    c.answer(Buffer.from('a'), [Buffer.from('A')]);
    c.answer(Buffer.from('b'), [Buffer.from('B')]);
    assert.equal(c.check(Buffer.from('aa')).kind, 'new');
    c.answer(Buffer.from('c'), [Buffer.from('C')]);
    assert.equal(c.check(Buffer.from('a')).kind, 'new');
    assert.equal(c.check(Buffer.from('c')).kind, 'replay');
    c.forget(Buffer.from('c'));
    assert.equal(c.check(Buffer.from('c')).kind, 'new');
    assert.equal(sameDatagram(Buffer.from('x'), Buffer.from('xy')), false);
  });

  it('finish(tag, last) forgets an exchange\'s requests but an answered last one; other tags stay', () => {
    const c = new ResponseCache(8);
    c.answer(Buffer.from('qm1'), [Buffer.from('qm2')], 7);
    c.answer(Buffer.from('other'), [Buffer.from('x')], 9);
    c.answer(Buffer.from('qm3'), [], 7);
    c.finish(7, Buffer.from('qm3')); // QM3 answered with silence: nothing of 7 remains
    assert.equal(c.check(Buffer.from('qm1')).kind, 'new');
    assert.equal(c.check(Buffer.from('qm3')).kind, 'new');
    assert.equal(c.check(Buffer.from('other')).kind, 'replay');
    c.answer(Buffer.from('qm2'), [Buffer.from('qm3')], 8);
    c.answer(Buffer.from('qm1b'), [Buffer.from('qm2b')], 8);
    c.finish(8, Buffer.from('qm1b')); // an answered last request stays for a retransmission of it
    assert.equal(c.check(Buffer.from('qm2')).kind, 'new');
    const v = c.check(Buffer.from('qm1b'));
    assert.deepEqual(v.kind === 'replay' && v.responses.map(String), ['qm2b']);
    assert.equal(c.size, 2);
  });

  it('keepLast keeps the newest request only when it was answered', () => {
    const c = new ResponseCache(4);
    c.answer(Buffer.from('mm3'), [Buffer.from('mm4')]);
    c.answer(Buffer.from('mm5'), [Buffer.from('mm6')]);
    c.keepLast();
    assert.equal(c.size, 1);
    assert.equal(c.check(Buffer.from('mm5')).kind, 'replay');
    c.answer(Buffer.from('mm6'), []);
    c.keepLast();
    assert.equal(c.size, 0);
  });
});

describe('expire_timer', () => {
  it('fires after 300 s unless cancelled', () => {
    const clock = new ManualClock();
    let at = -1;
    armExpireTimer(clock, () => { at = clock.now(); });
    const h = armExpireTimer(clock, () => assert.fail('cancelled timer fired'));
    clock.cancel(h);
    clock.advance(299_999);
    assert.equal(at, -1);
    clock.advance(1);
    assert.equal(at, 300_000);
  });
});
