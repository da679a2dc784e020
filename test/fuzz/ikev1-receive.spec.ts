/**
 * Hostile input on the receive path, in every Phase 1 state: before each real Main Mode message is
 * delivered, the receiving engine is fed every truncation of it (always invalid) or seeded random
 * mutations of it. Truncations must change nothing: the negotiation completes with equal keys.
 * Mutations may legitimately spoil a negotiation (IKEv1 Phase 1 is not authenticated until MM5),
 * but must never raise an internal error, and the engines must negotiate normally afterwards.
 * Duplicated, reordered and dropped messages must be recovered from.
 */
import assert from 'node:assert/strict';

import type { Ikev1Rule } from '../../src/exchange/ikev1/config';
import type { Packet } from '../../src/net/memory-transport';
import { SeededRng } from '../../src/util/prng';
import { A, B, makeBed, pskCredentials, type Bed } from '../exchange/ikev1/harness';

const RULE: Ikev1Rule = {
  label: 'r', mode: 'main',
  p1: [{ encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', auth: 'preshared', group: 19, lifetimeSeconds: 3600 }],
  p2: { esp: [{ encr: 'aes', auth: 'hmac-sha256' }], lifetimeSeconds: 3600, mode: 'tunnel' },
};

const budget = Number(process.env.OAKLEY_FUZZ_SECONDS ?? 10);

function bed(mode: 'main' | 'aggressive' = 'main'): Promise<Bed> {
  const rule: Ikev1Rule = { ...RULE, mode, aggressiveResponder: mode === 'aggressive' };
  return makeBed({
    rulesA: [rule], rulesB: [rule],
    credsA: pskCredentials({ [B.address]: 'fuzz key' }), credsB: pskCredentials({ [A.address]: 'fuzz key' }),
    settings: { retransmit: { initMs: 50, maxMs: 400, limit: 6 } },
  });
}

function engineAt(b: Bed, p: Packet) {
  return p.to.address === A.address ? b.a : b.b;
}

async function keysEqual(b: Bed): Promise<void> {
  const ctx = await b.a.engine.initiate(A, B);
  await new Promise((r) => setTimeout(r, 5));
  const peer = b.b.engine.phase1Sas().find((c) => c.sa.icookie.equals(ctx.sa.icookie))!;
  assert.equal(peer.sa.state, 'ESTABLISHED');
  assert.ok(ctx.sa.keys.SKEYID_e!.equals(peer.sa.keys.SKEYID_e!));
}

function mutate(rng: SeededRng, d: Buffer): Buffer {
  const out = Buffer.from(d);
  switch (rng.below(4)) {
    case 0: { // flip bits
      for (let i = 0, n = 1 + rng.below(4); i < n; i++) out[rng.below(out.length)] ^= 1 << rng.below(8);
      return out;
    }
    case 1: { // corrupt a length-ish field (payload headers sit at small offsets)
      const at = rng.below(Math.max(1, out.length - 1));
      out.writeUInt16BE(rng.below(65536), Math.min(at, out.length - 2));
      return out;
    }
    case 2: // insert a byte
      return Buffer.concat([out.subarray(0, rng.below(out.length)), Buffer.from([rng.below(256)]), out.subarray(rng.below(out.length))]);
    default: // delete a range
      return Buffer.concat([out.subarray(0, rng.below(out.length)), out.subarray(rng.below(out.length))]);
  }
}

describe('IKEv1 receive path under hostile input', function () {
  this.timeout(120_000);

  for (let k = 0; k < 6; k++) {
    it(`MM${k + 1}: every truncation is dropped and the negotiation completes`, async () => {
      const b = await bed();
      try {
        let seen = 0;
        let injected = 0;
        b.net.dropIf((p) => {
          if (seen++ === k) {
            const target = engineAt(b, p);
            for (let len = 0; len < p.data.length; len++) {
              target.engine.receive({ data: p.data.subarray(0, len), from: p.from, to: p.to });
              injected++;
            }
          }
          return false;
        });
        await keysEqual(b);
        assert.ok(injected > 28);
        for (const s of [b.a, b.b]) assert.equal(s.counters.get('rx.internal_error'), 0);
        assert.ok(b.a.counters.get('rx.malformed') + b.b.counters.get('rx.malformed') >= injected);
      } finally {
        await b.close();
      }
    });
  }

  it(`random mutations of every message never cause an internal error (${budget} s budget)`, async function () {
    this.timeout(budget * 1000 + 60_000);
    const rng = new SeededRng(20261128);
    const deadline = Date.now() + budget * 1000;
    let executions = 0;
    let rounds = 0;
    while (Date.now() < deadline) {
      const b = await bed();
      try {
        const k = rounds % 6;
        let seen = 0;
        b.net.dropIf((p) => {
          if (seen++ === k) {
            const target = engineAt(b, p);
            for (let i = 0; i < 50; i++) {
              target.engine.receive({ data: mutate(rng, p.data), from: p.from, to: p.to });
              executions++;
            }
          }
          return false;
        });
        await b.a.engine.initiate(A, B).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 5));
        for (const s of [b.a, b.b]) assert.equal(s.counters.get('rx.internal_error'), 0, s.logs.filter((l) => /internal/.test(l)).join('\n'));
        b.net.clearImpairments();
        await keysEqual(b); // the engines still work
      } finally {
        await b.close();
      }
      rounds++;
    }
    console.log(`      ${executions} mutated datagrams in ${rounds} negotiations`);
    assert.ok(executions > 0);
  });

  it('duplicated messages are answered from the cache and change nothing', async () => {
    const b = await bed();
    try {
      b.net.duplicateIf(() => true, 2);
      await keysEqual(b);
      assert.ok(b.b.counters.get('duplicate.replayed') > 0, 'the responder replayed cached answers');
    } finally {
      await b.close();
    }
  });

  for (let k = 0; k < 3; k++) {
    it(`QM${k + 1}: every truncation and 100 mutations are dropped; the Quick Mode completes and the peer installs our outbound SA`, async () => {
      const b = await bed();
      try {
        const ctx = await b.a.engine.initiate(A, B);
        await new Promise((r) => setTimeout(r, 5));
        const rng = new SeededRng(k + 1);
        let seen = 0;
        let injected = 0;
        b.net.dropIf((p) => {
          if (seen++ === k) {
            const target = engineAt(b, p);
            for (let len = 0; len < p.data.length; len++) target.engine.receive({ data: p.data.subarray(0, len), from: p.from, to: p.to });
            // Mutations of an encrypted message: they fail decryption or HASH(1..3) and are dropped.
            for (let i = 0; i < 100; i++) target.engine.receive({ data: mutate(rng, p.data), from: p.from, to: p.to });
            injected += p.data.length + 100;
          }
          return false;
        });
        const pair = await b.a.engine.quickMode(ctx);
        await new Promise((r) => setTimeout(r, 5));
        assert.ok(injected > 100);
        for (const s2 of [b.a, b.b]) assert.equal(s2.counters.get('rx.internal_error'), 0);
        const dumpB = b.b.kernel.dump();
        assert.ok(dumpB.some((d) => d.key.spi === pair.outbound.spi && d.state === 'mature'), 'the peer installed our outbound SA as its inbound');
      } finally {
        await b.close();
      }
    });
  }

  for (let k = 0; k < 3; k++) {
    it(`AM${k + 1}: every truncation is dropped and the Aggressive Mode completes`, async () => {
      const b = await bed('aggressive');
      try {
        let seen = 0;
        b.net.dropIf((p) => {
          if (seen++ === k) {
            const target = engineAt(b, p);
            for (let len = 0; len < p.data.length; len++) target.engine.receive({ data: p.data.subarray(0, len), from: p.from, to: p.to });
          }
          return false;
        });
        await keysEqual(b);
        for (const s2 of [b.a, b.b]) assert.equal(s2.counters.get('rx.internal_error'), 0);
      } finally {
        await b.close();
      }
    });
  }

  it('reordered messages are recovered from', async () => {
    const b = await bed();
    try {
      b.net.reorderIf(() => true, 4);
      await keysEqual(b);
    } finally {
      await b.close();
    }
  });

  it('each message dropped once is recovered by retransmission', async () => {
    const b = await bed();
    try {
      const dropped = new Set<string>();
      b.net.dropIf((p) => {
        const key = p.data.subarray(0, 32).toString('hex') + p.data.length;
        if (dropped.has(key)) return false;
        dropped.add(key);
        return true;
      });
      await keysEqual(b);
      assert.ok(b.a.counters.get('retransmit.resent') >= 3);
    } finally {
      await b.close();
    }
  });
});
