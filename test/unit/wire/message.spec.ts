import { strict as assert } from 'node:assert';
import { decodeEncryptedMessage, decodeMessage, encodeMessage } from '../../../src/wire/ikev1/message';
import { PayloadType, SaPayload, ExchangeType, HeaderFlag } from '../../../src/wire/ikev1/types';
import { IkeAttr, NotifyType, VendorId } from '../../../src/wire/ikev1/iana';
import { decodeIkeTransform } from '../../../src/wire/ikev1/attributes';
import { WireErr } from '../../../src/wire/errors';
import { nodeCipher } from '../../../src/crypto/node/cipher';
import { everyPrefixFails, expectWire, hdr, roundTrip } from './helpers';
import { h, samplePayloads, sampleQmSa } from './samples';

/**
 * Main Mode MM1, hand-built from RFC 2408 §3.1-§3.6, §3.16 and RFC 2409 App. A:
 * one proposal (PROTO_ISAKMP, no SPI) with one KEY_IKE transform AES-CBC-128 / SHA2-256 /
 * PSK / MODP-2048 (group 14) / 28800 s, then the RFC 3947 and DPD vendor IDs.
 */
const MM1 = h(`
  0102030405060708 0000000000000000 01 10 02 00 00000000 0000007c
  0d 00 0038  00000001 00000001
    00 00 002c  01 01 00 01
      00 00 0024  01 01 0000
        80010007 800e0080 80020004 80030001 8004000e 800b0001 800c7080
  0d 00 0014  4a131c81070358455c5728f20e95452f
  00 00 0014  afcad71368a1f1c96b8696fc77570100`);

describe('wire IKEv1 messages', () => {
  describe('known bytes: Main Mode MM1', () => {
    it('decodes field by field', () => {
      const m = decodeMessage(MM1);
      assert.deepEqual(m.header.icookie, h('0102030405060708'));
      assert.deepEqual(m.header.rcookie, Buffer.alloc(8));
      assert.equal(m.header.nextPayload, PayloadType.SA);
      assert.equal(m.header.version, 0x10);
      assert.equal(m.header.exchangeType, ExchangeType.IDENTITY_PROTECTION);
      assert.equal(m.header.flags, 0);
      assert.equal(m.header.messageId, 0);
      assert.equal(m.header.length, 124);
      assert.equal(m.payloads.length, 3);
      const sa = m.payloads[0] as SaPayload;
      assert.equal(sa.type, PayloadType.SA);
      assert.equal(sa.doi, 1);
      assert.equal(sa.situation, 1);
      assert.equal(sa.proposals.length, 1);
      const p = sa.proposals[0]!;
      assert.deepEqual([p.number, p.protocol, p.spi.length, p.transforms.length], [1, 1, 0, 1]);
      const t = p.transforms[0]!;
      assert.deepEqual([t.number, t.id], [1, 1]);
      assert.deepEqual(t.attributes[1], { type: IkeAttr.KEY_LENGTH, value: 128 });
      assert.deepEqual(decodeIkeTransform(t), { encr: 7, keyLength: 128, hash: 4, auth: 1, group: 14, lifeSeconds: 28800, unknownAttributes: [] });
      assert.deepEqual(m.payloads[1], { type: PayloadType.VID, data: h(VendorId.NAT_T_RFC3947) });
      assert.deepEqual(m.payloads[2], { type: PayloadType.VID, data: h(VendorId.DPD) });
    });
    it('re-encodes to the same bytes', () => {
      const m = decodeMessage(MM1);
      assert.deepEqual(encodeMessage(m.header, m.payloads).datagram, MM1);
    });
    it('every prefix is a WireError', () => {
      assert.equal(everyPrefixFails(MM1, (b) => decodeMessage(b)), MM1.length);
    });
    it('every prefix with the header Length kept consistent is a WireError', () => {
      for (let len = 29; len < MM1.length; len++) {
        const b = Buffer.from(MM1.subarray(0, len));
        b.writeUInt32BE(len, 24);
        const e = expectWire(() => decodeMessage(b), b.length < 32 ? WireErr.TRUNCATED : undefined as never);
        assert.ok(e.code === WireErr.TRUNCATED || e.code === WireErr.LENGTH, e.message);
      }
    });
    it('trailing datagram bytes beyond Length are ignored; unused bytes inside Length are not', () => {
      assert.equal(decodeMessage(Buffer.concat([MM1, h('0000')])).payloads.length, 3);
      const b = Buffer.concat([MM1, h('0000')]);
      b.writeUInt32BE(126, 24);
      expectWire(() => decodeMessage(b), WireErr.LENGTH, 'message', 124, NotifyType.UNEQUAL_PAYLOAD_LENGTHS);
    });
    it('an SA length overrunning the message names both numbers', () => {
      const b = Buffer.from(MM1);
      b.writeUInt16BE(0x100, 30);
      const e = expectWire(() => decodeMessage(b), WireErr.LENGTH, 'SA', 28);
      assert.match(e.message, /length 256 exceeds the 96 bytes that remain/);
    });
    it('a decrypt-first message is refused by decodeMessage', () => {
      const b = Buffer.from(MM1);
      b[19] = HeaderFlag.ENCRYPTION;
      expectWire(() => decodeMessage(b), WireErr.VALUE, 'HEADER', 19);
    });
  });

  describe('SA structure', () => {
    const sa = (hex: string): Buffer => {
      const body = h(hex);
      const b = Buffer.concat([MM1.subarray(0, 28), h('0000'), Buffer.alloc(2), body]);
      b.writeUInt16BE(body.length + 4, 30);
      b.writeUInt32BE(b.length, 24);
      return b;
    };
    const prop = '00 00 0014 01 01 00 01   00 00 000c 01 01 0000 80010007';
    it('a valid minimal SA', () => { assert.equal(decodeMessage(sa('00000001 00000001' + prop)).payloads.length, 1); });
    it('DOI other than IPsec', () => {
      expectWire(() => decodeMessage(sa('00000002 00000001' + prop)), WireErr.VALUE, 'SA', 32, NotifyType.DOI_NOT_SUPPORTED);
    });
    it('labeled-domain situations', () => {
      expectWire(() => decodeMessage(sa('00000001 00000003' + prop)), WireErr.VALUE, 'SA', 36, NotifyType.SITUATION_NOT_SUPPORTED);
    });
    it('SA without proposals', () => {
      expectWire(() => decodeMessage(sa('00000001 00000001')), WireErr.TRUNCATED, 'P', 40);
    });
    it('transform count disagreeing with the chain', () => {
      expectWire(() => decodeMessage(sa('00000001 00000001 00 00 0014 01 01 00 02 00 00 000c 01 01 0000 80010007')),
        WireErr.VALUE, 'P', 40, NotifyType.BAD_PROPOSAL_SYNTAX);
      expectWire(() => decodeMessage(sa('00000001 00000001 00 00 0020 01 01 00 01 03 00 000c 01 01 0000 80010007 00 00 000c 02 01 0000 80010007')),
        WireErr.VALUE, 'P', 40, NotifyType.BAD_PROPOSAL_SYNTAX);
    });
    it('a proposal chain continuing with a non-P type', () => {
      expectWire(() => decodeMessage(sa('00000001 00000001 05 00 0014 01 01 00 01 00 00 000c 01 01 0000 80010007')),
        WireErr.VALUE, 'SA', 60, NotifyType.BAD_PROPOSAL_SYNTAX);
    });
    it('transform length beyond its proposal', () => {
      expectWire(() => decodeMessage(sa('00000001 00000001 00 00 0014 01 01 00 01 00 00 0010 01 01 0000 80010007')),
        WireErr.LENGTH, 'T', 48);
    });
    it('TLV attribute overrunning its transform', () => {
      const e = expectWire(() => decodeMessage(sa('00000001 00000001 00 00 0014 01 01 00 01 00 00 000c 01 01 0000 000c0008')),
        WireErr.LENGTH, 'T', 56);
      assert.match(e.message, /value length 8 exceeds the 0 bytes/);
    });
    it('SPI size beyond the proposal', () => {
      expectWire(() => decodeMessage(sa('00000001 00000001 00 00 000c 01 03 08 01 aabbccdd')), WireErr.TRUNCATED, 'P', 48);
    });
    it('bad SPI size for ESP is INVALID-SPI', () => {
      expectWire(() => decodeMessage(sa('00000001 00000001 00 00 0016 01 03 02 01 aabb 00 00 000c 01 0c 0000 80040001')),
        WireErr.VALUE, 'SA', 28, NotifyType.INVALID_SPI);
    });
    it('decreasing proposal numbers', () => {
      const two = '02 00 0014 02 01 00 01 00 00 000c 01 01 0000 80010007' + '00 00 0014 01 01 00 01 00 00 000c 01 01 0000 80010007';
      expectWire(() => decodeMessage(sa('00000001 00000001' + two)), WireErr.VALUE, 'SA', 28, NotifyType.BAD_PROPOSAL_SYNTAX);
    });
    it('more than 64 attributes in a transform', () => {
      const attrs = '80010007'.repeat(65);
      const tLen = (8 + 65 * 4).toString(16).padStart(4, '0');
      const pLen = (8 + 8 + 65 * 4).toString(16).padStart(4, '0');
      expectWire(() => decodeMessage(sa(`00000001 00000001 00 00 ${pLen} 01 01 00 01 00 00 ${tLen} 01 01 0000 ${attrs}`)),
        WireErr.LIMIT, 'T', 56 + 64 * 4);
    });
    it('more than 64 transforms in a proposal', () => {
      expectWire(() => decodeMessage(sa('00000001 00000001 00 00 0008 01 01 00 41')), WireErr.LIMIT, 'P', 40);
    });
    it('more than 64 proposals', () => {
      const p = '02 00 0014 01 01 00 01 00 00 000c 01 01 0000 80010007';
      expectWire(() => decodeMessage(sa('00000001 00000001' + p.repeat(65))), WireErr.LIMIT, 'SA', 40 + 64 * 20);
    });
  });

  describe('encrypted messages', () => {
    const key = h('000102030405060708090a0b0c0d0e0f');
    const iv = h('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
    const c = { cipher: nodeCipher, alg: 'aes-cbc' as const, key, iv };
    const payloads = [
      { type: PayloadType.HASH, data: Buffer.alloc(32, 1) } as const,
      sampleQmSa(),
      { type: PayloadType.NONCE, data: Buffer.alloc(16, 3) } as const,
    ];
    const header = hdr({ exchangeType: ExchangeType.QUICK_MODE, messageId: 0x01020304 });

    it('round-trips with padding and chains the IV', () => {
      const { datagram, nextIv } = encodeMessage(header, payloads, { encrypt: c });
      assert.equal(datagram[19]! & HeaderFlag.ENCRYPTION, 1);
      assert.equal((datagram.length - 28) % 16, 0);
      assert.deepEqual(nextIv, datagram.subarray(datagram.length - 16));
      const m = decodeEncryptedMessage(datagram, c);
      assert.equal(m.payloads.length, 3);
      assert.deepEqual(m.payloads[0], payloads[0]);
      assert.deepEqual(m.nextIv, nextIv);
      assert.equal(m.header.length, datagram.length);
    });
    it('every prefix is a WireError', () => {
      const { datagram } = encodeMessage(header, payloads, { encrypt: c });
      everyPrefixFails(datagram, (b) => decodeEncryptedMessage(b, c));
      for (let len = 29; len < datagram.length; len++) {
        const b = Buffer.from(datagram.subarray(0, len));
        b.writeUInt32BE(len, 24);
        try { decodeEncryptedMessage(b, c); assert.fail(`length ${len} decoded`); } catch (e) {
          assert.ok(e instanceof Error && e.name === 'WireError', String(e));
        }
      }
    });
    it('a body that is not a whole number of blocks is PAYLOAD-MALFORMED at offset 28', () => {
      const { datagram } = encodeMessage(header, payloads, { encrypt: c });
      const b = Buffer.from(datagram.subarray(0, datagram.length - 3));
      b.writeUInt32BE(b.length, 24);
      const e = expectWire(() => decodeEncryptedMessage(b, c), WireErr.LENGTH, 'message', 28, NotifyType.PAYLOAD_MALFORMED);
      assert.match(e.message, /not a non-zero multiple of the 16-byte aes-cbc block/);
    });
    it('E flag without a cipher is refused by the encoder', () => {
      expectWire(() => encodeMessage(hdr({ flags: HeaderFlag.ENCRYPTION }), payloads), WireErr.VALUE, 'HEADER');
    });
  });

  it('a message with every payload kind round-trips', () => {
    roundTrip(samplePayloads(), hdr({ exchangeType: ExchangeType.INFORMATIONAL, messageId: 7 }));
  });
});
