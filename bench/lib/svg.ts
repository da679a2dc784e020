/**
 * The chart: one group of horizontal bars per operation, one bar per path plus the openssl
 * reference, on a logarithmic µs/op axis (lower is better), each bar labelled with its value,
 * skipped paths labelled with the reason. Plain SVG text, no dependencies.
 */
import type { OpResult } from './results';
import { fmtUs } from './results';

export interface ChartMeta {
  readonly title: string;
  readonly subtitle: string;
  /** Footnotes under the axis. */
  readonly notes?: readonly string[];
}

const SERIES: ReadonlyArray<{ key: string; name: string; color: string }> = [
  { key: 'node', name: 'node (node:crypto)', color: '#2f6fca' },
  { key: 'native', name: 'native (C++ addon)', color: '#e0801f' },
  { key: 'pkcs11', name: 'pkcs11 (SoftHSM2)', color: '#3e9a4a' },
  { key: 'openssl', name: 'openssl speed (C reference)', color: '#8a8a8a' },
];

/** Axis label of a decade: 0.1 µs, 1 µs, 10 µs, 100 µs, 1 ms, 10 ms, 100 ms, 1 s, 10 s. */
function tick(us: number): string {
  const u = us >= 1e6 ? [1e6, 's'] as const : us >= 1e3 ? [1e3, 'ms'] as const : [1, 'µs'] as const;
  return `${Number((us / u[0]).toPrecision(3))} ${u[1]}`;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Bar {
  readonly key: string;
  readonly us?: number;
  readonly text: string;
}

function barsOf(op: OpResult, paths: readonly string[]): Bar[] {
  const bars: Bar[] = [];
  for (const p of paths) {
    const c = op.cells.find((x) => x.path === p);
    if (!c) continue;
    if (c.status === 'ok' && c.medianUs !== undefined) {
      const rel = c.ratioToFastest !== undefined && c.ratioToFastest > 1.005 ? `  (${c.ratioToFastest.toFixed(2)}× fastest)` : '';
      bars.push({ key: p, us: c.medianUs, text: fmtUs(c.medianUs) + rel });
    } else {
      bars.push({ key: p, text: `${c.status}: ${c.reason ?? ''}` });
    }
  }
  const o = op.openssl;
  if (o.available && o.usPerOp) bars.push({ key: 'openssl', us: o.usPerOp, text: fmtUs(o.usPerOp) + (o.factor && o.factor > 1 ? `  (${o.factor}× ${o.alg})` : '') });
  else bars.push({ key: 'openssl', text: `n/a: ${o.reason ?? o.note}` });
  return bars;
}

export function renderSvg(ops: readonly OpResult[], paths: readonly string[], meta: ChartMeta): string {
  const W = 1180;
  const labelW = 210;
  const plotX = labelW + 10;
  const plotW = 700;
  const barH = 13;
  const barGap = 3;
  const groupGap = 16;
  const top = 116;
  const groups = ops.map((op) => barsOf(op, paths));
  const all = groups.flat().map((b) => b.us).filter((u): u is number => u !== undefined && u > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...all, 1))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all, 10))));
  const x = (us: number): number => plotX + (Math.log10(us / lo) / Math.log10(hi / lo)) * plotW;
  let height = top;
  for (const g of groups) height += g.length * (barH + barGap) + groupGap;
  const axisY = height;
  const notes = meta.notes ?? [];
  const H = axisY + 64 + notes.length * 16;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`);
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<text x="20" y="30" font-size="20" font-weight="bold" fill="#222">${esc(meta.title)}</text>`);
  o.push(`<text x="20" y="52" font-size="12" fill="#555">${esc(meta.subtitle)}</text>`);
  // Legend
  let lx = 20;
  for (const s of SERIES.filter((s) => s.key === 'openssl' || paths.includes(s.key))) {
    o.push(`<rect x="${lx}" y="66" width="14" height="14" fill="${s.color}"/>`);
    o.push(`<text x="${lx + 20}" y="78" font-size="13" fill="#222">${esc(s.name)}</text>`);
    lx += 40 + s.name.length * 7.2;
  }
  o.push(`<text x="${lx + 10}" y="78" font-size="13" font-style="italic" fill="#555">log scale — shorter bar = faster</text>`);
  // Group backgrounds first, so the grid stays visible on them.
  {
    let by = top;
    groups.forEach((g, i) => {
      const gh = g.length * (barH + barGap) - barGap;
      if (i % 2 === 0) o.push(`<rect x="10" y="${by - groupGap / 2 + 2}" width="${W - 20}" height="${gh + groupGap - 4}" fill="#f3f5f8"/>`);
      by += gh + groupGap;
    });
  }
  // Grid: decades with labels, 2 and 5 as faint lines.
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > hi * 1.0001) break;
      const gx = x(v).toFixed(1);
      o.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${axisY}" stroke="${m === 1 ? '#c8c8c8' : '#ececec'}" stroke-width="1"/>`);
      if (m === 1) {
        o.push(`<text x="${gx}" y="${axisY + 18}" font-size="12" fill="#444" text-anchor="middle">${esc(tick(v))}</text>`);
        if (ops.length > 6) o.push(`<text x="${gx}" y="${top - 10}" font-size="11" fill="#666" text-anchor="middle">${esc(tick(v))}</text>`);
      }
    }
  }
  o.push(`<line x1="${plotX}" y1="${axisY}" x2="${plotX + plotW}" y2="${axisY}" stroke="#888"/>`);
  o.push(`<text x="${plotX + plotW / 2}" y="${axisY + 40}" font-size="13" fill="#333" text-anchor="middle">time per operation (median of alternating samples; log scale)</text>`);
  // Groups
  let y = top;
  ops.forEach((op, i) => {
    const g = groups[i];
    const gh = g.length * (barH + barGap) - barGap;
    o.push(`<text x="${labelW}" y="${y + gh / 2 + 5}" font-size="13" font-weight="bold" fill="#222" text-anchor="end">${esc(op.label)}</text>`);
    for (const b of g) {
      const color = SERIES.find((s) => s.key === b.key)?.color ?? '#999';
      if (b.us !== undefined) {
        const w = Math.max(2, x(b.us) - plotX);
        o.push(`<rect x="${plotX}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`);
        o.push(`<text x="${(plotX + w + 5).toFixed(1)}" y="${y + barH - 2}" font-size="11" fill="#222">${esc(b.text)}</text>`);
      } else {
        const t = b.text.length > 110 ? b.text.slice(0, 108) + '…' : b.text;
        o.push(`<rect x="${plotX}" y="${y}" width="3" height="${barH}" fill="${color}"/>`);
        o.push(`<text x="${plotX + 8}" y="${y + barH - 2}" font-size="11" font-style="italic" fill="#777">${esc(t)}</text>`);
      }
      y += barH + barGap;
    }
    y += groupGap - barGap;
  });
  notes.forEach((n, i) => o.push(`<text x="20" y="${axisY + 64 + i * 16}" font-size="11" fill="#555">${esc(n)}</text>`));
  o.push('</svg>');
  return o.join('\n') + '\n';
}
