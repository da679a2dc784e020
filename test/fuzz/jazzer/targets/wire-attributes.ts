/**
 * Data attributes (RFC 2408 §3.3, TLV and TV) and their interpretation: decodeAttributes on the
 * bytes, then the transform decoders (IKE: RFC 2409 App. A; IPsec DOI: RFC 2407 §4.5) on the result.
 */
import { Reader } from '../../../../src/wire/reader';
import { decodeIkeTransform, decodeIpsecTransform } from '../../../../src/wire/ikev1/attributes';
import { decodeAttributes } from '../../../../src/wire/ikev1/payloads/data-attribute';
import { target, typed } from '../common';

const PROTOCOLS = [1, 2, 3, 4, 9];

export const fuzz = target((data) => {
  if (data.length < 2) return;
  const body = data.subarray(2);
  const attributes = typed('decodeAttributes', () => decodeAttributes(new Reader(body, 'T', 0, body.length, 40)));
  if (!attributes) return;
  const t = { number: 1, id: data[1]!, attributes };
  typed('decodeIkeTransform', () => decodeIkeTransform(t));
  typed('decodeIpsecTransform', () => decodeIpsecTransform(PROTOCOLS[data[0]! % PROTOCOLS.length]!, t));
});
