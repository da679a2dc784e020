/**
 * XFRM structures (include/uapi/linux/xfrm.h), encoders and bounded decoders. Offsets and sizes
 * are the x86-64/arm64 ABI ones, checked against /usr/include/linux/xfrm.h with offsetof() when
 * this file was written (test/unit/kernel/xfrm-codec.spec.ts pins the sizes):
 *
 *   xfrm_selector (56)       daddr 0, saddr 16 (xfrm_address_t, 16 each), dport 32, dport_mask 34,
 *                            sport 36, sport_mask 38 (__be16), family 40, prefixlen_d 42,
 *                            prefixlen_s 43, proto 44, ifindex 48, user 52
 *   xfrm_id (24)             daddr 0, spi 16 (__be32), proto 20
 *   xfrm_lifetime_cfg (64)   soft/hard byte, soft/hard packet, soft/hard add secs, soft/hard use secs
 *   xfrm_lifetime_cur (32)   bytes, packets, add_time, use_time
 *   xfrm_usersa_info (224)   sel 0, id 56, saddr 80, lft 96, curlft 160, stats 192, seq 204,
 *                            reqid 208, family 212, mode 214, replay_window 215, flags 216
 *   xfrm_userspi_info (232)  info 0, min 224, max 228
 *   xfrm_usersa_id (24)      daddr 0, spi 16 (__be32), family 20, proto 22
 *   xfrm_userpolicy_info (168) sel 0, lft 56, curlft 120, priority 152, index 156, dir 160,
 *                            action 161, flags 162, share 163
 *   xfrm_userpolicy_id (64)  sel 0, index 56, dir 60
 *   xfrm_user_tmpl (64)      id 0, family 24, saddr 28, reqid 44, mode 48, share 49, optional 50,
 *                            aalgos 52, ealgos 56, calgos 60
 *   xfrm_user_acquire (280)  id 0, saddr 24, sel 40, policy 96, aalgos 264, ealgos 268, calgos 272, seq 276
 *   xfrm_user_expire (232)   state 0, hard 224
 *   xfrm_encap_tmpl (24)     encap_type 0, encap_sport 2, encap_dport 4 (__be16), encap_oa 8
 *   xfrm_algo (68+key)       alg_name[64], alg_key_len (bits), key
 *   xfrm_algo_auth (72+key)  alg_name[64], alg_key_len, alg_trunc_len (bits), key
 *   xfrm_algo_aead (72+key)  alg_name[64], alg_key_len, alg_icv_len (bits), key
 */
import { isIP } from 'node:net';

import { OakleyError } from '../../util/errors';
import { Cursor, XfrmWireError } from './netlink';

export const XfrmMsg = {
  NEWSA: 16, DELSA: 17, GETSA: 18, NEWPOLICY: 19, DELPOLICY: 20, GETPOLICY: 21, ALLOCSPI: 22,
  ACQUIRE: 23, EXPIRE: 24, UPDPOLICY: 25, UPDSA: 26, POLEXPIRE: 27, FLUSHSA: 28, FLUSHPOLICY: 29,
} as const;

export const XfrmAttr = {
  ALG_AUTH: 1, ALG_CRYPT: 2, ENCAP: 4, TMPL: 5, SA: 6, POLICY: 7, SRCADDR: 13, REPLAY_VAL: 10,
  ALG_AEAD: 18, ALG_AUTH_TRUNC: 20, REPLAY_ESN_VAL: 23,
} as const;

/** Multicast groups (XFRMNLGRP_*); the socket binds with the mask bit (g - 1). */
export const XfrmGroup = { ACQUIRE: 1, EXPIRE: 2, SA: 3, POLICY: 4 } as const;

export const IpProto = { ESP: 50, AH: 51, ANY: 255 } as const;
export const XfrmMode = { TRANSPORT: 0, TUNNEL: 1 } as const;
export const XfrmDir = { IN: 0, OUT: 1, FWD: 2 } as const;
export const XfrmAction = { ALLOW: 0, BLOCK: 1 } as const;
/** UDP_ENCAP_ESPINUDP (RFC 3948). */
export const UDP_ENCAP_ESPINUDP = 2;
export const AF_INET = 2;
export const AF_INET6 = 10;
/** XFRM_INF: "no limit" for byte and packet counts (0 would mean expire at once). */
export const XFRM_INF = 0xffffffffffffffffn;

export const SIZE = {
  selector: 56, id: 24, lifetimeCfg: 64, lifetimeCur: 32, usersaInfo: 224, userspiInfo: 232, usersaId: 24,
  userpolicyInfo: 168, userpolicyId: 64, userTmpl: 64, userAcquire: 280, userExpire: 232, encapTmpl: 24,
  algoHeader: 68, algoAuthHeader: 72, algoAeadHeader: 72,
} as const;

// ---------------------------------------------------------------------------------------------
// Addresses: xfrm_address_t is 16 octets; IPv4 uses the first 4.
// ---------------------------------------------------------------------------------------------

export function familyOf(address: string): number {
  const v = isIP(address);
  if (v === 4) return AF_INET;
  if (v === 6) return AF_INET6;
  throw new OakleyError('IKE_ERR_KERNEL_BAD_SA', `"${address}" is not an IP address`);
}

export function encodeAddress(address: string): Buffer {
  const out = Buffer.alloc(16);
  if (isIP(address) === 4) {
    address.split('.').forEach((o, i) => (out[i] = Number(o)));
    return out;
  }
  if (isIP(address) !== 6) throw new OakleyError('IKE_ERR_KERNEL_BAD_SA', `"${address}" is not an IP address`);
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = encodeAddress(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export function decodeAddress(raw: Buffer, family: number): string {
  if (family === AF_INET6) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
    // RFC 5952 §4.2.3: the longest run of two or more zero groups becomes "::".
    let best = -1, bestLen = 1;
    for (let i = 0; i < 8;) {
      if (groups[i] !== '0') { i++; continue; }
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen) { best = i; bestLen = j - i; }
      i = j;
    }
    if (best < 0) return groups.join(':');
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  }
  return `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`;
}

// ---------------------------------------------------------------------------------------------
// xfrm_selector
// ---------------------------------------------------------------------------------------------

export interface XfrmSelector {
  readonly family: number;
  readonly daddr: string;
  readonly saddr: string;
  readonly prefixlenD: number;
  readonly prefixlenS: number;
  /** IP protocol, 0 = any. */
  readonly proto: number;
  /** Ports (0 = any; a non-zero port gets mask 0xffff). */
  readonly dport: number;
  readonly sport: number;
}

export function encodeSelector(s: XfrmSelector, out: Buffer, at: number): void {
  encodeAddress(s.daddr).copy(out, at);
  encodeAddress(s.saddr).copy(out, at + 16);
  out.writeUInt16BE(s.dport, at + 32);
  out.writeUInt16BE(s.dport ? 0xffff : 0, at + 34);
  out.writeUInt16BE(s.sport, at + 36);
  out.writeUInt16BE(s.sport ? 0xffff : 0, at + 38);
  out.writeUInt16LE(s.family, at + 40);
  out[at + 42] = s.prefixlenD;
  out[at + 43] = s.prefixlenS;
  out[at + 44] = s.proto;
  // ifindex 0 (any interface), user 0
}

export function decodeSelector(c: Cursor): XfrmSelector {
  const s = c.sub(SIZE.selector, 'xfrm_selector');
  const d = s.bytes(16, 'daddr'), sa = s.bytes(16, 'saddr');
  const dport = s.u16be('dport');
  s.skip(2, 'dport_mask');
  const sport = s.u16be('sport');
  s.skip(2, 'sport_mask');
  const family = s.u16('family');
  const prefixlenD = s.u8('prefixlen_d'), prefixlenS = s.u8('prefixlen_s'), proto = s.u8('proto');
  s.skip(11, 'pad, ifindex, user');
  s.end();
  const fam = family === AF_INET6 ? AF_INET6 : AF_INET;
  return { family, daddr: decodeAddress(d, fam), saddr: decodeAddress(sa, fam), prefixlenD, prefixlenS, proto, dport, sport };
}

// ---------------------------------------------------------------------------------------------
// Lifetimes
// ---------------------------------------------------------------------------------------------

/** xfrm_lifetime_cfg: byte/packet limits as bigint (XFRM_INF = none), seconds 0 = none. */
export interface XfrmLifetimeCfg {
  readonly softBytes: bigint;
  readonly hardBytes: bigint;
  readonly softPackets: bigint;
  readonly hardPackets: bigint;
  readonly softAddSeconds: bigint;
  readonly hardAddSeconds: bigint;
  readonly softUseSeconds: bigint;
  readonly hardUseSeconds: bigint;
}

export const NO_LIMITS: XfrmLifetimeCfg = {
  softBytes: XFRM_INF, hardBytes: XFRM_INF, softPackets: XFRM_INF, hardPackets: XFRM_INF,
  softAddSeconds: 0n, hardAddSeconds: 0n, softUseSeconds: 0n, hardUseSeconds: 0n,
};

const LFT_ORDER = ['softBytes', 'hardBytes', 'softPackets', 'hardPackets', 'softAddSeconds', 'hardAddSeconds', 'softUseSeconds', 'hardUseSeconds'] as const;

export function encodeLifetimeCfg(l: XfrmLifetimeCfg, out: Buffer, at: number): void {
  LFT_ORDER.forEach((k, i) => out.writeBigUInt64LE(l[k], at + i * 8));
}

export function decodeLifetimeCfg(c: Cursor): XfrmLifetimeCfg {
  const s = c.sub(SIZE.lifetimeCfg, 'xfrm_lifetime_cfg');
  const v = LFT_ORDER.map((k) => s.u64(k));
  return {
    softBytes: v[0]!, hardBytes: v[1]!, softPackets: v[2]!, hardPackets: v[3]!,
    softAddSeconds: v[4]!, hardAddSeconds: v[5]!, softUseSeconds: v[6]!, hardUseSeconds: v[7]!,
  };
}

export interface XfrmLifetimeCur {
  readonly bytes: bigint;
  readonly packets: bigint;
  /** Wall-clock seconds (kernel real time) of the add and of the first use (0 = unused). */
  readonly addTime: bigint;
  readonly useTime: bigint;
}

// ---------------------------------------------------------------------------------------------
// xfrm_usersa_info (NEWSA/UPDSA body, GETSA/ALLOCSPI reply, EXPIRE's state)
// ---------------------------------------------------------------------------------------------

export interface XfrmUsersaInfo {
  readonly sel: XfrmSelector;
  readonly daddr: string;
  readonly spi: number;
  readonly proto: number;
  readonly saddr: string;
  readonly lft: XfrmLifetimeCfg;
  readonly curlft: XfrmLifetimeCur;
  readonly seq: number;
  readonly reqid: number;
  readonly family: number;
  readonly mode: number;
  readonly replayWindow: number;
  readonly flags: number;
}

/** The selector, lifetimes and counters iproute2 leaves zero are zero here too. */
export function encodeUsersaInfo(i: Omit<XfrmUsersaInfo, 'curlft'>): Buffer {
  const out = Buffer.alloc(SIZE.usersaInfo);
  encodeSelector(i.sel, out, 0);
  encodeAddress(i.daddr).copy(out, 56);
  out.writeUInt32BE(i.spi >>> 0, 72);
  out[76] = i.proto;
  encodeAddress(i.saddr).copy(out, 80);
  encodeLifetimeCfg(i.lft, out, 96);
  // curlft 160..191 and stats 192..203 are kernel output
  out.writeUInt32LE(i.seq >>> 0, 204);
  out.writeUInt32LE(i.reqid >>> 0, 208);
  out.writeUInt16LE(i.family, 212);
  out[214] = i.mode;
  out[215] = i.replayWindow;
  out[216] = i.flags;
  return out;
}

export function decodeUsersaInfo(c: Cursor): XfrmUsersaInfo {
  const s = c.sub(SIZE.usersaInfo, 'xfrm_usersa_info');
  const sel = decodeSelector(s);
  const d = s.bytes(16, 'id.daddr');
  const spi = s.u32be('id.spi');
  const proto = s.u8('id.proto');
  s.skip(3, 'id pad');
  const sa = s.bytes(16, 'saddr');
  const lft = decodeLifetimeCfg(s);
  const curlft: XfrmLifetimeCur = { bytes: s.u64('curlft.bytes'), packets: s.u64('curlft.packets'), addTime: s.u64('curlft.add_time'), useTime: s.u64('curlft.use_time') };
  s.skip(12, 'stats');
  const seq = s.u32('seq'), reqid = s.u32('reqid'), family = s.u16('family');
  const mode = s.u8('mode'), replayWindow = s.u8('replay_window'), flags = s.u8('flags');
  s.skip(7, 'pad');
  s.end();
  if (family !== AF_INET && family !== AF_INET6) throw new XfrmWireError('xfrm_usersa_info', c.offset - SIZE.usersaInfo + 212, `unknown family ${family}`);
  return { sel, daddr: decodeAddress(d, family), spi, proto, saddr: decodeAddress(sa, family), lft, curlft, seq, reqid, family, mode, replayWindow, flags };
}

/** xfrm_userspi_info: the larval SA's identity plus the SPI range (ALLOCSPI). */
export function encodeUserspiInfo(i: Omit<XfrmUsersaInfo, 'curlft'>, min: number, max: number): Buffer {
  const out = Buffer.alloc(SIZE.userspiInfo);
  encodeUsersaInfo(i).copy(out, 0);
  out.writeUInt32LE(min >>> 0, 224);
  out.writeUInt32LE(max >>> 0, 228);
  return out;
}

/** xfrm_usersa_id: DELSA/GETSA body, DELSA notification header. */
export interface XfrmUsersaId {
  readonly daddr: string;
  readonly spi: number;
  readonly family: number;
  readonly proto: number;
}

export function encodeUsersaId(i: XfrmUsersaId): Buffer {
  const out = Buffer.alloc(SIZE.usersaId);
  encodeAddress(i.daddr).copy(out, 0);
  out.writeUInt32BE(i.spi >>> 0, 16);
  out.writeUInt16LE(i.family, 20);
  out[22] = i.proto;
  return out;
}

export function decodeUsersaId(c: Cursor): XfrmUsersaId {
  const s = c.sub(SIZE.usersaId, 'xfrm_usersa_id');
  const d = s.bytes(16, 'daddr');
  const spi = s.u32be('spi'), family = s.u16('family'), proto = s.u8('proto');
  s.skip(1, 'pad');
  s.end();
  return { daddr: decodeAddress(d, family), spi, family, proto };
}

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

export interface XfrmUserTmpl {
  readonly daddr: string;
  readonly proto: number;
  readonly family: number;
  readonly saddr: string;
  readonly mode: number;
}

export function encodeUserTmpl(t: XfrmUserTmpl): Buffer {
  const out = Buffer.alloc(SIZE.userTmpl);
  encodeAddress(t.daddr).copy(out, 0);
  // spi 0: any SA of the protocol
  out[20] = t.proto;
  out.writeUInt16LE(t.family, 24);
  encodeAddress(t.saddr).copy(out, 28);
  // reqid 0; share 0 (XFRM_SHARE_ANY); optional 0 (required)
  out[48] = t.mode;
  out.writeUInt32LE(0xffffffff, 52); // aalgos: any
  out.writeUInt32LE(0xffffffff, 56); // ealgos
  out.writeUInt32LE(0xffffffff, 60); // calgos
  return out;
}

export interface XfrmUserpolicyInfo {
  readonly sel: XfrmSelector;
  readonly priority: number;
  readonly dir: number;
  readonly action: number;
}

export function encodeUserpolicyInfo(p: XfrmUserpolicyInfo): Buffer {
  const out = Buffer.alloc(SIZE.userpolicyInfo);
  encodeSelector(p.sel, out, 0);
  encodeLifetimeCfg(NO_LIMITS, out, 56);
  out.writeUInt32LE(p.priority >>> 0, 152);
  out[160] = p.dir;
  out[161] = p.action;
  return out;
}

export function decodeUserpolicyInfo(c: Cursor): XfrmUserpolicyInfo {
  const s = c.sub(SIZE.userpolicyInfo, 'xfrm_userpolicy_info');
  const sel = decodeSelector(s);
  s.skip(64 + 32, 'lft, curlft');
  const priority = s.u32('priority');
  s.skip(4, 'index');
  const dir = s.u8('dir'), action = s.u8('action');
  s.skip(6, 'flags, share, pad');
  s.end();
  return { sel, priority, dir, action };
}

export function encodeUserpolicyId(sel: XfrmSelector, dir: number): Buffer {
  const out = Buffer.alloc(SIZE.userpolicyId);
  encodeSelector(sel, out, 0);
  out[60] = dir;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

export interface XfrmUserAcquire {
  /** The template's destination (the peer) and protocol. */
  readonly daddr: string;
  readonly proto: number;
  /** The template's source (us). */
  readonly saddr: string;
  /** The packet's flow. */
  readonly sel: XfrmSelector;
  readonly policy: XfrmUserpolicyInfo;
  readonly seq: number;
}

export function decodeUserAcquire(c: Cursor): XfrmUserAcquire {
  const s = c.sub(SIZE.userAcquire, 'xfrm_user_acquire');
  const d = s.bytes(16, 'id.daddr');
  s.skip(4, 'id.spi');
  const proto = s.u8('id.proto');
  s.skip(3, 'id pad');
  const sa = s.bytes(16, 'saddr');
  const sel = decodeSelector(s);
  const policy = decodeUserpolicyInfo(s);
  s.skip(12, 'aalgos, ealgos, calgos');
  const seq = s.u32('seq');
  s.end();
  const fam = sel.family === AF_INET6 ? AF_INET6 : AF_INET;
  return { daddr: decodeAddress(d, fam), proto, saddr: decodeAddress(sa, fam), sel, policy, seq };
}

export interface XfrmUserExpire {
  readonly state: XfrmUsersaInfo;
  readonly hard: boolean;
}

export function decodeUserExpire(c: Cursor): XfrmUserExpire {
  const s = c.sub(SIZE.userExpire, 'xfrm_user_expire');
  const state = decodeUsersaInfo(s);
  const hard = s.u8('hard');
  s.skip(7, 'pad');
  s.end();
  return { state, hard: hard !== 0 };
}

/** Encodes an EXPIRE body as the kernel sends it (tests inject these through the codec). */
export function encodeUserExpire(state: Omit<XfrmUsersaInfo, 'curlft'>, hard: boolean): Buffer {
  const out = Buffer.alloc(SIZE.userExpire);
  encodeUsersaInfo(state).copy(out, 0);
  out[224] = hard ? 1 : 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Algorithm and encapsulation attributes
// ---------------------------------------------------------------------------------------------

function algName(name: string, out: Buffer): void {
  if (Buffer.byteLength(name) > 63) throw new OakleyError('IKE_ERR_KERNEL_BAD_SA', `algorithm name "${name}" is longer than 63 octets`);
  out.write(name, 0, 'latin1');
}

/** XFRMA_ALG_CRYPT: struct xfrm_algo. */
export function encodeAlgo(name: string, key: Buffer): Buffer {
  const out = Buffer.alloc(SIZE.algoHeader + key.length);
  algName(name, out);
  out.writeUInt32LE(key.length * 8, 64);
  key.copy(out, 68);
  return out;
}

/** XFRMA_ALG_AUTH_TRUNC / XFRMA_ALG_AEAD: the third word is the truncation or ICV length in bits. */
export function encodeAlgo3(name: string, key: Buffer, bits: number): Buffer {
  const out = Buffer.alloc(SIZE.algoAuthHeader + key.length);
  algName(name, out);
  out.writeUInt32LE(key.length * 8, 64);
  out.writeUInt32LE(bits, 68);
  key.copy(out, 72);
  return out;
}

export interface XfrmAlgo {
  readonly name: string;
  readonly key: Buffer;
  /** Truncation/ICV bits (AUTH_TRUNC, AEAD). */
  readonly bits?: number;
}

export function decodeAlgo(c: Cursor, withBits: boolean): XfrmAlgo {
  const name = c.bytes(64, 'alg_name').toString('latin1').replace(/\0.*$/s, '');
  const keyBits = c.u32('alg_key_len');
  const bits = withBits ? c.u32(c.structure.includes('AEAD') ? 'alg_icv_len' : 'alg_trunc_len') : undefined;
  if (keyBits % 8 !== 0 || keyBits / 8 > c.remaining) {
    throw new XfrmWireError(c.structure, c.offset, `alg_key_len ${keyBits} bits does not fit the ${c.remaining} octets left`);
  }
  const key = c.bytes(keyBits / 8, 'key');
  return { name, key, ...(bits !== undefined ? { bits } : {}) };
}

export interface XfrmEncap {
  readonly type: number;
  readonly sport: number;
  readonly dport: number;
}

/** XFRMA_ENCAP: struct xfrm_encap_tmpl (original address left zero, as iproute2 with 0.0.0.0). */
export function encodeEncap(e: XfrmEncap): Buffer {
  const out = Buffer.alloc(SIZE.encapTmpl);
  out.writeUInt16LE(e.type, 0);
  out.writeUInt16BE(e.sport, 2);
  out.writeUInt16BE(e.dport, 4);
  return out;
}

export function decodeEncap(c: Cursor): XfrmEncap {
  const s = c.sub(SIZE.encapTmpl, 'xfrm_encap_tmpl');
  const type = s.u16('encap_type'), sport = s.u16be('encap_sport'), dport = s.u16be('encap_dport');
  s.skip(18, 'pad, encap_oa');
  s.end();
  return { type, sport, dport };
}
