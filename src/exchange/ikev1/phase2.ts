/**
 * Wires the post-Phase-1 machinery into an engine: the Quick Mode and Informational modules, what
 * happens when an ISAKMP SA is established (INITIAL-CONTACT, DPD), and the kernel's SA expiry
 * events (solaris-ike.md §5.5):
 *
 *   SOFT expire of a pair we initiated → a new Quick Mode (a new Phase 1 first if none is usable);
 *     once the new pair is installed the old one's hard lifetime is cut to 8 s from now (Solaris
 *     SADB_X_UPDATEPAIR), so traffic always has an SA: new ones exist before old ones go.
 *     The responder leaves rekeying to the initiator.
 *   HARD expire → the pair is removed and the peer gets a Delete for our inbound SPI.
 */
import type { ExpireEvent } from '../../kernel/types';
import type { Ikev1Engine } from './engine';
import { armDpd } from './dpd';
import { deleteIpsecSa, INFORMATIONAL, isakmpNotify, onInitialContact, sendInformational } from './informational';
import type { Phase1Context } from './phase1-context';
import { ctxPhase2, enginePhase2, hasPairsWith, pairOf, type ChildSaPair } from './phase2-state';
import { quickMode, QUICK_MODE_MODULE } from './quick-mode';
import { NotifyType } from '../../wire/ikev1/iana';

/** Solaris remembers a peer it sent INITIAL-CONTACT to for 30 s (solaris-ike.md §5.5 step 6). */
const INITIAL_CONTACT_MEMORY_MS = 30_000;
/** Old pair's remaining hard lifetime after a successful rekey (SADB_X_UPDATEPAIR, 8 s). */
const RETIRE_AFTER_SECS = 8;

/** Registers the modules and event handlers on a new engine (called by its constructor). */
export function attachPhase2(engine: Ikev1Engine): void {
  engine.register(QUICK_MODE_MODULE);
  engine.register(INFORMATIONAL);
  engine.initialContact = (ctx) => claimInitialContact(engine, ctx);
  const onExpire = (ev: ExpireEvent) => {
    if (enginePhase2(engine).closed) return;
    kernelExpire(engine, ev).catch((e: unknown) => engine.log.error(`handling ${ev.kind} expire: ${(e as Error).stack ?? String(e)}`));
  };
  engine.kernel.events.on('expire', onExpire);
  engine.events.on('established', (ctx) => phase1Established(engine, ctx));
  engine.events.on('closed', () => {
    enginePhase2(engine).closed = true;
    engine.kernel.events.off('expire', onExpire);
  });
}

function phase1Established(engine: Ikev1Engine, ctx: Phase1Context): void {
  ctxPhase2(engine, ctx).lastInboundAt = engine.clock.now();
  if (ctx.sa.role === 'initiator') maybeInitialContact(engine, ctx);
  if (ctx.peerInitialContact) {
    onInitialContact(engine, ctx).catch((e: unknown) => engine.log.error(`INITIAL-CONTACT: ${(e as Error).message}`));
  }
  armDpd(engine, ctx);
  armNatKeepalive(engine, ctx);
}

/** Keepalives while this ISAKMP SA lives, when a NAT was detected in front of us (RFC 3947 §3.1). */
function armNatKeepalive(engine: Ikev1Engine, ctx: Phase1Context): void {
  const ms = engine.settings.natKeepaliveMs;
  if (!(ms > 0) || !ctx.sa.natT.localBehindNat) return;
  const tick = (): void => {
    if (!ctx.sa.usableForQuickMode()) return;
    engine.sendNatKeepalive(ctx);
    ctx.sa.setTimer('natt-keepalive', ms, tick);
  };
  ctx.sa.setTimer('natt-keepalive', ms, tick);
}

/**
 * INITIAL-CONTACT (RFC 2407 §4.6.3.3) when we hold nothing else with this peer: no other ISAKMP
 * SA and no IPsec SA pair, and we did not just send one (parallel first contacts, Solaris' 30 s
 * address cache). @returns true when it should be sent now (and remembers that it was)
 */
function claimInitialContact(engine: Ikev1Engine, ctx: Phase1Context): boolean {
  const peer = ctx.sa.peer.address;
  const ep = enginePhase2(engine);
  for (const c of engine.phase1SasWith(peer)) if (c !== ctx && c.sa.state !== 'DESTROYED') return false;
  if (hasPairsWith(engine, peer)) return false;
  const last = ep.initialContactSent.get(peer);
  if (last !== undefined && engine.clock.now() - last < INITIAL_CONTACT_MEMORY_MS) return false;
  ep.initialContactSent.set(peer, engine.clock.now());
  return true;
}

/**
 * The initiator's INITIAL-CONTACT normally rides in MM5/AM3 (phase1-steps.ts buildAuthPayloads),
 * where strongSwan and Solaris act on it; when it was not claimed then (e.g. the SA came up by a
 * path that skipped it), it goes in an Informational exchange of its own.
 */
function maybeInitialContact(engine: Ikev1Engine, ctx: Phase1Context): void {
  if (ctx.initialContactSent || !claimInitialContact(engine, ctx)) return;
  sendInformational(engine, ctx, [isakmpNotify(ctx, NotifyType.INITIAL_CONTACT)])
    .catch((e: unknown) => engine.log.warn(`INITIAL-CONTACT not sent: ${(e as Error).message}`));
}

async function kernelExpire(engine: Ikev1Engine, ev: ExpireEvent): Promise<void> {
  const pair = pairOf(engine, ev.sa);
  if (!pair) return;
  if (ev.kind === 'hard') {
    engine.counters.inc('p2.hard_expired');
    await deleteIpsecSa(engine, pair, `hard lifetime reached (${ev.by})`);
  } else if (ev.kind === 'soft' && pair.role === 'initiator' && pair.state === 'installed' && !pair.rekeying) {
    await rekey(engine, pair);
  }
}

/**
 * Replaces a pair whose soft lifetime ran out with a new Quick Mode for the same traffic, then
 * retires the old pair. @returns the new pair, or undefined when the rekey failed (the old pair
 * then lives until its hard lifetime)
 */
export async function rekey(engine: Ikev1Engine, pair: ChildSaPair): Promise<ChildSaPair | undefined> {
  pair.rekeying = true;
  engine.counters.inc('p2.rekey.started');
  try {
    const ctx = engine.established(pair.peer, pair.ruleLabel) ?? await engine.initiate(pair.local, pair.peer, pair.ruleLabel);
    const fresh = await quickMode(engine, ctx, { policy: pair.policy, ...(pair.explicitIds ? { selectors: pair.selectors } : {}) });
    pair.state = 'rekeyed';
    pair.replacedBy = fresh;
    engine.counters.inc('p2.rekey.done');
    for (const spec of [pair.inbound, pair.outbound]) {
      const key = { dst: spec.dst, spi: spec.spi, protocol: spec.protocol };
      const info = await engine.kernel.querySa(key);
      if (!info || info.addedAt === undefined || !info.lifetimes) continue;
      const secs = Math.ceil((engine.clock.now() - info.addedAt) / 1000) + RETIRE_AFTER_SECS;
      if (info.lifetimes.hard.seconds === 0 || secs < info.lifetimes.hard.seconds) {
        await engine.kernel.updateLifetimes(key, { hard: { seconds: secs, bytes: info.lifetimes.hard.bytes } });
      }
    }
    return fresh;
  } catch (e) {
    engine.counters.inc('p2.rekey.failed');
    engine.log.warn(`rekey of IPsec SA pair with ${pair.peer.address} failed: ${(e as Error).message}`);
    return undefined;
  } finally {
    pair.rekeying = false;
  }
}
