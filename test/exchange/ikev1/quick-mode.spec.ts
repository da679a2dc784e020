/**
 * Quick Mode between two engines (RFC 2409 §5.5):
 *
 *   A (initiator)                                   B (responder)
 *   QM1 HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr] -->
 *                                 <--   QM2 HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N(RESPONDER-LIFETIME)]
 *   QM3 HDR*, HASH(3)                               -->
 *                                 <--   QM4 HDR*, HASH(4), N(CONNECTED)   (commit bit only)
 *
 * Each case checks that both kernels hold the pair and that KEYMAT agrees: A's inbound SA (A's SPI)
 * has the keys of B's outbound SA, and the other way round.
 */
import assert from 'node:assert/strict';

import type { CryptoPath } from '../../../src/crypto/types';
import { ctxPhase2, type ChildSaPair } from '../../../src/exchange/ikev1/phase2-state';
import type { P1Transform, P2Policy } from '../../../src/exchange/ikev1/proposals';
import { NotifyType } from '../../../src/wire/ikev1/iana';
import { ExchangeType } from '../../../src/wire/ikev1/types';
import { A, B, makeBed, pskCredentials, type Bed } from './harness';
import { bPairs, installedKeys, isExchange, p2, qmRule, quickModePackets, responderCtx, rewriteFirstMessage, sleep, waitFor } from './phase2-helpers';

const PSK_A = pskCredentials({ [B.address]: 'qm secret' });
const PSK_B = pskCredentials({ [A.address]: 'qm secret' });

interface Suite {
  readonly name: string;
  readonly p1: P1Transform;
  readonly p2: P2Policy;
}

const SUITES: Suite[] = [
  {
    name: 'AES-128/SHA-256, no PFS',
    p1: { encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', auth: 'preshared', group: 14, lifetimeSeconds: 3600 },
    p2: p2(),
  },
  {
    name: 'AES-128/SHA-256, PFS MODP-2048',
    p1: { encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', auth: 'preshared', group: 14, lifetimeSeconds: 3600 },
    p2: p2({ pfsGroup: 14 }),
  },
  {
    name: 'AES-256/SHA-512, PFS MODP-4096',
    p1: { encr: 'aes', keyLengths: { min: 256, max: 256 }, hash: 'sha512', auth: 'preshared', group: 16, lifetimeSeconds: 3600 },
    p2: p2({ esp: [{ encr: 'aes', keyLengths: { min: 256, max: 256 }, auth: 'hmac-sha512' }], pfsGroup: 16 }),
  },
  {
    name: '3DES/SHA1, no PFS',
    p1: { encr: '3des', hash: 'sha1', auth: 'preshared', group: 2, lifetimeSeconds: 3600 },
    p2: p2({ esp: [{ encr: '3des', auth: 'hmac-sha1' }] }),
  },
  {
    name: 'AES-GCM-16 256, PFS ECP-256',
    p1: { encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', auth: 'preshared', group: 19, lifetimeSeconds: 3600 },
    p2: p2({ esp: [{ encr: 'aes-gcm', keyLengths: { min: 256, max: 256 }, icvLength: 16 }], pfsGroup: 19 }),
  },
];

const KEY_OCTETS: Record<string, number> = { aes: 0, '3des': 24, 'hmac-sha1': 20, 'hmac-sha256': 32, 'hmac-sha512': 64 };

/** The pair B installed for A's pair (its SPIs mirrored). */
function mirror(bed: Bed, pair: ChildSaPair): ChildSaPair {
  const m = bPairs(bed).find((p) => p.inbound.spi === pair.outbound.spi);
  assert.ok(m, 'B has no pair mirroring A');
  return m;
}

/** The pairs mirror each other, and so do the keys the two kernels hold (cipher keys with any GCM salt). */
function assertMirrored(bed: Bed, a: ChildSaPair, b: ChildSaPair): void {
  assert.equal(a.inbound.spi, b.outbound.spi);
  assert.equal(a.outbound.spi, b.inbound.spi);
  const [aIn, aOut] = [installedKeys(bed.a, a.inbound), installedKeys(bed.a, a.outbound)];
  const [bIn, bOut] = [installedKeys(bed.b, b.inbound), installedKeys(bed.b, b.outbound)];
  assert.ok(aIn.encryption && aOut.encryption, 'A installed no cipher keys');
  assert.equal(aIn.encryption, bOut.encryption, 'A in / B out cipher keys differ');
  assert.equal(aOut.encryption, bIn.encryption, 'A out / B in cipher keys differ');
  assert.notEqual(aIn.encryption, aOut.encryption, 'both directions share a key');
  assert.equal(aIn.integrity, bOut.integrity);
  assert.equal(aOut.integrity, bIn.integrity);
  assert.deepEqual(a.negotiated, b.negotiated);
  assert.deepEqual(a.lifetimes, b.lifetimes);
}

async function establish(bed: Bed) {
  const ctx = await bed.a.engine.initiate(A, B);
  await responderCtx(bed);
  return ctx;
}

async function waitForBPair(bed: Bed, n = 1): Promise<void> {
  await waitFor(() => bPairs(bed).length >= n, 'B to install the pair');
}

describe('IKEv1 Quick Mode', function () {
  this.timeout(120_000);

  for (const path of ['node', 'native', 'pkcs11'] as CryptoPath[]) {
    describe(`crypto path ${path}`, () => {
      for (const s of SUITES) {
        it(`${s.name}: both kernels hold the pair, KEYMAT agrees for both SPIs`, async () => {
          const bed = await makeBed({ path, rulesA: [qmRule('to-b', s.p2, s.p1)], rulesB: [qmRule('from-a', s.p2, s.p1)], credsA: PSK_A, credsB: PSK_B });
          try {
            const ctx = await establish(bed);
            const pair = await bed.a.engine.quickMode(ctx);
            await waitForBPair(bed);
            const peer = mirror(bed, pair);
            assertMirrored(bed, pair, peer);
            const alt = s.p2.esp[0];
            const k = installedKeys(bed.a, pair.inbound);
            if (alt.encr === 'aes-gcm') {
              assert.equal(k.encryption!.length / 2, 32 + 4); // key and salt
              assert.equal(k.integrity, undefined);
            } else {
              assert.equal(k.encryption!.length / 2, alt.encr === '3des' ? 24 : alt.keyLengths!.max / 8);
              assert.equal(k.integrity!.length / 2, KEY_OCTETS[alt.auth!]);
            }
            assert.equal(pair.negotiated.pfsGroup, s.p2.pfsGroup);
            for (const side of [bed.a, bed.b]) {
              const dump = side.kernel.dump();
              assert.equal(dump.length, 2);
              assert.ok(dump.every((d) => d.state === 'mature'));
              assert.deepEqual(dump.map((d) => d.direction).sort(), ['inbound', 'outbound']);
            }
            assert.equal(ctx.sa.stats.newQmSas, 2);
            assert.equal(bed.a.counters.get('p2.initiator.established'), 1);
            assert.equal(bed.b.counters.get('p2.responder.established'), 1);
          } finally {
            await bed.close();
          }
        });
      }
    });
  }

  it('several proposals: the responder takes the first of the initiator\'s that it supports', async () => {
    const offer = p2({
      esp: [
        { encr: 'aes-gcm', keyLengths: { min: 256, max: 256 } },
        { encr: 'aes', keyLengths: { min: 256, max: 256 }, auth: 'hmac-sha512' },
        { encr: '3des', auth: 'hmac-sha1' },
      ],
    });
    const accept = p2({ esp: [{ encr: '3des', auth: 'hmac-sha1' }, { encr: 'aes', keyLengths: { min: 128, max: 256 }, auth: 'hmac-sha512' }] });
    const bed = await makeBed({ rulesA: [qmRule('to-b', offer)], rulesB: [qmRule('from-a', accept)], credsA: PSK_A, credsB: PSK_B });
    try {
      const ctx = await establish(bed);
      const pair = await bed.a.engine.quickMode(ctx);
      assert.equal(pair.negotiated.proposalNumber, 2);
      assert.equal(pair.negotiated.encr, 'aes');
      assert.equal(pair.negotiated.keyLength, 256);
      await waitForBPair(bed);
      assertMirrored(bed, pair, mirror(bed, pair));
    } finally {
      await bed.close();
    }
  });

  it('client identities (subnet, range with protocol/port) inside the responder\'s selectors', async () => {
    const bed = await makeBed({
      rulesA: [qmRule('to-b', p2())],
      rulesB: [qmRule('from-a', p2(), undefined, {
        p2Selectors: [{ local: { id: { kind: 'ipv4-subnet', address: '10.2.0.0', prefix: 16 } }, remote: { id: { kind: 'ipv4-subnet', address: '10.1.0.0', prefix: 16 } } }],
      })],
      credsA: PSK_A, credsB: PSK_B,
    });
    try {
      const ctx = await establish(bed);
      const pair = await bed.a.engine.quickMode(ctx, {
        selectors: {
          local: { id: { kind: 'ipv4-subnet', address: '10.1.2.0', prefix: 24 } },
          remote: { id: { kind: 'ipv4-range', start: '10.2.0.10', end: '10.2.0.20' }, protocol: 6, port: 443 },
        },
      });
      await waitForBPair(bed);
      const peer = mirror(bed, pair);
      assertMirrored(bed, pair, peer);
      assert.ok(pair.explicitIds && peer.explicitIds);
      assert.deepEqual(peer.selectors.remote, { id: { kind: 'ipv4-subnet', address: '10.1.2.0', prefix: 24 } });
      assert.deepEqual(peer.selectors.local, { id: { kind: 'ipv4-range', start: '10.2.0.10', end: '10.2.0.20' }, protocol: 6, port: 443 });
      // A range that is not a prefix has no kernel selector; a subnet has one.
      assert.equal(peer.inbound.selectors, undefined);
      const bed2 = await makeBed({
        rulesA: [qmRule('to-b', p2())],
        rulesB: [qmRule('from-a', p2(), undefined, {
          p2Selectors: [{ local: { id: { kind: 'ipv4-subnet', address: '10.2.0.0', prefix: 16 } }, remote: { id: { kind: 'ipv4-subnet', address: '10.1.0.0', prefix: 16 } } }],
        })],
        credsA: PSK_A, credsB: PSK_B, net: undefined,
      });
      try {
        const ctx2 = await establish(bed2);
        const p = await bed2.a.engine.quickMode(ctx2, {
          selectors: { local: { id: { kind: 'ipv4-subnet', address: '10.1.2.0', prefix: 24 } }, remote: { id: { kind: 'ipv4-subnet', address: '10.2.3.0', prefix: 24 } } },
        });
        assert.deepEqual(p.outbound.selectors, {
          src: { address: '10.1.2.0', prefixLength: 24, protocol: 0, port: 0 },
          dst: { address: '10.2.3.0', prefixLength: 24, protocol: 0, port: 0 },
        });
      } finally {
        await bed2.close();
      }
    } finally {
      await bed.close();
    }
  });

  it('client identities outside the responder\'s selectors: INVALID-ID-INFORMATION, no SA anywhere', async () => {
    const bed = await makeBed({
      rulesA: [qmRule('to-b', p2())],
      rulesB: [qmRule('from-a', p2(), undefined, {
        p2Selectors: [{ local: { id: { kind: 'ipv4-subnet', address: '10.2.0.0', prefix: 16 } }, remote: { id: { kind: 'ipv4-subnet', address: '10.1.0.0', prefix: 16 } } }],
      })],
      credsA: PSK_A, credsB: PSK_B,
    });
    try {
      const ctx = await establish(bed);
      await assert.rejects(bed.a.engine.quickMode(ctx, {
        selectors: { local: { id: { kind: 'ipv4-subnet', address: '10.9.0.0', prefix: 24 } }, remote: { id: { kind: 'ipv4', address: '10.2.0.1' } } },
      }), (e: Error & { detail?: { notify?: number } }) => e.detail?.notify === NotifyType.INVALID_ID_INFORMATION);
      assert.equal(bed.b.counters.get('tx.notify.INVALID_ID_INFORMATION'), 1);
      assert.equal(bed.a.counters.get('rx.notify.INVALID_ID_INFORMATION'), 1);
      assert.equal(bed.a.kernel.size, 0, 'A released its larval SPI');
      assert.equal(bed.b.kernel.size, 0);
      assert.equal(ctx.sa.state, 'ESTABLISHED', 'the ISAKMP SA survives a refused Quick Mode');
      // Host-to-host (no IDs) still works on the same ISAKMP SA.
      await bed.a.engine.quickMode(ctx);
    } finally {
      await bed.close();
    }
  });

  it('RESPONDER-LIFETIME: the responder lowers the lifetime and the initiator installs that', async () => {
    const bed = await makeBed({ rulesA: [qmRule('to-b', p2({ lifetimeSeconds: 3600 }))], rulesB: [qmRule('from-a', p2({ lifetimeSeconds: 1200 }))], credsA: PSK_A, credsB: PSK_B });
    try {
      const ctx = await establish(bed);
      const pair = await bed.a.engine.quickMode(ctx);
      await waitForBPair(bed);
      assert.equal(bed.b.counters.get('tx.notify.RESPONDER_LIFETIME'), 1);
      assert.equal(bed.a.counters.get('rx.notify.RESPONDER_LIFETIME'), 1);
      assert.equal(pair.lifetimes.hardSecs, 1200);
      assert.equal(mirror(bed, pair).lifetimes.hardSecs, 1200);
      for (const side of [bed.a, bed.b]) for (const d of side.kernel.dump()) assert.equal(d.lifetimes?.hard.seconds, 1200);
    } finally {
      await bed.close();
    }
  });

  it('commit bit: the initiator waits for CONNECTED (QM4)', async () => {
    const bed = await makeBed({ rulesA: [qmRule('to-b', p2())], rulesB: [qmRule('from-a', p2())], credsA: PSK_A, credsB: PSK_B, settingsB: { p2Commit: true } });
    try {
      const ctx = await establish(bed);
      const pair = await bed.a.engine.quickMode(ctx);
      assert.equal(bed.b.counters.get('tx.notify.CONNECTED'), 1);
      assert.equal(bed.a.counters.get('rx.notify.CONNECTED'), 1);
      assertMirrored(bed, pair, mirror(bed, pair));
    } finally {
      await bed.close();
    }
  });

  it('message IDs are unique per ISAKMP SA over several Quick Modes', async () => {
    const bed = await makeBed({ rulesA: [qmRule('to-b', p2())], rulesB: [qmRule('from-a', p2())], credsA: PSK_A, credsB: PSK_B });
    try {
      const ctx = await establish(bed);
      const pairs = await Promise.all([bed.a.engine.quickMode(ctx), bed.a.engine.quickMode(ctx), bed.a.engine.quickMode(ctx)]);
      assert.equal(new Set(pairs.map((p) => p.inbound.spi)).size, 3);
      const mids = new Set(quickModePackets(bed).map((p) => p.data.readUInt32BE(20)));
      assert.equal(mids.size, 3);
      await waitForBPair(bed, 3);
      assert.equal(bed.b.kernel.size, 6);
    } finally {
      await bed.close();
    }
  });

  it('a QM1 with a tampered HASH(1) is dropped; the genuine retransmission succeeds', async () => {
    const bed = await makeBed({
      rulesA: [qmRule('to-b', p2())], rulesB: [qmRule('from-a', p2())], credsA: PSK_A, credsB: PSK_B,
      settings: { retransmit: { initMs: 100, maxMs: 1000, limit: 5 } },
    });
    try {
      const ctx = await establish(bed);
      const bctx = await responderCtx(bed);
      bed.net.dropIf((p) => p.from.address === A.address && p.data[18] === 32, 1);
      const running = bed.a.engine.quickMode(ctx);
      await waitFor(() => quickModePackets(bed).length >= 1, 'QM1');
      const tampered = rewriteFirstMessage(ctx, quickModePackets(bed)[0].data, (plain) => { plain[4] ^= 0x01; }, bed.a.crypto.cipher);
      bed.b.engine.receive({ data: tampered, from: A, to: B });
      await waitFor(() => bed.b.counters.get('rx.bad_hash') === 1, 'B to drop the tampered QM1');
      assert.equal(bctx.sa.stats.errHash, 1);
      assert.equal(bed.b.kernel.size, 0, 'nothing allocated for a message that failed its HASH');
      const pair = await running;
      await waitForBPair(bed);
      assertMirrored(bed, pair, mirror(bed, pair));
      assert.equal(bed.b.counters.get('p2.responder.attempts'), 1);
      // What B keeps per SA: neither the Quick Mode messages nor MM6 (A used the SA, so it has MM6).
      const bCtx = await responderCtx(bed);
      assert.equal(ctxPhase2(bed.b.engine, bCtx).cache.size, 0);
      assert.equal(bCtx.responses.size, 0);
    } finally {
      await bed.close();
    }
  });

  it('a replayed QM1 is answered from the cache while QM3 is outstanding; once B is done, late copies are stale', async () => {
    const bed = await makeBed({ rulesA: [qmRule('to-b', p2({ pfsGroup: 14 }))], rulesB: [qmRule('from-a', p2({ pfsGroup: 14 }))], credsA: PSK_A, credsB: PSK_B });
    try {
      const ctx = await establish(bed);
      let fromA = 0;
      bed.net.dropIf((p) => p.from.address === A.address && isExchange(p, ExchangeType.QUICK_MODE) && ++fromA === 2, 1); // QM3, once
      await bed.a.engine.quickMode(ctx);
      const [qm1, qm3] = quickModePackets(bed).map((p) => p.data);
      assert.ok(qm1 && qm3, 'A sent QM1 and QM3');
      bed.b.engine.receive({ data: qm1, from: A, to: B });
      // B resends QM2 from its cache, A answers with QM3 again from its own, B installs.
      await waitFor(() => bed.b.counters.get('rx.qm_retransmission') >= 1 && bed.a.counters.get('rx.qm_retransmission') >= 1, 'QM2 and QM3 resent from the caches');
      await waitForBPair(bed);
      assert.equal(bed.b.counters.get('p2.responder.attempts'), 1);
      // Done: B forgot the exchange's messages (no g^y kept per SA), a late QM1 or QM3 is stale and unanswered.
      const before = bed.net.log.length;
      const stale = bed.b.counters.get('rx.qm_stale_message_id');
      bed.b.engine.receive({ data: qm1, from: A, to: B });
      bed.b.engine.receive({ data: qm3, from: A, to: B });
      await waitFor(() => bed.b.counters.get('rx.qm_stale_message_id') === stale + 2, 'B to drop both as stale');
      await sleep(50);
      assert.equal(bed.net.log.length - before, 0);
      assert.equal(bed.b.kernel.size, 2);
      assert.equal(bed.a.kernel.size, 2);
      assert.equal(bed.b.counters.get('p2.responder.attempts'), 1);
      // What B keeps per SA: neither the Quick Mode messages nor MM6 (A used the SA, so it has MM6).
      const bCtx = await responderCtx(bed);
      assert.equal(ctxPhase2(bed.b.engine, bCtx).cache.size, 0);
      assert.equal(bCtx.responses.size, 0);
    } finally {
      await bed.close();
    }
  });
});
