/**
 * NAT traversal framing and NAT-D hashes.
 *
 * RFC 3948 §2.2, on the NAT-T port (4500) a UDP payload is one of:
 *
 *   IKE:        | 00 00 00 00 (non-ESP marker) | ISAKMP header ... |
 *   keepalive:  | FF |                           (RFC 3948 §2.3, exactly one octet)
 *   ESP:        | SPI (non-zero, 4 octets) | sequence number | ... |   (RFC 3948 §2.1)
 *
 * RFC 3947 §3.2 NAT-D payload data:  HASH(CKY-I | CKY-R | IP | Port)
 * with the negotiated Phase 1 hash, IP in network order (4 or 16 octets) and the UDP port
 * (2 octets, network order).
 */
import { isIP } from 'node:net';
import { digest } from '../../crypto/digest';
import { HashAlg } from '../../crypto/types';
import { IsakmpMessage } from './types';
import { NotifyType } from './iana';
import { WireErr, WireError } from '../errors';
import { decodeHeader } from './header';
import { decodeMessage } from './message';
import { ipv4ToBytes, ipv6ToBytes } from './id';

export const NON_ESP_MARKER = Buffer.alloc(4);
export const NAT_KEEPALIVE = Buffer.from([0xff]);

/** Prefixes an ISAKMP datagram with the non-ESP marker for port 4500. */
export function frameForNatT(isakmp: Buffer): Buffer {
  return Buffer.concat([NON_ESP_MARKER, isakmp]);
}

export type NatTDatagram =
  /** An IKE message with the E flag clear, decoded. */
  | { readonly kind: 'ike'; readonly message: IsakmpMessage }
  /** An IKE message with the E flag set: the ISAKMP bytes (marker removed), to decrypt. */
  | { readonly kind: 'ike-encrypted'; readonly isakmp: Buffer }
  | { readonly kind: 'keepalive' }
  /** ESP: for the kernel, not for IKE (returned only so the caller can count it). */
  | { readonly kind: 'esp'; readonly spi: number };

/**
 * Classifies a UDP payload received on the NAT-T port.
 * @throws WireError: empty datagram, a marker with fewer than 4 octets, or a malformed IKE message
 */
export function classifyNatTDatagram(buf: Buffer): NatTDatagram {
  if (buf.length === 1 && buf[0] === 0xff) return { kind: 'keepalive' };
  if (buf.length < 4) {
    throw new WireError(WireErr.TRUNCATED, 'NAT-T', 0,
      `datagram of ${buf.length} bytes is neither a keepalive nor long enough for a marker or SPI`, NotifyType.PAYLOAD_MALFORMED);
  }
  const spi = buf.readUInt32BE(0);
  if (spi !== 0) return { kind: 'esp', spi };
  const isakmp = buf.subarray(4);
  // Offsets in errors are relative to the ISAKMP message (after the marker), as on port 500.
  const { header } = decodeHeader(isakmp);
  if (header.flags & 0x01) return { kind: 'ike-encrypted', isakmp: Buffer.from(isakmp) };
  return { kind: 'ike', message: decodeMessage(isakmp) };
}

/**
 * NAT-D hash (RFC 3947 §3.2).
 * @param hash  the negotiated Phase 1 hash
 * @param ckyI  initiator cookie (8 octets)
 * @param ckyR  responder cookie (8 octets)
 * @param ip    address as text (IPv4 or IPv6) or as 4/16 raw octets
 * @param port  UDP port
 */
export function natDHash(hash: HashAlg, ckyI: Buffer, ckyR: Buffer, ip: string | Buffer, port: number): Buffer {
  let addr: Buffer;
  if (Buffer.isBuffer(ip)) addr = ip;
  else addr = isIP(ip) === 6 ? ipv6ToBytes(ip) : ipv4ToBytes(ip);
  if (addr.length !== 4 && addr.length !== 16) {
    throw new WireError(WireErr.VALUE, 'NAT_D', -1, `address of ${addr.length} octets is neither IPv4 nor IPv6`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new WireError(WireErr.VALUE, 'NAT_D', -1, `port ${port}`);
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return digest(hash, ckyI, ckyR, addr, p);
}
