/**
 * The optional Prometheus endpoint (`iked --metrics 127.0.0.1:PORT`): GET /metrics in the text
 * exposition format, built with prom-client on a private registry (no process-global state, so
 * two daemons in one test process do not mix).
 *
 * What it exports, read at scrape time (nothing is copied on the packet path):
 *   oakley_events_total{counter="p1.initiator.total"}  every monotonic Counters entry (counters.ts),
 *                                                      plus modexp.batch.{runs,items,singles} (IFMA queues)
 *                                                      and pool.starved (native pool jobs starved
 *                                                      under SCHED_IDLE, OAKLEY_WORKER_NICE=auto)
 *   oakley_current{counter="p1.initiator.current"}     every `*.current` entry (these go down too)
 *   oakley_ike_sas{role="initiator|responder"}         Phase 1 SAs the engine holds now
 *   oakley_ipsec_sas{direction="inbound|outbound"}     IPsec SAs in the kernel (memory) now
 *   oakley_event_loop_delay_seconds{stat="p50|p99|max|mean"}  event-loop delay over the interval
 *                                                      since the previous scrape: how late a 5 ms
 *                                                      timer fired (perf_hooks monitorEventLoopDelay
 *                                                      records the whole interval between firings,
 *                                                      5 ms on an idle loop; the 5 ms are taken off,
 *                                                      as @fastify/under-pressure does)
 *   oakley_event_loop_delay_samples                    how many samples that interval holds
 *   oakley_memory_bytes{kind="rss|heap_total|heap_used|external|array_buffers"}  process.memoryUsage()
 *   oakley_heap_space_bytes{space="new_space|old_space|...",stat="size|used|available"}  V8 heap spaces
 *                                                      (what resident memory is made of: live JS
 *                                                      objects, garbage not yet collected, buffers)
 *
 * The event-loop monitor runs only while the endpoint does (it is the daemon's optional internal
 * monitor). Its histogram is reset at every scrape, so a scrape before and one after a load
 * phase give that phase's figures (npm run bench:handshake does exactly this); one scraper is
 * assumed, as a second one would split the intervals.
 *
 * Counter names keep the daemon's dotted names as a label value rather than being folded into
 * metric names, so a new counter appears without a change here.
 *
 * Only loopback addresses are accepted (options.ts): the endpoint has no authentication. Put a
 * reverse proxy with TLS and access control in front of it to scrape from elsewhere.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import v8 from 'node:v8';

import { Counter, Gauge, Registry } from 'prom-client';

import type { Ikev1Engine } from '../exchange/ikev1/engine';
import type { MemoryKernel } from '../kernel/memory';
import type { Counters } from '../util/counters';
import type { Logger } from '../util/log';
import { nativeAvailable, requireAddon } from '../crypto/native/addon';
import { modexpBatchStats } from '../crypto/native/ke';

export interface SaCounts {
  readonly p1: Readonly<Record<'initiator' | 'responder', number>>;
  readonly p2: Readonly<Record<'inbound' | 'outbound', number>>;
}

export interface MetricsOptions {
  readonly host: string;
  /** 0 picks a free port (see MetricsEndpoint.port). */
  readonly port: number;
  readonly counters: Counters;
  /** Current SA counts, asked at every scrape. */
  readonly saCounts: () => SaCounts;
  readonly log: Logger;
}

export interface MetricsEndpoint {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  close(): Promise<void>;
}

/**
 * Phase 1 SAs in the engine by role, IPsec SAs in the kernel by direction: counted in place, as a
 * scrape must not allocate per SA (it once dumped every kernel SA twice per scrape, and at 24,000
 * SAs that garbage reached the old generation).
 */
export function saCounts(engine: Pick<Ikev1Engine, 'phase1CountsByRole'>, kernel: Pick<MemoryKernel, 'countByDirection'>): SaCounts {
  return { p1: engine.phase1CountsByRole(), p2: kernel.countByDirection() };
}

const isGauge = (name: string): boolean => name.endsWith('.current');

/** Sampling interval of the event-loop monitor: fine enough for a 10 ms target, ~200 wake-ups/s. */
export const LOOP_RESOLUTION_MS = 5;

/**
 * Event-loop delay from one monitorEventLoopDelay statistic: the histogram holds intervals
 * between timer firings, so an idle loop reads the sampling period; the delay is what exceeds it.
 */
export function loopDelaySeconds(intervalNs: number, resolutionMs: number): number {
  return Number.isFinite(intervalNs) ? Math.max(0, intervalNs / 1e9 - resolutionMs / 1000) : 0;
}

/**
 * The registry with every metric above (separate from the server, for tests).
 * @param loop the event-loop delay histogram (reset at each scrape); none: no loop metrics
 * @param loopResolutionMs the sampling period `loop` was enabled with
 */
export function metricsRegistry(counters: Counters, saCounts: () => SaCounts, loop?: IntervalHistogram,
  loopResolutionMs = LOOP_RESOLUTION_MS): Registry {
  const registry = new Registry();
  if (loop) {
    // Read once per scrape, then reset: both loop metrics describe the same interval.
    let last = { p50: 0, p99: 0, max: 0, mean: 0, count: 0 };
    new Gauge({
      name: 'oakley_event_loop_delay_seconds', help: 'Event-loop delay since the previous scrape: lateness of a 5 ms timer (monitorEventLoopDelay intervals less 5 ms)',
      labelNames: ['stat'], registers: [registry],
      collect() {
        const count = loop.count;
        const s = (ns: number): number => (count > 0 ? loopDelaySeconds(ns, loopResolutionMs) : 0);
        last = { p50: s(loop.percentile(50)), p99: s(loop.percentile(99)), max: s(loop.max), mean: s(loop.mean), count };
        loop.reset();
        for (const stat of ['p50', 'p99', 'max', 'mean'] as const) this.set({ stat }, last[stat]);
      },
    });
    new Gauge({
      name: 'oakley_event_loop_delay_samples', help: 'Samples behind oakley_event_loop_delay_seconds', registers: [registry],
      collect() {
        this.set(last.count);
      },
    });
  }
  new Counter({
    name: 'oakley_events_total', help: 'Daemon event counters (src/util/counters.ts names)', labelNames: ['counter'], registers: [registry],
    collect() {
      this.reset();
      for (const [name, v] of Object.entries(counters.snapshot())) if (!isGauge(name) && v > 0) this.inc({ counter: name }, v);
      // The IFMA batch queues of the native path (process-wide): kernel runs, items in them, lone items.
      const b = modexpBatchStats();
      for (const [name, v] of [['modexp.batch.runs', b.runs], ['modexp.batch.items', b.batchedItems], ['modexp.batch.singles', b.singles]] as const) {
        if (v > 0) this.inc({ counter: name }, v);
      }
      // Jobs the pool found starved under SCHED_IDLE (OAKLEY_WORKER_NICE=auto), each moving it to nice 5 for 10 s.
      const promotions = nativeAvailable() ? requireAddon().workerPriority().promotions : 0;
      if (promotions > 0) this.inc({ counter: 'pool.starved' }, promotions);
    },
  });
  new Gauge({
    name: 'oakley_current', help: 'Daemon counters that go up and down (names ending in .current)', labelNames: ['counter'], registers: [registry],
    collect() {
      this.reset();
      for (const [name, v] of Object.entries(counters.snapshot())) if (isGauge(name)) this.set({ counter: name }, v);
    },
  });
  new Gauge({
    name: 'oakley_ike_sas', help: 'Phase 1 (ISAKMP) SAs held now, by local role', labelNames: ['role'], registers: [registry],
    collect() {
      const { p1 } = saCounts();
      for (const role of ['initiator', 'responder'] as const) this.set({ role }, p1[role]);
    },
  });
  new Gauge({
    name: 'oakley_ipsec_sas', help: 'Phase 2 (IPsec) SAs installed now, by direction', labelNames: ['direction'], registers: [registry],
    collect() {
      const { p2 } = saCounts();
      for (const direction of ['inbound', 'outbound'] as const) this.set({ direction }, p2[direction]);
    },
  });
  new Gauge({
    name: 'oakley_memory_bytes', help: 'Process memory (process.memoryUsage): rss, V8 heap total and used, external, array buffers',
    labelNames: ['kind'], registers: [registry],
    collect() {
      const m = process.memoryUsage();
      const kinds = { rss: m.rss, heap_total: m.heapTotal, heap_used: m.heapUsed, external: m.external, array_buffers: m.arrayBuffers };
      for (const [kind, v] of Object.entries(kinds)) this.set({ kind }, v);
    },
  });
  new Gauge({
    name: 'oakley_heap_space_bytes', help: 'V8 heap spaces: committed size, used, available', labelNames: ['space', 'stat'], registers: [registry],
    collect() {
      for (const s of v8.getHeapSpaceStatistics()) {
        this.set({ space: s.space_name, stat: 'size' }, s.space_size);
        this.set({ space: s.space_name, stat: 'used' }, s.space_used_size);
        this.set({ space: s.space_name, stat: 'available' }, s.space_available_size);
      }
    },
  });
  return registry;
}

/**
 * Serves GET /metrics (HEAD too); every other path is 404 and every other method 405.
 * @returns once listening; close() stops it and drops open connections
 */
export async function startMetrics(o: MetricsOptions): Promise<MetricsEndpoint> {
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const registry = metricsRegistry(o.counters, o.saCounts, loop);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : text);
    }, (e: unknown) => {
      o.log.warn(`metrics scrape failed: ${(e as Error).message}`);
      res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => o.log.error('metrics endpoint error', { err }));
  const port = (server.address() as AddressInfo).port;
  const shown = o.host.includes(':') ? `[${o.host}]` : o.host;
  o.log.info(`metrics endpoint listening on http://${shown}:${port}/metrics`);
  let closing: Promise<void> | undefined;
  return {
    host: o.host, port, registry,
    close() {
      loop.disable();
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
