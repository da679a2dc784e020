/** Solaris Phase 2 lifetime normalisation (solaris-ike.md §5.7). */
import assert from 'node:assert/strict';

import { installLifetimes, minNonZero, normalizeP2Lifetimes, type P2Lifetimes } from '../../../src/exchange/ikev1/lifetimes';

type Case = [string, Partial<P2Lifetimes>, P2Lifetimes, boolean?];
const CASES: Case[] = [
  ['all unset: the built-in defaults', {}, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 29491200, softKb: 24576000 }],
  ['hard below the minimum', { hardSecs: 50 }, { hardSecs: 100, softSecs: 90, idleSecs: 50, hardKb: 102400, softKb: 92160 }],
  ['hard above the maximum', { hardSecs: 200000, softSecs: 180000 }, { hardSecs: 172800, softSecs: 172800, idleSecs: 96000, hardKb: 176947200, softKb: 176947200 }, true],
  ['soft below 90', { softSecs: 50 }, { hardSecs: 28800, softSecs: 90, idleSecs: 50, hardKb: 29491200, softKb: 92160 }],
  ['soft == hard disables soft expiry', { hardSecs: 3600, softSecs: 3600 }, { hardSecs: 3600, softSecs: 3600, idleSecs: 2000, hardKb: 3686400, softKb: 3686400 }, true],
  ['soft above hard: 90% of hard', { hardSecs: 28800, softSecs: 30000 }, { hardSecs: 28800, softSecs: 25920, idleSecs: 14400, hardKb: 29491200, softKb: 26542080 }],
  ['hard - soft < 10', { hardSecs: 1000, softSecs: 995 }, { hardSecs: 1000, softSecs: 990, idleSecs: 550, hardKb: 1024000, softKb: 1013760 }],
  ['idle below 30', { idleSecs: 10 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 30, hardKb: 29491200, softKb: 24576000 }],
  ['soft - idle < 10', { idleSecs: 23995 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 23990, hardKb: 29491200, softKb: 24576000 }],
  ['idle above soft: 5/9 of soft', { idleSecs: 30000 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 29491200, softKb: 24576000 }],
  ['explicit hard KiB: soft 90%', { hardKb: 10000 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 10000, softKb: 9000 }],
  ['hard KiB below 1024', { hardKb: 500 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 1024, softKb: 921 }],
  ['soft KiB below 900 is reset', { hardKb: 10000, softKb: 800 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 10000, softKb: 9000 }],
  ['hard KiB - soft KiB < 100', { hardKb: 10000, softKb: 9950 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 10000, softKb: 9900 }],
  ['soft KiB above hard', { hardKb: 10000, softKb: 20000 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 10000, softKb: 9000 }],
  ['derived hard KiB ignores a given soft KiB', { softKb: 5000 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 29491200, softKb: 24576000 }],
  ['hard KiB above 512 GiB', { hardKb: 600000000 }, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 536870912, softKb: 483183820 }],
];

describe('normalizeP2Lifetimes', () => {
  for (const [name, input, want, disabled] of CASES) {
    it(name, () => {
      const r = normalizeP2Lifetimes(input);
      assert.deepEqual(r.lifetimes, want);
      assert.equal(r.softDisabled, disabled ?? false);
    });
  }

  it('is idempotent on every case', () => {
    for (const [name, input] of CASES) {
      const once = normalizeP2Lifetimes(input).lifetimes;
      assert.deepEqual(normalizeP2Lifetimes(once).lifetimes, once, name);
    }
  });

  it('warns when soft < 50% of hard and when hard KiB > 32 GiB', () => {
    assert.deepEqual(normalizeP2Lifetimes({}).warnings, []);
    assert.equal(normalizeP2Lifetimes({ softSecs: 1000 }).warnings.length, 2);
    assert.match(normalizeP2Lifetimes({ hardKb: 40000000 }).warnings.join(), /32 GiB/);
  });
});

describe('installLifetimes', () => {
  it('takes the smallest non-zero hard value of rule, transform and the P1 cache, and updates the cache', () => {
    const rule = normalizeP2Lifetimes({}).lifetimes;
    const cache = { hardSecs: 0, hardKb: 0 };
    const a = installLifetimes(rule, { seconds: 3600 }, cache);
    assert.equal(a.lifetimes.hardSecs, 3600);
    assert.equal(a.lifetimes.softSecs, 3240);
    assert.deepEqual(cache, { hardSecs: 3600, hardKb: 29491200 });
    const b = installLifetimes(rule, { seconds: 7200, kilobytes: 50000 }, cache);
    assert.equal(b.lifetimes.hardSecs, 3600);
    assert.equal(b.lifetimes.hardKb, 50000);
    assert.deepEqual(cache, { hardSecs: 3600, hardKb: 50000 });
  });

  it('minNonZero ignores zeros and undefined', () => {
    assert.equal(minNonZero(0, undefined, 5, 3), 3);
    assert.equal(minNonZero(0, undefined), 0);
  });
});
