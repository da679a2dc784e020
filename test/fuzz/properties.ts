/**
 * Wire fuzz properties (STYLE A.4, A.9): fast-check arbitraries for valid IKEv1 messages, and
 * time-boxed properties shared by the mocha spec (wire.spec.ts) and the long runner (run-long.ts).
 *
 *  1. roundTrip      random valid message: encode -> decode -> equal -> encode -> same bytes
 *  2. mutatePlain    valid plaintext encoding + bit flips / byte insert / delete / length-field
 *                    corruption / truncation: decodeMessage returns or throws WireError, nothing else
 *  3. mutateCipher   the same on encrypted messages: mutations of the plaintext chain (then
 *                    encrypted, so the padded-chain walker sees them) and of the ciphertext
 */
import fc from 'fast-check';
import { strict as assert } from 'node:assert';
import { Attribute, Payload, PayloadType, Proposal, Transform } from '../../src/wire/ikev1/types';
import { decodeEncryptedMessage, decodeMessage, encodeMessage } from '../../src/wire/ikev1/message';
import { HeaderFields } from '../../src/wire/ikev1/header';
import { WireError } from '../../src/wire/errors';
import { nodeCipher } from '../../src/crypto/node/cipher';
import { canonical } from '../unit/wire/helpers';

const bytes = (min: number, max: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((u) => Buffer.from(u));
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** fc.record builds null-prototype objects; decoders return plain ones (deepEqual compares prototypes). */
const plain = <T extends object>(a: fc.Arbitrary<T>): fc.Arbitrary<T> => a.map((r) => ({ ...r }));
const attribute: fc.Arbitrary<Attribute> = fc.oneof(
  plain(fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: u16 })),
  plain(fc.record({ type: fc.integer({ min: 0, max: 0x7fff }), value: bytes(0, 10) })),
);
const transform: fc.Arbitrary<Transform> = plain(fc.record({ number: u8, id: u8, attributes: fc.array(attribute, { maxLength: 8 }) }));
const spiFor = (protocol: number): fc.Arbitrary<Buffer> =>
  protocol === 1 ? fc.oneof(bytes(0, 0), bytes(16, 16)) : protocol === 4 ? bytes(2, 2) : protocol < 4 ? bytes(4, 4) : bytes(0, 8);
const proposal: fc.Arbitrary<Proposal> = fc.constantFrom(1, 2, 3, 4, 9).chain((protocol) =>
  plain(fc.record({ number: u8, protocol: fc.constant(protocol), spi: spiFor(protocol), transforms: fc.array(transform, { minLength: 1, maxLength: 4 }) })));
const sa = fc.array(proposal, { minLength: 1, maxLength: 4 }).map((ps): Payload => ({
  type: PayloadType.SA, doi: 1, situation: 1, situationData: Buffer.alloc(0),
  proposals: [...ps].sort((a, b) => a.number - b.number),
}));
const data = <T extends number>(type: T, min: number, max: number): fc.Arbitrary<Payload> =>
  bytes(min, max).map((d) => ({ type, data: d }) as Payload);
const idData: fc.Arbitrary<[number, fc.Arbitrary<Buffer>]> = fc.constantFrom<[number, fc.Arbitrary<Buffer>]>(
  [1, bytes(4, 4)], [5, bytes(16, 16)], [4, bytes(8, 8)], [6, bytes(32, 32)], [7, bytes(8, 8)], [8, bytes(32, 32)],
  [2, fc.stringMatching(/^[a-z0-9.-]{1,40}$/).map((s) => Buffer.from(s))],
  [3, fc.stringMatching(/^[a-z0-9]{1,10}@[a-z.]{1,20}$/).map((s) => Buffer.from(s))],
  [9, bytes(0, 30).map((b) => Buffer.concat([Buffer.from([0x30, b.length]), b]))],
  [10, bytes(0, 30).map((b) => Buffer.concat([Buffer.from([0x82, b.length]), b]))],
  [11, bytes(1, 30)],
);
const id = idData.chain(([idType, d]) => fc.record({ protocol: u8, port: u16, data: d })
  .map((r): Payload => ({ type: PayloadType.ID, idType, ...r })));
const del = fc.constantFrom<[number, number]>([1, 16], [3, 4], [2, 4], [4, 2]).chain(([protocol, size]) =>
  fc.record({ doi: u32, spis: fc.array(bytes(size, size), { minLength: 1, maxLength: 6 }) })
    .map((r): Payload => ({ type: PayloadType.D, doi: r.doi, protocol, spiSize: size, spis: r.spis })));
const known = new Set<number>(Object.values(PayloadType));
const unknownType = fc.integer({ min: 2, max: 255 }).filter((t) => !known.has(t) || t === 2 || t === 3);

export const payloadArb: fc.Arbitrary<Payload> = fc.oneof(
  sa,
  data(PayloadType.KE, 1, 300), id,
  fc.record({ encoding: u8, data: bytes(1, 40) }).map((r): Payload => ({ type: PayloadType.CERT, ...r })),
  fc.record({ certType: u8, authority: bytes(0, 30) }).map((r): Payload => ({ type: PayloadType.CR, ...r })),
  data(PayloadType.HASH, 1, 64), data(PayloadType.SIG, 1, 300), data(PayloadType.NONCE, 8, 256),
  fc.record({ doi: u32, protocol: u8, spi: bytes(0, 16), notifyType: u16, data: bytes(0, 20) })
    .map((r): Payload => ({ type: PayloadType.N, ...r })),
  del,
  data(PayloadType.VID, 0, 20), data(PayloadType.NAT_D, 1, 32), data(PayloadType.NAT_D_DRAFT, 1, 32),
  fc.tuple(fc.constantFrom(PayloadType.NAT_OA, PayloadType.NAT_OA_DRAFT), fc.constantFrom<[number, number]>([1, 4], [5, 16]))
    .chain(([type, [idType, n]]) => bytes(n, n).map((address): Payload => ({ type, idType, address }))),
  fc.record({ payloadType: unknownType, data: bytes(0, 20) }).map((r): Payload => ({ type: 'unknown', ...r })),
);

export const headerArb: fc.Arbitrary<HeaderFields> = fc.record({
  icookie: bytes(8, 8), rcookie: bytes(8, 8), nextPayload: fc.constant(0), version: fc.integer({ min: 0x10, max: 0x1f }),
  exchangeType: u8, flags: u8.map((f) => f & 0xfe), messageId: u32,
});
export const messageArb = fc.record({ header: headerArb, payloads: fc.array(payloadArb, { maxLength: 8 }) });

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'insert'; at: number; byte: number }
  | { op: 'delete'; at: number }
  | { op: 'u16'; at: number; value: number }
  | { op: 'truncate'; at: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: u8 }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('u16' as const), at: fc.nat(), value: fc.oneof(u16, fc.constantFrom(0, 1, 3, 4, 5, 8, 0xffff)) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);
export const mutationsArb = fc.record({ list: fc.array(mutationArb, { minLength: 1, maxLength: 4 }), fixLength: fc.boolean() });

/** Applies mutations; `from` keeps the first bytes (the header) out of reach when > 0. */
export function mutate(buf: Buffer, list: readonly Mutation[], from = 0): Buffer {
  let b = Buffer.from(buf);
  for (const m of list) {
    const span = Math.max(1, b.length - from);
    const at = from + (m.at % span);
    switch (m.op) {
      case 'flip': if (at < b.length) b[at]! ^= 1 << m.bit; break;
      case 'insert': b = Buffer.concat([b.subarray(0, at), Buffer.from([m.byte]), b.subarray(at)]); break;
      case 'delete': if (at < b.length) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]); break;
      case 'u16': if (at + 2 <= b.length) b.writeUInt16BE(m.value, at); break;
      case 'truncate': b = b.subarray(0, at); break;
    }
  }
  return b;
}

function onlyWireErrors(fn: () => unknown): 'ok' | 'wire' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof WireError) return 'wire';
    throw e;
  }
}

export interface FuzzCounts { runs: number; decoded: number; wireErrors: number }

function run<T>(arb: fc.Arbitrary<T>, seconds: number, body: (v: T, c: FuzzCounts) => void, seed?: number): FuzzCounts {
  const c: FuzzCounts = { runs: 0, decoded: 0, wireErrors: 0 };
  fc.assert(fc.property(arb, (v) => { c.runs++; body(v, c); }), {
    numRuns: 2_000_000_000, interruptAfterTimeLimit: Math.max(1, seconds * 1000), markInterruptAsFailure: false,
    ...(seed !== undefined ? { seed } : {}),
  });
  return c;
}

export function roundTripProperty(seconds: number, seed?: number): FuzzCounts {
  return run(messageArb, seconds, ({ header, payloads }, c) => {
    const bytes = encodeMessage(header, payloads).datagram;
    const m = decodeMessage(bytes);
    assert.deepEqual(m.payloads, payloads.map(canonical));
    assert.deepEqual(encodeMessage(m.header, m.payloads).datagram, bytes);
    c.decoded++;
  }, seed);
}

export function mutatePlainProperty(seconds: number, seed?: number): FuzzCounts {
  return run(fc.tuple(messageArb, mutationsArb), seconds, ([{ header, payloads }, { list, fixLength }], c) => {
    let b = mutate(encodeMessage(header, payloads).datagram, list, fixLength ? 28 : 0);
    if (fixLength && b.length >= 28) { b = Buffer.from(b); b.writeUInt32BE(b.length, 24); }
    if (onlyWireErrors(() => decodeMessage(b)) === 'ok') c.decoded++; else c.wireErrors++;
  }, seed);
}

const KEY = Buffer.alloc(16, 0x24);
const IV = Buffer.alloc(16, 0x42);
const CIPHER = { cipher: nodeCipher, alg: 'aes-cbc' as const, key: KEY, iv: IV };

export function mutateCipherProperty(seconds: number, seed?: number): FuzzCounts {
  return run(fc.tuple(messageArb, mutationsArb, fc.boolean()), seconds, ([{ header, payloads }, { list, fixLength }, inPlain], c) => {
    const enc = encodeMessage(header, payloads, { encrypt: CIPHER }).datagram;
    let b: Buffer;
    if (inPlain) {
      const plain = nodeCipher.decrypt('aes-cbc', KEY, IV, enc.subarray(28));
      let m = mutate(plain, list);
      if (m.length % 16 !== 0) m = Buffer.concat([m, Buffer.alloc(16 - (m.length % 16))]);
      b = Buffer.concat([enc.subarray(0, 28), m.length ? nodeCipher.encrypt('aes-cbc', KEY, IV, m) : m]);
      b.writeUInt32BE(b.length, 24);
    } else {
      b = mutate(enc, list, fixLength ? 28 : 0);
      if (fixLength && b.length >= 28) { b = Buffer.from(b); b.writeUInt32BE(b.length, 24); }
    }
    if (onlyWireErrors(() => decodeEncryptedMessage(b, CIPHER)) === 'ok') c.decoded++; else c.wireErrors++;
  }, seed);
}

/** Runs all three within `seconds` (20% / 50% / 30%). */
export function fuzzAll(seconds: number, seed?: number): Record<string, FuzzCounts> {
  return {
    roundTrip: roundTripProperty(seconds * 0.2, seed),
    mutatePlain: mutatePlainProperty(seconds * 0.5, seed),
    mutateCipher: mutateCipherProperty(seconds * 0.3, seed),
  };
}
