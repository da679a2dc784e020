/**
 * Two (or more) IKEv1 engines in one process over the in-memory network: the test bed of the
 * exchange specs. Addresses are TEST-NET-1 (RFC 5737); nothing leaves the process.
 */
import { openCryptoSuite, type CryptoSuite } from '../../../src/crypto/registry';
import type { CryptoPath } from '../../../src/crypto/types';
import { MemoryKernel } from '../../../src/kernel/memory';
import { MemoryNetwork } from '../../../src/net/memory-transport';
import type { Endpoint } from '../../../src/net/transport';
import { SystemClock, type Clock } from '../../../src/util/clock';
import { Counters } from '../../../src/util/counters';
import { memoryLogger } from '../../../src/util/log';
import type { Ikev1Credentials, Ikev1Rule, Ikev1Settings } from '../../../src/exchange/ikev1/config';
import { Ikev1Engine } from '../../../src/exchange/ikev1/engine';

export const A: Endpoint = { address: '192.0.2.1', port: 500 };
export const B: Endpoint = { address: '192.0.2.2', port: 500 };

export interface Side {
  readonly engine: Ikev1Engine;
  readonly kernel: MemoryKernel;
  readonly crypto: CryptoSuite;
  readonly logs: string[];
  readonly counters: Counters;
}

export interface BedOptions {
  readonly path?: CryptoPath;
  readonly clock?: Clock;
  readonly rulesA: Ikev1Rule[];
  readonly rulesB: Ikev1Rule[];
  /** Credentials, or a factory that gets the side's crypto suite (keys loaded on its RSA path). */
  readonly credsA: CredentialsSource;
  readonly credsB: CredentialsSource;
  readonly settings?: Partial<Ikev1Settings>;
  /** Per-side settings on top of `settings`. */
  readonly settingsA?: Partial<Ikev1Settings>;
  readonly settingsB?: Partial<Ikev1Settings>;
  readonly net?: MemoryNetwork;
}

export type CredentialsSource = Ikev1Credentials | ((crypto: CryptoSuite) => Promise<Ikev1Credentials>);

export interface Bed {
  readonly net: MemoryNetwork;
  readonly clock: Clock;
  readonly a: Side;
  readonly b: Side;
  close(): Promise<void>;
}

async function side(net: MemoryNetwork, clock: Clock, at: Endpoint, path: CryptoPath, rules: Ikev1Rule[], source: CredentialsSource,
  settings?: Partial<Ikev1Settings>): Promise<Side> {
  const crypto = await openCryptoSuite({ ke: path, rsa: path, prf: path, cipher: path === 'native' ? 'native' : path, random: 'node' }, {}, () => {});
  const credentials = typeof source === 'function' ? await source(crypto) : source;
  const transport = net.attach([at, { address: at.address, port: 4500 }]);
  const kernel = new MemoryKernel({ clock });
  const { log, lines } = memoryLogger({ level: 'debug' });
  const counters = new Counters();
  const engine = new Ikev1Engine({ transport, crypto, kernel, clock, rules, credentials, settings, log, counters });
  return { engine, kernel, crypto, logs: lines, counters };
}

export async function makeBed(o: BedOptions): Promise<Bed> {
  const clock = o.clock ?? new SystemClock();
  const net = o.net ?? new MemoryNetwork({ clock });
  const path = o.path ?? 'node';
  const a = await side(net, clock, A, path, o.rulesA, o.credsA, { ...o.settings, ...o.settingsA });
  const b = await side(net, clock, B, path, o.rulesB, o.credsB, { ...o.settings, ...o.settingsB });
  return {
    net, clock, a, b,
    async close() {
      a.engine.close();
      b.engine.close();
      await a.crypto.close();
      await b.crypto.close();
    },
  };
}

/** Pre-shared keys by peer address. */
export function pskCredentials(table: Record<string, string>): Ikev1Credentials {
  return { presharedKey: (_l, peer) => (table[peer.address] !== undefined ? Buffer.from(table[peer.address]) : undefined) };
}
