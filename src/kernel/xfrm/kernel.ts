/**
 * KernelIpsec over Linux XFRM netlink: the Linux counterpart of Solaris in.iked's PF_KEY use
 * (solaris-ike.md §5.5). Requests are built and parsed in messages.ts/structs.ts and carried by an
 * XfrmChannel (the addon's NETLINK_XFRM sockets, or a test double).
 *
 *   PF_KEY (Solaris)        XFRM (here)                      KernelIpsec
 *   SADB_GETSPI             XFRM_MSG_ALLOCSPI                getSpi
 *   SADB_ADD / SADB_UPDATE  XFRM_MSG_NEWSA / XFRM_MSG_UPDSA  addSa / updateSa, updateLifetimes
 *   SADB_GET / SADB_DELETE  XFRM_MSG_GETSA / XFRM_MSG_DELSA  querySa / delSa
 *   ipsecconf → SPD         XFRM_MSG_NEWPOLICY / DELPOLICY   addPolicy / delPolicy
 *   SADB_FLUSH              XFRM_MSG_FLUSHSA                 flush
 *   SADB_ACQUIRE            XFRM_MSG_ACQUIRE  (group 1)      'acquire'
 *   SADB_EXPIRE             XFRM_MSG_EXPIRE   (group 2)      'expire' (soft → rekey, hard → gone)
 *   SADB_DELETE by others   XFRM_MSG_DELSA    (group 3)      'deleted' (nlmsg_pid ≠ our port)
 *   SADB_FLUSH by others    XFRM_MSG_FLUSHSA  (group 3)      'flushed'
 *
 * The daemon keeps a table of the SAs it created (keys copied, for UPDSA of lifetimes and for
 * `dump p2`): XFRM cannot change one field of an SA, UPDSA replaces the whole state. Policies it
 * installed are remembered and removed by close(); SAs are deleted by close() only with
 * `flushOnClose` (Solaris leaves them to expire when in.iked exits).
 *
 * A kernel without ESP (no esp4/esp6 module: NEWSA answers EPROTONOSUPPORT, "Requested type not
 * found") yields KernelErr.UNSUPPORTED and the counter kernel.sa_unsupported; the caller
 * (quick-mode.ts installPair) tells the peer with a Delete.
 */
import { EventEmitter } from 'node:events';
import { endianness } from 'node:os';

import type { Clock } from '../../util/clock';
import { Counters } from '../../util/counters';
import { OakleyError } from '../../util/errors';
import { nullLogger, type Logger } from '../../util/log';
import { countByDirection, type MemorySaDump } from '../memory';
import {
  KernelErr, type GetSpiRequest, type IpsecPolicy, type IpsecSaInfo, type IpsecSaSpec, type KernelEvents, type KernelFeatures,
  type KernelIpsec, type SaKey, type SaLifetimes,
} from '../types';
import { openNativeChannel, type XfrmChannel } from './channel';
import {
  acquireEventOf, allocSpiRequest, decodeSa, flushRequest, policyRequests, saIdRequest, saKeyOf, saLifetimesOf, saRequest,
} from './messages';
import { decodeAck, decodeAttrs, NlMsgType, splitMessages, type NlMsg } from './netlink';
import { decodeUserAcquire, decodeUserExpire, decodeUsersaId, XfrmMsg } from './structs';

const MIN_SPI = 256;

/** errno values the kernel returns in nlmsgerr that Oakley gives a meaning. */
const Errno = { ENOENT: 2, ESRCH: 3, EEXIST: 17, EINVAL: 22, EPROTONOSUPPORT: 93 } as const;
const ERRNO_NAME: Readonly<Record<number, string>> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 12: 'ENOMEM', 17: 'EEXIST', 22: 'EINVAL', 38: 'ENOSYS', 93: 'EPROTONOSUPPORT', 95: 'EOPNOTSUPP',
};

export interface XfrmKernelOptions {
  readonly clock: Clock;
  readonly counters?: Counters;
  readonly log?: Logger;
  /** Delete the SAs Oakley installed when closing (default false: they live to their lifetimes). */
  readonly flushOnClose?: boolean;
  /** The transport (default: the addon's NETLINK_XFRM sockets with all four groups). */
  readonly channel?: (onEvent: (err: Error | null, datagram?: Buffer) => void) => XfrmChannel;
}

interface Entry {
  key: SaKey;
  src: string;
  state: 'larval' | 'mature' | 'dying';
  spec?: IpsecSaSpec;
  addedAt?: number;
}

const saId = (k: SaKey): string => `${k.protocol}/${k.dst}/${k.spi >>> 0}`;
const policyId = (p: IpsecPolicy): string =>
  `${p.direction} ${p.src.address}/${p.src.prefixLength}:${p.src.protocol ?? 0}:${p.src.port ?? 0} -> ${p.dst.address}/${p.dst.prefixLength}:${p.dst.protocol ?? 0}:${p.dst.port ?? 0}`;

export class XfrmKernel implements KernelIpsec {
  readonly events = new EventEmitter<KernelEvents>();
  readonly counters: Counters;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly flushOnClose: boolean;
  private readonly channel: XfrmChannel;
  private readonly sas = new Map<string, Entry>();
  private readonly policies = new Map<string, IpsecPolicy>();
  private seq = 1;
  private closed = false;

  /**
   * Opens the netlink sockets. @throws OakleyError (IKE_ERR_NATIVE_UNAVAILABLE, IKE_ERR_KERNEL_NETLINK
   * with detail.errno, e.g. EPERM without CAP_NET_ADMIN)
   */
  constructor(opts: XfrmKernelOptions) {
    if (endianness() !== 'LE') throw new OakleyError(KernelErr.UNSUPPORTED, 'the XFRM codec supports little-endian hosts only');
    this.clock = opts.clock;
    this.counters = opts.counters ?? new Counters();
    this.log = opts.log ?? nullLogger();
    this.flushOnClose = opts.flushOnClose ?? false;
    this.channel = (opts.channel ?? openNativeChannel)((err, d) => this.onDatagram(err, d));
  }

  features(): KernelFeatures {
    return {
      natT: true, aesGcm: true,
      encrAlgs: ['aes-cbc', 'aes-gcm', '3des-cbc', 'des-cbc', 'blowfish-cbc', 'null'],
      integAlgs: ['hmac-md5', 'hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'],
    };
  }

  async getSpi(req: GetSpiRequest): Promise<number> {
    const min = Math.max(req.range?.min ?? MIN_SPI, MIN_SPI);
    const max = Math.min(req.range?.max ?? 0xffffffff, 0xffffffff);
    if (min > max) throw new OakleyError(KernelErr.SPI_EXHAUSTED, `empty SPI range ${min}..${max}`);
    const replies = this.call('ALLOCSPI', (seq) => allocSpiRequest(req.src, req.dst, req.protocol, min, max, seq), KernelErr.SPI_EXHAUSTED);
    const m = replies.find((r) => r.header.type === XfrmMsg.NEWSA);
    if (!m) throw new OakleyError(KernelErr.FAILED, 'ALLOCSPI: the kernel answered without the new SA');
    const sa = decodeSa(m.payload, decodeAttrs);
    const key = saKeyOf(sa.info);
    this.sas.set(saId(key), { key, src: req.src, state: 'larval' });
    this.counters.inc('kernel.spi_allocated');
    return key.spi;
  }

  async addSa(spec: IpsecSaSpec): Promise<void> {
    checkSpec(spec);
    this.call('NEWSA', (seq) => saRequest('add', spec, seq), KernelErr.SA_EXISTS);
    this.remember(spec);
    this.counters.inc('kernel.sa_added');
  }

  async updateSa(spec: IpsecSaSpec): Promise<void> {
    checkSpec(spec);
    this.call('UPDSA', (seq) => saRequest('update', spec, seq), KernelErr.SA_EXISTS);
    this.remember(spec);
    this.counters.inc('kernel.sa_updated');
  }

  async updateLifetimes(key: SaKey, lifetimes: Partial<SaLifetimes>): Promise<void> {
    const e = this.sas.get(saId(key));
    if (!e?.spec) throw new OakleyError(KernelErr.NO_SUCH_SA, `no mature SA ${saId(key)} installed by Oakley`);
    const spec: IpsecSaSpec = { ...e.spec, lifetimes: { ...e.spec.lifetimes, ...lifetimes } };
    this.call('UPDSA', (seq) => saRequest('update', spec, seq), KernelErr.SA_EXISTS);
    e.spec = spec;
  }

  async querySa(key: SaKey): Promise<IpsecSaInfo | undefined> {
    let replies: NlMsg[];
    try {
      replies = this.call('GETSA', (seq) => saIdRequest(XfrmMsg.GETSA, key, seq), KernelErr.SA_EXISTS);
    } catch (e) {
      if (OakleyError.is(e, KernelErr.NO_SUCH_SA)) return undefined;
      throw e;
    }
    const m = replies.find((r) => r.header.type === XfrmMsg.NEWSA);
    if (!m) return undefined;
    const { info } = decodeSa(m.payload, decodeAttrs);
    const e = this.sas.get(saId(key));
    const bytes = Number(info.curlft.bytes);
    return {
      key: saKeyOf(info), src: info.saddr,
      state: e?.state ?? (info.spi === 0 ? 'larval' : 'mature'),
      ...(e?.spec ? { direction: e.spec.direction } : {}),
      ...(e?.addedAt !== undefined ? { addedAt: e.addedAt } : {}),
      bytes, used: info.curlft.useTime !== 0n,
      lifetimes: saLifetimesOf(info.lft),
    };
  }

  async delSa(key: SaKey): Promise<void> {
    this.call('DELSA', (seq) => saIdRequest(XfrmMsg.DELSA, key, seq), KernelErr.SA_EXISTS);
    this.forget(key);
    this.counters.inc('kernel.sa_deleted');
  }

  async addPolicy(policy: IpsecPolicy): Promise<void> {
    const id = policyId(policy);
    const done: Buffer[] = [];
    const requests = policyRequests('add', policy, () => this.seq++);
    try {
      for (const r of requests) {
        this.call('NEWPOLICY', () => r, KernelErr.POLICY_EXISTS);
        done.push(r);
      }
    } catch (e) {
      // All directions or none: remove the ones that went in.
      if (done.length > 0) await this.delPolicy(policy).catch(() => undefined);
      throw e;
    }
    this.policies.set(id, policy);
    this.counters.inc('kernel.policy_added');
  }

  async delPolicy(policy: IpsecPolicy): Promise<void> {
    let first: unknown;
    for (const r of policyRequests('delete', policy, () => this.seq++)) {
      try {
        this.call('DELPOLICY', () => r, KernelErr.POLICY_EXISTS, KernelErr.NO_SUCH_POLICY);
      } catch (e) {
        first ??= e;
      }
    }
    this.policies.delete(policyId(policy));
    if (first) throw first;
    this.counters.inc('kernel.policy_deleted');
  }

  async flush(protocol?: 'esp' | 'ah'): Promise<void> {
    this.call('FLUSHSA', (seq) => flushRequest(protocol, seq), KernelErr.SA_EXISTS);
    for (const e of [...this.sas.values()]) if (!protocol || e.key.protocol === protocol) this.forget(e.key);
  }

  /** Removes the policies Oakley installed (and its SAs with flushOnClose), then the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const p of [...this.policies.values()]) {
      await this.delPolicy(p).catch((e: unknown) => this.log.warn(`removing policy ${policyId(p)}: ${(e as Error).message}`));
    }
    if (this.flushOnClose) {
      for (const e of [...this.sas.values()]) {
        await this.delSa(e.key).catch((err: unknown) => this.log.info(`removing SA ${saId(e.key)}: ${(err as Error).message}`));
      }
    }
    this.closed = true;
    for (const e of this.sas.values()) wipe(e.spec);
    this.sas.clear();
    this.channel.close();
    this.events.removeAllListeners();
  }

  /** Policies installed through this kernel (what close() removes). */
  listPolicies(): IpsecPolicy[] {
    return [...this.policies.values()];
  }

  /** SAs Oakley created, for `ikeadm dump p2` (never key bytes). */
  /** SAs by direction, counted in place (the metrics scrape; see MemoryKernel.countByDirection). */
  countByDirection(): { inbound: number; outbound: number } {
    return countByDirection(this.sas.values());
  }

  dump(): MemorySaDump[] {
    const now = this.clock.now();
    const remaining = (secs: number, e: Entry) =>
      secs > 0 && e.addedAt !== undefined ? Math.max(0, Math.ceil((e.addedAt + secs * 1000 - now) / 1000)) : undefined;
    return [...this.sas.values()].map((e) => {
      const s = e.spec;
      return {
        key: e.key, src: e.src, state: e.state, bytes: 0,
        ...(s ? {
          direction: s.direction, mode: s.mode,
          encapsulation: s.encapsulation.type === 'udp' ? `udp ${s.encapsulation.srcPort}->${s.encapsulation.dstPort}` : 'none',
          ...(s.encryption ? { encryption: { alg: s.encryption.alg, keyBits: s.encryption.key.length * 8, ...(s.encryption.icvLength ? { icvLength: s.encryption.icvLength } : {}) } } : {}),
          ...(s.integrity ? { integrity: { alg: s.integrity.alg, keyBits: s.integrity.key.length * 8 } } : {}),
          ...(s.pairSpi !== undefined ? { pairSpi: s.pairSpi } : {}),
          lifetimes: s.lifetimes, softRemaining: remaining(s.lifetimes.soft.seconds, e), hardRemaining: remaining(s.lifetimes.hard.seconds, e),
        } : {}),
        ...(e.addedAt !== undefined ? { addedAt: e.addedAt } : {}),
      };
    });
  }

  /** Key bytes of one SA (hex), for `dump p2` at keymat privilege. */
  keysOf(key: SaKey): { encryption?: string; integrity?: string } | undefined {
    const s = this.sas.get(saId(key))?.spec;
    if (!s) return undefined;
    return {
      ...(s.encryption ? { encryption: Buffer.concat([s.encryption.key, s.encryption.salt ?? Buffer.alloc(0)]).toString('hex') } : {}),
      ...(s.integrity ? { integrity: s.integrity.key.toString('hex') } : {}),
    };
  }

  /**
   * Feeds one datagram as if it arrived on the event socket (what the channel calls; tests use it
   * to inject kernel messages built with the codec).
   */
  onDatagram(err: Error | null, datagram?: Buffer): void {
    if (this.closed) return;
    if (err || !datagram) {
      this.counters.inc((err as { code?: string } | null)?.code === 'IKE_ERR_KERNEL_OVERRUN' ? 'kernel.xfrm_overrun' : 'kernel.xfrm_event_error');
      this.log.warn(`XFRM event socket: ${err?.message ?? 'empty event'}`);
      return;
    }
    let msgs: NlMsg[];
    try {
      msgs = splitMessages(datagram);
    } catch (e) {
      this.malformed(e);
      return;
    }
    for (const m of msgs) {
      try {
        this.onEvent(m);
      } catch (e) {
        this.malformed(e);
      }
    }
  }

  // --- internals ------------------------------------------------------------------------------

  private onEvent(m: NlMsg): void {
    switch (m.header.type) {
      case XfrmMsg.ACQUIRE: {
        const ev = acquireEventOf(decodeUserAcquire(m.payload));
        this.counters.inc('kernel.acquire');
        this.log.debug(`XFRM ACQUIRE ${ev.src} -> ${ev.dst} (seq ${ev.seq})`);
        this.events.emit('acquire', ev);
        return;
      }
      case XfrmMsg.EXPIRE: {
        const x = decodeUserExpire(m.payload);
        const key = saKeyOf(x.state);
        const e = this.sas.get(saId(key));
        const lft = x.state.lft, cur = x.state.curlft;
        const byBytes = cur.bytes >= (x.hard ? lft.hardBytes : lft.softBytes) || cur.packets >= (x.hard ? lft.hardPackets : lft.softPackets);
        this.counters.inc(x.hard ? 'kernel.expire_hard' : 'kernel.expire_soft');
        if (x.hard) this.forget(key);
        else if (e) e.state = 'dying';
        this.events.emit('expire', {
          sa: key, kind: x.hard ? 'hard' : 'soft', by: byBytes ? 'bytes' : 'seconds',
          direction: e?.spec?.direction ?? 'inbound', src: x.state.saddr,
        });
        return;
      }
      case XfrmMsg.DELSA: {
        // Our own DELSA requests are echoed to the group with our port id: not news.
        if (m.header.pid === this.channel.portId) return;
        const id = decodeUsersaId(m.payload);
        const key = saKeyOf(id);
        const e = this.sas.get(saId(key));
        if (!e) return;
        this.forget(key);
        this.counters.inc('kernel.deleted_by_others');
        this.events.emit('deleted', {
          sa: key, src: e.src, direction: e.spec?.direction ?? 'inbound', ...(e.spec?.pairSpi !== undefined ? { pairSpi: e.spec.pairSpi } : {}),
        });
        return;
      }
      case XfrmMsg.FLUSHSA: {
        if (m.header.pid === this.channel.portId) return;
        for (const e of [...this.sas.values()]) this.forget(e.key);
        this.counters.inc('kernel.flushed_by_others');
        this.events.emit('flushed');
        return;
      }
      default:
        // NEWSA/UPDSA/NEWPOLICY/DELPOLICY/POLEXPIRE notifications: nothing to act on.
        this.counters.inc('kernel.xfrm_other_event');
    }
  }

  private malformed(e: unknown): void {
    this.counters.inc('kernel.xfrm_malformed');
    this.log.warn(`malformed XFRM message dropped: ${(e as Error).message}`);
  }

  /**
   * One request/reply round trip. An error ack becomes an OakleyError whose code depends on the
   * errno: EEXIST → `exists`, ESRCH/ENOENT → `missing` (NO_SUCH_SA unless given), EPROTONOSUPPORT →
   * UNSUPPORTED (+ kernel.sa_unsupported), anything else FAILED; detail has errno and the kernel's
   * extended-ack text. @returns the reply messages (not the ack)
   */
  private call(op: string, build: (seq: number) => Buffer, exists: string, missing: string = KernelErr.NO_SUCH_SA): NlMsg[] {
    if (this.closed) throw new OakleyError(KernelErr.FAILED, `${op}: the XFRM kernel interface is closed`);
    const request = build(this.seq++);
    const seq = request.readUInt32LE(8);
    let datagrams: Buffer[];
    try {
      datagrams = this.channel.request(request);
    } catch (e) {
      const err = e as Error & { code?: string; errno?: number };
      this.counters.inc('kernel.xfrm_request_failed');
      throw new OakleyError(err.code?.startsWith('IKE_ERR_') ? err.code : KernelErr.FAILED, `XFRM ${op}: ${err.message}`, { op, ...(err.errno !== undefined ? { errno: err.errno } : {}) });
    }
    const replies: NlMsg[] = [];
    for (const d of datagrams) {
      let msgs: NlMsg[];
      try {
        msgs = splitMessages(d);
      } catch (e) {
        this.malformed(e);
        throw new OakleyError(KernelErr.FAILED, `XFRM ${op}: malformed reply: ${(e as Error).message}`, { op });
      }
      for (const m of msgs) {
        if (m.header.seq !== seq) continue;
        if (m.header.type === NlMsgType.DONE) continue;
        if (m.header.type !== NlMsgType.ERROR) {
          replies.push(m);
          continue;
        }
        const ack = decodeAck(m);
        if (ack.errno === 0) continue;
        throw this.refusal(op, ack.errno, ack.message, exists, missing);
      }
    }
    return replies;
  }

  private refusal(op: string, errno: number, extack: string | undefined, exists: string, missing: string): OakleyError {
    const name = ERRNO_NAME[errno] ?? `errno ${errno}`;
    const detail = { op, errno, errnoName: name, ...(extack ? { extack } : {}) };
    const why = `${name}${extack ? `, "${extack}"` : ''}`;
    this.counters.inc(`kernel.xfrm_error.${name}`);
    if (errno === Errno.EEXIST) return new OakleyError(exists, `XFRM ${op}: already exists (${why})`, detail);
    if (errno === Errno.ESRCH || errno === Errno.ENOENT) return new OakleyError(missing, `XFRM ${op}: no such entry (${why})`, detail);
    if (errno === Errno.EPROTONOSUPPORT) {
      this.counters.inc('kernel.sa_unsupported');
      return new OakleyError(KernelErr.UNSUPPORTED,
        `XFRM ${op}: the kernel cannot install this SA (${why}): IPsec protocol or algorithm support (esp4/esp6, ah4/ah6, crypto modules) is missing`, detail);
    }
    return new OakleyError(KernelErr.FAILED, `XFRM ${op}: refused by the kernel (${why})`, detail);
  }

  private remember(spec: IpsecSaSpec): void {
    const key: SaKey = { dst: spec.dst, spi: spec.spi >>> 0, protocol: spec.protocol };
    const old = this.sas.get(saId(key));
    wipe(old?.spec);
    // Copy the keys: the caller may wipe its buffers after the call, as after a PF_KEY write.
    const copy: IpsecSaSpec = {
      ...spec,
      ...(spec.encryption ? { encryption: { ...spec.encryption, key: Buffer.from(spec.encryption.key), ...(spec.encryption.salt ? { salt: Buffer.from(spec.encryption.salt) } : {}) } } : {}),
      ...(spec.integrity ? { integrity: { ...spec.integrity, key: Buffer.from(spec.integrity.key) } } : {}),
    };
    this.sas.set(saId(key), { key, src: spec.src, state: 'mature', spec: copy, addedAt: this.clock.now() });
  }

  private forget(key: SaKey): void {
    const e = this.sas.get(saId(key));
    if (!e) return;
    wipe(e.spec);
    this.sas.delete(saId(key));
  }
}

function wipe(spec: IpsecSaSpec | undefined): void {
  spec?.encryption?.key.fill(0);
  spec?.encryption?.salt?.fill(0);
  spec?.integrity?.key.fill(0);
}

/** The checks MemoryKernel makes, so both kernels refuse the same specs before any I/O. */
function checkSpec(spec: IpsecSaSpec): void {
  if ((spec.spi >>> 0) < MIN_SPI) throw new OakleyError(KernelErr.BAD_SA, `SPI ${spec.spi} is reserved (0-255)`);
  if (spec.protocol === 'esp' && !spec.encryption) throw new OakleyError(KernelErr.BAD_SA, 'ESP SA without encryption algorithm');
  if (spec.protocol === 'ah' && !spec.integrity) throw new OakleyError(KernelErr.BAD_SA, 'AH SA without integrity algorithm');
  if (spec.encryption?.alg === 'aes-gcm' && spec.integrity) throw new OakleyError(KernelErr.BAD_SA, 'AES-GCM takes no integrity algorithm');
}
