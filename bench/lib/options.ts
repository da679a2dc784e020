/**
 * Bench options, from argv (`--name=value`, `--flag`) or the environment (argv wins):
 *
 *   BACKENDS / --backends=node,native,pkcs11   paths to measure (default: all three)
 *   OPS      / --ops=modp14,rsa2048,hmac       op filter: comma list; an entry matches an op id
 *                                              exactly or as a prefix ("rsa2048" = sign and verify)
 *   SAMPLES  / --samples=N                     alternating samples per cell (default 7, quick 3)
 *   SAMPLE_MS / --sample-ms=N                  target length of one sample (default 400, quick 120)
 *   QUICK=1  / --quick                         few samples, a subset of ops, shorter targets (< ~60 s)
 *   OPENSSL=0 / --no-openssl                   skip the `openssl speed` reference
 *   TARGETS=0 / --no-targets                   skip the three PASS/FAIL target checks
 *   IFMA=0   / --no-ifma                       skip the IFMA-vs-OpenSSL modexp rows and the dudect
 *                                              test (OPS=ifma runs only them)
 *   OUT      / --out=DIR                       results directory (default bench/results)
 */
import { join } from 'node:path';

import { CRYPTO_PATHS, type CryptoPath } from '../../src/crypto/types';

export interface BenchOptions {
  readonly quick: boolean;
  readonly backends: readonly CryptoPath[];
  readonly ops: readonly string[] | null;
  readonly samples: number;
  readonly sampleMs: number;
  readonly openssl: boolean;
  /** How many times `openssl speed` runs (spread over the run); the median is used. */
  readonly opensslRuns: number;
  readonly targets: boolean;
  /** The IFMA multi-buffer modexp section (bench/crypto/ifma.bench.ts). */
  readonly ifma: boolean;
  readonly outDir: string;
  readonly help: boolean;
}

/** Ops measured in --quick mode (unless OPS says otherwise). */
export const QUICK_OPS = ['ifma', 'modp14', 'ecp19', 'rsa2048-sign', 'rsa2048-verify', 'ikev1-keymat', 'hmac-sha256-64'];

function parseArgv(argv: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of argv) {
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a} (options are --name=value)`);
    const eq = a.indexOf('=');
    if (eq < 0) m.set(a.slice(2), 'true');
    else m.set(a.slice(2, eq), a.slice(eq + 1));
  }
  return m;
}

function bool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  return !['0', 'false', 'no', 'off', ''].includes(v.toLowerCase());
}

function int(name: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`${name} must be an integer in ${lo}..${hi}, got ${v}`);
  return n;
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv, benchDir: string): BenchOptions {
  const a = parseArgv(argv);
  const get = (flag: string, envName: string): string | undefined => a.get(flag) ?? env[envName];
  const quick = bool(get('quick', 'QUICK')) ?? false;
  const backends = list(get('backends', 'BACKENDS')) ?? [...CRYPTO_PATHS];
  for (const b of backends) {
    if (!(CRYPTO_PATHS as readonly string[]).includes(b)) throw new Error(`unknown backend ${b} (known: ${CRYPTO_PATHS.join(', ')})`);
  }
  const noOpenssl = a.has('no-openssl');
  const noTargets = a.has('no-targets');
  const noIfma = a.has('no-ifma');
  return {
    quick,
    backends: backends as CryptoPath[],
    ops: list(get('ops', 'OPS')) ?? (quick ? QUICK_OPS : null),
    samples: int('SAMPLES', get('samples', 'SAMPLES'), 1, 100) ?? (quick ? 3 : 7),
    sampleMs: int('SAMPLE_MS', get('sample-ms', 'SAMPLE_MS'), 10, 10_000) ?? (quick ? 120 : 400),
    openssl: !noOpenssl && (bool(env.OPENSSL) ?? true),
    opensslRuns: int('OPENSSL_RUNS', get('openssl-runs', 'OPENSSL_RUNS'), 1, 9) ?? (quick ? 1 : 3),
    targets: !noTargets && (bool(env.TARGETS) ?? true),
    ifma: !noIfma && (bool(env.IFMA) ?? true),
    outDir: get('out', 'OUT') ?? join(benchDir, 'results'),
    help: a.has('help'),
  };
}

/** True when an op id is selected by the OPS filter. */
export function opSelected(id: string, filter: readonly string[] | null): boolean {
  if (filter === null) return true;
  return filter.some((f) => id.startsWith(f));
}

export const USAGE = `usage: node dist/bench/run.js [--quick] [--backends=node,native,pkcs11] [--ops=modp14,rsa2048,...]
                              [--samples=N] [--sample-ms=N] [--openssl-runs=N] [--no-openssl] [--no-targets] [--no-ifma] [--out=DIR]
env equivalents: QUICK=1 BACKENDS=... OPS=... SAMPLES=N SAMPLE_MS=N OPENSSL_RUNS=N OPENSSL=0 TARGETS=0 IFMA=0 OUT=DIR
ops: ifma (IFMA vs OpenSSL modexp, groups 14-18, + dudect) modp2 modp14 modp15 modp16 modp18 ecp19 ecp20 ecp21 rsa2048-sign rsa2048-verify rsa3072-sign
     rsa3072-verify rsa4096-sign rsa4096-verify ikev1-keymat hmac-sha256-64 (prefixes work: rsa, modp, ecp)`;
