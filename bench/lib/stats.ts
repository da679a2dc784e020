/** Small statistics helpers for benchmark samples. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function min(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : Math.min(...xs);
}

export function max(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : Math.max(...xs);
}

/** Rotates `xs` left by `k` (alternation: each sample round starts with a different entry). */
export function rotate<T>(xs: readonly T[], k: number): T[] {
  if (xs.length === 0) return [];
  const n = ((k % xs.length) + xs.length) % xs.length;
  return [...xs.slice(n), ...xs.slice(0, n)];
}

/** Alternating order for round `r`: rotate, and reverse every other round. */
export function alternate<T>(xs: readonly T[], r: number): T[] {
  const o = rotate(xs, r);
  return r % 2 ? o.reverse() : o;
}

export function nowNs(): bigint {
  return process.hrtime.bigint();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
