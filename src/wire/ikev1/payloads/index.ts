/**
 * Payload body dispatch: the generic header is read/written by the chain (message.ts); these two
 * functions handle what follows it, by payload type. Types this codec does not know, and P/T out of
 * their SA, come back as UnknownPayload (RFC 2408 §5.1: the exchange layer answers
 * INVALID-PAYLOAD-TYPE).
 */
import { Payload, PayloadType } from '../types';
import { Reader } from '../../reader';
import { Writer } from '../../writer';
import { WireErr, WireError } from '../../errors';
import { decodeSa, encodeSa } from './sa';
import { decodeData, encodeData, isDataPayloadType } from './data';
import { decodeId, encodeId } from './id';
import { decodeCert, decodeCr, encodeCert, encodeCr } from './cert';
import { decodeNotify, encodeNotify } from './notify';
import { decodeDelete, encodeDelete } from './delete';
import { decodeNatOa, encodeNatOa } from './nat-oa';

/** Fixed body octets after the generic header, per type (a shorter Payload Length is malformed). */
export function fixedBodyLength(type: number): number {
  switch (type) {
    case PayloadType.SA: return 8;
    case PayloadType.ID: return 4;
    case PayloadType.CERT: case PayloadType.CR: return 1;
    case PayloadType.N: case PayloadType.D: return 8;
    case PayloadType.NAT_OA: case PayloadType.NAT_OA_DRAFT: return 4;
    default: return 0;
  }
}

/** Decodes one payload body (reader bounded to Payload Length - 4); the reader must be consumed. */
export function decodePayloadBody(type: number, r: Reader): Payload {
  let p: Payload;
  if (isDataPayloadType(type)) p = decodeData(type, r);
  else switch (type) {
    case PayloadType.SA: p = decodeSa(r); break;
    case PayloadType.ID: p = decodeId(r); break;
    case PayloadType.CERT: p = decodeCert(r); break;
    case PayloadType.CR: p = decodeCr(r); break;
    case PayloadType.N: p = decodeNotify(r); break;
    case PayloadType.D: p = decodeDelete(r); break;
    case PayloadType.NAT_OA: case PayloadType.NAT_OA_DRAFT: p = decodeNatOa(type, r); break;
    default: p = { type: 'unknown', payloadType: type, data: r.rest() };
  }
  r.end();
  return p;
}

/** The Next Payload value announcing `p`. */
export function payloadTypeOf(p: Payload): number {
  return p.type === 'unknown' ? p.payloadType : p.type;
}

export function encodePayloadBody(w: Writer, p: Payload): void {
  switch (p.type) {
    case 'unknown': w.bytes(p.data); return;
    case PayloadType.SA: encodeSa(w, p); return;
    case PayloadType.ID: encodeId(w, p); return;
    case PayloadType.CERT: encodeCert(w, p); return;
    case PayloadType.CR: encodeCr(w, p); return;
    case PayloadType.N: encodeNotify(w, p); return;
    case PayloadType.D: encodeDelete(w, p); return;
    case PayloadType.NAT_OA: case PayloadType.NAT_OA_DRAFT: encodeNatOa(w, p); return;
    case PayloadType.KE: case PayloadType.HASH: case PayloadType.SIG: case PayloadType.NONCE:
    case PayloadType.VID: case PayloadType.NAT_D: case PayloadType.NAT_D_DRAFT:
      encodeData(w, p); return;
    default: {
      const never: never = p;
      throw new WireError(WireErr.VALUE, 'message', w.length, `cannot encode payload ${JSON.stringify(never)}`);
    }
  }
}
