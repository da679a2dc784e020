/**
 * Protected Informational exchanges (RFC 2409 §5.7), DPD (RFC 3706) and rekeying:
 *
 *   sender                                    receiver
 *   HDR*, HASH(1), D(ESP, SPI)        -->     both SAs of the pair leave the kernel
 *   HDR*, HASH(1), D(ISAKMP, CKY-I|CKY-R) --> the ISAKMP SA goes
 *   HDR*, HASH(1), N(INITIAL-CONTACT) -->     older SAs with the sender go (Oakley itself sends it
 *                                             inside MM5/AM3, as strongSwan does; both are honoured)
 *   HDR*, HASH(1), N(R-U-THERE, seq)  -->
 *                                     <--     HDR*, HASH(1), N(R-U-THERE-ACK, seq)
 *
 * Unprotected or wrongly hashed messages on an established SA are dropped and counted.
 */
import assert from 'node:assert/strict';

import { deleteIpsecSa, deleteIsakmpSa } from '../../../src/exchange/ikev1/informational';
import { enginePhase2, removePair } from '../../../src/exchange/ikev1/phase2-state';
import { ManualClock } from '../../../src/util/clock';
import { Doi, ProtocolId } from '../../../src/wire/ikev1/iana';
import { encodeMessage } from '../../../src/wire/ikev1/message';
import { phase2Iv } from '../../../src/wire/ikev1/encryption';
import { ExchangeType, PayloadType, type Payload } from '../../../src/wire/ikev1/types';
import type { Phase1Context } from '../../../src/exchange/ikev1/phase1-context';
import { A, B, makeBed, pskCredentials, type Bed } from './harness';
import { bPairs, drain, p2, pairsOf, pump, qmRule, responderCtx, settle, sleep, waitFor } from './phase2-helpers';

const PSK_A = pskCredentials({ [B.address]: 'info secret' });
const PSK_B = pskCredentials({ [A.address]: 'info secret' });

async function bedWithPair(extra: Partial<Parameters<typeof makeBed>[0]> = {}) {
  const bed = await makeBed({ rulesA: [qmRule('to-b', p2())], rulesB: [qmRule('from-a', p2())], credsA: PSK_A, credsB: PSK_B, ...extra });
  const ctx = await bed.a.engine.initiate(A, B);
  const bctx = await responderCtx(bed);
  const pair = await bed.a.engine.quickMode(ctx);
  await waitFor(() => bPairs(bed).length === 1, 'B pair');
  return { bed, ctx, bctx, pair };
}

/** An Informational from `ctx`'s keys with a chosen HASH (or none), encrypted or not. */
function craftInformational(ctx: Phase1Context, bed: Bed, payloads: Payload[], opts: { hash?: Buffer; encrypt: boolean }): Buffer {
  const sa = ctx.sa;
  const mid = 0x01020304;
  const header = { icookie: sa.icookie, rcookie: sa.rcookie, nextPayload: 0, version: 0x10, exchangeType: ExchangeType.INFORMATIONAL, flags: 0, messageId: mid };
  const all: Payload[] = [...(opts.hash ? [{ type: PayloadType.HASH, data: opts.hash } as Payload] : []), ...payloads];
  if (!opts.encrypt) return encodeMessage(header, all).datagram;
  const iv = phase2Iv(sa.negotiated!.hash, sa.keys.iv!, mid, 16);
  return encodeMessage(header, all, { encrypt: { cipher: bed.a.crypto.cipher, alg: 'aes-cbc', key: sa.keys.encKey!, iv } }).datagram;
}

function deleteIsakmpPayload(ctx: Phase1Context): Payload {
  return { type: PayloadType.D, doi: Doi.IPSEC, protocol: ProtocolId.ISAKMP, spiSize: 16, spis: [Buffer.concat([ctx.sa.icookie, ctx.sa.rcookie])] };
}

describe('IKEv1 Informational, DPD and rekey', function () {
  this.timeout(60_000);

  for (const who of ['a', 'b'] as const) {
    it(`Delete of an IPsec SA sent by ${who.toUpperCase()} removes the pair from both kernels`, async () => {
      const { bed } = await bedWithPair();
      try {
        const other = who === 'a' ? 'b' : 'a';
        const pair = who === 'a' ? pairsOf(bed.a.engine)[0] : bPairs(bed)[0];
        await deleteIpsecSa(bed[who].engine, pair, 'test');
        assert.equal(bed[who].kernel.size, 0);
        await waitFor(() => bed[other].kernel.size === 0, 'the peer to delete its SAs');
        assert.equal(bed[other].counters.get('rx.delete.IPSEC_ESP'), 1);
        assert.equal(bed.a.engine.phase1Sas().length, 1, 'the ISAKMP SA stays');
      } finally {
        await bed.close();
      }
    });

    it(`Delete of the ISAKMP SA sent by ${who.toUpperCase()} removes it on both sides (IPsec SAs stay)`, async () => {
      const { bed, ctx, bctx } = await bedWithPair();
      try {
        const other = who === 'a' ? 'b' : 'a';
        await deleteIsakmpSa(bed[who].engine, who === 'a' ? ctx : bctx, 'test');
        assert.equal(bed[who].engine.phase1Sas().length, 0);
        await waitFor(() => bed[other].engine.phase1Sas().length === 0, 'the peer to delete the ISAKMP SA');
        assert.equal(bed[other].counters.get('rx.delete.ISAKMP'), 1);
        assert.equal(bed.a.kernel.size, 2);
        assert.equal(bed.b.kernel.size, 2);
      } finally {
        await bed.close();
      }
    });
  }

  it('INITIAL-CONTACT from a restarted peer clears the stale ISAKMP and IPsec SAs', async () => {
    const { bed, ctx } = await bedWithPair();
    try {
      const oldB = await responderCtx(bed);
      // A "restarts": forgets everything without telling B.
      for (const pair of pairsOf(bed.a.engine)) await removePair(bed.a.engine, pair, 'restart');
      bed.a.engine.deletePhase1(ctx, 'restart');
      enginePhase2(bed.a.engine).initialContactSent.clear();
      assert.equal(bed.a.kernel.size, 0);
      const fresh = await bed.a.engine.initiate(A, B);
      await waitFor(() => oldB.sa.state === 'DESTROYED', 'B to drop the stale ISAKMP SA');
      await waitFor(() => bed.b.kernel.size === 0, 'B to drop the stale IPsec SAs');
      assert.equal(bed.b.counters.get('rx.notify.INITIAL_CONTACT'), 2, 'one per first contact');
      assert.equal(bed.b.counters.get('p1.initial_contact_cleared'), 2);
      assert.equal(bed.b.engine.phase1Sas().length, 1);
      await bed.a.engine.quickMode(fresh);
      await waitFor(() => bed.b.kernel.size === 2, 'the new pair');
    } finally {
      await bed.close();
    }
  });

  it('no INITIAL-CONTACT while SAs with the peer exist', async () => {
    const { bed } = await bedWithPair();
    try {
      assert.equal(bed.a.counters.get('tx.notify.INITIAL_CONTACT'), 1);
      await bed.a.engine.initiate(A, B);
      await sleep(20);
      assert.equal(bed.a.counters.get('tx.notify.INITIAL_CONTACT'), 1);
      assert.equal(bed.b.kernel.size, 2);
    } finally {
      await bed.close();
    }
  });

  it('an unprotected Delete on an established SA is dropped and counted', async () => {
    const { bed, ctx, bctx } = await bedWithPair();
    try {
      bed.b.engine.receive({ data: craftInformational(ctx, bed, [deleteIsakmpPayload(ctx)], { encrypt: false }), from: A, to: B });
      await waitFor(() => bed.b.counters.get('rx.info_unprotected') === 1, 'the drop');
      assert.equal(bctx.sa.state, 'ESTABLISHED');
    } finally {
      await bed.close();
    }
  });

  it('a protected Delete with a wrong or missing HASH(1) is dropped and counted', async () => {
    const { bed, ctx, bctx } = await bedWithPair();
    try {
      bed.b.engine.receive({ data: craftInformational(ctx, bed, [deleteIsakmpPayload(ctx)], { encrypt: true, hash: Buffer.alloc(32, 7) }), from: A, to: B });
      bed.b.engine.receive({ data: craftInformational(ctx, bed, [deleteIsakmpPayload(ctx)], { encrypt: true }), from: A, to: B });
      await waitFor(() => bed.b.counters.get('rx.bad_hash') === 2, 'both drops');
      assert.equal(bctx.sa.stats.errHash, 2);
      assert.equal(bctx.sa.state, 'ESTABLISHED');
      // The message ID was not consumed by the forgery: a real Delete still works.
      await deleteIsakmpSa(bed.a.engine, ctx, 'test');
      await waitFor(() => bctx.sa.state === 'DESTROYED', 'the real Delete');
    } finally {
      await bed.close();
    }
  });

  describe('with a manual clock', () => {
    async function manualBed(extra: Partial<Parameters<typeof makeBed>[0]> = {}) {
      const clock = new ManualClock();
      const bed = await makeBed({ clock, rulesA: [qmRule('to-b', p2())], rulesB: [qmRule('from-a', p2())], credsA: PSK_A, credsB: PSK_B, ...extra });
      const ctx = await settle(clock, bed.a.engine.initiate(A, B));
      const pair = await settle(clock, bed.a.engine.quickMode(ctx));
      await drain(clock);
      assert.equal(bPairs(bed).length, 1);
      return { bed, clock, ctx, pair };
    }

    const DPD = { dpdIdleMs: 10_000, retransmit: { initMs: 500, maxMs: 2000, limit: 3 } };

    it('DPD: an idle but live peer answers R-U-THERE; nothing is deleted', async () => {
      const { bed, clock } = await manualBed({ settings: DPD });
      try {
        await pump(clock, 35_000);
        assert.ok(bed.a.counters.get('dpd.probe') >= 1);
        assert.ok(bed.a.counters.get('dpd.alive') >= 1);
        assert.ok(bed.b.counters.get('dpd.ack_sent') >= 1);
        assert.equal(bed.a.counters.get('dpd.peer_dead'), 0);
        assert.equal(bed.a.kernel.size, 2);
        assert.equal(bed.a.engine.phase1Sas().length, 1);
      } finally {
        await bed.close();
      }
    });

    it('DPD: a silent peer is declared dead; its IPsec SAs and the ISAKMP SA are deleted', async () => {
      const { bed, clock } = await manualBed({ settings: DPD });
      try {
        bed.net.dropIf(() => true);
        await pump(clock, 10_000 + 500 + 1000 + 2000 + 2000 + 2000 + 1000);
        assert.equal(bed.a.counters.get('dpd.peer_dead'), 1);
        assert.equal(bed.a.counters.get('dpd.probe') + bed.a.counters.get('dpd.probe_retry'), 4);
        assert.equal(bed.a.kernel.size, 0);
        assert.equal(bed.a.engine.phase1Sas().length, 0);
      } finally {
        await bed.close();
      }
    });

    it('DPD: an R-U-THERE-ACK with a sequence number we did not send is ignored', async () => {
      const { bed, clock, ctx } = await manualBed({ settings: DPD });
      try {
        const bctx = bed.b.engine.phase1Sas()[0];
        // Forge nothing: B answers a number A never sent, through the real protected path.
        const { isakmpNotify, sendInformational } = await import('../../../src/exchange/ikev1/informational');
        await settle(clock, sendInformational(bed.b.engine, bctx, [isakmpNotify(bctx, 36137, Buffer.from([0, 0, 0, 1]))]));
        await drain(clock);
        assert.equal(bed.a.counters.get('dpd.bad_seq'), 1);
        assert.equal(ctx.sa.state, 'ESTABLISHED');
      } finally {
        await bed.close();
      }
    });

    it('rekey on soft expiry: new SAs are installed before the old ones go', async () => {
      // Hard 100 s (the Solaris minimum), soft 90 s.
      const policy = p2({ lifetimeSeconds: 100 });
      const { bed, clock, pair } = await manualBed({ rulesA: [qmRule('to-b', policy)], rulesB: [qmRule('from-a', policy)] });
      try {
        assert.equal(pair.lifetimes.hardSecs, 100);
        assert.equal(pair.lifetimes.softSecs, 90);
        const covered = (side: 'a' | 'b') => {
          const d = bed[side].kernel.dump().filter((x) => x.state !== 'larval');
          return d.some((x) => x.direction === 'inbound') && d.some((x) => x.direction === 'outbound');
        };
        await pump(clock, 150_000, 500, () => {
          assert.ok(covered('a'), `A without SAs at ${clock.now()} ms`);
          assert.ok(covered('b'), `B without SAs at ${clock.now()} ms`);
        });
        assert.equal(bed.a.counters.get('p2.rekey.done'), 1);
        assert.equal(pair.state, 'deleted');
        const fresh = pair.replacedBy!;
        assert.ok(fresh);
        assert.deepEqual(bed.a.kernel.dump().map((d) => d.key.spi).sort(), [fresh.inbound.spi, fresh.outbound.spi].sort());
        assert.deepEqual(bed.b.kernel.dump().map((d) => d.key.spi).sort(), [fresh.inbound.spi, fresh.outbound.spi].sort());
        assert.equal(bed.b.counters.get('rx.delete.IPSEC_ESP'), 1, 'the old pair went with a Delete');
      } finally {
        await bed.close();
      }
    });
  });
});
