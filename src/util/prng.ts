/**
 * Seeded pseudo-random numbers for tests and simulations (the memory network's impairments, the
 * memory kernel's SPIs in tests). NOT for keys, nonces or cookies: those come from the crypto
 * seam's RandomSource.
 *
 * Generator: Marsaglia's xorshift32 (shifts 13, 17, 5) with the seed scrambled once so that small
 * seeds do not start with small outputs.
 */
export class SeededRng {
  private state: number;

  constructor(seed: number) {
    let s = (seed ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    s = (s ^ (s >>> 16)) >>> 0;
    this.state = s === 0 ? 0x6d2b79f5 : s;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}
