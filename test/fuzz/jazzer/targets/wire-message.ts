/**
 * Whole plaintext messages: decodeMessage (header + payload chain + per-type caps + semantic
 * checks) and, when it decodes, re-encoding must succeed or fail with a typed error.
 */
import { decodeMessage, encodeMessage } from '../../../../src/wire/ikev1/message';
import { target, typed } from '../common';

export const fuzz = target((data) => {
  const m = typed('decodeMessage', () => decodeMessage(data));
  if (m) typed('encodeMessage', () => encodeMessage({ ...m.header, nextPayload: 0 }, m.payloads));
});
