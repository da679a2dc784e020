import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { decryptBody, encryptBody, padBody, phase2Iv } from '../../../src/wire/ikev1/encryption';
import { classifyNatTDatagram, frameForNatT, natDHash } from '../../../src/wire/ikev1/nat-t';
import { decodeEncryptedMessage, encodeMessage } from '../../../src/wire/ikev1/message';
import { PayloadType } from '../../../src/wire/ikev1/types';
import { WireErr } from '../../../src/wire/errors';
import { nodeCipher } from '../../../src/crypto/node/cipher';
import { expectWire, hdr } from './helpers';
import { h } from './samples';

describe('wire IKEv1 payload encryption', () => {
  const key3 = Buffer.alloc(24, 0x42);
  it('pads 1..blockSize bytes, zeros with the count before the last byte in it', () => {
    assert.deepEqual(padBody(Buffer.alloc(5, 1), 8), Buffer.concat([Buffer.alloc(5, 1), h('000002')]));
    assert.deepEqual(padBody(Buffer.alloc(8, 1), 8).subarray(8), h('0000000000000007'));
  });
  it('3DES round trip; nextIv is the last ciphertext block', () => {
    const iv = Buffer.alloc(8, 1);
    const { ciphertext, nextIv } = encryptBody(nodeCipher, '3des-cbc', key3, iv, Buffer.from('hello world'));
    assert.equal(ciphertext.length, 16);
    const d = decryptBody(nodeCipher, '3des-cbc', key3, iv, ciphertext);
    assert.deepEqual(d.plaintext.subarray(0, 11), Buffer.from('hello world'));
    assert.deepEqual(d.nextIv, nextIv);
    assert.deepEqual(nextIv, ciphertext.subarray(8));
  });
  it('misaligned or empty bodies are refused with the offset', () => {
    expectWire(() => decryptBody(nodeCipher, '3des-cbc', key3, Buffer.alloc(8), Buffer.alloc(12), 28), WireErr.LENGTH, 'message', 28);
    expectWire(() => decryptBody(nodeCipher, '3des-cbc', key3, Buffer.alloc(8), Buffer.alloc(0), 28), WireErr.LENGTH, 'message', 28);
    expectWire(() => decryptBody(nodeCipher, 'aes-cbc', Buffer.alloc(16), Buffer.alloc(8), Buffer.alloc(16)), WireErr.VALUE);
  });
  it('phase2Iv = hash(last Phase 1 block | M-ID) truncated; a longer last block is truncated first (AM quirk)', () => {
    const last = Buffer.alloc(16, 0xab);
    const want = createHash('sha1').update(last).update(h('01020304')).digest().subarray(0, 16);
    assert.deepEqual(phase2Iv('sha1', last, 0x01020304, 16), want);
    assert.deepEqual(phase2Iv('sha1', Buffer.concat([last, Buffer.alloc(4, 9)]), 0x01020304, 16), want);
    expectWire(() => phase2Iv('sha1', Buffer.alloc(8), 1, 16), WireErr.VALUE);
  });
  it('an encrypted QM message with a Phase-2 IV decodes with tolerant padding (last byte ignored)', () => {
    const key = Buffer.alloc(16, 7);
    const iv = phase2Iv('sha256', Buffer.alloc(16, 1), 5, 16);
    const payloads = [{ type: PayloadType.HASH, data: Buffer.alloc(32, 1) } as const];
    const { datagram } = encodeMessage(hdr({ exchangeType: 32, messageId: 5 }), payloads, { encrypt: { cipher: nodeCipher, alg: 'aes-cbc', key, iv } });
    // re-encrypt the same plaintext with random-valued padding: still decodes
    const plain = nodeCipher.decrypt('aes-cbc', key, iv, datagram.subarray(28));
    plain.fill(0x5c, 36);
    const other = Buffer.concat([datagram.subarray(0, 28), nodeCipher.encrypt('aes-cbc', key, iv, plain)]);
    assert.deepEqual(decodeEncryptedMessage(other, { cipher: nodeCipher, alg: 'aes-cbc', key, iv }).payloads, payloads);
  });
});

describe('wire NAT-T', () => {
  const ike = encodeMessage(hdr(), [{ type: PayloadType.VID, data: h('00') }]).datagram;
  it('frames and classifies IKE, keepalive and ESP', () => {
    const framed = frameForNatT(ike);
    assert.deepEqual(framed.subarray(0, 4), Buffer.alloc(4));
    const c = classifyNatTDatagram(framed);
    assert.equal(c.kind, 'ike');
    assert.equal(c.kind === 'ike' && c.message.payloads.length, 1);
    assert.deepEqual(classifyNatTDatagram(h('ff')), { kind: 'keepalive' });
    assert.deepEqual(classifyNatTDatagram(h('0000100100000001aabb')), { kind: 'esp', spi: 0x1001 });
  });
  it('encrypted IKE is returned for decryption', () => {
    const b = Buffer.from(frameForNatT(ike));
    b[4 + 19] = 1;
    const c = classifyNatTDatagram(b);
    assert.equal(c.kind, 'ike-encrypted');
  });
  it('short and malformed datagrams are WireErrors', () => {
    expectWire(() => classifyNatTDatagram(Buffer.alloc(0)), WireErr.TRUNCATED, 'NAT-T', 0);
    expectWire(() => classifyNatTDatagram(h('000000')), WireErr.TRUNCATED);
    expectWire(() => classifyNatTDatagram(Buffer.alloc(10)), WireErr.TRUNCATED, 'HEADER');
  });
  it('NAT-D hash (RFC 3947 §3.2)', () => {
    const i = h('0102030405060708'), r = h('1112131415161718');
    const want = createHash('sha1').update(i).update(r).update(h('c0000201')).update(h('01f4')).digest();
    assert.deepEqual(natDHash('sha1', i, r, '192.0.2.1', 500), want);
    assert.deepEqual(natDHash('sha1', i, r, h('c0000201'), 500), want);
    assert.equal(natDHash('sha256', i, r, '2001:db8::1', 4500).length, 32);
    expectWire(() => natDHash('sha1', i, r, h('00'), 1), WireErr.VALUE);
  });
});
