/** ManualClock and SystemClock ordering, the logger's keymat gate, counters. */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';

import { ManualClock, SystemClock } from '../../../src/util/clock';
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

describe('SystemClock (long timers in one heap behind one Node timer)', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const L = SystemClock.HEAP_MIN_MS;

  it('fires long and short timers in due order, ties in arming order, never early, and honours cancel', async function () {
    this.timeout(5000);
    const c = new SystemClock();
    const seen: string[] = [];
    const t0 = c.now();
    const at = (name: string, ms: number) => c.schedule(ms, () => {
      assert.ok(c.now() - t0 >= ms - 1, `${name} fired at ${(c.now() - t0).toFixed(1)} ms, due at ${ms}`);
      seen.push(name);
    });
    at('c', L + 40);
    at('a', L);
    at('b', L);
    const gone = at('x', L + 20);
    at('d', L + 60);
    at('short', 10);
    c.cancel(gone);
    c.cancel(gone);
    assert.equal(c.pending(), 5);
    await sleep(L + 150);
    assert.deepEqual(seen, ['short', 'a', 'b', 'c', 'd']);
    assert.equal(c.pending(), 0);
  });

  it('promise jobs of one heap callback run before the next heap callback, as between separate Node timers', async function () {
    this.timeout(5000);
    const c = new SystemClock();
    const seen: string[] = [];
    c.schedule(L, () => {
      seen.push('first');
      void Promise.resolve().then(() => seen.push('job')).then(() => seen.push('job 2'));
      c.schedule(0, () => seen.push('armed by the callback'));
    });
    c.schedule(L, () => seen.push('second'));
    c.cancel(c.schedule(L - 500, () => seen.push('cancelled')));
    await sleep(L + 100);
    // A timer due at the same time as another heap timer runs ~1 ms after it (its own Node
    // callback), so one armed meanwhile for "now" may come between: only the promise jobs are ordered.
    assert.deepEqual(seen.filter((x) => x !== 'armed by the callback'), ['first', 'job', 'job 2', 'second']);
    assert.equal(seen.length, 4 + 1);
    assert.equal(c.pending(), 0);
  });

  it('keeps thousands of long timers in the heap, cancelled in any order', () => {
    const c = new SystemClock();
    const hs = Array.from({ length: 5000 }, (_x, i) => c.schedule(3_600_000 + (i * 7919) % 5000, () => assert.fail('fired')));
    for (let i = 0; i < hs.length; i += 2) c.cancel(hs[i]);
    assert.equal(c.pending(), 2500);
    for (let i = hs.length - 1; i >= 0; i--) c.cancel(hs[i]);
    assert.equal(c.pending(), 0);
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
