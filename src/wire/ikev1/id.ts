/**
 * Identification data per ID type (RFC 2407 §4.6.2.1-§4.6.2.12), for the ID payload
 * (payloads/id.ts keeps the bytes raw):
 *
 *   IPV4_ADDR (1)        4 octets               IPV6_ADDR (5)         16 octets
 *   IPV4_ADDR_SUBNET (4) address 4 | mask 4     IPV6_ADDR_SUBNET (6)  address 16 | mask 16
 *   IPV4_ADDR_RANGE (7)  start 4 | end 4        IPV6_ADDR_RANGE (8)   start 16 | end 16
 *   FQDN (2)             "foo.example.com", no terminator
 *   USER_FQDN (3)        "user@example.com", no terminator
 *   DER_ASN1_DN (9)      DER Name (SEQUENCE)    DER_ASN1_GN (10)      DER GeneralName
 *   KEY_ID (11)          opaque, vendor-specific
 *
 * `checkIdData` is the length/shape check verify.ts runs on every ID payload (INVALID-ID-INFORMATION);
 * `decodeIdData` also checks what needs interpretation (contiguous masks, start <= end) and returns
 * a typed value; `encodeIdData` is the inverse. Addresses are text (dotted quad, RFC 5952 IPv6).
 */
import { IdType, NotifyType } from './iana';
import { WireErr, WireError } from '../errors';

export type IdValue =
  | { readonly kind: 'ipv4'; readonly address: string }
  | { readonly kind: 'ipv6'; readonly address: string }
  | { readonly kind: 'ipv4-subnet'; readonly address: string; readonly prefix: number }
  | { readonly kind: 'ipv6-subnet'; readonly address: string; readonly prefix: number }
  | { readonly kind: 'ipv4-range'; readonly start: string; readonly end: string }
  | { readonly kind: 'ipv6-range'; readonly start: string; readonly end: string }
  | { readonly kind: 'fqdn'; readonly name: string }
  | { readonly kind: 'user-fqdn'; readonly name: string }
  | { readonly kind: 'der-dn'; readonly der: Buffer }
  | { readonly kind: 'der-gn'; readonly der: Buffer }
  | { readonly kind: 'key-id'; readonly keyId: Buffer };

const FIXED: Readonly<Record<number, number>> = {
  [IdType.IPV4_ADDR]: 4, [IdType.IPV6_ADDR]: 16,
  [IdType.IPV4_ADDR_SUBNET]: 8, [IdType.IPV6_ADDR_SUBNET]: 32,
  [IdType.IPV4_ADDR_RANGE]: 8, [IdType.IPV6_ADDR_RANGE]: 32,
};

/** Longest FQDN / USER_FQDN accepted (a DNS name is at most 253 characters, plus "user@"). */
export const MAX_NAME_LENGTH = 255;

function nameProblem(data: Buffer): string | undefined {
  if (data.length === 0) return 'empty name';
  if (data.length > MAX_NAME_LENGTH) return `name of ${data.length} bytes exceeds ${MAX_NAME_LENGTH}`;
  for (const b of data) if (b < 0x21 || b > 0x7e) return `name contains byte 0x${b.toString(16).padStart(2, '0')}`;
  return undefined;
}

/**
 * One DER TLV spanning `data` exactly; returns the tag, or a reason.
 * Definite lengths only (DER), long form up to 4 length octets, minimal encoding not enforced.
 */
function derProblem(data: Buffer, tagOk: (tag: number) => boolean, what: string): string | undefined {
  if (data.length < 2) return `${what} of ${data.length} bytes is too short for DER`;
  if (!tagOk(data[0]!)) return `${what} starts with tag 0x${data[0]!.toString(16)}`;
  let len = data[1]!;
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) return `${what} has an unsupported DER length form 0x${len.toString(16)}`;
    if (data.length < 2 + n) return `${what} DER length octets run past the data`;
    len = data.readUIntBE(2, n);
    hdr = 2 + n;
  }
  if (hdr + len !== data.length) return `${what} DER length ${hdr + len} disagrees with the ${data.length} bytes of data`;
  return undefined;
}

/** GeneralName (RFC 5280 §4.2.1.6): context-specific tags [0]..[8], primitive or constructed. */
const isGeneralNameTag = (t: number): boolean => (t & 0xc0) === 0x80 && (t & 0x1f) <= 8;

/**
 * Length/shape check of ID data for its type.
 * @returns undefined when acceptable, else the reason (for INVALID-ID-INFORMATION)
 */
export function checkIdData(idType: number, data: Buffer): string | undefined {
  const fixed = FIXED[idType];
  if (fixed !== undefined) {
    return data.length === fixed ? undefined : `ID type ${idType} needs ${fixed} bytes of data, not ${data.length}`;
  }
  switch (idType) {
    case IdType.FQDN: case IdType.USER_FQDN: return nameProblem(data);
    case IdType.DER_ASN1_DN: return derProblem(data, (t) => t === 0x30, 'DER_ASN1_DN');
    case IdType.DER_ASN1_GN: return derProblem(data, isGeneralNameTag, 'DER_ASN1_GN');
    case IdType.KEY_ID: return data.length > 0 ? undefined : 'empty KEY_ID';
    default: return `ID type ${idType} is unknown`;
  }
}

function idError(message: string): WireError {
  return new WireError(WireErr.VALUE, 'ID', -1, message, NotifyType.INVALID_ID_INFORMATION);
}

// ------------------------------------------------------------------------------- addresses

/** Parses a dotted-quad IPv4 address. @throws WireError VALUE */
/**
 * Dotted-quad text to 4 octets: four decimal parts 0..255 without leading zeros. One pass over the
 * characters (it runs several times per negotiation: IDs, NAT-D, rule and key lookups).
 * @throws WireError VALUE for anything else
 */
export function ipv4ToBytes(s: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e; // a final '.' closes the last part
    if (c === 0x2e) {
      if (digits === 0 || part === 4) throw idError(`"${s}" is not an IPv4 address`);
      out[part++] = value;
      value = digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && !(digits > 0 && value === 0)) {
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) throw idError(`"${s}" is not an IPv4 address`);
    } else {
      throw idError(`"${s}" is not an IPv4 address`);
    }
  }
  if (part !== 4) throw idError(`"${s}" is not an IPv4 address`);
  return out;
}

export function bytesToIpv4(b: Buffer): string {
  return b.length >= 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : [...b].join('.');
}

/** Parses an IPv6 address (with "::" and an optional trailing dotted quad). @throws WireError VALUE */
export function ipv6ToBytes(s: string): Buffer {
  const bad = (): WireError => idError(`"${s}" is not an IPv6 address`);
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.includes('.', lastColon)) {
    // trailing dotted quad (::ffff:192.0.2.1): rewrite it as two hex groups
    const v4 = ipv4ToBytes(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw bad();
  const group = (h: string): number[] => (h === '' ? [] : h.split(':').map((g) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
    return parseInt(g, 16);
  }));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  if (halves.length === 2 && head.length + rest.length > 7) throw bad();
  const groups = halves.length === 2
    ? [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest]
    : head;
  if (groups.length !== 8) throw bad();
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 5952 text: lower case, longest run (>= 2) of zero groups as "::". */
export function bytesToIpv6(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(i * 2));
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Prefix length of a contiguous mask, or -1. */
export function maskToPrefix(mask: Buffer): number {
  let prefix = 0, i = 0;
  while (i < mask.length && mask[i] === 0xff) { prefix += 8; i++; }
  if (i < mask.length) {
    const m = mask[i]!;
    let bits = 0;
    while (bits < 8 && (m & (0x80 >> bits))) bits++;
    if (((0xff << (8 - bits)) & 0xff) !== m) return -1;
    prefix += bits;
    i++;
    while (i < mask.length) if (mask[i++] !== 0) return -1;
  }
  return prefix;
}

export function prefixToMask(prefix: number, bytes: number): Buffer {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bytes * 8) throw idError(`prefix /${prefix} does not fit ${bytes * 8} bits`);
  const m = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    m[i] = (0xff << (8 - bits)) & 0xff;
  }
  return m;
}

// ------------------------------------------------------------------------------- ID data

/**
 * Builds ID type + data from a typed value.
 * @throws WireError VALUE (INVALID-ID-INFORMATION) for unparsable addresses or bad names
 */
export function encodeIdData(v: IdValue): { idType: number; data: Buffer } {
  let out: { idType: number; data: Buffer };
  switch (v.kind) {
    case 'ipv4': out = { idType: IdType.IPV4_ADDR, data: ipv4ToBytes(v.address) }; break;
    case 'ipv6': out = { idType: IdType.IPV6_ADDR, data: ipv6ToBytes(v.address) }; break;
    case 'ipv4-subnet':
      out = { idType: IdType.IPV4_ADDR_SUBNET, data: Buffer.concat([ipv4ToBytes(v.address), prefixToMask(v.prefix, 4)]) }; break;
    case 'ipv6-subnet':
      out = { idType: IdType.IPV6_ADDR_SUBNET, data: Buffer.concat([ipv6ToBytes(v.address), prefixToMask(v.prefix, 16)]) }; break;
    case 'ipv4-range': out = { idType: IdType.IPV4_ADDR_RANGE, data: Buffer.concat([ipv4ToBytes(v.start), ipv4ToBytes(v.end)]) }; break;
    case 'ipv6-range': out = { idType: IdType.IPV6_ADDR_RANGE, data: Buffer.concat([ipv6ToBytes(v.start), ipv6ToBytes(v.end)]) }; break;
    case 'fqdn': out = { idType: IdType.FQDN, data: Buffer.from(v.name, 'latin1') }; break;
    case 'user-fqdn': out = { idType: IdType.USER_FQDN, data: Buffer.from(v.name, 'latin1') }; break;
    case 'der-dn': out = { idType: IdType.DER_ASN1_DN, data: Buffer.from(v.der) }; break;
    case 'der-gn': out = { idType: IdType.DER_ASN1_GN, data: Buffer.from(v.der) }; break;
    case 'key-id': out = { idType: IdType.KEY_ID, data: Buffer.from(v.keyId) }; break;
  }
  decodeIdData(out.idType, out.data); // same checks both ways (range order, names)
  return out;
}

/**
 * Interprets ID data.
 * @throws WireError VALUE with INVALID-ID-INFORMATION (offset -1: the caller knows the payload)
 */
export function decodeIdData(idType: number, data: Buffer): IdValue {
  const why = checkIdData(idType, data);
  if (why) throw idError(why);
  const half = data.length / 2;
  switch (idType) {
    case IdType.IPV4_ADDR: return { kind: 'ipv4', address: bytesToIpv4(data) };
    case IdType.IPV6_ADDR: return { kind: 'ipv6', address: bytesToIpv6(data) };
    case IdType.IPV4_ADDR_SUBNET: case IdType.IPV6_ADDR_SUBNET: {
      const prefix = maskToPrefix(data.subarray(half));
      if (prefix < 0) throw idError(`subnet mask ${data.subarray(half).toString('hex')} is not contiguous`);
      return idType === IdType.IPV4_ADDR_SUBNET
        ? { kind: 'ipv4-subnet', address: bytesToIpv4(data.subarray(0, half)), prefix }
        : { kind: 'ipv6-subnet', address: bytesToIpv6(data.subarray(0, half)), prefix };
    }
    case IdType.IPV4_ADDR_RANGE: case IdType.IPV6_ADDR_RANGE: {
      const a = data.subarray(0, half), b = data.subarray(half);
      if (Buffer.compare(a, b) > 0) throw idError('range start is above its end');
      return idType === IdType.IPV4_ADDR_RANGE
        ? { kind: 'ipv4-range', start: bytesToIpv4(a), end: bytesToIpv4(b) }
        : { kind: 'ipv6-range', start: bytesToIpv6(a), end: bytesToIpv6(b) };
    }
    case IdType.FQDN: return { kind: 'fqdn', name: data.toString('latin1') };
    case IdType.USER_FQDN: return { kind: 'user-fqdn', name: data.toString('latin1') };
    case IdType.DER_ASN1_DN: return { kind: 'der-dn', der: Buffer.from(data) };
    case IdType.DER_ASN1_GN: return { kind: 'der-gn', der: Buffer.from(data) };
    default: return { kind: 'key-id', keyId: Buffer.from(data) };
  }
}
