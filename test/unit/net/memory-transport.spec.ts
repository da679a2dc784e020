/** In-memory network: delivery, impairments with a seeded RNG, NAPT rewriting. */
import assert from 'node:assert/strict';

import { MemoryNetwork, type Packet } from '../../../src/net/memory-transport';
import { ManualClock } from '../../../src/util/clock';

const A500 = { address: '192.0.2.1', port: 500 };
const A4500 = { address: '192.0.2.1', port: 4500 };
const B500 = { address: '198.51.100.2', port: 500 };

function setup(seed = 1) {
  const clock = new ManualClock();
  const net = new MemoryNetwork({ clock, seed });
  const a = net.attach([A500, A4500]);
  const b = net.attach([B500]);
  const got = (t: typeof a) => t.received.map((d) => d.data.toString());
  return { clock, net, a, b, got };
}

const payload = (s: string) => (p: Packet) => p.data.toString() === s;

describe('MemoryNetwork', () => {
  it('delivers asynchronously through the clock, in order, with the source endpoint', () => {
    const { clock, a, b, got } = setup();
    const seen: string[] = [];
    b.onReceive((d) => seen.push(`${d.data}@${d.from.address}:${d.from.port}->${d.to.port}`));
    a.send(Buffer.from('1'), B500, A500);
    a.send(Buffer.from('2'), B500, A4500);
    assert.deepEqual(seen, []);
    clock.flush();
    assert.deepEqual(seen, ['1@192.0.2.1:500->500', '2@192.0.2.1:4500->500']);
    assert.deepEqual(got(b), ['1', '2']);
    assert.throws(() => a.send(Buffer.from('x'), B500, B500), /not bound/);
  });

  it('drops by predicate (limited count) and counts unreachable destinations', () => {
    const { clock, net, a, b, got } = setup();
    net.dropIf(payload('x'), 1);
    for (const s of ['x', 'y', 'x']) a.send(Buffer.from(s), B500, A500);
    a.send(Buffer.from('z'), { address: '203.0.113.9', port: 500 }, A500);
    clock.flush();
    assert.deepEqual(got(b), ['y', 'x']);
    assert.equal(net.counters.get('net.dropped'), 1);
    assert.equal(net.counters.get('net.unreachable'), 1);
  });

  it('drops with a probability that is reproducible for a seed', () => {
    const run = (seed: number) => {
      const { clock, net, a, got, b } = setup(seed);
      net.dropWithProbability(0.3);
      for (let i = 0; i < 200; i++) a.send(Buffer.from(String(i)), B500, A500);
      clock.flush();
      return got(b);
    };
    const r1 = run(42);
    assert.deepEqual(run(42), r1);
    assert.notDeepEqual(run(43), r1);
    assert.ok(r1.length > 110 && r1.length < 170, String(r1.length));
  });

  it('duplicates, delays and reorders', () => {
    const { clock, net, a, b, got } = setup();
    net.duplicateIf(payload('dup'), 2);
    net.delayIf(payload('late'), 1000);
    net.reorderIf(payload('first'));
    for (const s of ['late', 'first', 'second', 'dup']) a.send(Buffer.from(s), B500, A500);
    clock.flush();
    assert.deepEqual(got(b), ['second', 'first', 'dup', 'dup', 'dup']);
    clock.advance(1000);
    assert.deepEqual(got(b), ['second', 'first', 'dup', 'dup', 'dup', 'late']);
    net.reorderIf(payload('held'), 1);
    a.send(Buffer.from('held'), B500, A500);
    clock.flush();
    assert.equal(got(b).length, 6);
    net.releaseHeld();
    clock.flush();
    assert.equal(got(b).at(-1), 'held');
  });

  it('simulates a NAPT: source rewritten, replies mapped back, new port after a reset', () => {
    const { clock, net, a, b } = setup();
    net.addNat({ inside: ['192.0.2.1'], publicAddress: '203.0.113.1', firstPort: 40000 });
    const replies: string[] = [];
    b.onReceive((d) => b.send(Buffer.from(`re:${d.data}`), d.from, d.to));
    a.onReceive((d) => replies.push(`${d.data}<-${d.from.address}:${d.from.port} on ${d.to.port}`));
    a.send(Buffer.from('mm1'), B500, A500);
    a.send(Buffer.from('mm5'), { address: B500.address, port: 4500 }, A4500);
    clock.flush();
    assert.deepEqual(b.received.map((d) => `${d.from.address}:${d.from.port}`), ['203.0.113.1:40000']);
    assert.equal(net.counters.get('net.unreachable'), 1); // nobody on B:4500
    assert.deepEqual(replies, ['re:mm1<-198.51.100.2:500 on 500']);
    assert.deepEqual(net.natMapping(A500), { address: '203.0.113.1', port: 40000 });
    net.resetNatMappings();
    a.send(Buffer.from('again'), B500, A500);
    clock.flush();
    assert.equal(b.received.at(-1)!.from.port, 40002);
  });
});
