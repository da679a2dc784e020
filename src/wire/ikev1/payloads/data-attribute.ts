/**
 * Data attributes (RFC 2408 §3.3), the raw TV/TLV codec used inside Transform payloads:
 *
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * !A!       Attribute Type        !    AF=0  Attribute Length     !
 * !F!                             !    AF=1  Attribute Value      !
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * .                   AF=0  Attribute Value                       .
 * .                   AF=1  Not Transmitted                       .
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Decoding: AF=1 (basic, TV) gives a number, AF=0 (variable, TLV) a Buffer; the meaning of the
 * value is attributes.ts's business. Encoding: a number <= 0xffff is written TV, a larger number
 * as a minimal big-endian TLV (lifetimes beyond 16 bits, RFC 2409 App. A), a Buffer as TLV.
 */
import { Attribute } from '../types';
import { Reader } from '../../reader';
import { Writer } from '../../writer';
import { WireErr, WireError } from '../../errors';
import { WireLimits } from '../limits';
import { NotifyType } from '../iana';

const AF = 0x8000;

/**
 * Reads attributes until the reader's roof (the transform's declared length).
 * @throws WireError TRUNCATED / LENGTH for a TLV running past the transform, LIMIT over the cap
 */
export function decodeAttributes(r: Reader): Attribute[] {
  const out: Attribute[] = [];
  while (r.remaining > 0) {
    if (out.length >= WireLimits.attributesPerTransform) {
      r.fail(`more than ${WireLimits.attributesPerTransform} attributes`, NotifyType.PAYLOAD_MALFORMED, r.offset, WireErr.LIMIT);
    }
    const at = r.offset;
    const word = r.u16('attribute type');
    const type = word & 0x7fff;
    if (word & AF) {
      out.push({ type, value: r.u16('attribute value') });
    } else {
      const len = r.u16('attribute length');
      if (len > r.remaining) {
        throw new WireError(WireErr.LENGTH, r.payload, at,
          `attribute ${type} value length ${len} exceeds the ${r.remaining} bytes that remain`, NotifyType.PAYLOAD_MALFORMED);
      }
      out.push({ type, value: r.bytes(len) });
    }
  }
  return out;
}

export function encodeAttributes(w: Writer, attrs: readonly Attribute[]): void {
  for (const a of attrs) {
    if (!Number.isInteger(a.type) || a.type < 0 || a.type > 0x7fff) {
      throw new WireError(WireErr.VALUE, 'T', w.length, `attribute type ${a.type} does not fit 15 bits`);
    }
    if (typeof a.value === 'number') {
      const v = a.value;
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new WireError(WireErr.VALUE, 'T', w.length, `attribute ${a.type} value ${v} is not a non-negative integer`);
      }
      if (v <= 0xffff) {
        w.u16(AF | a.type).u16(v);
      } else {
        w.u16(a.type).u16(minimalLength(v)).bytes(numberToBytes(v));
      }
    } else {
      w.u16(a.type).u16(a.value.length, 'attribute length').bytes(a.value);
    }
  }
}

function minimalLength(v: number): number {
  let n = 1;
  while (v >= 2 ** (8 * n)) n++;
  return n;
}

function numberToBytes(v: number): Buffer {
  const b = Buffer.alloc(minimalLength(v));
  b.writeUIntBE(v, 0, b.length);
  return b;
}

/**
 * The attribute's value as a number: a TV value, or a TLV of at most 6 significant octets
 * (leading zero octets are ignored, so an 8-octet lifetime 0x0000000000015180 is 86400).
 * undefined when it does not fit Number.MAX_SAFE_INTEGER's 48-bit comfort zone.
 */
export function attributeNumber(a: Attribute): number | undefined {
  if (typeof a.value === 'number') return a.value;
  let i = 0;
  while (i < a.value.length && a.value[i] === 0) i++;
  const sig = a.value.length - i;
  if (a.value.length === 0) return undefined;
  if (sig === 0) return 0;
  if (sig > 6) return undefined;
  return a.value.readUIntBE(i, sig);
}
