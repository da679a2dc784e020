/**
 * Kernel ACQUIRE → negotiation (solaris-ike.md §5.5 "ACQUIRE handling (initiator)"): outbound
 * traffic hit a policy that has no SA, so IKE starts one.
 *
 *   kernel                       Oakley (initiator)                        peer
 *   ACQUIRE src S dst D    -->   usable Phase 1 SA with D?  yes: Quick Mode only
 *                                no: the FIRST rule (file order) whose local addresses contain S
 *                                    and remote addresses contain D, Main/Aggressive Mode  -->
 *                                Quick Mode for the rule's selectors (tunnel: the one holding
 *                                the packet's inner addresses)                            -->
 *
 * Several ACQUIREs for the same address pair while a negotiation is under way are merged into it
 * (Solaris queues them on the Phase 1 SA in progress). XFRM has no negative ACQUIRE: when no rule
 * matches or the negotiation fails, the kernel's larval state simply times out
 * (net.core.xfrm_acq_expires) and the next packet asks again.
 *
 * Layering: this is protocol policy (rule choice, Phase 1 reuse, merging), so it lives with the
 * exchanges and sees only the KernelIpsec events; the daemon attaches it because only the daemon
 * knows which UDP port the engine sends from.
 */
import type { AcquireEvent, TrafficSelector } from '../../kernel/types';
import type { Endpoint } from '../../net/transport';
import type { Ikev1Engine } from './engine';
import { clientContains, type ClientId, type TrafficSelectors } from './traffic-selectors';

export interface AcquireOptions {
  /** Our IKE port (the source port of the Phase 1 we start). */
  readonly localPort: number;
}

function clientOf(t: TrafficSelector): ClientId {
  const v6 = t.address.includes(':');
  const host = t.prefixLength === (v6 ? 128 : 32);
  const id = host
    ? (v6 ? { kind: 'ipv6' as const, address: t.address } : { kind: 'ipv4' as const, address: t.address })
    : (v6 ? { kind: 'ipv6-subnet' as const, address: t.address, prefix: t.prefixLength } : { kind: 'ipv4-subnet' as const, address: t.address, prefix: t.prefixLength });
  return { id, ...(t.protocol ? { protocol: t.protocol } : {}), ...(t.port ? { port: t.port } : {}) };
}

/**
 * Handles one ACQUIRE. @returns once the negotiation it started (or joined) ended; never throws —
 * failures are logged and counted (acquire.no_rule, acquire.failed).
 */
export async function handleAcquire(engine: Ikev1Engine, ev: AcquireEvent, opts: AcquireOptions, inFlight: Map<string, Promise<void>>): Promise<void> {
  engine.counters.inc('acquire.received');
  const local: Endpoint = { address: ev.src, port: opts.localPort };
  const rule = engine.findRule(local, { address: ev.dst, port: 0 });
  if (!rule) {
    engine.counters.inc('acquire.no_rule');
    engine.log.info(`ACQUIRE ${ev.src} -> ${ev.dst}: no rule covers these addresses; ignored`);
    return;
  }
  const pairKey = `${ev.src}>${ev.dst}`;
  const running = inFlight.get(pairKey);
  if (running) {
    engine.counters.inc('acquire.merged');
    return running;
  }
  const peer: Endpoint = { address: ev.dst, port: rule.remotePort ?? 500 };
  // Tunnel rules may have several selector pairs: the one holding the packet's flow.
  let selectors: TrafficSelectors | undefined;
  if (rule.p2Selectors && rule.p2Selectors.length > 1 && ev.innerSrc && ev.innerDst) {
    const src = clientOf(ev.innerSrc), dst = clientOf(ev.innerDst);
    selectors = rule.p2Selectors.find((s) => clientContains(s.local, src) && clientContains(s.remote, dst));
  }
  const work = (async () => {
    try {
      engine.log.info(`ACQUIRE ${ev.src} -> ${ev.dst} (seq ${ev.seq}): negotiating under rule "${rule.label}"`);
      const ctx = engine.established(peer, rule.label) ?? await engine.initiate(local, peer, rule.label);
      await engine.quickMode(ctx, selectors ? { selectors } : {});
      engine.counters.inc('acquire.negotiated');
    } catch (e) {
      engine.counters.inc('acquire.failed');
      engine.log.warn(`ACQUIRE ${ev.src} -> ${ev.dst}: negotiation failed: ${(e as Error).message}`);
    } finally {
      inFlight.delete(pairKey);
    }
  })();
  inFlight.set(pairKey, work);
  return work;
}

/**
 * Starts negotiations on the kernel's ACQUIREs until the engine closes.
 * @returns a function that detaches the handler
 */
export function attachAcquire(engine: Ikev1Engine, opts: AcquireOptions): () => void {
  const inFlight = new Map<string, Promise<void>>();
  const onAcquire = (ev: AcquireEvent): void => {
    void handleAcquire(engine, ev, opts, inFlight);
  };
  const detach = (): void => {
    engine.kernel.events.off('acquire', onAcquire);
    engine.events.off('closed', detach);
  };
  engine.kernel.events.on('acquire', onAcquire);
  engine.events.on('closed', detach);
  return detach;
}
