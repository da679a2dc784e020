/** Result views: get stats from engine counters, dump p2 from a kernel dump. */
import assert from 'node:assert/strict';

import { formatStats } from '../../../src/control/commands';
import { p2FromKernelDump, statsFromCounters } from '../../../src/control/views';
import { Counters } from '../../../src/util/counters';

describe('control views', () => {
  it('maps p1.<role>.* counters onto the §7.1 fields', () => {
    const c = new Counters();
    c.inc('p1.initiator.attempts', 5);
    c.inc('p1.initiator.total', 3);
    c.inc('p1.initiator.current', 2);
    c.inc('p1.initiator.noresp', 1);
    c.inc('p1.initiator.respfail', 1);
    c.inc('p1.responder.attempts', 4);
    c.inc('p1.responder.failed', 1);
    const s = statsFromCounters(c);
    assert.deepEqual(s, { initP1Current: 2, respP1Current: 0, initP1Total: 3, respP1Total: 0, initP1Attempts: 5, respP1Attempts: 4, initP1NoResp: 1, initP1RespFail: 1, respP1Fail: 1 });
    assert.match(formatStats(s), /^Failed:    initiator:          2   responder:          1$/m);
  });

  it('maps a kernel dump to dump p2 rows without keys', () => {
    const rows = p2FromKernelDump([{
      key: { protocol: 'esp', dst: '198.51.100.2', spi: -1 }, src: '192.0.2.1', state: 'mature', direction: 'outbound',
      encryption: { alg: 'aes-cbc', keyBits: 128 }, bytes: 42, hardRemaining: 10,
    }]);
    assert.deepEqual(rows, [{ protocol: 'esp', spi: 0xffffffff, src: '192.0.2.1', dst: '198.51.100.2', state: 'mature', bytes: 42, direction: 'outbound', encryption: { alg: 'aes-cbc', keyBits: 128 }, hardRemaining: 10 }]);
  });
});
