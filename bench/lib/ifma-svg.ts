/**
 * Chart of the IFMA section: per group and exponent length, OpenSSL's constant-time modexp and the
 * IFMA kernel as two horizontal bars (µs per modexp, log axis, lower is better) with the speed-up.
 */
import type { IfmaRow } from '../crypto/ifma.bench';
import { fmtUs } from './results';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderIfmaSvg(rows: readonly IfmaRow[], title: string, subtitle: string): string {
  const left = 170, width = 560, rowH = 34, top = 70;
  const all = rows.flatMap((r) => [r.opensslMedianUs, r.ifmaMedianUs]);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...all)))), hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all))));
  const x = (us: number): number => (Math.log10(us / lo) / Math.log10(hi / lo)) * width;
  const h = top + rows.length * rowH + 50;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 120}" height="${h}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="10" y="40" fill="#555">${esc(subtitle)}</text>`);
  out.push(`<rect x="${left}" y="48" width="10" height="10" fill="#8a8a8a"/><text x="${left + 14}" y="57">OpenSSL (BN_mod_exp_mont_consttime / RSA CRT)</text>`);
  out.push(`<rect x="${left + 290}" y="48" width="10" height="10" fill="#c0392b"/><text x="${left + 304}" y="57">AVX-512 IFMA multi-buffer (per operation)</text>`);
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${left + x(d)}" y1="${top - 4}" x2="${left + x(d)}" y2="${top + rows.length * rowH}" stroke="#ddd"/>`);
    out.push(`<text x="${left + x(d)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${esc(fmtUs(d))}</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${left - 8}" y="${y + 18}" text-anchor="end">${r.label}, ${r.exponentBits}-bit x</text>`);
    out.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(1, x(r.opensslMedianUs))}" height="12" fill="#8a8a8a"/>`);
    out.push(`<rect x="${left}" y="${y + 16}" width="${Math.max(1, x(r.ifmaMedianUs))}" height="12" fill="#c0392b"/>`);
    out.push(`<text x="${left + x(r.opensslMedianUs) + 4}" y="${y + 13}" fill="#333">${esc(fmtUs(r.opensslMedianUs))}</text>`);
    out.push(`<text x="${left + x(r.ifmaMedianUs) + 4}" y="${y + 26}" fill="#333">${esc(fmtUs(r.ifmaMedianUs))}  ×${r.speedup.toFixed(2)}</text>`);
  });
  out.push(`<text x="10" y="${h - 10}" fill="#555">µs per operation (modexp or RSA private op), log scale, medians of alternating samples (CPU time, one thread); ×N = median per-round speed-up.</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
