/** ISAKMP header (RFC 2408 §3.1): decodeHeader on arbitrary datagrams. */
import { decodeHeader } from '../../../../src/wire/ikev1/header';
import { target, typed, FuzzFinding } from '../common';

export const fuzz = target((data) => {
  const h = typed('decodeHeader', () => decodeHeader(data));
  if (h && (h.header.length < 28 || h.header.length > data.length)) {
    throw new FuzzFinding(`decodeHeader accepted length ${h.header.length} for a ${data.length}-byte datagram`);
  }
});
