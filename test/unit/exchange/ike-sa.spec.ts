/** IkeSa: the setState() choke point, counters, failure reasons, timers, keys, message IDs. */
import assert from 'node:assert/strict';

import { IKE_SA_TRANSITIONS, IkeSa, IkeSaState, SaErr, type IkeSaState as State } from '../../../src/exchange/ike-sa';
import { ManualClock } from '../../../src/util/clock';
import { Counters } from '../../../src/util/counters';
import { OakleyError } from '../../../src/util/errors';
import { memoryLogger } from '../../../src/util/log';
import { SeededRng } from '../../../src/util/prng';

function newSa(role: 'initiator' | 'responder' = 'initiator') {
  const clock = new ManualClock();
  const counters = new Counters();
  const { log, lines } = memoryLogger();
  const sa = new IkeSa({
    role,
    clock,
    counters,
    log,
    serial: 1,
    local: { address: '192.0.2.1', port: 500 },
    peer: { address: '198.51.100.2', port: 500 },
    icookie: Buffer.from('0102030405060708', 'hex'),
  });
  return { sa, clock, counters, lines };
}

const ALL = Object.values(IkeSaState) as State[];
/** A path of legal moves from CREATED to each state. */
const PATH: Record<State, State[]> = {
  CREATED: [],
  CONNECTING: ['CONNECTING'],
  ESTABLISHED: ['CONNECTING', 'ESTABLISHED'],
  REKEYING: ['CONNECTING', 'ESTABLISHED', 'REKEYING'],
  REKEYED: ['CONNECTING', 'ESTABLISHED', 'REKEYED'],
  DELETING: ['DELETING'],
  DESTROYED: ['DESTROYED'],
};

describe('IkeSa.setState', () => {
  for (const from of ALL) {
    for (const to of ALL) {
      const legal = IKE_SA_TRANSITIONS[from].includes(to);
      it(`${legal ? 'allows' : 'refuses'} ${from} -> ${to}`, () => {
        const { sa, lines } = newSa();
        for (const s of PATH[from]) sa.setState(s, 'setup');
        if (legal) {
          sa.setState(to, 'test');
          assert.equal(sa.state, to);
          assert.ok(lines.some((l) => l.includes(`${from} -> ${to} (test)`)), lines.join('\n'));
        } else {
          assert.throws(() => sa.setState(to, 'test'), (e: unknown) => OakleyError.is(e, SaErr.ILLEGAL_STATE_CHANGE));
          assert.equal(sa.state, from);
        }
      });
    }
  }

  it('counts attempts, successes and current SAs per role', () => {
    const { sa, counters } = newSa('responder');
    sa.setState('CONNECTING', 'MM1 received');
    sa.setState('ESTABLISHED', 'MM5 verified');
    assert.deepEqual(counters.snapshot('p1.'), { 'p1.responder.attempts': 1, 'p1.responder.current': 1, 'p1.responder.total': 1 });
    sa.setState('DELETING', 'lifetime');
    assert.equal(counters.get('p1.responder.current'), 0);
    assert.equal(sa.closeReason?.text, 'lifetime');
  });

  it('keeps the failure reason and splits initiator failures into noresp / respfail', () => {
    for (const peerAnswered of [false, true]) {
      const { sa, counters } = newSa();
      sa.setState('CONNECTING', 'initiate');
      sa.setState('DESTROYED', { text: peerAnswered ? 'NO-PROPOSAL-CHOSEN' : 'retransmit limit', code: 'IKE_ERR_X', peerAnswered });
      assert.equal(sa.failureReason?.code, 'IKE_ERR_X');
      assert.equal(counters.get('p1.initiator.failed'), 1);
      assert.equal(counters.get(peerAnswered ? 'p1.initiator.respfail' : 'p1.initiator.noresp'), 1);
      assert.equal(counters.get('p1.initiator.current'), 0);
    }
  });

  it('on DESTROYED cancels timers, wipes keys, and notifies listeners', () => {
    const { sa, clock } = newSa();
    let fired = false;
    sa.setTimer('expire', 1000, () => { fired = true; });
    const skeyid = Buffer.from('secretsecret');
    sa.keys.SKEYID = skeyid;
    sa.keys.phase2Iv.set(5, Buffer.alloc(16, 9));
    const changes: string[] = [];
    sa.onStateChange((c) => changes.push(`${c.from}>${c.to}`));
    sa.setState('DESTROYED', 'test');
    clock.advance(2000);
    assert.equal(fired, false);
    assert.ok(skeyid.every((b) => b === 0));
    assert.equal(sa.keys.SKEYID, undefined);
    assert.equal(sa.keys.wiped, true);
    assert.deepEqual(changes, ['CREATED>DESTROYED']);
    assert.throws(() => sa.setTimer('x', 1, () => undefined), (e: unknown) => OakleyError.is(e, SaErr.SA_DESTROYED));
  });

  it('usableForQuickMode only when ESTABLISHED or REKEYING (never REKEYED)', () => {
    const { sa } = newSa();
    const seen: [string, boolean][] = [];
    for (const s of ['CONNECTING', 'ESTABLISHED', 'REKEYING', 'REKEYED', 'DELETING'] as const) {
      sa.setState(s, 't');
      seen.push([s, sa.usableForQuickMode()]);
    }
    assert.deepEqual(seen, [['CONNECTING', false], ['ESTABLISHED', true], ['REKEYING', true], ['REKEYED', false], ['DELETING', false]]);
  });
});

describe('IkeSa data', () => {
  it('allocates unique non-zero message IDs and tracks the peer\'s', () => {
    const { sa } = newSa();
    const rng = new SeededRng(3);
    const ids = new Set<number>();
    for (let i = 0; i < 200; i++) ids.add(sa.allocateMessageId(() => rng.nextUint32()));
    assert.equal(ids.size, 200);
    assert.ok(!ids.has(0));
    const stuck = [0, 7, 7, 7];
    assert.equal(sa.registerPeerMessageId(7), true);
    assert.equal(sa.registerPeerMessageId(7), false);
    assert.equal(sa.registerPeerMessageId(0), false);
    assert.throws(() => sa.allocateMessageId(() => stuck[0]), (e: unknown) => OakleyError.is(e, SaErr.MESSAGE_ID_EXHAUSTED));
  });

  it('remembers message IDs the same way below and above the array-to-Set switch (8)', () => {
    const { sa } = newSa();
    for (let id = 1; id <= 20; id++) {
      assert.equal(sa.registerPeerMessageId(id * 1000), true, `first ${id}`);
      for (let old = 1; old <= id; old++) assert.equal(sa.registerPeerMessageId(old * 1000), false, `again ${old} after ${id}`);
      assert.equal(sa.messageIdCount, id);
      assert.equal(sa.hasMessageId(id * 1000 + 1), false);
    }
    assert.throws(() => sa.allocateMessageId(() => 5000), (e: unknown) => OakleyError.is(e, SaErr.MESSAGE_ID_EXHAUSTED)); // taken
    assert.equal(sa.allocateMessageId(() => 5001), 5001);
    assert.equal(sa.hasMessageId(5001), true);
  });

  it('sets the responder cookie once and describes keys redacted', () => {
    const { sa } = newSa();
    assert.equal(sa.cookieString(), '0102030405060708:0000000000000000');
    sa.setRcookie(Buffer.alloc(8, 0xab));
    sa.setRcookie(Buffer.alloc(8, 0xab));
    assert.throws(() => sa.setRcookie(Buffer.alloc(8, 1)));
    sa.keys.SKEYID_e = Buffer.alloc(20, 1);
    assert.equal(String(sa.keys.describe().SKEYID_e), '<redacted 20 bytes>');
  });

  it('replaces a timer of the same name', () => {
    const { sa, clock } = newSa();
    const fired: string[] = [];
    sa.setTimer('retransmit', 100, () => fired.push('first'));
    sa.setTimer('retransmit', 200, () => fired.push('second'));
    clock.advance(300);
    assert.deepEqual(fired, ['second']);
    assert.equal(sa.hasTimer('retransmit'), false);
  });
});
