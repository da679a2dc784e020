/**
 * The `memory` kernel: SAs and policies in maps, SPIs allocated uniquely, lifetimes run by the
 * Clock. For tests and for running the daemon without touching the host's SADB. It behaves like
 * PF_KEY where it matters to the exchanges: larval SAs from getSpi, ADD vs UPDATE, soft/hard
 * expiry by time or bytes, `deleted` events only for deletions made by others.
 */
import { EventEmitter } from 'node:events';

import { pooledRandomFill } from '../crypto/random-pool';
import { ownedCopy } from '../util/buffers';
import type { Clock, TimerHandle } from '../util/clock';
import { Counters } from '../util/counters';
import { OakleyError } from '../util/errors';
import {
  KernelErr,
  type AcquireEvent,
  type GetSpiRequest,
  type IpsecPolicy,
  type IpsecSaInfo,
  type IpsecSaSpec,
  type KernelEvents,
  type KernelFeatures,
  type KernelIpsec,
  type SaKey,
  type SaLifetimes,
} from './types';

const MIN_SPI = 256;

export interface MemoryKernelOptions {
  readonly clock: Clock;
  /** Unsigned 32-bit random values for SPIs (default the pooled CSPRNG; tests pass a seeded RNG). */
  readonly random32?: () => number;
  /** Larval SAs (getSpi without UPDATE) vanish after this many ms (default 60 s; 0 = never). */
  readonly larvalTimeoutMs?: number;
  readonly counters?: Counters;
  readonly features?: Partial<KernelFeatures>;
}

interface Entry {
  spec?: IpsecSaSpec;
  key: SaKey;
  src: string;
  state: 'larval' | 'mature' | 'dying';
  addedAt?: number;
  bytes: number;
  used: boolean;
  lifetimes?: SaLifetimes;
  /** The one timer of the entry: larval timeout, or the next of soft / idle / hard expiry. */
  timer?: TimerHandle;
  softFired: boolean;
  idleFired?: boolean;
}

/** One line of `dump()`. Key bytes are never included; only their lengths. */
export interface MemorySaDump {
  readonly key: SaKey;
  readonly src: string;
  readonly state: 'larval' | 'mature' | 'dying';
  readonly direction?: string;
  readonly mode?: string;
  readonly encapsulation?: string;
  readonly encryption?: { alg: string; keyBits: number; icvLength?: number };
  readonly integrity?: { alg: string; keyBits: number };
  readonly lifetimes?: SaLifetimes;
  readonly addedAt?: number;
  /** Seconds until soft/hard expiry (undefined = no time limit). */
  readonly softRemaining?: number;
  readonly hardRemaining?: number;
  readonly bytes: number;
  readonly pairSpi?: number;
}

/** `protocol/dst/spi`, the SA table's key: join() builds one flat string where a template literal builds a rope kept by the table. */
function saId(k: SaKey): string {
  return [k.protocol, k.dst, k.spi >>> 0].join('/');
}

function policyId(p: IpsecPolicy): string {
  const ts = (t: IpsecPolicy['src']) => `${t.address}/${t.prefixLength}:${t.protocol ?? 0}:${t.port ?? 0}`;
  return `${p.direction} ${ts(p.src)} -> ${ts(p.dst)}`;
}

export class MemoryKernel implements KernelIpsec {
  readonly events = new EventEmitter<KernelEvents>();
  readonly counters: Counters;
  private readonly clock: Clock;
  private readonly random32: () => number;
  private readonly larvalTimeoutMs: number;
  private readonly featureSet: KernelFeatures;
  private readonly sas = new Map<string, Entry>();
  private readonly policies = new Map<string, IpsecPolicy>();
  private acquireSeq = 1;
  private closed = false;

  constructor(opts: MemoryKernelOptions) {
    this.clock = opts.clock;
    this.random32 = opts.random32 ?? (() => pooledRandomFill(Buffer.alloc(4)).readUInt32BE(0));
    this.larvalTimeoutMs = opts.larvalTimeoutMs ?? 60_000;
    this.counters = opts.counters ?? new Counters();
    this.featureSet = {
      natT: true,
      aesGcm: true,
      encrAlgs: ['aes-cbc', 'aes-gcm', '3des-cbc', 'des-cbc', 'blowfish-cbc', 'null'],
      integAlgs: ['hmac-md5', 'hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'],
      ...opts.features,
    };
  }

  features(): KernelFeatures {
    return this.featureSet;
  }

  async getSpi(req: GetSpiRequest): Promise<number> {
    const min = Math.max(req.range?.min ?? MIN_SPI, MIN_SPI);
    const max = Math.min(req.range?.max ?? 0xffffffff, 0xffffffff);
    if (min > max) throw new OakleyError(KernelErr.SPI_EXHAUSTED, `empty SPI range ${min}..${max}`);
    const span = max - min + 1;
    for (let i = 0; i < 1024; i++) {
      const spi = min + ((this.random32() >>> 0) % span);
      const key: SaKey = { dst: req.dst, spi, protocol: req.protocol };
      if (this.sas.has(saId(key))) continue;
      const e: Entry = { key, src: req.src, state: 'larval', bytes: 0, used: false, softFired: false };
      this.sas.set(saId(key), e);
      if (this.larvalTimeoutMs > 0) {
        e.timer = this.clock.schedule(this.larvalTimeoutMs, () => {
          if (this.sas.get(saId(key)) === e && e.state === 'larval') {
            this.sas.delete(saId(key));
            this.counters.inc('kernel.larval_expired');
          }
        });
      }
      this.counters.inc('kernel.spi_allocated');
      return spi;
    }
    throw new OakleyError(KernelErr.SPI_EXHAUSTED, `no free SPI in ${min}..${max}`);
  }

  async addSa(spec: IpsecSaSpec): Promise<void> {
    this.checkSpec(spec);
    if (this.sas.has(saId(spec))) throw new OakleyError(KernelErr.SA_EXISTS, `SA ${saId(spec)} exists`);
    const e: Entry = { key: keyOf(spec), src: spec.src, state: 'larval', bytes: 0, used: false, softFired: false };
    this.sas.set(saId(spec), e);
    this.mature(e, spec);
    this.counters.inc('kernel.sa_added');
  }

  async updateSa(spec: IpsecSaSpec): Promise<void> {
    this.checkSpec(spec);
    const e = this.sas.get(saId(spec));
    if (!e) throw new OakleyError(KernelErr.NO_SUCH_SA, `no larval SA ${saId(spec)}`);
    if (e.state !== 'larval') throw new OakleyError(KernelErr.BAD_SA, `SA ${saId(spec)} is not larval`);
    if (e.src !== spec.src) throw new OakleyError(KernelErr.BAD_SA, `SA ${saId(spec)} was allocated for source ${e.src}, not ${spec.src}`);
    this.mature(e, spec);
    this.counters.inc('kernel.sa_updated');
  }

  async updateLifetimes(key: SaKey, lifetimes: Partial<SaLifetimes>): Promise<void> {
    const e = this.sas.get(saId(key));
    if (!e || e.state === 'larval' || !e.lifetimes) throw new OakleyError(KernelErr.NO_SUCH_SA, `no mature SA ${saId(key)}`);
    e.lifetimes = { ...e.lifetimes, ...lifetimes };
    this.armLifetimes(e);
  }

  async querySa(key: SaKey): Promise<IpsecSaInfo | undefined> {
    const e = this.sas.get(saId(key));
    if (!e) return undefined;
    return {
      key: e.key,
      src: e.src,
      state: e.state,
      ...(e.spec ? { direction: e.spec.direction } : {}),
      ...(e.addedAt !== undefined ? { addedAt: e.addedAt } : {}),
      bytes: e.bytes,
      used: e.used,
      ...(e.lifetimes ? { lifetimes: e.lifetimes } : {}),
    };
  }

  async delSa(key: SaKey): Promise<void> {
    const e = this.sas.get(saId(key));
    if (!e) throw new OakleyError(KernelErr.NO_SUCH_SA, `no SA ${saId(key)}`);
    this.remove(e);
    this.counters.inc('kernel.sa_deleted');
  }

  async addPolicy(policy: IpsecPolicy): Promise<void> {
    const id = policyId(policy);
    if (this.policies.has(id)) throw new OakleyError(KernelErr.POLICY_EXISTS, `policy ${id} exists`);
    this.policies.set(id, policy);
  }

  async delPolicy(policy: IpsecPolicy): Promise<void> {
    const id = policyId(policy);
    if (!this.policies.delete(id)) throw new OakleyError(KernelErr.NO_SUCH_POLICY, `no policy ${id}`);
  }

  async flush(protocol?: 'esp' | 'ah'): Promise<void> {
    for (const e of [...this.sas.values()]) if (!protocol || e.key.protocol === protocol) this.remove(e);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.sas.values()) this.clock.cancel(e.timer);
    this.sas.clear();
    this.policies.clear();
    this.events.removeAllListeners();
  }

  // --- simulation hooks (what traffic, the admin or the kernel policy would do) ---------------

  /** Traffic over an SA: counts bytes and fires byte-based soft/hard expiry. */
  recordTraffic(key: SaKey, bytes: number): void {
    const e = this.sas.get(saId(key));
    if (!e || e.state === 'larval') throw new OakleyError(KernelErr.NO_SUCH_SA, `no mature SA ${saId(key)}`);
    e.bytes += bytes;
    e.used = true;
    const lt = e.lifetimes!;
    if (lt.hard.bytes > 0 && e.bytes >= lt.hard.bytes) {
      this.expireHard(e, 'bytes');
      return;
    }
    if (lt.soft.bytes > 0 && e.bytes >= lt.soft.bytes && !e.softFired) this.expireSoft(e, 'bytes');
  }

  /** An SA removed by someone else (`ipseckey delete`): emits `deleted`. */
  deleteByOthers(key: SaKey): void {
    const e = this.sas.get(saId(key));
    if (!e) throw new OakleyError(KernelErr.NO_SUCH_SA, `no SA ${saId(key)}`);
    this.remove(e);
    this.events.emit('deleted', {
      sa: e.key,
      src: e.src,
      direction: e.spec?.direction ?? 'inbound',
      ...(e.spec?.pairSpi !== undefined ? { pairSpi: e.spec.pairSpi } : {}),
    });
  }

  /** Traffic matched a policy without an SA: emits `acquire` with a fresh sequence number. */
  acquire(ev: Omit<AcquireEvent, 'seq'>): AcquireEvent {
    const full: AcquireEvent = { seq: this.acquireSeq++, ...ev };
    this.events.emit('acquire', full);
    return full;
  }

  /** Installed policies. */
  listPolicies(): IpsecPolicy[] {
    return [...this.policies.values()];
  }

  /** All SAs, for `ikeadm dump p2`-style output. Never contains key bytes. */
  /**
   * Mature-or-larval SAs by direction, counted without copying anything (metrics scrapes this;
   * dump() builds an object per SA, megabytes of garbage at 10,000s of SAs).
   */
  countByDirection(): { inbound: number; outbound: number } {
    return countByDirection(this.sas.values());
  }

  dump(): MemorySaDump[] {
    const now = this.clock.now();
    const remaining = (secs: number, e: Entry) =>
      secs > 0 && e.addedAt !== undefined ? Math.max(0, Math.ceil((e.addedAt + secs * 1000 - now) / 1000)) : undefined;
    return [...this.sas.values()].map((e) => {
      const s = e.spec;
      const out: MemorySaDump = {
        key: e.key,
        src: e.src,
        state: e.state,
        bytes: e.bytes,
        ...(s ? {
          direction: s.direction,
          mode: s.mode,
          encapsulation: s.encapsulation.type === 'udp' ? `udp ${s.encapsulation.srcPort}->${s.encapsulation.dstPort}` : 'none',
          ...(s.encryption ? { encryption: { alg: s.encryption.alg, keyBits: s.encryption.key.length * 8, ...(s.encryption.icvLength ? { icvLength: s.encryption.icvLength } : {}) } } : {}),
          ...(s.integrity ? { integrity: { alg: s.integrity.alg, keyBits: s.integrity.key.length * 8 } } : {}),
          ...(s.pairSpi !== undefined ? { pairSpi: s.pairSpi } : {}),
        } : {}),
        ...(e.lifetimes ? { lifetimes: e.lifetimes, softRemaining: remaining(e.lifetimes.soft.seconds, e), hardRemaining: remaining(e.lifetimes.hard.seconds, e) } : {}),
        ...(e.addedAt !== undefined ? { addedAt: e.addedAt } : {}),
      };
      return out;
    });
  }

  /** Key bytes of one SA (hex), for `dump p2` at keymat privilege; undefined when absent or larval. */
  keysOf(key: SaKey): { encryption?: string; integrity?: string } | undefined {
    const s = this.sas.get(saId(key))?.spec;
    if (!s) return undefined;
    return {
      ...(s.encryption ? { encryption: Buffer.concat([s.encryption.key, s.encryption.salt ?? Buffer.alloc(0)]).toString('hex') } : {}),
      ...(s.integrity ? { integrity: s.integrity.key.toString('hex') } : {}),
    };
  }

  get size(): number {
    return this.sas.size;
  }

  // --- internals ------------------------------------------------------------------------------

  private checkSpec(spec: IpsecSaSpec): void {
    if ((spec.spi >>> 0) < MIN_SPI) throw new OakleyError(KernelErr.BAD_SA, `SPI ${spec.spi} is reserved (0-255)`);
    if (spec.protocol === 'esp' && !spec.encryption) throw new OakleyError(KernelErr.BAD_SA, 'ESP SA without encryption algorithm');
    if (spec.protocol === 'ah' && !spec.integrity) throw new OakleyError(KernelErr.BAD_SA, 'AH SA without integrity algorithm');
    if (spec.encryption?.alg === 'aes-gcm') {
      if (!spec.encryption.salt || spec.encryption.salt.length !== 4) throw new OakleyError(KernelErr.BAD_SA, 'AES-GCM needs a 4-octet salt');
      if (spec.integrity) throw new OakleyError(KernelErr.BAD_SA, 'AES-GCM takes no integrity algorithm');
    }
    if (spec.encapsulation.type === 'udp' && !this.featureSet.natT) throw new OakleyError(KernelErr.BAD_SA, 'kernel lacks NAT-T');
  }

  private mature(e: Entry, spec: IpsecSaSpec): void {
    this.clock.cancel(e.timer);
    e.timer = undefined;
    // Copy the keys: the caller may wipe its buffers after the call, as it would after PF_KEY.
    const copy: IpsecSaSpec = {
      ...spec,
      ...(spec.encryption ? { encryption: { ...spec.encryption, key: ownedCopy(spec.encryption.key), ...(spec.encryption.salt ? { salt: ownedCopy(spec.encryption.salt) } : {}) } } : {}),
      ...(spec.integrity ? { integrity: { ...spec.integrity, key: ownedCopy(spec.integrity.key) } } : {}),
    };
    e.spec = copy;
    e.state = 'mature';
    e.addedAt = this.clock.now();
    e.lifetimes = spec.lifetimes;
    e.softFired = false;
    e.idleFired = false;
    this.armLifetimes(e);
  }

  /**
   * (Re)arms time-based soft/idle/hard expiry, measured from the add time as PF_KEY does: one
   * timer per SA for the earliest of them, re-armed for the next when it fires (one timer less
   * per SA than a timer each: ~180 octets of timer, closure and context at 20,000 SAs).
   */
  private armLifetimes(e: Entry): void {
    this.clock.cancel(e.timer);
    e.timer = undefined;
    const next = Math.min(...this.deadlines(e));
    if (next !== Infinity) e.timer = this.clock.schedule(next - this.clock.now(), () => this.lifetimeDue(e));
  }

  /** When soft, idle and hard expiry are due (Infinity: not pending). */
  private deadlines(e: Entry): [soft: number, idle: number, hard: number] {
    const lt = e.lifetimes!;
    const at = (secs: number): number => e.addedAt! + secs * 1000;
    const soft = lt.soft.seconds > 0 && !e.softFired && (lt.hard.seconds === 0 || lt.soft.seconds < lt.hard.seconds) ? at(lt.soft.seconds) : Infinity;
    const idle = lt.idleSeconds && lt.idleSeconds > 0 && !e.idleFired ? at(lt.idleSeconds) : Infinity;
    return [soft, idle, lt.hard.seconds > 0 ? at(lt.hard.seconds) : Infinity];
  }

  /** The timer fired: every expiry now due, earliest first (soft before hard at a tie), then the next. */
  private lifetimeDue(e: Entry): void {
    e.timer = undefined;
    // 1 ms of slack: `due - now` and back need not round-trip exactly in floating point.
    const now = this.clock.now() + 1;
    for (;;) {
      if (this.sas.get(saId(e.key)) !== e) return;
      const [soft, idle, hard] = this.deadlines(e);
      const first = Math.min(soft, idle, hard);
      if (first > now) break;
      if (soft === first) this.expireSoft(e, 'seconds');
      else if (idle === first) {
        e.idleFired = true;
        this.emitExpire(e, 'idle', 'seconds');
      } else {
        this.expireHard(e, 'seconds');
        return;
      }
    }
    if (e.timer === undefined) this.armLifetimes(e);
  }

  private expireSoft(e: Entry, by: 'seconds' | 'bytes'): void {
    if (this.sas.get(saId(e.key)) !== e) return;
    e.softFired = true;
    e.state = 'dying';
    this.counters.inc('kernel.expire_soft');
    this.emitExpire(e, 'soft', by);
  }

  private expireHard(e: Entry, by: 'seconds' | 'bytes'): void {
    if (this.sas.get(saId(e.key)) !== e) return;
    this.remove(e);
    this.counters.inc('kernel.expire_hard');
    this.emitExpire(e, 'hard', by);
  }

  private emitExpire(e: Entry, kind: 'soft' | 'hard' | 'idle', by: 'seconds' | 'bytes'): void {
    this.events.emit('expire', { sa: e.key, kind, by, direction: e.spec?.direction ?? 'inbound', src: e.src });
  }

  private remove(e: Entry): void {
    this.clock.cancel(e.timer);
    e.timer = undefined;
    e.spec?.encryption?.key.fill(0);
    e.spec?.encryption?.salt?.fill(0);
    e.spec?.integrity?.key.fill(0);
    this.sas.delete(saId(e.key));
  }
}

/** SAs with a spec by direction (the kernels' countByDirection). */
export function countByDirection(entries: Iterable<{ readonly spec?: { readonly direction?: string } }>): { inbound: number; outbound: number } {
  const n = { inbound: 0, outbound: 0 };
  for (const e of entries) {
    const d = e.spec?.direction;
    if (d === 'inbound' || d === 'outbound') n[d]++;
  }
  return n;
}

function keyOf(k: SaKey): SaKey {
  return { dst: k.dst, spi: k.spi, protocol: k.protocol };
}
