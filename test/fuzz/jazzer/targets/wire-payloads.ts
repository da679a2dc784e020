/**
 * Each payload decoder on its own: byte 0 picks the payload type (SA, KE, ID, CERT, CR, HASH, SIG,
 * NONCE, N, D, VID, NAT-D, NAT-OA and an unknown type), the rest is the payload body; the decoded
 * payload then goes through verifyPayload (the semantic checks).
 */
import { Reader } from '../../../../src/wire/reader';
import { decodePayloadBody } from '../../../../src/wire/ikev1/payloads';
import { PayloadType } from '../../../../src/wire/ikev1/types';
import { verifyPayload } from '../../../../src/wire/ikev1/verify';
import { target, typed } from '../common';

const TYPES: number[] = [...new Set<number>(Object.values(PayloadType) as number[]), 200];

export const fuzz = target((data) => {
  if (data.length < 1) return;
  const type = TYPES[data[0]! % TYPES.length]!;
  const body = data.subarray(1);
  const p = typed('decodePayloadBody', () => decodePayloadBody(type, new Reader(body, 'payload', 0, body.length, 32)));
  if (p) typed('verifyPayload', () => verifyPayload(p, 28));
});
