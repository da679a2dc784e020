/**
 * Constant-time byte comparison for authenticating and identifying values (HASH, MAC, cookies):
 * the time taken depends only on the lengths, which are public (issue 9, "Secrets").
 */
import { timingSafeEqual } from 'node:crypto';

/** True when a and b hold the same octets; lengths are compared first (they are public). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True when an ISAKMP cookie pair (16 octets, e.g. a notification's SPI) names these cookies. */
export function sameCookiePair(pair: Uint8Array, icookie: Uint8Array, rcookie: Uint8Array): boolean {
  return pair.length === icookie.length + rcookie.length
    && timingSafeEqual(pair.subarray(0, icookie.length), icookie)
    && timingSafeEqual(pair.subarray(icookie.length), rcookie);
}
