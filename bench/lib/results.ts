/** Result shapes (also the JSON file's shape) and the derived ratios. */
import type { CryptoPath } from '../../src/crypto/types';
import type { OpensslAlg, OpensslFigure } from './openssl';

export interface CellResult {
  readonly path: CryptoPath;
  status: 'ok' | 'skipped' | 'error';
  /** Why skipped / what failed. */
  reason?: string;
  method?: 'benchmark.js' | 'alternating';
  /** µs/op of each alternating sample. */
  samplesUs?: number[];
  /** benchmark.js relative margin of error per sample (%). */
  rmePct?: number[];
  medianUs?: number;
  bestUs?: number;
  opsPerSec?: number;
  ratioToFastest?: number;
  ratioToOpenssl?: number;
  detail?: string;
}

export interface OpensslCompare {
  readonly alg?: OpensslAlg;
  readonly op?: OpensslFigure['op'];
  readonly factor?: number;
  readonly note: string;
  available: boolean;
  reason?: string;
  /** µs of `factor` openssl operations (median over the openssl runs). */
  usPerOp?: number;
  opsPerSec?: number;
  runsOpsPerSec?: number[];
}

export interface OpResult {
  readonly id: string;
  readonly label: string;
  readonly what: string;
  readonly cells: CellResult[];
  readonly openssl: OpensslCompare;
}

/** Fills ratioToFastest (among paths) and ratioToOpenssl. */
export function deriveRatios(op: OpResult): void {
  const ok = op.cells.filter((c) => c.status === 'ok' && c.medianUs !== undefined);
  const fastest = Math.min(...ok.map((c) => c.medianUs as number));
  for (const c of ok) {
    c.opsPerSec = 1e6 / (c.medianUs as number);
    c.ratioToFastest = (c.medianUs as number) / fastest;
    if (op.openssl.available && op.openssl.usPerOp) c.ratioToOpenssl = (c.medianUs as number) / op.openssl.usPerOp;
  }
}

/** µs as a short human string: 0.85 µs, 123 µs, 12.3 ms, 1.23 s. */
export function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return '—';
  if (us < 10) return `${us.toFixed(2)} µs`;
  if (us < 1000) return `${us.toPrecision(3)} µs`;
  if (us < 1e6) return `${(us / 1000).toPrecision(3)} ms`;
  return `${(us / 1e6).toPrecision(3)} s`;
}

export function fmtNum(x: number | undefined, digits = 0): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The final table for stdout. */
export function formatTable(ops: readonly OpResult[]): string {
  const header = ['operation', 'path', 'ops/s', 'µs/op', 'best µs', '×fastest', '×openssl', 'how'];
  const rows: string[][] = [];
  for (const op of ops) {
    let first = true;
    const label = (): string => {
      const l = first ? op.label : '';
      first = false;
      return l;
    };
    for (const c of op.cells) {
      if (c.status !== 'ok') {
        rows.push([label(), c.path, '—', '—', '—', '—', '—', `${c.status}: ${c.reason ?? ''}`]);
        continue;
      }
      const digits = (c.medianUs as number) < 100 ? 2 : 1;
      rows.push([
        label(), c.path, fmtNum(c.opsPerSec), fmtNum(c.medianUs, digits), fmtNum(c.bestUs, digits),
        fmtNum(c.ratioToFastest, 2), c.ratioToOpenssl === undefined ? '—' : fmtNum(c.ratioToOpenssl, 2),
        `${c.method === 'benchmark.js' ? 'benchmark.js' : 'alt'} ×${c.samplesUs?.length ?? 0}${c.detail ? '; ' + c.detail : ''}`,
      ]);
    }
    const o = op.openssl;
    if (o.available && o.usPerOp) {
      rows.push([label(), 'openssl', fmtNum(o.opsPerSec), fmtNum(o.usPerOp, o.usPerOp < 100 ? 2 : 1), '', '', '1.00',
        `${o.factor && o.factor > 1 ? `${o.factor}×` : ''}${o.alg} ${o.op}`]);
    } else {
      rows.push([label(), 'openssl', '—', '—', '', '', '—', o.reason ?? o.note]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === header.length - 1 ? 0 : r[i].length))));
  const right = new Set([2, 3, 4, 5, 6]);
  const line = (r: string[]): string => r.map((cell, i) => {
    if (i === r.length - 1) return cell;
    return right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
  }).join('  ').trimEnd();
  const sep = widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? 24 : w)).join('  ');
  const out = [line(header), sep];
  for (const r of rows) {
    if (r[0] && out.length > 2) out.push('');
    out.push(line(r));
  }
  return out.join('\n');
}
