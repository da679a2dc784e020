/** Port-4500 datagrams (RFC 3948/3947): keepalive, non-ESP marker + ISAKMP, ESP; classifyNatTDatagram. */
import { classifyNatTDatagram } from '../../../../src/wire/ikev1/nat-t';
import { target, typed } from '../common';

export const fuzz = target((data) => {
  typed('classifyNatTDatagram', () => classifyNatTDatagram(data));
});
