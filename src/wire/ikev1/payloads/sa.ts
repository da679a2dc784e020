/**
 * Security Association payload (RFC 2408 §3.4; IPsec DOI situation RFC 2407 §4.6.1):
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !         Payload Length        !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !              Domain of Interpretation  (DOI)                  !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !                           Situation                           ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~            Proposal payloads (each with a generic header)     ~
 *
 * Proposal payload (RFC 2408 §3.5), Next Payload is 2 (P) or 0 (last):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !         Payload Length        !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !  Proposal #   !  Protocol-Id  !    SPI Size   !# of Transforms!
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !                        SPI (variable)                         !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~        Transform payloads (each with a generic header)        ~
 *
 * Transform payload (RFC 2408 §3.6), Next Payload is 3 (T) or 0 (last):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ! Next Payload  !   RESERVED    !         Payload Length        !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !  Transform #  !  Transform-Id !           RESERVED2           !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                        SA Attributes                          ~
 *
 * Only the IPsec DOI (1) is understood (DOI-NOT-SUPPORTED otherwise). Its situation is 4 octets;
 * SIT_SECRECY / SIT_INTEGRITY add labeled-domain data that no deployed peer sends, so those bits are
 * refused with SITUATION-NOT-SUPPORTED and `situationData` is always empty on input.
 * The proposal chain must fill the SA body exactly, the transform chain its proposal exactly, and
 * "# of Transforms" must equal the transforms found (BAD-PROPOSAL-SYNTAX otherwise).
 */
import { PayloadType, Proposal, SaPayload, Transform } from '../types';
import { Doi, NotifyType, Situation } from '../iana';
import { Reader } from '../../reader';
import { Writer } from '../../writer';
import { WireErr, WireError } from '../../errors';
import { WireLimits } from '../limits';
import { readGeneric, writeGeneric } from './generic';
import { decodeAttributes, encodeAttributes } from './data-attribute';

export function decodeSa(r: Reader): SaPayload {
  const doiAt = r.offset;
  const doi = r.u32('DOI');
  if (doi !== Doi.IPSEC) r.fail(`DOI ${doi} is not the IPsec DOI (1)`, NotifyType.DOI_NOT_SUPPORTED, doiAt);
  const sitAt = r.offset;
  const situation = r.u32('situation');
  if (situation & (Situation.SECRECY | Situation.INTEGRITY)) {
    r.fail(`situation 0x${situation.toString(16)} asks for labeled domains (SIT_SECRECY/SIT_INTEGRITY)`,
      NotifyType.SITUATION_NOT_SUPPORTED, sitAt);
  }
  const proposals: Proposal[] = [];
  let next: number = PayloadType.P;
  while (next !== PayloadType.NONE) {
    if (next !== PayloadType.P) {
      r.fail(`proposal chain continues with payload type ${next}, not P (2)`, NotifyType.BAD_PROPOSAL_SYNTAX);
    }
    if (proposals.length >= WireLimits.proposals) {
      r.fail(`more than ${WireLimits.proposals} proposals`, NotifyType.PAYLOAD_MALFORMED, r.offset, WireErr.LIMIT);
    }
    const g = readGeneric(r, 'P', 4, NotifyType.PAYLOAD_MALFORMED);
    proposals.push(decodeProposal(g.body, g.start));
    next = g.next;
  }
  r.end('last proposal');
  return { type: PayloadType.SA, doi, situation, situationData: Buffer.alloc(0), proposals };
}

function decodeProposal(r: Reader, start: number): Proposal {
  const number = r.u8('proposal #');
  const protocol = r.u8('protocol ID');
  const spiSize = r.u8('SPI size');
  const count = r.u8('# of transforms');
  const spi = r.bytes(spiSize, 'SPI');
  if (count > WireLimits.transformsPerProposal) {
    r.fail(`${count} transforms exceed the cap of ${WireLimits.transformsPerProposal}`, NotifyType.PAYLOAD_MALFORMED, start, WireErr.LIMIT);
  }
  const transforms: Transform[] = [];
  let next: number = count === 0 ? PayloadType.NONE : PayloadType.T;
  while (next !== PayloadType.NONE) {
    if (next !== PayloadType.T) {
      r.fail(`transform chain continues with payload type ${next}, not T (3)`, NotifyType.BAD_PROPOSAL_SYNTAX);
    }
    if (transforms.length >= count) {
      r.fail(`more transforms than the ${count} announced`, NotifyType.BAD_PROPOSAL_SYNTAX, start);
    }
    const g = readGeneric(r, 'T', 4, NotifyType.PAYLOAD_MALFORMED);
    transforms.push(decodeTransform(g.body));
    next = g.next;
  }
  if (transforms.length !== count) {
    r.fail(`${count} transforms announced but ${transforms.length} found`, NotifyType.BAD_PROPOSAL_SYNTAX, start);
  }
  r.end('last transform');
  return { number, protocol, spi, transforms };
}

function decodeTransform(r: Reader): Transform {
  const number = r.u8('transform #');
  const id = r.u8('transform ID');
  r.u16('RESERVED2');
  return { number, id, attributes: decodeAttributes(r) };
}

export function encodeSa(w: Writer, p: SaPayload): void {
  w.u32(p.doi, 'SA DOI').u32(p.situation, 'SA situation').bytes(p.situationData);
  if (p.proposals.length > WireLimits.proposals) {
    throw new WireError(WireErr.LIMIT, 'SA', w.length, `${p.proposals.length} proposals exceed the cap of ${WireLimits.proposals}`);
  }
  p.proposals.forEach((prop, i) => {
    const last = i === p.proposals.length - 1;
    writeGeneric(w, last ? PayloadType.NONE : PayloadType.P, 'P', () => {
      if (prop.transforms.length > WireLimits.transformsPerProposal) {
        throw new WireError(WireErr.LIMIT, 'P', w.length, `${prop.transforms.length} transforms exceed the cap`);
      }
      w.u8(prop.number, 'proposal #').u8(prop.protocol, 'protocol ID').u8(prop.spi.length, 'SPI size');
      w.u8(prop.transforms.length).bytes(prop.spi);
      prop.transforms.forEach((t, j) => {
        const lastT = j === prop.transforms.length - 1;
        writeGeneric(w, lastT ? PayloadType.NONE : PayloadType.T, 'T', () => {
          if (t.attributes.length > WireLimits.attributesPerTransform) {
            throw new WireError(WireErr.LIMIT, 'T', w.length, `${t.attributes.length} attributes exceed the cap`);
          }
          w.u8(t.number, 'transform #').u8(t.id, 'transform ID').u16(0);
          encodeAttributes(w, t.attributes);
        });
      });
    });
  });
}
