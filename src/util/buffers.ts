/** Buffer helpers shared by the layers. */

/** Size of the slabs {@link ownedCopy} carves long-lived bytes from. */
const SLAB_OCTETS = 4096;
/** Copies at least this long get memory of their own (a slab would mostly hold one of them). */
const OWN_ALLOCATION_OCTETS = 512;

/** Slabs that small copies are carved from, 8-octet aligned; a slab is freed when all its copies are. */
class SlabArena {
  private slab = new ArrayBuffer(0);
  private used = 0;

  alloc(n: number): Buffer {
    if (n >= OWN_ALLOCATION_OCTETS) return Buffer.allocUnsafeSlow(n);
    if (this.used + n > this.slab.byteLength) {
      this.slab = new ArrayBuffer(SLAB_OCTETS);
      this.used = 0;
    }
    const out = Buffer.from(this.slab, this.used, n);
    this.used += (n + 7) & ~7;
    return out;
  }

  copy(b: Uint8Array): Buffer {
    const out = this.alloc(b.length);
    out.set(b);
    return out;
  }
}

const LONG_LIVED = new SlabArena();
const SCRATCH = new SlabArena();

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
  return LONG_LIVED.copy(b);
}

/** Uninitialised long-lived memory of `n` octets, as {@link ownedCopy} places it. */
export function ownedBuffer(n: number): Buffer {
  return LONG_LIVED.alloc(n);
}

/**
 * A copy for bytes that live for one negotiation (the Phase 1 IV of each message, cached
 * requests and answers while an exchange runs): carved like {@link ownedCopy} but from slabs of
 * their own. Mixed into the long-lived slabs, the dead ones left ~800 octets of holes per SA that
 * its keys kept resident; these slabs die with the negotiations that filled them. What outlives
 * the negotiation is moved to {@link ownedCopy} when it ends.
 */
export function scratchCopy(b: Uint8Array): Buffer {
  return SCRATCH.copy(b);
}

/** Uninitialised per-negotiation memory of `n` octets, as {@link scratchCopy} places it. */
export function scratchBuffer(n: number): Buffer {
  return SCRATCH.alloc(n);
}
