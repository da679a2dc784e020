/** Buffer helpers shared by the layers. */

/** Size of the slabs {@link ownedCopy} carves long-lived bytes from. */
const SLAB_OCTETS = 4096;
/** Copies at least this long get memory of their own (a slab would mostly hold one of them). */
const OWN_ALLOCATION_OCTETS = 512;

let slab = new ArrayBuffer(0);
let slabUsed = 0;

/**
 * A copy of `b` outside Node's 8 KiB Buffer pool, for bytes that live as long as an SA (cached
 * datagrams, cookies, IVs, keys). They must not be pool slices: the pool is shared with
 * short-lived data, and one small long-lived slice keeps its whole 8 KiB slab resident (a heap
 * snapshot of 1,000 SAs showed ~8 KiB per SA). Small copies are carved, 8-octet aligned, from
 * 4 KiB slabs holding only such long-lived bytes, so a 32-octet key costs one Buffer view instead
 * of a view, an ArrayBuffer and a malloc'd backing store (~150 octets more each, ~20 such buffers
 * per SA side). A slab is freed when every copy carved from it is gone: SAs created together
 * share slabs, so at worst one surviving SA pins 4 KiB. Copies of 512 octets or more (cached
 * datagrams with a KE payload) get exact-size memory of their own.
 */
export function ownedCopy(b: Uint8Array): Buffer {
  const out = ownedBuffer(b.length);
  out.set(b);
  return out;
}

/** Uninitialised long-lived memory of `n` octets, as {@link ownedCopy} places it. */
export function ownedBuffer(n: number): Buffer {
  if (n >= OWN_ALLOCATION_OCTETS) return Buffer.allocUnsafeSlow(n);
  if (slabUsed + n > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_OCTETS);
    slabUsed = 0;
  }
  const out = Buffer.from(slab, slabUsed, n);
  slabUsed += (n + 7) & ~7;
  return out;
}
