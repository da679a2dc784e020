/**
 * The AVX-512 IFMA multi-buffer modexp (native/src/ifma_kernel.cc) next to OpenSSL's constant-time
 * modexp (BN_mod_exp_mont_consttime, the `portable` kernel of the same addon), in one invocation:
 *
 *  1. per-core throughput, MODP groups 14-18, the group's default exponent length and full-length
 *     exponents: both kernels on the calling thread (ModpContext.modexpBatchSync), alternating
 *     sample by sample; a sample times whole calls (IFMA: one 8-lane run; OpenSSL: one modexp) by
 *     process CPU time (user+sys; the sync call is the only busy thread). Medians, and the median of
 *     the per-round ratios (robust against load drift on this shared machine).
 *     Also RSA-2048/3072/4096 private operations: node's privateDecrypt without padding (OpenSSL's
 *     CRT with blinding; IFMA for RSA-2048 only) vs IfmaRsaKey (4 operations per kernel run).
 *  2. a dudect-style constant-time check (Reparaz, Balasch, Verbauwhede 2017): per-call times of the
 *     8-lane kernel for two classes of secret exponents - a fixed value (all zero, and all ones) vs
 *     fresh random ones - with the class of every call drawn at random, bases random in both
 *     classes; Welch's t on the raw times and on the times below the 50th/90th percentile crops.
 *     |t| < 4.5 = no evidence of a timing difference. Reported, not asserted.
 */
import { constants, createPrivateKey, privateDecrypt, randomBytes, randomInt } from 'node:crypto';
import { cpuUsage } from 'node:process';

import { defaultExponentBits, getGroup, type ModpGroup } from '../../src/crypto/groups';
import { loadAddon, type ModexpKernel, type NativeModpContext } from '../../src/crypto/native/addon';
import { alternate, median, nowNs } from '../lib/stats';
import { rsaFixture } from './rsa.bench';

export const IFMA_GROUPS = [14, 15, 16, 17, 18] as const;
export const DUDECT_T_LIMIT = 4.5;
const LANES = 8;

export interface IfmaRow {
  /** 'MODP-14' … or 'RSA-3072 private'. */
  readonly label: string;
  /** Exponent bits per modexp (RSA: of each CRT half). */
  readonly exponentBits: number;
  readonly ifmaUs: number[];
  readonly opensslUs: number[];
  readonly ifmaMedianUs: number;
  readonly opensslMedianUs: number;
  /** Median of the per-round OpenSSL/IFMA ratios: the per-core speed-up. */
  readonly speedup: number;
}

export interface DudectResult {
  readonly kernel: ModexpKernel;
  readonly fixed: 'zero' | 'ones';
  readonly calls: number;
  readonly meanNs: [number, number];
  /** Welch t for raw, <p50 and <p90 crops. */
  readonly t: { raw: number; p50: number; p90: number };
  readonly maxAbsT: number;
}

export interface IfmaReport {
  readonly skipped?: string;
  readonly rows: IfmaRow[];
  readonly dudect: DudectResult[];
  readonly lines: string[];
}

export interface IfmaOptions {
  readonly samples: number;
  readonly sampleMs: number;
  readonly quick: boolean;
  readonly note: (label: string) => void;
}

const fmt = (x: number, d = 1): string => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

function below(g: ModpGroup): Buffer {
  const b = randomBytes(g.size);
  b[0] &= 0x7f;
  return b;
}

/** Alternating samples of the OpenSSL and IFMA cells; µs per operation and the per-round ratios. */
function compare(label: string, exponentBits: number, ifma: () => unknown, ifmaPer: number, ossl: () => unknown,
  o: IfmaOptions): IfmaRow {
  const cells = [
    { name: 'ifma', run: ifma, per: ifmaPer, us: [] as number[] },
    { name: 'openssl', run: ossl, per: 1, us: [] as number[] },
  ];
  const ratios: number[] = [];
  for (let r = 0; r < o.samples; r++) {
    for (const c of alternate(cells, r)) {
      o.note(`ifma: ${label} ${exponentBits}-bit exponents, ${c.name} sample ${r + 1}/${o.samples}`);
      c.us.push(sampleCpu(c.run, c.per, o.sampleMs));
    }
    ratios.push(cells[1].us[r] / cells[0].us[r]);
  }
  return {
    label, exponentBits, ifmaUs: cells[0].us, opensslUs: cells[1].us,
    ifmaMedianUs: median(cells[0].us), opensslMedianUs: median(cells[1].us), speedup: median(ratios),
  };
}

/** CPU µs per modexp of one sample: whole calls until `ms` of CPU time have passed. */
function sampleCpu(call: () => unknown, perCall: number, ms: number): number {
  const c0 = cpuUsage();
  let calls = 0;
  let used = 0;
  do {
    call();
    calls++;
    const c = cpuUsage(c0);
    used = c.user + c.system;
  } while (used < ms * 1000);
  return used / (calls * perCall);
}

function throughputRow(ctx: NativeModpContext, g: ModpGroup, bits: number, o: IfmaOptions): IfmaRow {
  const bytes = Math.ceil(bits / 8);
  const bases = Array.from({ length: LANES }, () => below(g));
  const exps = Array.from({ length: LANES }, () => randomBytes(bytes));
  const want = ctx.modexpBatchSync(bases, exps, 'portable');
  const got = ctx.modexpBatchSync(bases, exps, 'ifma');
  if (!got.every((v, i) => v.equals(want[i]))) throw new Error(`group ${g.id}: IFMA and OpenSSL results differ`);
  return compare(`MODP-${g.id}`, bytes * 8, () => ctx.modexpBatchSync(bases, exps, 'ifma'), LANES,
    () => ctx.modexpBatchSync([bases[0]], [exps[0]], 'portable'), o);
}

const RSA_BLOCKS = LANES / 2;

async function rsaRow(bits: number, o: IfmaOptions): Promise<IfmaRow> {
  const addon = loadAddon()!;
  const key = createPrivateKey((await rsaFixture(bits)).privatePem);
  const k = new addon.IfmaRsaKey(key.export({ type: 'pkcs8', format: 'der' }));
  const blocks = Array.from({ length: RSA_BLOCKS }, () => {
    const b = randomBytes(bits / 8);
    b[0] &= 0x7f;
    return b;
  });
  const ossl = (b: Buffer): Buffer => privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, b);
  const got = k.privateRawBatchSync(blocks);
  if (!got.every((v, i) => v.equals(ossl(blocks[i])))) throw new Error(`RSA-${bits}: IFMA and OpenSSL results differ`);
  const row = compare(`RSA-${bits} priv`, bits / 2, () => k.privateRawBatchSync(blocks), RSA_BLOCKS, () => ossl(blocks[0]), o);
  k.dispose();
  return row;
}

/** Welch's t statistic of two samples. */
export function welchT(a: readonly number[], b: readonly number[]): number {
  const stats = (x: readonly number[]): [number, number] => {
    const m = x.reduce((s, v) => s + v, 0) / x.length;
    const v = x.reduce((s, y) => s + (y - m) ** 2, 0) / (x.length - 1);
    return [m, v];
  };
  const [ma, va] = stats(a);
  const [mb, vb] = stats(b);
  const se = Math.sqrt(va / a.length + vb / b.length);
  return se === 0 ? 0 : (ma - mb) / se;
}

function dudect(ctx: NativeModpContext, g: ModpGroup, kernel: ModexpKernel, fixed: 'zero' | 'ones', calls: number,
  o: IfmaOptions): DudectResult {
  const bytes = Math.ceil(defaultExponentBits(g) / 8);
  const fixedExp = Buffer.alloc(bytes, fixed === 'zero' ? 0 : 0xff);
  const lanes = kernel === 'ifma' ? LANES : 1;
  const times: [number[], number[]] = [[], []];
  const chunk = 64; // inputs prepared outside the timed region, in chunks
  for (let done = 0; done < calls; done += chunk) {
    o.note(`ifma: dudect ${kernel} fixed-${fixed} vs random, ${done}/${calls} calls`);
    const n = Math.min(chunk, calls - done);
    const inputs = Array.from({ length: n }, () => {
      const cls = randomInt(2);
      const bases = Array.from({ length: lanes }, () => below(g));
      const exps = Array.from({ length: lanes }, () => (cls === 0 ? Buffer.from(fixedExp) : randomBytes(bytes)));
      return { cls, bases, exps };
    });
    for (const it of inputs) {
      const t0 = nowNs();
      ctx.modexpBatchSync(it.bases, it.exps, kernel);
      times[it.cls].push(Number(nowNs() - t0));
    }
  }
  const all = [...times[0], ...times[1]].sort((a, b) => a - b);
  const crop = (q: number): number => {
    const lim = all[Math.floor(q * (all.length - 1))];
    return welchT(times[0].filter((x) => x <= lim), times[1].filter((x) => x <= lim));
  };
  const t = { raw: welchT(times[0], times[1]), p50: crop(0.5), p90: crop(0.9) };
  const mean = (x: number[]): number => x.reduce((s, v) => s + v, 0) / x.length;
  return {
    kernel, fixed, calls, meanNs: [mean(times[0]), mean(times[1])], t,
    maxAbsT: Math.max(Math.abs(t.raw), Math.abs(t.p50), Math.abs(t.p90)),
  };
}

/** Both parts; `lines` is the text block for the bench report. */
export async function ifmaSection(o: IfmaOptions): Promise<IfmaReport> {
  const addon = loadAddon();
  if (!addon) return { skipped: 'native addon unavailable', rows: [], dudect: [], lines: ['IFMA modexp: SKIPPED — native addon unavailable'] };
  const k = addon.modexpKernels();
  if (!k.ifmaCpu) return { skipped: 'no AVX-512 IFMA', rows: [], dudect: [], lines: ['IFMA modexp: SKIPPED — this CPU has no AVX-512 IFMA'] };
  const rows: IfmaRow[] = [];
  const groups = o.quick ? [14, 15] : IFMA_GROUPS;
  for (const id of groups) {
    const g = getGroup(id) as ModpGroup;
    const ctx = new addon.ModpContext(g.p);
    rows.push(throughputRow(ctx, g, defaultExponentBits(g), o));
    if (!o.quick || id === 14) rows.push(throughputRow(ctx, g, g.bits, { ...o, samples: id >= 17 ? Math.min(o.samples, 3) : o.samples }));
  }
  for (const bits of o.quick ? [3072] : [2048, 3072, 4096]) rows.push(await rsaRow(bits, o));
  const g14 = getGroup(14) as ModpGroup;
  const ctx14 = new addon.ModpContext(g14.p);
  const calls = o.quick ? 800 : 4000;
  const dd: DudectResult[] = [
    dudect(ctx14, g14, 'ifma', 'zero', calls, o),
    dudect(ctx14, g14, 'ifma', 'ones', calls, o),
    // OpenSSL's kernel on the same test. Its fixed class is all-ones, not zero: BN_bin2bn drops
    // leading zero bytes and BN_mod_exp_mont_consttime runs over the exponent's word length, so an
    // all-zero (or short) exponent is visibly faster there - harmless for IKE, whose exponents
    // have their top bit set (groups.randomExponent), but a difference the IFMA kernel does not have.
    dudect(ctx14, g14, 'portable', 'ones', Math.round(calls / 2), o),
  ];

  const lines: string[] = [];
  lines.push(`IFMA multi-buffer modexp vs OpenSSL BN_mod_exp_mont_consttime, per core (CPU time, calling thread; ${o.samples} alternating samples of ~${o.sampleMs} ms)` +
    (k.portableForced ? ' [OAKLEY_MODEXP=portable is set: KE batches use OpenSSL, these rows name the kernel explicitly]' : ''));
  lines.push(`${'operation'.padEnd(14)} ${'exp bits'.padStart(8)} ${'OpenSSL µs/op'.padStart(14)} ${'IFMA µs/op'.padStart(11)} ${'OpenSSL ops/s'.padStart(14)} ${'IFMA ops/s'.padStart(11)} ${'speed-up'.padStart(9)}`);
  for (const r of rows) {
    lines.push(`${r.label.padEnd(14)} ${String(r.exponentBits).padStart(8)} ${fmt(r.opensslMedianUs).padStart(14)} ${fmt(r.ifmaMedianUs).padStart(11)} ` +
      `${fmt(1e6 / r.opensslMedianUs, 0).padStart(14)} ${fmt(1e6 / r.ifmaMedianUs, 0).padStart(11)} ${(fmt(r.speedup, 2) + 'x').padStart(9)}`);
  }
  lines.push('  MODP: IFMA µs/op = one 8-lane kernel run / 8 (8 modexps, different exponents); OpenSSL = one modexp (same code as node:crypto DH)');
  lines.push('  RSA: IFMA µs/op = 4 private ops per run / 4 (CRT + blinding + public check); OpenSSL = node privateDecrypt, no padding (CRT + blinding)');
  lines.push('  speed-up = median of the per-round OpenSSL/IFMA ratios; exp bits of RSA rows = each CRT half');
  lines.push(`dudect-style timing test (group 14, ${defaultExponentBits(g14)}-bit exponents, fixed vs random secret exponent, classes interleaved at random; |t| < ${DUDECT_T_LIMIT} passes):`);
  for (const d of dd) {
    const verdict = d.maxAbsT < DUDECT_T_LIMIT ? 'PASS' : 'FAIL';
    lines.push(`  ${verdict} ${d.kernel.padEnd(8)} fixed-${d.fixed.padEnd(4)} ${d.calls} calls: mean ${fmt(d.meanNs[0] / 1e3)} / ${fmt(d.meanNs[1] / 1e3)} µs per call; ` +
      `t raw ${fmt(d.t.raw, 2)}, <p50 ${fmt(d.t.p50, 2)}, <p90 ${fmt(d.t.p90, 2)}; max |t| ${fmt(d.maxAbsT, 2)}`);
  }
  return { rows, dudect: dd, lines };
}
