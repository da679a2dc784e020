import { strict as assert } from 'node:assert';
import { decodePayloadChain, decodeMessage, encodeMessage } from '../../../src/wire/ikev1/message';
import { PayloadType, Payload } from '../../../src/wire/ikev1/types';
import { NotifyType } from '../../../src/wire/ikev1/iana';
import { WireErr } from '../../../src/wire/errors';
import { payloadName } from '../../../src/wire/ikev1/payloads/generic';
import { expectWire, hdr, roundTrip } from './helpers';
import { h, samplePayloads } from './samples';

/** A message body: generic header (next, len) + body bytes, as hex. */
function gen(next: number, body: string): string {
  const b = h(body);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length + 4);
  return next.toString(16).padStart(2, '0') + '00' + len.toString('hex') + b.toString('hex');
}

/** Decode a chain of one payload of `type` with these raw bytes, at message offset 28. */
const chain = (type: number, hex: string): Payload[] => decodePayloadChain(type, h(hex), 28);

describe('wire IKEv1 payloads', () => {
  describe('round trip (encode -> decode -> encode, and at an offset)', () => {
    for (const p of samplePayloads()) {
      const name = p.type === 'unknown' ? `unknown #${p.payloadType}` : payloadName(p.type);
      it(`${name}${p.type === PayloadType.ID ? ` type ${p.idType}` : ''}`, () => {
        roundTrip([p]);
      });
    }
    it('all of them in one message', () => {
      roundTrip(samplePayloads());
    });
  });

  describe('generic header', () => {
    it('length below the 4-byte header', () => {
      expectWire(() => chain(PayloadType.KE, '00000003'), WireErr.LENGTH, 'KE', 28);
    });
    it('length beyond the bytes that remain names both numbers', () => {
      const e = expectWire(() => chain(PayloadType.KE, '0000012c' + '00'.repeat(116)), WireErr.LENGTH, 'KE', 28, NotifyType.UNEQUAL_PAYLOAD_LENGTHS);
      assert.match(e.message, /KE at offset 28: length 300 exceeds the 120 bytes that remain/);
    });
    it('a chain announcing another payload after the last bytes is TRUNCATED at that offset', () => {
      expectWire(() => chain(PayloadType.NONCE, gen(PayloadType.VID, '00'.repeat(8))), WireErr.TRUNCATED, 'VID', 40);
    });
    it('bytes after the last payload of a plaintext chain', () => {
      expectWire(() => chain(PayloadType.VID, gen(0, 'aa') + '00'), WireErr.LENGTH, 'message', 33, NotifyType.UNEQUAL_PAYLOAD_LENGTHS);
    });
    it('the same bytes are padding in an encrypted body', () => {
      assert.equal(decodePayloadChain(PayloadType.VID, h(gen(0, 'aa') + '000003'), 28, { padded: true }).length, 1);
    });
    it('unknown payload types are kept', () => {
      assert.deepEqual(chain(77, gen(0, 'beef')), [{ type: 'unknown', payloadType: 77, data: h('beef') }]);
    });
    it('P and T at the top level are unknown payloads', () => {
      assert.equal(chain(PayloadType.P, gen(0, '00'))[0]!.type, 'unknown');
    });
  });

  describe('fixed parts', () => {
    const cases: [string, number, string, number][] = [
      ['SA', PayloadType.SA, '00000001', 8],
      ['ID', PayloadType.ID, '010000', 4],
      ['CERT', PayloadType.CERT, '', 1],
      ['CR', PayloadType.CR, '', 1],
      ['N', PayloadType.N, '00000001010000', 8],
      ['D', PayloadType.D, '0000000103040000'.slice(0, 12), 8],
      ['NAT_OA', PayloadType.NAT_OA, '010000', 4],
    ];
    for (const [name, type, body, min] of cases) {
      it(`${name} shorter than its ${min}-byte fixed part`, () => {
        const e = expectWire(() => chain(type, gen(0, body)), WireErr.LENGTH, name, 28);
        assert.match(e.message, new RegExp(`shorter than the ${min + 4} bytes`));
      });
    }
  });

  describe('Notification', () => {
    it('SPI size beyond the payload is TRUNCATED', () => {
      expectWire(() => chain(PayloadType.N, gen(0, '00000001' + '0110' + '6000' + 'aabbccdd')), WireErr.TRUNCATED, 'N', 40);
    });
  });

  describe('Delete', () => {
    it('count x size disagreeing with the payload names both numbers', () => {
      const e = expectWire(() => chain(PayloadType.D, gen(0, '00000001' + '03' + '04' + '0003' + '00000001' + '00000002')),
        WireErr.LENGTH, 'D', 38);
      assert.match(e.message, /3 SPIs of 4 bytes need 12 bytes but the payload holds 8/);
    });
    it('SPIs of size 0', () => {
      expectWire(() => chain(PayloadType.D, gen(0, '00000001' + '03' + '00' + '0001')), WireErr.VALUE, 'D', 37, NotifyType.INVALID_SPI);
    });
    it('more than 1024 SPIs', () => {
      expectWire(() => chain(PayloadType.D, gen(0, '00000001' + '03' + '04' + '0401' + '00'.repeat(4 * 1025))), WireErr.LIMIT, 'D', 38);
    });
    it('ESP SPIs of 16 bytes are INVALID-SPI (semantic)', () => {
      expectWire(() => chain(PayloadType.D, gen(0, '00000001' + '03' + '10' + '0001' + '00'.repeat(16))), WireErr.VALUE, 'D', 28, NotifyType.INVALID_SPI);
    });
    it('encoder refuses SPIs of mixed sizes', () => {
      expectWire(() => encodeMessage(hdr(), [{ type: PayloadType.D, doi: 1, protocol: 3, spiSize: 4, spis: [h('00'), h('00000001')] }]),
        WireErr.VALUE, 'D');
    });
  });

  describe('NAT-OA', () => {
    it('address length must match the ID type', () => {
      expectWire(() => chain(PayloadType.NAT_OA, gen(0, '01000000' + '0a0000010a')), WireErr.LENGTH, 'NAT_OA', 32);
    });
    it('ID type other than 1 or 5', () => {
      expectWire(() => chain(PayloadType.NAT_OA_DRAFT, gen(0, '02000000' + '0a000001')), WireErr.VALUE, 'NAT_OA_DRAFT', 32);
    });
  });

  describe('semantic checks', () => {
    it('NONCE outside 8..256 bytes', () => {
      expectWire(() => chain(PayloadType.NONCE, gen(0, '00'.repeat(7))), WireErr.VALUE, 'NONCE', 28, NotifyType.PAYLOAD_MALFORMED);
      expectWire(() => chain(PayloadType.NONCE, gen(0, '00'.repeat(257))), WireErr.VALUE, 'NONCE', 28);
      assert.equal(chain(PayloadType.NONCE, gen(0, '00'.repeat(8))).length, 1);
    });
    it('can be switched off', () => {
      assert.equal(decodePayloadChain(PayloadType.NONCE, h(gen(0, '00')), 28, { semantic: false }).length, 1);
    });
    it('empty KE / HASH / SIG / CERT', () => {
      expectWire(() => chain(PayloadType.KE, gen(0, '')), WireErr.VALUE, 'KE', 28, NotifyType.INVALID_KEY_INFORMATION);
      expectWire(() => chain(PayloadType.HASH, gen(0, '')), WireErr.VALUE, 'HASH', 28, NotifyType.INVALID_HASH_INFORMATION);
      expectWire(() => chain(PayloadType.SIG, gen(0, '')), WireErr.VALUE, 'SIG', 28, NotifyType.INVALID_SIGNATURE);
      expectWire(() => chain(PayloadType.CERT, gen(0, '04')), WireErr.VALUE, 'CERT', 28, NotifyType.INVALID_CERT_ENCODING);
    });
    it('ID data of the wrong length for its type', () => {
      expectWire(() => chain(PayloadType.ID, gen(0, '01110000' + 'c00002')), WireErr.VALUE, 'ID', 28, NotifyType.INVALID_ID_INFORMATION);
    });
  });

  describe('caps', () => {
    const many = (n: number, p: Payload): Payload[] => Array.from({ length: n }, () => p);
    const cases: [string, Payload, number][] = [
      ['N', { type: PayloadType.N, doi: 1, protocol: 1, spi: Buffer.alloc(0), notifyType: 24578, data: Buffer.alloc(0) }, 16],
      ['VID', { type: PayloadType.VID, data: h('00') }, 32],
      ['CERT', { type: PayloadType.CERT, encoding: 4, data: h('00') }, 16],
      ['CR', { type: PayloadType.CR, certType: 4, authority: Buffer.alloc(0) }, 16],
    ];
    for (const [name, p, cap] of cases) {
      it(`${cap} ${name} payloads pass, ${cap + 1} are IKE_ERR_WIRE_LIMIT`, () => {
        roundTrip(many(cap, p));
        // the encoder has no per-type cap, so it can build the over-cap message
        const over = encodeMessage(hdr(), many(cap + 1, p)).datagram;
        const e = expectWire(() => decodeMessage(over), WireErr.LIMIT, name);
        assert.ok(e.offset > 28);
      });
    }
    it('more than 64 payloads', () => {
      const p: Payload = { type: 'unknown', payloadType: 200, data: Buffer.alloc(0) };
      roundTrip(many(64, p));
      expectWire(() => encodeMessage(hdr(), many(65, p)), WireErr.LIMIT);
      // hand-built 65-payload chain
      const body = Array.from({ length: 65 }, (_, i) => gen(i < 64 ? 200 : 0, '')).join('');
      expectWire(() => decodePayloadChain(200, h(body), 28), WireErr.LIMIT, '#200', 28 + 64 * 4);
    });
  });
});
