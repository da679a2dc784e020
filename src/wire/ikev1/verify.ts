/**
 * Per-payload semantic checks (STYLE A.4.3), run by message.ts after the syntax is known good.
 * Each names the RFC text it enforces; the notify is the one RFC 2408 §5 prescribes.
 */
import { Payload, PayloadType, Proposal } from './types';
import { NotifyType, ProtocolId } from './iana';
import { WireErr, WireError } from '../errors';
import { checkIdData } from './id';
import { payloadName } from './payloads/generic';

/** RFC 2409 §5: "The length of nonce payload MUST be between 8 and 256 bytes inclusive." */
export const NONCE_MIN = 8;
export const NONCE_MAX = 256;

/** SPI sizes allowed per protocol (RFC 2408 §2.4 ISAKMP: 0 or the 16 cookie octets; RFC 2407 §4.4). */
export function spiSizeAllowed(protocol: number, size: number): boolean {
  switch (protocol) {
    case ProtocolId.ISAKMP: return size === 0 || size === 16;
    case ProtocolId.IPSEC_AH: case ProtocolId.IPSEC_ESP: return size === 4;
    case ProtocolId.IPCOMP: return size === 2 || size === 4; // CPI, RFC 2393 §4.1 (some send it in 4)
    default: return true; // unknown protocols are the negotiation layer's to skip
  }
}

function fail(p: Payload, at: number, message: string, notify: number): never {
  const name = payloadName(p.type === 'unknown' ? p.payloadType : p.type);
  throw new WireError(WireErr.VALUE, name, at, message, notify);
}

function verifyProposals(p: Payload, at: number, proposals: readonly Proposal[]): void {
  let last = -1;
  for (const prop of proposals) {
    // RFC 2408 §3.5: proposal numbers increase; equal numbers form one AND-bundle.
    if (prop.number < last) fail(p, at, `proposal #${prop.number} follows #${last}`, NotifyType.BAD_PROPOSAL_SYNTAX);
    last = prop.number;
    if (prop.transforms.length === 0) fail(p, at, `proposal #${prop.number} has no transform`, NotifyType.BAD_PROPOSAL_SYNTAX);
    if (!spiSizeAllowed(prop.protocol, prop.spi.length)) {
      fail(p, at, `proposal #${prop.number}: SPI of ${prop.spi.length} bytes for protocol ${prop.protocol}`, NotifyType.INVALID_SPI);
    }
  }
}

/**
 * @param p  a syntactically valid payload
 * @param at datagram offset of its generic header
 * @throws WireError VALUE with the RFC's notify
 */
export function verifyPayload(p: Payload, at: number): void {
  switch (p.type) {
    case PayloadType.SA: verifyProposals(p, at, p.proposals); return;
    case PayloadType.NONCE:
      if (p.data.length < NONCE_MIN || p.data.length > NONCE_MAX) {
        fail(p, at, `nonce of ${p.data.length} bytes is outside ${NONCE_MIN}..${NONCE_MAX}`, NotifyType.PAYLOAD_MALFORMED);
      }
      return;
    case PayloadType.KE:
      if (p.data.length === 0) fail(p, at, 'empty key exchange data', NotifyType.INVALID_KEY_INFORMATION);
      return;
    case PayloadType.HASH:
      if (p.data.length === 0) fail(p, at, 'empty hash data', NotifyType.INVALID_HASH_INFORMATION);
      return;
    case PayloadType.SIG:
      if (p.data.length === 0) fail(p, at, 'empty signature data', NotifyType.INVALID_SIGNATURE);
      return;
    case PayloadType.NAT_D: case PayloadType.NAT_D_DRAFT:
      if (p.data.length === 0) fail(p, at, 'empty NAT-D hash', NotifyType.PAYLOAD_MALFORMED);
      return;
    case PayloadType.CERT:
      if (p.data.length === 0) fail(p, at, 'empty certificate data', NotifyType.INVALID_CERT_ENCODING);
      return;
    case PayloadType.ID: {
      const why = checkIdData(p.idType, p.data);
      if (why) fail(p, at, why, NotifyType.INVALID_ID_INFORMATION);
      return;
    }
    case PayloadType.D:
      if (p.spis.length === 0) fail(p, at, 'Delete without SPIs', NotifyType.PAYLOAD_MALFORMED);
      if (!spiSizeAllowed(p.protocol, p.spiSize)) {
        fail(p, at, `SPI size ${p.spiSize} for protocol ${p.protocol}`, NotifyType.INVALID_SPI);
      }
      return;
    default:
      return;
  }
}
