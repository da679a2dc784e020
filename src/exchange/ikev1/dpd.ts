/**
 * Dead Peer Detection (RFC 3706), on an ISAKMP SA whose peer sent the DPD vendor ID:
 *
 *        Us (idle for dpdIdleMs)            Peer
 *       -------------------------          ------
 *        HDR*, HASH(1), N(R-U-THERE, seq)      -->     (Informational, new M-ID)
 *                                         <--      HDR*, HASH(1), N(R-U-THERE-ACK, seq)
 *
 *   Notify: protocol ISAKMP, SPI = CKY-I | CKY-R, data = 32-bit sequence number (§5.5).
 *
 * Only inbound silence counts: any authenticated Quick Mode or Informational message from the
 * peer restarts the idle interval. With no ACK, R-U-THERE is resent (each time with the next
 * sequence number, in a new exchange) on the retransmission schedule (retry_timer_init doubling to
 * retry_timer_max, retry_limit times); when the last wait ends the peer is declared dead: its IPsec
 * SAs and this ISAKMP SA are deleted locally (nothing is sent: nobody would hear it).
 *
 * Sequence numbers (§5.5): an ACK must carry a number we sent and not yet saw acknowledged; a
 * received R-U-THERE must be newer than the last one, or one of the 3 before it (a retransmission,
 * solaris-ike.md §5.5: MAX_DPD_RETRIES window). Anything else is dropped and counted.
 */
import { IkeSaState } from '../ike-sa';
import { retransmitSchedule } from '../retransmit';
import { NotifyType } from '../../wire/ikev1/iana';
import type { NotifyPayload } from '../../wire/ikev1/types';
import type { Ikev1Engine } from './engine';
import { isakmpNotify, sendInformational } from './informational';
import type { Phase1Context } from './phase1-context';
import { ctxPhase2, pairsWith, removePair, type DpdState } from './phase2-state';
import { sameCookiePair } from '../../util/constant-time';

/** Window of older R-U-THERE sequence numbers still answered (retransmissions). */
const SEQ_WINDOW = 3;

function seqBytes(seq: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(seq >>> 0);
  return b;
}

/** Starts DPD on a fresh ISAKMP SA when configured and the peer supports it. */
export function armDpd(engine: Ikev1Engine, ctx: Phase1Context): void {
  if (!(engine.settings.dpdIdleMs > 0) || !ctx.sa.peerDpd) return;
  const st = ctxPhase2(engine, ctx);
  // RFC 3706 §5.5: start from a random value (here in the lower half, so it need not wrap soon).
  st.dpd = { seq: engine.random(4).readUInt32BE(0) & 0x7fffffff, outstanding: new Set(), attempt: 0 };
  wait(engine, ctx, engine.settings.dpdIdleMs);
}

function wait(engine: Ikev1Engine, ctx: Phase1Context, ms: number): void {
  if (!ctx.sa.usableForQuickMode()) return;
  ctx.sa.setTimer('dpd', ms, () => check(engine, ctx));
}

function check(engine: Ikev1Engine, ctx: Phase1Context): void {
  if (!ctx.sa.usableForQuickMode()) return;
  const st = ctxPhase2(engine, ctx);
  const d = st.dpd!;
  const idleMs = engine.settings.dpdIdleMs;
  if (d.outstanding.size === 0) {
    const idle = engine.clock.now() - st.lastInboundAt;
    if (idle < idleMs) {
      wait(engine, ctx, idleMs - idle);
      return;
    }
  }
  const waits = retransmitSchedule(engine.settings.retransmit);
  if (d.attempt >= waits.length) {
    void peerDead(engine, ctx, d);
    return;
  }
  d.seq = (d.seq + 1) >>> 0;
  d.outstanding.add(d.seq);
  sendInformational(engine, ctx, [isakmpNotify(ctx, NotifyType.R_U_THERE, seqBytes(d.seq))])
    .catch((e: unknown) => engine.log.warn(`R-U-THERE not sent: ${(e as Error).message}`));
  engine.counters.inc(d.attempt === 0 ? 'dpd.probe' : 'dpd.probe_retry');
  wait(engine, ctx, waits[d.attempt]);
  d.attempt++;
}

async function peerDead(engine: Ikev1Engine, ctx: Phase1Context, d: DpdState): Promise<void> {
  const peer = ctx.sa.peer.address;
  engine.counters.inc('dpd.peer_dead');
  engine.log.warn(`DPD: peer ${peer} did not answer ${d.outstanding.size} R-U-THERE; deleting its SAs`);
  for (const pair of pairsWith(engine, peer)) await removePair(engine, pair, 'DPD: peer dead');
  if (ctx.sa.state !== IkeSaState.DESTROYED) engine.deletePhase1(ctx, 'DPD: peer dead');
}

/** True when the notification names this ISAKMP SA (§5.5: check the cookies in the SPI). */
function aboutThisSa(ctx: Phase1Context, n: NotifyPayload): boolean {
  return sameCookiePair(n.spi, ctx.sa.icookie, ctx.sa.rcookie) && n.data.length === 4;
}

/** R-U-THERE received: answer with R-U-THERE-ACK carrying the same sequence number. */
export function onRuThere(engine: Ikev1Engine, ctx: Phase1Context, n: NotifyPayload): void {
  if (!aboutThisSa(ctx, n)) {
    engine.counters.inc('dpd.bad_notify');
    return;
  }
  const st = ctxPhase2(engine, ctx);
  const seq = n.data.readUInt32BE(0);
  const last = st.dpdPeerSeq;
  if (last !== undefined) {
    const newer = seq !== last && ((seq - last) >>> 0) < 0x80000000;
    const recent = ((last - seq) >>> 0) < SEQ_WINDOW;
    if (!newer && !recent) {
      engine.counters.inc('dpd.bad_seq');
      return;
    }
    if (newer) st.dpdPeerSeq = seq;
  } else {
    st.dpdPeerSeq = seq;
  }
  sendInformational(engine, ctx, [isakmpNotify(ctx, NotifyType.R_U_THERE_ACK, seqBytes(seq))])
    .catch((e: unknown) => engine.log.warn(`R-U-THERE-ACK not sent: ${(e as Error).message}`));
  engine.counters.inc('dpd.ack_sent');
}

/** R-U-THERE-ACK received: the peer is alive if the number is one we sent. */
export function onRuThereAck(engine: Ikev1Engine, ctx: Phase1Context, n: NotifyPayload): void {
  const st = ctxPhase2(engine, ctx);
  const d = st.dpd;
  if (!aboutThisSa(ctx, n) || !d || !d.outstanding.has(n.data.readUInt32BE(0))) {
    engine.counters.inc('dpd.bad_seq');
    return;
  }
  d.outstanding.clear();
  d.attempt = 0;
  engine.counters.inc('dpd.alive');
  wait(engine, ctx, engine.settings.dpdIdleMs);
}
