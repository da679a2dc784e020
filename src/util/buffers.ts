/** Buffer helpers shared by the layers. */

/**
 * A copy of `b` in its own exact-size memory, outside Node's 8 KiB Buffer pool. Bytes that live
 * as long as an SA (cached datagrams, cookies, IVs, keys) must not be pool slices: one small
 * slice keeps its whole 8 KiB slab resident (a heap snapshot of 1,000 SAs showed ~8 KiB per SA).
 */
export function ownedCopy(b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length);
  out.set(b);
  return out;
}
