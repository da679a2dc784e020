/**
 * The strongSwan half of the handshake bench, as in ../shared/docs/interop-strongswan.md §8: two
 * private charons (test/interop/lib/charon.ts) in two network namespaces joined by a veth,
 * kernel-libipsec, key logging off and level-0 logs (strongswan.conf rewritten, then vici
 * reload-settings), dos_protection = no, block_threshold 100000. IKEv1 keeps no second Phase 1
 * with the same peer configuration, so the initiator gets one connection per negotiation, b<k>
 * with the ID @i<k>.bench, and the responder one connection with remote id %any and a wildcard PSK.
 * Driven over vici: `initiate` with timeout -1 (fire and forget), at most W outstanding,
 * completion counted from child-updown events.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { CHARON, Charon, strongswanConf } from '../test/interop/lib/charon';
import { createNetnsPair, type NetnsPair } from '../test/interop/lib/netns';
import { drive, measurePhase, measureSlices, onAbort, pinToCpus, type PhaseResult, type Workload } from './handshake-common';
import { ViciClient, type ViciSection } from './vici';

export interface SwanOptions extends Workload {
  readonly n1: number;
  readonly log: (line: string) => void;
}

export interface SwanResult {
  readonly status: 'ok' | 'skipped' | 'error';
  readonly reason?: string;
  readonly version?: string;
  readonly window?: PhaseResult;
  readonly window1?: PhaseResult;
}

const PSK = 'strongswan handshake bench pre-shared key';
/** strongSwan's warm-up is at most this many negotiations (see runStrongswan). */
const SWAN_WARMUP_CAP = 500;
/** A negotiation that has not come up by then counts as failed. */
const NEGOTIATION_TIMEOUT_MS = 60_000;

/** Why the strongSwan half cannot run here, or undefined when it can. */
export function swanUnavailable(): string | undefined {
  if (!fs.existsSync(CHARON)) return `strongSwan is not installed (${CHARON} missing; scripts/setup.sh --interop installs it)`;
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  return undefined;
}

/**
 * The interop configuration with benchmark logging: the file loggers at level 0 (errors only,
 * no key logger) and retransmits that tolerate a loaded machine. Only reloadable settings change.
 */
export function quietConf(dir: string): string {
  const base = strongswanConf(dir);
  const quiet = base
    .replace(/retransmit_tries = \d+/, 'retransmit_tries = 5')
    .replace(/retransmit_timeout = [\d.]+/, 'retransmit_timeout = 4')
    .replace(/\tfilelog \{[\s\S]*\n\t\}\n\}\nswanctl/, `\tfilelog {
		charon {
			path = ${dir}/charon.log
			append = no
			default = 0
		}
	}
}
swanctl`);
  if (quiet === base || !quiet.includes('default = 0')) throw new Error('strongswan.conf layout changed: cannot make the quiet benchmark configuration');
  return quiet;
}

interface ConnSpec {
  readonly name: string;
  readonly localAddr: string;
  readonly remoteAddr: string;
  readonly localId: string;
  readonly remoteId: string;
  readonly localTs: string;
  readonly remoteTs: string;
  readonly proposal: string;
}

/** One IKEv1 PSK connection with its CHILD_SA of the same name; nothing rekeys during a run. */
function connBlock(c: ConnSpec): string {
  return `	${c.name} {
		version = 1
		local_addrs = ${c.localAddr}
		remote_addrs = ${c.remoteAddr}
		proposals = ${c.proposal}
		unique = never
		dpd_delay = 0s
		reauth_time = 0
		rekey_time = 0
		local {
			auth = psk
			id = ${c.localId}
		}
		remote {
			auth = psk
			id = ${c.remoteId}
		}
		children {
			${c.name} {
				mode = tunnel
				local_ts = ${c.localTs}
				remote_ts = ${c.remoteTs}
				esp_proposals = ${c.proposal}
				rekey_time = 0
				start_action = none
				close_action = none
			}
		}
	}`;
}

/** swanctl.conf: the connections and one wildcard PSK (no identities: it matches every pair). */
function swanctlText(conns: readonly ConnSpec[]): string {
  return `connections {\n${conns.map(connBlock).join('\n')}\n}\nsecrets {\n	ike-any {\n		secret = "${PSK}"\n	}\n}\n`;
}

/** The initiator: one connection b<k> per negotiation, each with its own ID @i<k>.bench. */
function initiatorConf(pair: NetnsPair, count: number, proposal: string): string {
  return swanctlText(Array.from({ length: count }, (_x, i) => ({
    name: `b${i + 1}`, localAddr: pair.outerA, remoteAddr: pair.outerB, localId: `@i${i + 1}.bench`, remoteId: '@r.bench',
    localTs: `${pair.innerA}/32`, remoteTs: `${pair.innerB}/32`, proposal,
  })));
}

/** The responder: one connection for every initiator ID. */
function responderConf(pair: NetnsPair, proposal: string): string {
  return swanctlText([{
    name: 'r', localAddr: pair.outerB, remoteAddr: '%any', localId: '@r.bench', remoteId: '%any',
    localTs: `${pair.innerB}/32`, remoteTs: `${pair.innerA}/32`, proposal,
  }]);
}

/** charon's PID: `ip netns exec`, `unshare` and `sh -c 'exec …'` all exec, so it is the spawned PID. */
function charonPid(c: Charon): number {
  const pid = c.proc.pid!;
  const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  if (comm !== 'charon') throw new Error(`PID ${pid} is "${comm}", not charon: cannot read its CPU time`);
  return pid;
}

async function startQuiet(ns: string, dir: string): Promise<Charon> {
  const c = await Charon.start(ns, dir);
  try {
    fs.writeFileSync(path.join(dir, 'strongswan.conf'), quietConf(dir));
    const v = await ViciClient.connect(path.join(dir, 'charon.vici'));
    try {
      const r = await v.command('reload-settings');
      if (r.success !== 'yes') throw new Error(`vici reload-settings: ${String(r.errmsg)}`);
    } finally {
      v.close();
    }
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}

export async function runStrongswan(o: SwanOptions): Promise<SwanResult> {
  const why = swanUnavailable();
  if (why) return { status: 'skipped', reason: why };
  if (o.auth !== 'psk') return { status: 'skipped', reason: 'the strongSwan half runs PSK only' };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-hs-swan-'));
  let pair: NetnsPair | undefined;
  const charons: Charon[] = [];
  const vicis: ViciClient[] = [];
  const unregister = onAbort(async () => {
    for (const c of charons) await c.kill();
    await pair?.destroy();
  });
  try {
    pair = await createNetnsPair();
    const ini = await startQuiet(pair.a, path.join(tmp, 'a'));
    charons.push(ini);
    const resp = await startQuiet(pair.b, path.join(tmp, 'b'));
    charons.push(resp);
    // Oakley's warm-up is for V8's compilers; charon is compiled C and only needs its caches warm.
    // Every negotiation is a connection swanctl loads up front, and loading ~12,000 takes minutes.
    const warmN = Math.max(1, Math.min(o.warmup, SWAN_WARMUP_CAP));
    const total = warmN + o.n1 + o.n;
    await resp.load(responderConf(pair, o.proposal.text));
    await ini.load(initiatorConf(pair, total, o.proposal.text));
    const version = (await ini.swanctl(['--version'])).stdout.trim().split('\n').pop();
    o.log(`strongswan: ${total} initiator connections loaded`);

    const viciPath = path.join(ini.dir, 'charon.vici');
    const events = await ViciClient.connect(viciPath);
    vicis.push(events);
    const waiting = new Map<string, { resolve: () => void; timer: NodeJS.Timeout }>();
    events.onEvent = (name, m: ViciSection) => {
      if (name !== 'child-updown' || m.up !== 'yes') return;
      for (const k of Object.keys(m)) {
        const w = waiting.get(k);
        if (w) {
          waiting.delete(k);
          clearTimeout(w.timer);
          w.resolve();
        }
      }
    };
    await events.register('child-updown');
    for (let i = 0; i < Math.max(1, o.window); i++) vicis.push(await ViciClient.connect(viciPath));
    let base = 0;
    const one = (i: number, lane: number): Promise<void> => {
      const name = `b${base + i + 1}`;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(name);
          reject(new Error(`${name}: no child-updown within ${NEGOTIATION_TIMEOUT_MS} ms`));
        }, NEGOTIATION_TIMEOUT_MS);
        waiting.set(name, { resolve, timer });
        // timeout -1: charon answers at once and negotiates in the background.
        vicis[1 + lane]!.fire('initiate', { child: name, ike: name, timeout: '-1', loglevel: '-1' });
      });
    };
    const pidI = charonPid(ini);
    const pidR = charonPid(resp);
    if (o.cpus !== undefined) for (const pid of [pidI, pidR]) pinToCpus(pid, o.cpus);

    const warm = await drive(warmN, o.window, one);
    if (warm.completed === 0) throw new Error(`warm-up negotiations failed: ${warm.firstError}\n${resp.log().slice(-2000)}`);
    o.log(`strongswan: warm-up ${warm.completed} ok, ${warm.failed} failed`);
    base = warmN;

    const window1 = o.n1 > 0 ? await measurePhase(pidI, pidR, o.n1, 1, one, { name: 'strongswan', log: o.log }) : undefined;
    base += o.n1;
    const full = await measureSlices(pidI, pidR, o.n, o.window, o.slices, one, { name: 'strongswan', log: o.log, rss: true });
    return { status: 'ok', ...(version ? { version } : {}), window: full, ...(window1 ? { window1 } : {}) };
  } catch (e) {
    return { status: 'error', reason: (e as Error).message };
  } finally {
    for (const v of vicis) v.close();
    for (const c of charons) await c.stop();
    await pair?.destroy();
    unregister();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
