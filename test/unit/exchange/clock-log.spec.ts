/** ManualClock ordering, the logger's keymat gate, counters. */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';

import { ManualClock } from '../../../src/util/clock';
import { Counters } from '../../../src/util/counters';
import { keymat, memoryLogger, parsePrivilege, renderKey } from '../../../src/util/log';

describe('ManualClock', () => {
  it('fires due timers in due order, ties in arming order, with now() at the due time', () => {
    const c = new ManualClock();
    const seen: string[] = [];
    c.schedule(30, () => seen.push(`c@${c.now()}`));
    c.schedule(10, () => seen.push(`a@${c.now()}`));
    c.schedule(10, () => seen.push(`b@${c.now()}`));
    assert.equal(c.advance(20), 2);
    assert.deepEqual(seen, ['a@10', 'b@10']);
    assert.equal(c.now(), 20);
    c.advance(10);
    assert.deepEqual(seen, ['a@10', 'b@10', 'c@30']);
  });

  it('fires timers armed by callbacks within the same advance, and honours cancel', () => {
    const c = new ManualClock();
    const seen: number[] = [];
    const h = c.schedule(5, () => seen.push(-1));
    c.schedule(1, () => c.schedule(2, () => seen.push(c.now())));
    c.cancel(h);
    c.advance(10);
    assert.deepEqual(seen, [3]);
    assert.equal(c.pending(), 0);
    assert.throws(() => c.advance(-1), RangeError);
  });
});

describe('Logger', () => {
  const key = Buffer.from('00112233', 'hex');
  for (const [priv, shown] of [['base', false], ['modkeys', false], ['keymat', true]] as const) {
    it(`renders key material ${shown ? 'as hex' : 'redacted'} at privilege ${priv}`, () => {
      const { log, lines } = memoryLogger({ privilege: priv });
      log.info('keys', { SKEYID: keymat(key), cookie: Buffer.from('aa', 'hex') });
      assert.equal(lines[0].includes('00112233'), shown);
      assert.match(lines[0], /cookie=aa/);
      if (!shown) assert.match(lines[0], /<redacted 4 bytes>/);
      assert.equal(renderKey(key, priv) === '00112233', shown);
    });
  }

  it('never renders KeyMaterial through String, JSON or inspect', () => {
    const k = keymat(key);
    for (const s of [String(k), JSON.stringify({ k }), inspect(k)]) assert.ok(!s.includes('00112233'), s);
  });

  it('writes JSON lines with context fields, filters by level, only lowers privilege', () => {
    const { log, lines } = memoryLogger({ json: true, level: 'info', privilege: 'modkeys' });
    const child = log.child({ sa: 7 });
    child.debug('hidden');
    child.warn('visible', { n: 1 });
    assert.equal(lines.length, 1);
    assert.deepEqual(JSON.parse(lines[0]), { time: '1970-01-01T00:00:00.000Z', level: 'warn', msg: 'visible', sa: 7, n: 1 });
    assert.equal(log.lowerPrivilege('keymat'), false);
    assert.equal(log.lowerPrivilege('base'), true);
    assert.equal(child.privilege, 'base');
  });

  it('parses privileges like Solaris (nickname or strtol base 0)', () => {
    const cases: [string, string | undefined][] = [['base', 'base'], ['KEYMAT', 'keymat'], ['1', 'modkeys'], ['0x2', 'keymat'], ['3', undefined], ['x', undefined]];
    for (const [t, want] of cases) assert.equal(parsePrivilege(t), want, t);
  });
});

describe('Counters', () => {
  it('increments, decrements and snapshots sorted by name', () => {
    const c = new Counters();
    c.inc('b');
    c.inc('a', 3);
    c.dec('b');
    assert.deepEqual(c.snapshot(), { a: 3, b: 0 });
    assert.deepEqual(c.snapshot('a'), { a: 3 });
    assert.equal(c.get('zzz'), 0);
  });
});
