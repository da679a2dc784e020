/**
 * KernelIpsec values ↔ XFRM netlink messages. Requests follow what iproute2's `ip xfrm` sends for
 * the same operation (test/kernel/xfrm-iproute2.spec.ts compares them field by field):
 *
 *   getSpi     XFRM_MSG_ALLOCSPI  xfrm_userspi_info                  → NEWSA reply (the larval SA)
 *   addSa      XFRM_MSG_NEWSA     xfrm_usersa_info + ALG_CRYPT + ALG_AUTH_TRUNC | ALG_AEAD [+ ENCAP]
 *   updateSa   XFRM_MSG_UPDSA     the same body (completes the larval SA from ALLOCSPI)
 *   querySa    XFRM_MSG_GETSA     xfrm_usersa_id                     → NEWSA reply
 *   delSa      XFRM_MSG_DELSA     xfrm_usersa_id
 *   addPolicy  XFRM_MSG_NEWPOLICY xfrm_userpolicy_info [+ TMPL]
 *   delPolicy  XFRM_MSG_DELPOLICY xfrm_userpolicy_id
 *   flush      XFRM_MSG_FLUSHSA   xfrm_usersa_flush (one octet: protocol, 255 = any)
 *
 * Lifetimes: 0 octets in a KernelIpsec bound means "no limit", which XFRM spells XFRM_INF (a zero
 * byte limit would expire the SA at once); 0 seconds means no limit in both.
 */
import type {
  AcquireEvent, IpsecPolicy, IpsecSaSpec, KernelEncrAlg, KernelIntegAlg, LifetimeBound, SaKey, SaLifetimes, TrafficSelector,
} from '../types';
import { OakleyError } from '../../util/errors';
import { Cursor, encodeAttr, encodeMessage, NlFlag } from './netlink';
import {
  AF_INET6, decodeAlgo, decodeEncap, decodeUsersaInfo, encodeAlgo, encodeAlgo3, encodeEncap, encodeUserpolicyId,
  encodeUserpolicyInfo, encodeUserspiInfo, encodeUsersaId, encodeUsersaInfo, encodeUserTmpl, familyOf, IpProto, NO_LIMITS,
  UDP_ENCAP_ESPINUDP, XFRM_INF, XfrmAction, XfrmAttr, XfrmDir, XfrmMode, XfrmMsg, type XfrmAlgo, type XfrmEncap,
  type XfrmLifetimeCfg, type XfrmSelector, type XfrmUserAcquire, type XfrmUsersaInfo,
} from './structs';

/** Linux crypto API names (what `ip xfrm state` shows; ipsecalgs names on the left). */
export const CRYPT_NAME: Readonly<Record<Exclude<KernelEncrAlg, 'aes-gcm'>, string>> = {
  'aes-cbc': 'cbc(aes)', '3des-cbc': 'cbc(des3_ede)', 'des-cbc': 'cbc(des)', 'blowfish-cbc': 'cbc(blowfish)', null: 'ecb(cipher_null)',
};
export const AEAD_NAME = 'rfc4106(gcm(aes))';
/** Integrity algorithms and their ICV truncation in bits (RFC 2403/2404 96, RFC 4868 half the output). */
export const AUTH_NAME: Readonly<Record<KernelIntegAlg, { name: string; truncBits: number }>> = {
  'hmac-md5': { name: 'hmac(md5)', truncBits: 96 },
  'hmac-sha1': { name: 'hmac(sha1)', truncBits: 96 },
  'hmac-sha256': { name: 'hmac(sha256)', truncBits: 128 },
  'hmac-sha384': { name: 'hmac(sha384)', truncBits: 192 },
  'hmac-sha512': { name: 'hmac(sha512)', truncBits: 256 },
};

const protoOf = (p: 'esp' | 'ah'): number => (p === 'esp' ? IpProto.ESP : IpProto.AH);
const maxPrefix = (family: number): number => (family === AF_INET6 ? 128 : 32);
const anyAddress = (family: number): string => (family === AF_INET6 ? '::' : '0.0.0.0');

/** A KernelIpsec selector pair → xfrm_selector. */
export function selectorOf(src: TrafficSelector, dst: TrafficSelector): XfrmSelector {
  const family = familyOf(src.address);
  if (familyOf(dst.address) !== family) throw new OakleyError('IKE_ERR_KERNEL_BAD_SA', `selector ${src.address} -> ${dst.address} mixes address families`);
  const proto = src.protocol || dst.protocol || 0;
  return {
    family, saddr: src.address, daddr: dst.address, prefixlenS: src.prefixLength, prefixlenD: dst.prefixLength,
    proto, sport: src.port ?? 0, dport: dst.port ?? 0,
  };
}

function bytesLimit(n: number): bigint {
  return n > 0 ? BigInt(n) : XFRM_INF;
}

export function lifetimeCfgOf(l: SaLifetimes): XfrmLifetimeCfg {
  return {
    ...NO_LIMITS,
    softBytes: bytesLimit(l.soft.bytes), hardBytes: bytesLimit(l.hard.bytes),
    softAddSeconds: BigInt(l.soft.seconds), hardAddSeconds: BigInt(l.hard.seconds),
  };
}

/** xfrm_lifetime_cfg back to KernelIpsec bounds (XFRM_INF → 0 = no limit). */
export function saLifetimesOf(l: XfrmLifetimeCfg): SaLifetimes {
  const b = (v: bigint): number => (v === XFRM_INF || v > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(v));
  const bound = (bytes: bigint, secs: bigint): LifetimeBound => ({ bytes: b(bytes), seconds: b(secs) });
  return { soft: bound(l.softBytes, l.softAddSeconds), hard: bound(l.hardBytes, l.hardAddSeconds) };
}

/** The fixed part of NEWSA/UPDSA for `spec` (also what tests compare with iproute2's). */
export function usersaInfoOf(spec: IpsecSaSpec, seq = 0): Omit<XfrmUsersaInfo, 'curlft'> {
  const family = familyOf(spec.dst);
  // Transport mode: the SA covers the two hosts (as strongSwan installs it); tunnel mode: the
  // inner selectors negotiated in Quick Mode.
  const sel = spec.mode === 'tunnel' && spec.selectors
    ? selectorOf(spec.selectors.src, spec.selectors.dst)
    : selectorOf({ address: spec.src, prefixLength: maxPrefix(family) }, { address: spec.dst, prefixLength: maxPrefix(family) });
  return {
    sel, daddr: spec.dst, spi: spec.spi >>> 0, proto: protoOf(spec.protocol), saddr: spec.src, lft: lifetimeCfgOf(spec.lifetimes),
    seq, reqid: 0, family, mode: spec.mode === 'tunnel' ? XfrmMode.TUNNEL : XfrmMode.TRANSPORT,
    replayWindow: Math.min(spec.replayWindow, 255), flags: 0,
  };
}

/** ALG_CRYPT + ALG_AUTH_TRUNC, or ALG_AEAD (key | salt, RFC 4106 §8.1), then ENCAP. */
export function saAttrsOf(spec: IpsecSaSpec): Buffer[] {
  const attrs: Buffer[] = [];
  const e = spec.encryption;
  if (e?.alg === 'aes-gcm') {
    if (!e.salt || e.salt.length !== 4) throw new OakleyError('IKE_ERR_KERNEL_BAD_SA', 'AES-GCM needs a 4-octet salt');
    attrs.push(encodeAttr(XfrmAttr.ALG_AEAD, encodeAlgo3(AEAD_NAME, Buffer.concat([e.key, e.salt]), (e.icvLength ?? 16) * 8)));
  } else if (e) {
    attrs.push(encodeAttr(XfrmAttr.ALG_CRYPT, encodeAlgo(CRYPT_NAME[e.alg], e.key)));
  }
  if (spec.integrity) {
    const a = AUTH_NAME[spec.integrity.alg];
    attrs.push(encodeAttr(XfrmAttr.ALG_AUTH_TRUNC, encodeAlgo3(a.name, spec.integrity.key, a.truncBits)));
  }
  if (spec.encapsulation.type === 'udp') {
    attrs.push(encodeAttr(XfrmAttr.ENCAP, encodeEncap({ type: UDP_ENCAP_ESPINUDP, sport: spec.encapsulation.srcPort, dport: spec.encapsulation.dstPort })));
  }
  return attrs;
}

/** NEWSA (add) or UPDSA (update of the larval SA). Flags as iproute2: REQUEST | ACK. */
export function saRequest(kind: 'add' | 'update', spec: IpsecSaSpec, seq: number): Buffer {
  return encodeMessage(kind === 'add' ? XfrmMsg.NEWSA : XfrmMsg.UPDSA, NlFlag.REQUEST | NlFlag.ACK, seq,
    encodeUsersaInfo(usersaInfoOf(spec)), saAttrsOf(spec));
}

export function allocSpiRequest(src: string, dst: string, protocol: 'esp' | 'ah', min: number, max: number, seq: number): Buffer {
  const family = familyOf(dst);
  const info: Omit<XfrmUsersaInfo, 'curlft'> = {
    sel: { family, saddr: anyAddress(family), daddr: anyAddress(family), prefixlenS: 0, prefixlenD: 0, proto: 0, sport: 0, dport: 0 },
    daddr: dst, spi: 0, proto: protoOf(protocol), saddr: src, lft: NO_LIMITS, seq: 0, reqid: 0, family,
    mode: XfrmMode.TRANSPORT, replayWindow: 0, flags: 0,
  };
  return encodeMessage(XfrmMsg.ALLOCSPI, NlFlag.REQUEST, seq, encodeUserspiInfo(info, min, max));
}

export function saIdRequest(type: typeof XfrmMsg.DELSA | typeof XfrmMsg.GETSA, key: SaKey, seq: number): Buffer {
  return encodeMessage(type, NlFlag.REQUEST | (type === XfrmMsg.DELSA ? NlFlag.ACK : 0), seq,
    encodeUsersaId({ daddr: key.dst, spi: key.spi, family: familyOf(key.dst), proto: protoOf(key.protocol) }));
}

export function flushRequest(protocol: 'esp' | 'ah' | undefined, seq: number): Buffer {
  return encodeMessage(XfrmMsg.FLUSHSA, NlFlag.REQUEST | NlFlag.ACK, seq, Buffer.from([protocol ? protoOf(protocol) : IpProto.ANY]));
}

/** Policy priorities: lower wins. Bypass/drop entries (IKE's own ports) always beat IPsec ones. */
export const PRIORITY = { bypass: 100, ipsec: 1000 } as const;

/**
 * The XFRM directions one KernelIpsec policy becomes: outbound → OUT; inbound → IN, plus FWD in
 * tunnel mode (decapsulated packets for a network behind us are forwarded, not delivered, and
 * Linux checks them against the FWD policy).
 */
export function policyDirs(p: IpsecPolicy): number[] {
  if (p.direction === 'outbound') return [XfrmDir.OUT];
  return p.action === 'ipsec' && p.mode === 'tunnel' ? [XfrmDir.IN, XfrmDir.FWD] : [XfrmDir.IN];
}

export function policyRequests(kind: 'add' | 'delete', p: IpsecPolicy, seq: () => number): Buffer[] {
  const sel = selectorOf(p.src, p.dst);
  return policyDirs(p).map((dir) => {
    if (kind === 'delete') return encodeMessage(XfrmMsg.DELPOLICY, NlFlag.REQUEST | NlFlag.ACK, seq(), encodeUserpolicyId(sel, dir));
    const info = encodeUserpolicyInfo({
      sel, dir, priority: p.action === 'ipsec' ? PRIORITY.ipsec : PRIORITY.bypass,
      action: p.action === 'drop' ? XfrmAction.BLOCK : XfrmAction.ALLOW,
    });
    const attrs: Buffer[] = [];
    if (p.action === 'ipsec') {
      const tunnel = p.mode === 'tunnel';
      if (tunnel && !p.tunnel) throw new OakleyError('IKE_ERR_KERNEL_BAD_SA', 'tunnel-mode policy without tunnel endpoints');
      // A template's addresses are the SA's: in transport mode they stay unspecified and the
      // kernel takes the packet's; inbound/forward templates name the peer as source.
      const outer = tunnel ? (dir === XfrmDir.OUT ? p.tunnel! : { src: p.tunnel!.dst, dst: p.tunnel!.src }) : undefined;
      attrs.push(encodeAttr(XfrmAttr.TMPL, encodeUserTmpl({
        family: sel.family, proto: protoOf(p.protocol ?? 'esp'), mode: tunnel ? XfrmMode.TUNNEL : XfrmMode.TRANSPORT,
        saddr: outer?.src ?? anyAddress(sel.family), daddr: outer?.dst ?? anyAddress(sel.family),
      })));
    }
    return encodeMessage(XfrmMsg.NEWPOLICY, NlFlag.REQUEST | NlFlag.ACK | NlFlag.CREATE | NlFlag.EXCL, seq(), info, attrs);
  });
}

// ---------------------------------------------------------------------------------------------
// Decoding (replies and events)
// ---------------------------------------------------------------------------------------------

/** A NEWSA/UPDSA message: fixed part and the attributes Oakley sets. */
export interface DecodedSa {
  readonly info: XfrmUsersaInfo;
  readonly crypt?: XfrmAlgo;
  readonly auth?: XfrmAlgo;
  readonly aead?: XfrmAlgo;
  readonly encap?: XfrmEncap;
}

export function decodeSa(c: Cursor, attrs: (c: Cursor) => Map<number, Cursor>): DecodedSa {
  const info = decodeUsersaInfo(c);
  const a = attrs(c);
  const named = (type: number, name: string): Cursor | undefined => {
    const x = a.get(type);
    if (x) x.structure = name;
    return x;
  };
  const crypt = named(XfrmAttr.ALG_CRYPT, 'XFRMA_ALG_CRYPT');
  const auth = named(XfrmAttr.ALG_AUTH_TRUNC, 'XFRMA_ALG_AUTH_TRUNC');
  const aead = named(XfrmAttr.ALG_AEAD, 'XFRMA_ALG_AEAD');
  const encap = a.get(XfrmAttr.ENCAP);
  return {
    info,
    ...(crypt ? { crypt: decodeAlgo(crypt, false) } : {}),
    ...(auth ? { auth: decodeAlgo(auth, true) } : {}),
    ...(aead ? { aead: decodeAlgo(aead, true) } : {}),
    ...(encap ? { encap: decodeEncap(encap) } : {}),
  };
}

/** An ACQUIRE as the KernelIpsec event: src/dst are the template's (our address, the peer's). */
export function acquireEventOf(a: XfrmUserAcquire): AcquireEvent {
  const sel = a.sel;
  return {
    seq: a.seq,
    src: a.saddr,
    dst: a.daddr,
    innerSrc: { address: sel.saddr, prefixLength: sel.prefixlenS, ...(sel.proto ? { protocol: sel.proto } : {}), ...(sel.sport ? { port: sel.sport } : {}) },
    innerDst: { address: sel.daddr, prefixLength: sel.prefixlenD, ...(sel.proto ? { protocol: sel.proto } : {}), ...(sel.dport ? { port: sel.dport } : {}) },
    // XFRM's ACQUIRE names the protocol, not an algorithm list (ealgos/aalgos are "any" bitmaps):
    // the IKE rule's Phase 2 policy decides the algorithms.
    combinations: [{ protocol: a.proto === IpProto.AH ? 'ah' : 'esp' }],
  };
}

export function saKeyOf(info: { daddr: string; spi: number; proto: number }): SaKey {
  return { dst: info.daddr, spi: info.spi >>> 0, protocol: info.proto === IpProto.AH ? 'ah' : 'esp' };
}

