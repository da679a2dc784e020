/**
 * Quick Mode client identities (RFC 2409 §5.5 IDci/IDcr, RFC 2407 §4.6.2): the traffic an IPsec SA
 * pair protects, as an address, subnet or range plus an optional IP protocol and port. The
 * responder accepts a proposal only when the initiator's identities lie inside one of its rule's
 * selectors (solaris-ike.md §5.5: the kernel policy governs both directions), otherwise it answers
 * INVALID-ID-INFORMATION.
 */
import type { TrafficSelector } from '../../kernel/types';
import { decodeIdData, encodeIdData, ipv4ToBytes, ipv6ToBytes, type IdValue } from '../../wire/ikev1/id';
import { PayloadType, type IdPayload } from '../../wire/ikev1/types';

/** One side of a Quick Mode: who is behind the gateway. */
export interface ClientId {
  /** An address, subnet or range (ipv4/ipv6 kinds only). */
  readonly id: IdValue;
  /** IP protocol number; 0/absent = any. */
  readonly protocol?: number;
  /** Port; 0/absent = any. */
  readonly port?: number;
}

/** The traffic selectors of one Quick Mode, from our point of view. */
export interface TrafficSelectors {
  readonly local: ClientId;
  readonly remote: ClientId;
}

interface AddressRange {
  readonly v6: boolean;
  readonly start: bigint;
  readonly end: bigint;
}

function toBig(b: Buffer): bigint {
  return BigInt(`0x${b.toString('hex') || '0'}`);
}

/** The address range an ID covers, or undefined when it is not an address kind. */
export function addressRange(id: IdValue): AddressRange | undefined {
  const bits = (v6: boolean) => (v6 ? 128 : 32);
  switch (id.kind) {
    case 'ipv4': case 'ipv6': {
      const v6 = id.kind === 'ipv6';
      const a = toBig(v6 ? ipv6ToBytes(id.address) : ipv4ToBytes(id.address));
      return { v6, start: a, end: a };
    }
    case 'ipv4-subnet': case 'ipv6-subnet': {
      const v6 = id.kind === 'ipv6-subnet';
      const a = toBig(v6 ? ipv6ToBytes(id.address) : ipv4ToBytes(id.address));
      const host = (1n << BigInt(bits(v6) - id.prefix)) - 1n;
      return { v6, start: a & ~host, end: (a & ~host) | host };
    }
    case 'ipv4-range': case 'ipv6-range': {
      const v6 = id.kind === 'ipv6-range';
      const conv = v6 ? ipv6ToBytes : ipv4ToBytes;
      return { v6, start: toBig(conv(id.start)), end: toBig(conv(id.end)) };
    }
    default:
      return undefined;
  }
}

/** True when every packet `inner` describes is also described by `outer`. */
export function clientContains(outer: ClientId, inner: ClientId): boolean {
  const o = addressRange(outer.id);
  const i = addressRange(inner.id);
  if (!o || !i || o.v6 !== i.v6) return false;
  if (i.start < o.start || i.end > o.end) return false;
  if ((outer.protocol ?? 0) !== 0 && (inner.protocol ?? 0) !== outer.protocol) return false;
  if ((outer.port ?? 0) !== 0 && (inner.port ?? 0) !== outer.port) return false;
  return true;
}

/** A host identity for an address (what "no IDs" means in Quick Mode: the Phase 1 addresses). */
export function hostClient(address: string): ClientId {
  return { id: address.includes(':') ? { kind: 'ipv6', address } : { kind: 'ipv4', address } };
}

/** The ID payload (IDci/IDcr) for a client identity. */
export function clientIdPayload(c: ClientId): IdPayload {
  const { idType, data } = encodeIdData(c.id);
  return { type: PayloadType.ID, idType, protocol: c.protocol ?? 0, port: c.port ?? 0, data };
}

/** A client identity from a received ID payload. @throws WireError INVALID-ID-INFORMATION */
export function clientFromPayload(p: IdPayload): ClientId {
  return { id: decodeIdData(p.idType, p.data), ...(p.protocol ? { protocol: p.protocol } : {}), ...(p.port ? { port: p.port } : {}) };
}

/**
 * The kernel's selector for a client identity, when it is a prefix (a range that is not one has
 * no PF_KEY prefix form; the pair then keeps the identity only).
 */
export function kernelSelector(c: ClientId): TrafficSelector | undefined {
  const r = addressRange(c.id);
  if (!r) return undefined;
  const width = r.v6 ? 128 : 32;
  const size = r.end - r.start + 1n;
  if ((size & (size - 1n)) !== 0n || (r.start & (size - 1n)) !== 0n) return undefined;
  const prefixLength = width - (size.toString(2).length - 1);
  const hex = r.start.toString(16).padStart(width / 4, '0');
  const bytes = Buffer.from(hex, 'hex');
  const address = r.v6
    ? (decodeIdData(5, bytes) as { address: string }).address
    : [...bytes].join('.');
  return { address, prefixLength, protocol: c.protocol ?? 0, port: c.port ?? 0 };
}

/** "192.0.2.0/24 proto 17 port 53" for logs. */
export function describeClient(c: ClientId): string {
  const id = c.id;
  let s: string;
  switch (id.kind) {
    case 'ipv4': case 'ipv6': s = id.address; break;
    case 'ipv4-subnet': case 'ipv6-subnet': s = `${id.address}/${id.prefix}`; break;
    case 'ipv4-range': case 'ipv6-range': s = `${id.start}-${id.end}`; break;
    default: s = id.kind;
  }
  if (c.protocol) s += ` proto ${c.protocol}`;
  if (c.port) s += ` port ${c.port}`;
  return s;
}
