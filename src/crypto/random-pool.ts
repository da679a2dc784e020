/**
 * Pooled random bytes (the native path, the memory kernel's SPIs): node's CSPRNG (the OpenSSL
 * DRBG the addon would use) drawn a few KiB at a time. A negotiation asks for ~6 small values per side (cookies, nonces, SPIs, the
 * DH exponent), and each randomFillSync call costs a few microseconds of argument checks and a
 * call into C++ for 8-32 octets; copying them from a pool costs a tenth of that. Every byte handed
 * out is zeroed in the pool at once, so the pool holds only bytes nobody has seen yet.
 */
import { randomFillSync } from 'node:crypto';

const POOL_OCTETS = 4096;
/** Requests at least this long bypass the pool (one call is cheap next to the copy). */
const DIRECT_OCTETS = 256;

const pool = Buffer.allocUnsafeSlow(POOL_OCTETS);
let used = POOL_OCTETS;

/** Fills `buf` with CSPRNG output; @returns buf */
export function pooledRandomFill<T extends Uint8Array>(buf: T): T {
  const n = buf.length;
  if (n >= DIRECT_OCTETS) return randomFillSync(buf);
  if (used + n > POOL_OCTETS) {
    randomFillSync(pool);
    used = 0;
  }
  buf.set(pool.subarray(used, used + n));
  pool.fill(0, used, used + n);
  used += n;
  return buf;
}
