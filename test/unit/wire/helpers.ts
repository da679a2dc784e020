/** Shared helpers of the wire specs: round trips and WireError assertions. */
import { strict as assert } from 'node:assert';
import { WireError, WireErrCode } from '../../../src/wire/errors';
import { decodeMessage, decodePayloadChain, encodeMessage, encodePayloadChain } from '../../../src/wire/ikev1/message';
import { ExchangeType, IsakmpMessage, Payload } from '../../../src/wire/ikev1/types';
import { HeaderFields } from '../../../src/wire/ikev1/header';

export const ICOOKIE = Buffer.from('0102030405060708', 'hex');
export const RCOOKIE = Buffer.from('1112131415161718', 'hex');

export function hdr(over: Partial<HeaderFields> = {}): HeaderFields {
  return {
    icookie: ICOOKIE, rcookie: RCOOKIE, nextPayload: 0, version: 0x10,
    exchangeType: ExchangeType.IDENTITY_PROTECTION, flags: 0, messageId: 0, ...over,
  };
}

/** Calls fn and asserts it throws a WireError with these properties (and nothing else). */
export function expectWire(fn: () => unknown, code: WireErrCode, payload?: string, offset?: number, notify?: number): WireError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, 'expected a WireError, nothing was thrown');
  assert.ok(caught instanceof WireError, `expected a WireError, got ${String(caught)}`);
  const e = caught;
  if (code !== undefined) assert.equal(e.code, code, e.message);
  if (payload !== undefined) assert.equal(e.payload, payload, e.message);
  if (offset !== undefined) assert.equal(e.offset, offset, e.message);
  if (notify !== undefined) assert.equal(e.notify, notify, e.message);
  return e;
}

/**
 * Round trip of a message: encode -> decode -> equal payloads -> encode -> identical bytes; and
 * the chain decoded from inside a larger buffer at an offset gives the same payloads.
 */
export function roundTrip(payloads: Payload[], header: HeaderFields = hdr()): { bytes: Buffer; decoded: IsakmpMessage } {
  const bytes = encodeMessage(header, payloads).datagram;
  const decoded = decodeMessage(bytes);
  assert.deepEqual(decoded.payloads, payloads.map(canonical));
  assert.equal(decoded.header.length, bytes.length);
  assert.deepEqual(encodeMessage(decoded.header, decoded.payloads).datagram, bytes);
  const chain = encodePayloadChain(payloads);
  const big = Buffer.concat([Buffer.alloc(37, 0xee), chain, Buffer.alloc(5, 0xee)]);
  const inner = decodePayloadChain(decoded.header.nextPayload, big.subarray(37, 37 + chain.length), 37);
  assert.deepEqual(inner, decoded.payloads);
  return { bytes, decoded };
}

/** Every strict prefix of `bytes` must fail with a WireError (and never anything else). */
export function everyPrefixFails(bytes: Buffer, decode: (b: Buffer) => unknown): number {
  let n = 0;
  for (let len = 0; len < bytes.length; len++) {
    try {
      decode(Buffer.from(bytes.subarray(0, len)));
      assert.fail(`prefix of ${len} bytes decoded`);
    } catch (e) {
      assert.ok(e instanceof WireError, `prefix ${len}: ${String(e)}`);
      n++;
    }
  }
  return n;
}

/** What a decoder returns for `p`: attribute numbers above 16 bits come back as minimal TLV bytes. */
export function canonical(p: Payload): Payload {
  if (p.type !== 1) return p;
  return {
    ...p,
    proposals: p.proposals.map((prop) => ({
      ...prop,
      transforms: prop.transforms.map((t) => ({
        ...t,
        attributes: t.attributes.map((a) => {
          if (typeof a.value !== 'number' || a.value <= 0xffff) return a;
          let n = 1;
          while (a.value >= 2 ** (8 * n)) n++;
          const b = Buffer.alloc(n);
          b.writeUIntBE(a.value, 0, n);
          return { type: a.type, value: b };
        }),
      })),
    })),
  };
}
