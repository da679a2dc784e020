/**
 * Issue 9, lossy links: two tools/iked daemons negotiate through the impairment relay (relay.ts)
 * at 30 % loss, 10 % duplication, 15 % of datagrams held back (reordering) and 0-20 ms delay in
 * each direction. Every one of 200 fresh negotiations (Main Mode + Quick Mode with PFS, `initiate
 * LABEL new`, 16 in flight) must complete within the retransmission limits; afterwards both dumps
 * hold exactly the SAs made, nothing half-open, and the counters show the retransmissions and
 * duplicates that were handled and no failure. Teardown over a clean link: `flush p1` on A, whose
 * Deletes empty B.
 *
 * Timers (ike/config globals, both daemons), and why:
 *   retry_timer_init 0.25, retry_timer_max 1 — a loopback round trip here is a few ms plus the
 *     relay's delay (<= 140 ms held back), so 0.25 s is patient enough and keeps the test short;
 *   retry_limit 20 — one request/response round succeeds with p = 0.7 * 0.7 = 0.49 per attempt,
 *     so a round fails with 0.51^21 ~ 7e-7; ~5 rounds (MM1-2, MM3-4, MM5-6, QM1-2, QM2 retransmitted
 *     until QM3 lands) x 200 negotiations ~ 1e-3 chance of any give-up. Give-up after ~20.75 s.
 *   expire_timer 120 — well above the worst-case Phase 1 (3 rounds x 20.75 s).
 *
 * Environment: OAKLEY_IMPAIR_N (default 200), OAKLEY_IMPAIR_WINDOW (16), OAKLEY_IMPAIR_SEED (9),
 * OAKLEY_IMPAIR_REPORT=FILE writes the figures as JSON.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ControlClient } from '../../src/control/client';
import type { P1Info, P2Info, StatsResult } from '../../src/control/commands';
import { freeUdpPorts, stopDaemon, type Daemon } from '../../src/demo/iked-demo';
import {
  controlJson, initiateFresh, percentile, runWindowed, scrapeCounters, startDaemonWithMetrics, waitUntil, writeRelayedRoot, type TimerSettings,
} from './harness';
import { ImpairmentRelay, NO_IMPAIRMENT, totals, type ImpairmentProfile } from './relay';

const N = Number(process.env.OAKLEY_IMPAIR_N ?? 200);
const WINDOW = Number(process.env.OAKLEY_IMPAIR_WINDOW ?? 16);
const SEED = Number(process.env.OAKLEY_IMPAIR_SEED ?? 9);

export const HOSTILE_PROFILE: ImpairmentProfile = { loss: 0.3, duplicate: 0.1, reorder: 0.15, delayMs: [0, 20], reorderMs: [30, 120] };
/** OAKLEY_IMPAIR_PROFILE='{"loss":0,…}' overrides the profile (for comparisons; the assertions expect impairment). */
const PROFILE: ImpairmentProfile = process.env.OAKLEY_IMPAIR_PROFILE ? JSON.parse(process.env.OAKLEY_IMPAIR_PROFILE) as ImpairmentProfile : HOSTILE_PROFILE;
export const HOSTILE_TIMERS: TimerSettings = { retryTimerInit: 0.25, retryTimerMax: 1, retryLimit: 20, expireTimer: 120 };

const RELAY_FRONT = '127.0.0.2';
const RELAY_BACK = '127.0.0.3';

describe('hostile network: Oakley <-> Oakley through the impairment relay', function () {
  this.timeout(180_000);
  let tmp: string;
  let relay: ImpairmentRelay | undefined;
  const daemons: Daemon[] = [];
  const clients: ControlClient[] = [];
  /** One control connection per concurrent negotiation (the server answers a connection's requests in order). */
  const workers: ControlClient[] = [];
  let a: { d: Daemon; metrics: number; c: ControlClient };
  let b: { d: Daemon; metrics: number; c: ControlClient };

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-impair-'));
    const [portA, natA, portB, natB] = await freeUdpPorts(4);
    relay = await ImpairmentRelay.open({
      seed: SEED, profile: PROFILE,
      forwards: [
        { name: 'ike', listen: { address: RELAY_FRONT, port: portA! }, target: { address: '127.0.0.1', port: portB! }, upstreamAddress: RELAY_BACK },
        { name: 'nat-t', listen: { address: RELAY_FRONT, port: natA! }, target: { address: '127.0.0.1', port: natB! }, upstreamAddress: RELAY_BACK },
      ],
    });
    const psk = 'impairment test key';
    writeRelayedRoot(path.join(tmp, 'a'), { label: 'a-to-b', local: '127.0.0.1', remote: RELAY_FRONT, remotePort: portA!, psk, timers: HOSTILE_TIMERS,
      innerLocal: '10.1.0.1', innerRemote: '10.2.0.1' });
    writeRelayedRoot(path.join(tmp, 'b'), { label: 'b-from-a', local: '127.0.0.1', remote: RELAY_BACK, psk, timers: HOSTILE_TIMERS,
      innerLocal: '10.2.0.1', innerRemote: '10.1.0.1' });
    const start = async (name: string, port: number, nat: number) => {
      const s = await startDaemonWithMetrics(path.join(tmp, name), port, nat, process.env.OAKLEY_IMPAIR_DEBUG ? ['-D', 'all', '--log', path.join(tmp, `${name}.log`)] : []);
      daemons.push(s.d);
      const c = await ControlClient.connect(s.d.control);
      clients.push(c);
      return { ...s, c };
    };
    a = await start('a', portA!, natA!);
    b = await start('b', portB!, natB!);
    for (let i = 0; i < WINDOW; i++) workers.push(await ControlClient.connect(a.d.control));
    clients.push(...workers);
  });

  after(async () => {
    for (const c of clients) c.close();
    relay?.close();
    for (const d of daemons) await stopDaemon(d, 3000);
    if (!process.env.OAKLEY_IMPAIR_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const logs = (): string => `\n--- iked A ---\n${a.d.log.split('\n').slice(-40).join('\n')}\n--- iked B ---\n${b.d.log.split('\n').slice(-40).join('\n')}`;

  it(`${N} fresh negotiations (MM + QM/PFS) at 30 % loss, 10 % duplication, reordering: all complete, nothing left half-open`, async () => {
    const t0 = Date.now();
    const outcomes = await runWindowed(N, WINDOW, async (_i, w) => void await initiateFresh(workers[w]!, 'a-to-b'));
    const elapsed = Date.now() - t0;
    const failed = outcomes.filter((o) => !o.ok);
    // B finishes a Quick Mode when QM3 arrives, which may be after A returned (B retransmits QM2
    // and A replays QM3 until one gets through): wait for that before reading any counter.
    const settled = await waitUntil(`B to hold ${2 * N} IPsec SAs`, async () =>
      ((await controlJson<P2Info[]>(b.c, 'dump p2')).length >= 2 * (outcomes.length - failed.length) ? true : undefined), 60_000).catch((e: Error) => e);
    const sa = await controlJson<StatsResult>(a.c, 'get stats');
    const sb = await controlJson<StatsResult>(b.c, 'get stats');
    const ca = await scrapeCounters(a.metrics);
    const cb = await scrapeCounters(b.metrics);
    const c = (x: Record<string, number>, k: string) => x[k] ?? 0;
    const rs = relay!.stats();
    const t = totals(rs);
    const ms = outcomes.map((o) => o.ms);
    const report = {
      negotiations: N, completed: outcomes.length - failed.length, window: WINDOW, seed: SEED, elapsedMs: elapsed,
      perNegotiationMs: { p50: percentile(ms, 50), p95: percentile(ms, 95), max: percentile(ms, 100) },
      relay: { total: t, out: rs.out, back: rs.back, sessions: rs.sessions, perForward: rs.perForward },
      a: pick(ca), b: pick(cb), statsA: sa, statsB: sb,
    };
    if (process.env.OAKLEY_IMPAIR_REPORT) fs.writeFileSync(process.env.OAKLEY_IMPAIR_REPORT, JSON.stringify(report, null, 2));
    console.log(`      ${N}/${N} negotiations in ${(elapsed / 1000).toFixed(1)} s (window ${WINDOW}, p50 ${report.perNegotiationMs.p50} ms, ` +
      `max ${report.perNegotiationMs.max} ms); relay: ${t.received} received, ${t.dropped} dropped, ${t.duplicated} duplicated, ` +
      `${t.reordered} reordered, ${t.repeats} repeats; retransmissions A ${c(ca, 'retransmit.resent')} B ${c(cb, 'retransmit.resent')}; ` +
      `replayed A ${c(ca, 'duplicate.replayed') + c(ca, 'rx.qm_retransmission')} B ${c(cb, 'duplicate.replayed') + c(cb, 'rx.qm_retransmission')}; ` +
      `busy A ${c(ca, 'rx.busy')} B ${c(cb, 'rx.busy')}`);
    assert.deepEqual(failed, [], `negotiations failed:${logs()}`);
    assert.equal(settled, true, `${String(settled)}${logs()}`);
    const p2b = await controlJson<P2Info[]>(b.c, 'dump p2');
    const p1a = await controlJson<P1Info[]>(a.c, 'dump p1');
    const p1b = await controlJson<P1Info[]>(b.c, 'dump p1');
    const p2a = await controlJson<P2Info[]>(a.c, 'dump p2');
    assert.equal(p1a.length, N, 'A: one Phase 1 SA per negotiation');
    assert.equal(p1b.length, N, 'B: one Phase 1 SA per negotiation, no extra from duplicated MM1s');
    assert.deepEqual([...new Set(p1a.map((x) => `${x.state}/${x.localIsInitiator}`))], ['ESTABLISHED/true'], 'A: only established initiator SAs');
    assert.deepEqual([...new Set(p1b.map((x) => `${x.state}/${x.localIsInitiator}`))], ['ESTABLISHED/false'], 'B: only established responder SAs');
    const cookies = (xs: P1Info[]) => xs.map((x) => `${x.initiatorCookie}:${x.responderCookie}`).sort();
    assert.deepEqual(cookies(p1a), cookies(p1b), 'the same Phase 1 SAs on both sides');
    assert.ok(p1b.every((x) => x.remote.address === RELAY_BACK), 'B sees the relay as its peer');
    assert.equal(p2a.length, 2 * N);
    assert.equal(p2b.length, 2 * N);
    const spis = (xs: P2Info[], dir: string) => xs.filter((x) => x.direction === dir).map((x) => x.spi).sort((p, q) => p - q);
    assert.deepEqual(spis(p2a, 'inbound'), spis(p2b, 'outbound'), 'A inbound = B outbound');
    assert.deepEqual(spis(p2a, 'outbound'), spis(p2b, 'inbound'), 'A outbound = B inbound');
    for (const x of [...p2a, ...p2b]) assert.match(x.encapsulation ?? '', /^udp /, `NAT-T (UDP-encapsulated) SA expected: ${JSON.stringify(x)}`);

    assert.equal(sa.initP1Total, N);
    assert.equal(sa.initP1NoResp, 0);
    assert.equal(sa.initP1RespFail, 0);
    assert.equal(sb.respP1Total, N);
    assert.equal(sb.respP1Fail, 0);
    for (const [side, x] of [['A', ca], ['B', cb]] as const) {
      for (const k of ['retransmit.gave_up', 'p2.initiator.failed', 'p2.initiator.timeout', 'p2.responder.failed', 'p2.responder.timeout', 'rx.internal_error', 'rx.malformed', 'rx.bad_hash']) {
        assert.equal(c(x, k), 0, `${side} ${k}`);
      }
    }
    assert.ok(c(ca, 'retransmit.resent') > 0, 'A retransmitted');
    assert.ok(c(cb, 'retransmit.resent') > 0, 'B retransmitted QM2');
    assert.ok(c(cb, 'duplicate.replayed') + c(cb, 'rx.qm_retransmission') > 0, 'B answered duplicates from its cache');
    assert.ok(c(ca, 'duplicate.replayed') + c(ca, 'rx.qm_retransmission') > 0, 'A answered duplicates from its cache');
    assert.ok(t.dropped > 0 && t.duplicated > 0 && t.reordered > 0, JSON.stringify(rs));
    assert.ok(t.natT > 0, 'the negotiations floated to the NAT-T port through the relay');
  });

  it('flush p1 on A over a clean link: its Deletes leave no Phase 1 SA on either side', async () => {
    relay!.setProfile(NO_IMPAIRMENT);
    await waitUntil('relay queue to drain', async () => (relay!.pending === 0 ? true : undefined), 5000, 50);
    const r = await a.c.request('flush p1');
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(await controlJson<P1Info[]>(a.c, 'dump p1'), []);
    await waitUntil('B to process the Deletes', async () => ((await controlJson<P1Info[]>(b.c, 'dump p1')).length === 0 ? true : undefined), 20_000);
    const sb = await controlJson<StatsResult>(b.c, 'get stats');
    assert.equal(sb.respP1Current, 0);
    assert.equal((await controlJson<StatsResult>(a.c, 'get stats')).initP1Current, 0);
  });
});

/** The counters the report quotes. */
function pick(x: Record<string, number>): Record<string, number> {
  const keys = ['retransmit.first_send', 'retransmit.resent', 'retransmit.gave_up', 'duplicate.replayed', 'duplicate.busy', 'rx.qm_retransmission',
    'rx.busy', 'rx.late_phase1', 'rx.unexpected', 'rx.qm_stale_message_id', 'rx.packets', 'tx.packets', 'rx.natt_keepalive', 'p1.created'];
  return Object.fromEntries(keys.map((k) => [k, x[k] ?? 0]));
}
