/**
 * Shared pieces of the impairment tests: running N negotiations through the control socket with a
 * window of concurrent ones, reading every daemon counter from the --metrics endpoint, and the
 * Oakley <-> Oakley setup through the relay on loopback.
 *
 *   iked A 127.0.0.1:PA/NA  -->  relay 127.0.0.2:PA -> 127.0.0.1:PB   (session sockets on 127.0.0.3)
 *                                relay 127.0.0.2:NA -> 127.0.0.1:NB
 *   iked B 127.0.0.1:PB/NB  <--  (B's rule names 127.0.0.3 as the peer)
 *
 * The relay listens on A's own port numbers at another loopback address on purpose: A's rule
 * names 127.0.0.2:PA as the peer, so when NAT-D shows the rewrite A floats to "the peer's NAT-T
 * port", which Oakley takes to be its own NAT-T port NA when the peer's IKE port equals its own
 * (engine.ts sendRaw), and the relay forwards 127.0.0.2:NA to B's NAT-T port.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

import { ControlClient } from '../../src/control/client';
import { startDaemon, type Daemon } from '../../src/demo/iked-demo';

export interface NegotiationOutcome {
  readonly index: number;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

/**
 * Runs `count` calls of `one` with at most `window` in flight; worker `w` (0..window-1) makes its
 * calls one after another. The control server answers the requests of one connection in order,
 * so concurrent negotiations need one connection per worker.
 * @returns one outcome per call, in index order
 */
export async function runWindowed(count: number, window: number, one: (i: number, worker: number) => Promise<void>): Promise<NegotiationOutcome[]> {
  const out: NegotiationOutcome[] = new Array(count);
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const t0 = Date.now();
      try {
        await one(i, w);
        out[i] = { index: i, ok: true, ms: Date.now() - t0 };
      } catch (e) {
        out[i] = { index: i, ok: false, ms: Date.now() - t0, error: (e as Error).message };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, (_x, w) => worker(w)));
  return out;
}

/** `initiate LABEL new` over one control connection. @throws Error with the daemon's message */
export async function initiateFresh(client: ControlClient, label: string): Promise<string> {
  const r = await client.request('initiate', { label, fresh: true });
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return String(r.result);
}

export async function controlJson<T>(client: ControlClient, command: string, args: Record<string, unknown> = {}): Promise<T> {
  const r = await client.request(command, args);
  if (!r.ok) throw new Error(`${command}: ${r.error.code}: ${r.error.message}`);
  return r.result as T;
}

/** The daemon's counters (oakley_events_total and oakley_current) from its Prometheus endpoint. */
export function scrapeCounters(port: number): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        const out: Record<string, number> = {};
        for (const m of body.matchAll(/^oakley_(?:events_total|current)\{counter="([^"]+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
        resolve(out);
      });
    }).on('error', reject);
  });
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts iked with a metrics endpoint on a free port. @returns the daemon and that port */
export async function startDaemonWithMetrics(root: string, port: number, natPort: number, extra: readonly string[] = []): Promise<{ d: Daemon; metrics: number }> {
  const metrics = await freeTcpPort();
  const d = await startDaemon(root, port, natPort, ['--metrics', `127.0.0.1:${metrics}`, ...extra]);
  return { d, metrics };
}

export interface TimerSettings {
  readonly retryTimerInit: number;
  readonly retryTimerMax: number;
  readonly retryLimit: number;
  readonly expireTimer: number;
}

/**
 * Writes one side's --root: a preshared rule with group 14 and PFS, a tunnel-mode policy whose
 * tunnel endpoints are the rule's addresses, and the pre-shared key for the peer as this side
 * sees it (the relay's address).
 */
export function writeRelayedRoot(dir: string, o: {
  label: string; local: string; remote: string; remotePort?: number; psk: string; timers: TimerSettings;
  innerLocal: string; innerRemote: string;
}): void {
  fs.mkdirSync(path.join(dir, 'ike'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'secret'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'ike', 'config'), `# impairment test (test/hostile)
retry_timer_init ${o.timers.retryTimerInit}
retry_timer_max ${o.timers.retryTimerMax}
retry_limit ${o.timers.retryLimit}
expire_timer ${o.timers.expireTimer}
p1_lifetime_secs 3600
{
  label "${o.label}"
  local_addr ${o.local}
  remote_addr ${o.remote}
${o.remotePort !== undefined ? `  remote_port ${o.remotePort}\n` : ''}  p1_xform { auth_method preshared oakley_group 14 encr_alg aes(256..256) auth_alg sha256 }
  p2_pfs 14
}
`);
  const psk = path.join(dir, 'secret', 'ike.preshared');
  fs.writeFileSync(psk, `{\n  localidtype IP\n  localid ${o.local}\n  remoteidtype IP\n  remoteid ${o.remote}\n  key "${o.psk}"\n}\n`, { mode: 0o600 });
  fs.chmodSync(psk, 0o600);
  fs.writeFileSync(path.join(dir, 'ipsecinit.conf'), `tunnel ip.tun0 tsrc ${o.local} tdst ${o.remote}\n` +
    `{tunnel ip.tun0 negotiate tunnel laddr ${o.innerLocal} raddr ${o.innerRemote}} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}\n`);
}

/** Polling with a deadline: the interop harness's helper (test/interop/lib/sys.ts), shared. */
export { sleep, waitFor as waitUntil } from '../interop/lib/sys';

/** Percentile of a list of numbers (nearest rank). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
