/**
 * Key exchange on the native path. MODP: one native ModpContext (p + Montgomery context) per
 * group, secret exponents through BN_mod_exp_mont_consttime on the libuv pool, or - when several
 * negotiations need a modexp in the same event-loop turn and the CPU has AVX-512 IFMA - batched
 * into the 8-lane IFMA kernel (./batch-queue). ECP: native ECDH.
 * Exponent policy, peer validation and encodings come from ../groups, before any native call.
 */
import {
  bufToBig, ecPointToKe, exponentBitsFor, getGroup, isSupportedGroup, leftPad, randomExponent, validateEcpPublic,
  validateModpPublic, type EcpGroup, type ModpGroup,
} from '../groups';
import { CryptoErr, OakleyError } from '../../util/errors';
import type { KeOptions, KeyExchange, KeyExchangeProvider, SharedSecret } from '../types';
import { fromNative, requireAddon, type ModexpKernel, type NativeModpContext } from './addon';
import { BatchQueue, type BatchStats } from './batch-queue';
import { pooledRandomFill } from '../random-pool';

/** Modexps per IFMA kernel run. */
const IFMA_LANES = 8;

interface ModexpItem { base: Buffer; exp: Buffer }

/**
 * Batched modexp jobs running at once before a partial batch waits for a completion (./batch-queue):
 * one, so under load the kernel runs fill up (in one process with two engines, 6.5 -> 7.95 lanes
 * per run and 4.44 -> 3.91 ms CPU per negotiation); OAKLEY_MODEXP_MAX_IN_FLIGHT for experiments.
 */
const MODEXP_MAX_IN_FLIGHT = Number(process.env.OAKLEY_MODEXP_MAX_IN_FLIGHT) || 1;

/** What the MODP batch queues did so far, all groups together. */
export function modexpBatchStats(): BatchStats {
  const sum: BatchStats = { runs: 0, batchedItems: 0, singles: 0 };
  for (const q of queues.values()) {
    sum.runs += q.stats.runs;
    sum.batchedItems += q.stats.batchedItems;
    sum.singles += q.stats.singles;
  }
  return sum;
}

const contexts = new Map<number, NativeModpContext>();
const queues = new Map<number, BatchQueue<ModexpItem>>();

/** The cached native context of a MODP group. */
export function modpContext(group: ModpGroup): NativeModpContext {
  let ctx = contexts.get(group.id);
  if (!ctx) {
    const addon = requireAddon();
    ctx = new addon.ModpContext(group.p);
    contexts.set(group.id, ctx);
  }
  return ctx;
}

/** base^exp mod p for a key exchange, batched with the other negotiations' (./batch-queue). */
function queuedModexp(group: ModpGroup, base: Buffer, exp: Buffer): Promise<Buffer> {
  let q = queues.get(group.id);
  if (!q) {
    const ctx = modpContext(group);
    q = new BatchQueue<ModexpItem>({
      lanes: IFMA_LANES,
      batching: () => ctx.batchKernel === 'ifma',
      one: (it) => ctx.modexpAsync(it.base, it.exp),
      many: (items) => ctx.modexpBatch(items.map((it) => it.base), items.map((it) => it.exp)),
      maxInFlight: MODEXP_MAX_IN_FLIGHT,
    });
    queues.set(group.id, q);
  }
  return q.run({ base, exp });
}

function disposed(): OakleyError {
  return new OakleyError(CryptoErr.BAD_KEY, 'key exchange already disposed');
}

/** A KAT private exponent: 1 <= x < p (and < q for RFC 5114 groups), at most |p| bytes. */
function checkModpPrivate(group: ModpGroup, x: Buffer): void {
  const v = bufToBig(x);
  const limit = group.qBig ?? group.pBig - 1n;
  if (x.length === 0 || x.length > group.size || v < 1n || v >= limit) {
    throw new OakleyError(CryptoErr.BAD_ARGUMENT, `private exponent for group ${group.id} is out of range`, { group: group.id });
  }
}

class NativeModpExchange implements KeyExchange {
  readonly path = 'native' as const;

  private constructor(private readonly grp: ModpGroup, private x: Buffer | null, readonly publicKey: Buffer) {}

  static async create(grp: ModpGroup, x: Buffer): Promise<NativeModpExchange> {
    try {
      const pub = await queuedModexp(grp, grp.g, x);
      return new NativeModpExchange(grp, x, pub);
    } catch (e) {
      x.fill(0);
      throw fromNative(e, `group ${grp.id} key generation`);
    }
  }

  get group(): number { return this.grp.id; }

  async computeSharedSecret(peerPublic: Buffer): Promise<SharedSecret> {
    validateModpPublic(this.grp, peerPublic);
    if (!this.x) throw disposed();
    try {
      return await queuedModexp(this.grp, peerPublic, this.x);
    } catch (e) {
      throw fromNative(e, `group ${this.grp.id} shared secret`);
    }
  }

  dispose(): void {
    this.x?.fill(0);
    this.x = null;
  }
}

class NativeEcpExchange implements KeyExchange {
  readonly path = 'native' as const;

  private constructor(private readonly grp: EcpGroup, private scalar: Buffer | null, readonly publicKey: Buffer) {}

  static async create(grp: EcpGroup, privateKey?: Buffer): Promise<NativeEcpExchange> {
    let given: Buffer | null = null;
    if (privateKey) {
      try {
        given = leftPad(privateKey, grp.size);
      } catch {
        throw new OakleyError(CryptoErr.BAD_ARGUMENT, `private scalar for group ${grp.id} is longer than ${grp.size} bytes`);
      }
      const k = bufToBig(given);
      if (k < 1n || k >= grp.order) throw new OakleyError(CryptoErr.BAD_ARGUMENT, `private scalar for group ${grp.id} is not in [1, n-1]`);
    }
    try {
      const pair = await requireAddon().ecKeygenAsync(grp.curve, given);
      return new NativeEcpExchange(grp, pair.privateKey, ecPointToKe(grp, pair.publicKey));
    } catch (e) {
      throw fromNative(e, `group ${grp.id} key generation`);
    }
  }

  get group(): number { return this.grp.id; }

  async computeSharedSecret(peerPublic: Buffer): Promise<SharedSecret> {
    const point = validateEcpPublic(this.grp, peerPublic);
    if (!this.scalar) throw disposed();
    try {
      return await requireAddon().ecDeriveAsync(this.grp.curve, this.scalar, point);
    } catch (e) {
      throw fromNative(e, `group ${this.grp.id} shared secret`);
    }
  }

  dispose(): void {
    this.scalar?.fill(0);
    this.scalar = null;
  }
}

export const nativeKeyExchange: KeyExchangeProvider = {
  path: 'native',
  supports: isSupportedGroup,
  async create(groupId: number, options: KeOptions = {}): Promise<KeyExchange> {
    const group = getGroup(groupId);
    if (group.kind === 'ecp') return NativeEcpExchange.create(group, options.privateKey);
    let x: Buffer;
    if (options.privateKey) {
      checkModpPrivate(group, options.privateKey);
      x = Buffer.from(options.privateKey);
    } else {
      x = randomExponent(group, exponentBitsFor(group, options.exponentBits), pooledRandomFill);
    }
    return NativeModpExchange.create(group, x);
  },
};

/**
 * Many independent base^exp mod p of one MODP group, split into `jobs` pool jobs (default 2, one
 * per core here). When the batch runs on the IFMA kernel the split is in whole runs of 8 lanes
 * (a run costs the same for 1 or 8 lanes). Native only; for the benchmark and for batching callers.
 * @param kernel 'auto' (IFMA for 2+ items when available), 'ifma' or 'portable' (OpenSSL), for
 *   side-by-side measurements and cross-path tests.
 */
export async function modexpBatch(groupId: number, bases: readonly Buffer[], exps: readonly Buffer[], jobs = 2,
  kernel: ModexpKernel = 'auto'): Promise<Buffer[]> {
  const group = getGroup(groupId);
  if (group.kind !== 'modp') throw new OakleyError(CryptoErr.BAD_ARGUMENT, `group ${groupId} is not a MODP group`);
  if (bases.length !== exps.length) throw new OakleyError(CryptoErr.BAD_ARGUMENT, 'bases and exponents differ in number');
  if (!Number.isInteger(jobs) || jobs < 1) throw new OakleyError(CryptoErr.BAD_ARGUMENT, `jobs must be a positive integer, got ${jobs}`);
  if (bases.length === 0) return [];
  for (let i = 0; i < bases.length; i++) {
    const b = bases[i], e = exps[i];
    if (!Buffer.isBuffer(b) || !Buffer.isBuffer(e) || b.length === 0 || b.length > group.size || e.length === 0 || e.length > group.size ||
        bufToBig(b) >= group.pBig) {
      throw new OakleyError(CryptoErr.BAD_ARGUMENT, `item ${i}: base must be below p and both 1..${group.size} bytes`, { index: i });
    }
  }
  const ctx = modpContext(group);
  const lanes = kernel === 'ifma' || (kernel === 'auto' && ctx.batchKernel === 'ifma' && bases.length > 1);
  const per = lanes
    ? IFMA_LANES * Math.ceil(Math.ceil(bases.length / IFMA_LANES) / jobs)
    : Math.ceil(bases.length / Math.min(jobs, bases.length));
  const parts: Promise<Buffer[]>[] = [];
  try {
    for (let i = 0; i < bases.length; i += per) parts.push(ctx.modexpBatch(bases.slice(i, i + per), exps.slice(i, i + per), kernel));
    return (await Promise.all(parts)).flat();
  } catch (e) {
    throw fromNative(e, 'modexp batch');
  }
}
