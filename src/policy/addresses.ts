/**
 * Address literals of the policy files (solaris-ike.md §1.2 "IPaddr/prefix/range", §2.1): single
 * addresses, inclusive ranges and CIDR prefixes (plus IPv4 address/dotted-mask), IPv4 and IPv6,
 * as inclusive bigint ranges. Pure functions; callers turn the returned message into a
 * positioned configuration error.
 */
import { bytesToIpv4, bytesToIpv6, ipv4ToBytes, ipv6ToBytes } from '../wire/ikev1/id';

/** An inclusive address range; `prefix` is kept when the source wrote `A/n` (or A/mask). */
export interface AddrRange {
  readonly v6: boolean;
  readonly start: bigint;
  readonly end: bigint;
  readonly prefix?: number;
}

const toBig = (b: Buffer): bigint => BigInt(`0x${b.toString('hex')}`);

/** Parses one literal address; undefined when it is neither IPv4 nor IPv6 text. */
export function parseAddress(text: string): { v6: boolean; value: bigint } | undefined {
  try {
    if (text.includes(':')) return { v6: true, value: toBig(ipv6ToBytes(text)) };
    if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(text)) return { v6: false, value: toBig(ipv4ToBytes(text)) };
  } catch {
    return undefined;
  }
  return undefined;
}

export function formatAddress(v6: boolean, value: bigint): string {
  const hex = value.toString(16).padStart(v6 ? 32 : 8, '0');
  const b = Buffer.from(hex, 'hex');
  return v6 ? bytesToIpv6(b) : bytesToIpv4(b);
}

const bits = (v6: boolean): number => (v6 ? 128 : 32);
const ones = (n: number): bigint => (1n << BigInt(n)) - 1n;

/**
 * Parses `A`, `A-B`, `A/n` or `A/M` (whitespace already removed).
 * @returns the range, or the Solaris error text
 */
export function parseAddrRange(text: string): AddrRange | string {
  const slash = text.indexOf('/');
  const dash = text.indexOf('-');
  if (slash >= 0) {
    const a = parseAddress(text.slice(0, slash));
    if (!a) return `"${text.slice(0, slash)}" is not an IPv4 or IPv6 address`;
    const fam = a.v6 ? 'IPv6' : 'IPv4';
    const rest = text.slice(slash + 1);
    let prefix: number;
    if (/^\d+$/.test(rest)) {
      prefix = Number(rest);
      if (prefix > bits(a.v6)) return `invalid ${fam} prefix length /${rest} (0..${bits(a.v6)})`;
      const host = ones(bits(a.v6) - prefix);
      if ((a.value & host) !== 0n) return `invalid ${fam} netmask: host bits of ${text} are set`;
      return { v6: a.v6, start: a.value, end: a.value | host, prefix };
    }
    const m = parseAddress(rest);
    if (!m || m.v6 || a.v6) return `invalid ${fam} prefix length "${rest}"`;
    const inv = ~m.value & ones(32);
    if (((inv + 1n) & inv) !== 0n) return `invalid IPv4 mask ${rest}`;
    if ((a.value & inv) !== 0n) return `invalid IPv4 mask: host bits of ${text} are set`;
    prefix = 32 - inv.toString(2).replace(/^0+/, '').length;
    return { v6: false, start: a.value, end: a.value | inv, prefix };
  }
  if (dash >= 0) {
    const a = parseAddress(text.slice(0, dash));
    const b = parseAddress(text.slice(dash + 1));
    if (!a) return `"${text.slice(0, dash)}" is not an IPv4 or IPv6 address`;
    if (!b) return `"${text.slice(dash + 1)}" is not an IPv4 or IPv6 address`;
    if (a.v6 !== b.v6) return 'Invalid combination of IPv4 and IPv6 addresses';
    if (a.value > b.value) return `invalid ${a.v6 ? 'IPv6' : 'IPv4'} range ${text}`;
    return { v6: a.v6, start: a.value, end: b.value };
  }
  const a = parseAddress(text);
  if (!a) return `"${text}" is not an IPv4 or IPv6 address (host names are not accepted)`;
  return { v6: a.v6, start: a.value, end: a.value };
}

const V4_MULTICAST = (v: bigint): boolean => v >> 28n === 0xen;
const V6_MULTICAST = (v: bigint): boolean => v >> 120n === 0xffn;
const V4_MAPPED = (v: bigint): boolean => v >> 32n === 0xffffn;
const V4_COMPAT = (v: bigint): boolean => v >> 32n === 0n && v > 1n;

/** §1.2 per-address checks (multicast, v4-mapped, v4-compatible); undefined when acceptable. */
export function checkUnicastRange(r: AddrRange): string | undefined {
  if (!r.v6) {
    if (V4_MULTICAST(r.start) || V4_MULTICAST(r.end)) return `multicast IPv4 address in ${formatRange(r)}`;
    return undefined;
  }
  if (V6_MULTICAST(r.start)) return `multicast IPv6 address in ${formatRange(r)}`;
  if (V6_MULTICAST(r.end) && r.end !== ones(128)) return `multicast IPv6 address in ${formatRange(r)}`;
  for (const v of [r.start, r.end]) {
    if (V4_MAPPED(v)) return `IPv4-mapped IPv6 address ${formatAddress(true, v)} is not allowed`;
    if (V4_COMPAT(v)) return `IPv4-compatible IPv6 address ${formatAddress(true, v)} is not allowed`;
  }
  return undefined;
}

/** `A` or `A - B` (the canonical form of §1.8: prefixes come out as ranges). */
export function formatRange(r: AddrRange): string {
  const a = formatAddress(r.v6, r.start);
  return r.start === r.end ? a : `${a} - ${formatAddress(r.v6, r.end)}`;
}

export function rangeContains(outer: AddrRange, inner: AddrRange): boolean {
  return outer.v6 === inner.v6 && outer.start <= inner.start && inner.end <= outer.end;
}
