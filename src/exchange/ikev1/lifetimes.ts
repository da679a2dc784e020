/**
 * Solaris lifetime rules (solaris-ike.md §1.5, §1.6, §5.6, §5.7): Phase 1 defaults and the Phase 2
 * normalisation applied to the global defaults, to each rule, and again to the values negotiated
 * for each IPsec SA. Pure functions.
 */

/** Phase 1 SA lifetime (solaris-ike.md §1.6/§5.6): default 3600 s, minimum 60 s, no KiB limit. */
export const P1_LIFETIME = Object.freeze({ defaultSecs: 3600, minSecs: 60 });

/** Phase 2 constants (solaris-ike.md §5.7, S11). */
export const P2_LIFETIME = Object.freeze({
  defaultHardSecs: 28800,
  defaultSoftSecs: 24000,
  minHardSecs: 100,
  minSoftSecs: 90,
  minIdleSecs: 30,
  maxSecs: 172800,
  minGapSecs: 10,
  minHardKb: 1024,
  minSoftKb: 900,
  maxKb: 536870912,
  minGapKb: 100,
  /** Hard KiB above this (32 GiB) only gives a warning (CBC birthday bound). */
  cbcWarnKb: 33554432,
  /** Seconds → KiB conversion of derived byte lifetimes ("1 KiB/s"). */
  kbPerSec: 1024,
});

/** Phase 2 lifetimes of a rule or an SA. 0 means "unset" on input. */
export interface P2Lifetimes {
  readonly hardSecs: number;
  readonly softSecs: number;
  readonly idleSecs: number;
  readonly hardKb: number;
  readonly softKb: number;
}

export interface NormalizedP2Lifetimes {
  readonly lifetimes: P2Lifetimes;
  /** soft seconds == hard seconds: soft expiry disabled (soft KiB then equals hard KiB). */
  readonly softDisabled: boolean;
  /** Texts of the §5.7 step-3 warnings (log them at warn). */
  readonly warnings: readonly string[];
}

const ninety = (v: number) => Math.floor((v * 9) / 10);

/**
 * Normalises Phase 2 lifetimes exactly in the order of solaris-ike.md §5.7.
 *
 * Reading of one ambiguity in the doc: "a soft value below 90 becomes 90" applies to a non-zero
 * soft value; a soft value of 0 means "unset" and becomes 24000 later in the same step (otherwise
 * the "soft 0 becomes 24000" rule could never apply). Likewise "idle 0 < idle < 30 becomes 30".
 *
 * @param input any subset; missing fields are 0 (unset)
 * @returns the normalised values, whether soft expiry is disabled, and the warnings
 */
export function normalizeP2Lifetimes(input: Partial<P2Lifetimes>): NormalizedP2Lifetimes {
  const L = P2_LIFETIME;
  const warnings: string[] = [];
  let hardSecs = input.hardSecs ?? 0;
  let softSecs = input.softSecs ?? 0;
  let idleSecs = input.idleSecs ?? 0;
  let hardKb = input.hardKb ?? 0;
  let softKb = input.softKb ?? 0;

  // 1. Seconds.
  if (hardSecs === 0) hardSecs = L.defaultHardSecs;
  hardSecs = Math.min(Math.max(hardSecs, L.minHardSecs), L.maxSecs);
  if (softSecs !== 0 && softSecs < L.minSoftSecs) softSecs = L.minSoftSecs;
  if (softSecs > L.maxSecs) softSecs = L.maxSecs;
  const softDisabled = softSecs === hardSecs;
  if (!softDisabled) {
    if (softSecs === 0) softSecs = L.defaultSoftSecs;
    if (softSecs > hardSecs) softSecs = ninety(hardSecs);
    if (hardSecs - softSecs < L.minGapSecs) softSecs = hardSecs - L.minGapSecs;
  }
  if (idleSecs > 0 && idleSecs < L.minIdleSecs) idleSecs = L.minIdleSecs;
  if (idleSecs === 0 || idleSecs > softSecs) idleSecs = Math.floor((softSecs * 5) / 9);
  if (softSecs - idleSecs < L.minGapSecs) idleSecs = softSecs - L.minGapSecs;

  // 2. KiB.
  const hardKbExplicit = hardKb !== 0;
  if (!hardKbExplicit) {
    hardKb = hardSecs * L.kbPerSec;
    softKb = 0;
  }
  hardKb = Math.min(Math.max(hardKb, L.minHardKb), L.maxKb);
  if (softKb > 0 && softKb < L.minSoftKb) softKb = 0;
  if (softDisabled) {
    softKb = hardKb;
  } else {
    if (softKb === 0) softKb = hardKbExplicit ? ninety(hardKb) : softSecs * L.kbPerSec;
    if (softKb > hardKb) softKb = ninety(hardKb);
    if (hardKb - softKb < L.minGapKb) softKb = hardKb - L.minGapKb;
  }

  // 3. Warnings only.
  if (softSecs < hardSecs / 2) warnings.push(`soft lifetime ${softSecs} s is less than half the hard lifetime ${hardSecs} s`);
  if (softKb < hardKb / 2) warnings.push(`soft lifetime ${softKb} KiB is less than half the hard lifetime ${hardKb} KiB`);
  if (hardKb > L.cbcWarnKb) warnings.push(`hard lifetime ${hardKb} KiB exceeds 32 GiB, unsafe for 64-bit block CBC ciphers`);

  return { lifetimes: { hardSecs, softSecs, idleSecs, hardKb, softKb }, softDisabled, warnings };
}

/** Smallest non-zero value, or 0 when all are 0/undefined. */
export function minNonZero(...values: readonly (number | undefined)[]): number {
  let best = 0;
  for (const v of values) if (v !== undefined && v > 0 && (best === 0 || v < best)) best = v;
  return best;
}

/** The smallest hard lifetimes agreed so far on one Phase 1 SA (solaris-ike.md §5.7). */
export interface P1LifetimeCache {
  hardSecs: number;
  hardKb: number;
}

/**
 * Lifetimes to install for a negotiated IPsec SA (initiator or responder; solaris-ike.md §5.7):
 * hard = the smallest non-zero of the rule's hard value, the Quick Mode transform's value and the
 * per-Phase-1 cache, separately for seconds and KiB; the cache is updated with the result; soft
 * and idle come from the rule; the result is normalised again.
 *
 * @param rule the rule's (normalised) lifetimes
 * @param negotiated lifetimes carried in the chosen Quick Mode transform (0/undefined = absent)
 * @param cache per-P1 cache, updated in place
 */
export function installLifetimes(
  rule: P2Lifetimes,
  negotiated: { seconds?: number; kilobytes?: number },
  cache: P1LifetimeCache,
): NormalizedP2Lifetimes {
  const hardSecs = minNonZero(rule.hardSecs, negotiated.seconds, cache.hardSecs);
  const hardKb = minNonZero(rule.hardKb, negotiated.kilobytes, cache.hardKb);
  cache.hardSecs = hardSecs;
  cache.hardKb = hardKb;
  return normalizeP2Lifetimes({ hardSecs, softSecs: rule.softSecs, idleSecs: rule.idleSecs, hardKb, softKb: rule.softKb });
}
