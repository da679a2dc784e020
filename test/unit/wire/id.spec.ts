import { strict as assert } from 'node:assert';
import { bytesToIpv4, bytesToIpv6, checkIdData, decodeIdData, encodeIdData, IdValue, ipv4ToBytes, ipv6ToBytes, maskToPrefix } from '../../../src/wire/ikev1/id';
import { IdType, NotifyType } from '../../../src/wire/ikev1/iana';
import { WireErr } from '../../../src/wire/errors';
import { expectWire } from './helpers';
import { h } from './samples';

describe('wire IKEv1 ID data', () => {
  const values: IdValue[] = [
    { kind: 'ipv4', address: '192.0.2.1' },
    { kind: 'ipv6', address: '2001:db8::1' },
    { kind: 'ipv4-subnet', address: '10.1.0.0', prefix: 16 },
    { kind: 'ipv6-subnet', address: '2001:db8:1::', prefix: 48 },
    { kind: 'ipv4-range', start: '10.0.0.1', end: '10.0.0.9' },
    { kind: 'ipv6-range', start: '::1', end: '::ffff:c000:201' },
    { kind: 'fqdn', name: 'gw.example.com' },
    { kind: 'user-fqdn', name: 'alice@example.com' },
    { kind: 'der-dn', der: h('3000') },
    { kind: 'der-gn', der: h('820b6578616d706c652e636f6d') },
    { kind: 'key-id', keyId: h('0102') },
  ];
  for (const v of values) {
    it(`round-trips ${v.kind}`, () => {
      const { idType, data } = encodeIdData(v);
      assert.equal(checkIdData(idType, data), undefined);
      assert.deepEqual(decodeIdData(idType, data), v);
    });
  }
  it('lengths per type', () => {
    assert.match(checkIdData(IdType.IPV4_ADDR, h('0a0000'))!, /needs 4 bytes of data, not 3/);
    assert.match(checkIdData(IdType.IPV6_ADDR_SUBNET, Buffer.alloc(16))!, /needs 32/);
    assert.match(checkIdData(IdType.FQDN, Buffer.alloc(0))!, /empty/);
    assert.match(checkIdData(IdType.FQDN, Buffer.from('a b'))!, /0x20/);
    assert.match(checkIdData(IdType.DER_ASN1_DN, h('300300'))!, /DER length 5 disagrees with the 3 bytes/);
    assert.match(checkIdData(IdType.DER_ASN1_DN, h('0400'))!, /tag 0x4/);
    assert.match(checkIdData(IdType.DER_ASN1_GN, h('3000'))!, /tag/);
    assert.equal(checkIdData(IdType.DER_ASN1_DN, Buffer.concat([h('30820100'), Buffer.alloc(256)])), undefined);
    assert.match(checkIdData(IdType.KEY_ID, Buffer.alloc(0))!, /empty/);
    assert.match(checkIdData(12, h('00'))!, /unknown/);
  });
  it('non-contiguous masks and reversed ranges are INVALID-ID-INFORMATION', () => {
    expectWire(() => decodeIdData(IdType.IPV4_ADDR_SUBNET, h('0a000000ff00ff00')), WireErr.VALUE, 'ID', -1, NotifyType.INVALID_ID_INFORMATION);
    expectWire(() => decodeIdData(IdType.IPV4_ADDR_RANGE, h('0a0000090a000001')), WireErr.VALUE, 'ID');
  });
  it('address text parsing', () => {
    assert.deepEqual(ipv6ToBytes('::ffff:192.0.2.1'), h('00000000000000000000ffffc0000201'));
    assert.equal(bytesToIpv6(h('20010db8000000000001000000000001')), '2001:db8::1:0:0:1');
    assert.equal(bytesToIpv6(Buffer.alloc(16)), '::');
    for (const bad of ['1:2:3', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', 'g::']) {
      expectWire(() => ipv6ToBytes(bad), WireErr.VALUE, 'ID');
    }
    expectWire(() => encodeIdData({ kind: 'ipv4', address: '256.0.0.1' }), WireErr.VALUE);
    expectWire(() => encodeIdData({ kind: 'ipv4', address: '01.0.0.1' }), WireErr.VALUE);
    for (const [text, hex] of [['0.0.0.0', '00000000'], ['255.255.255.255', 'ffffffff'], ['192.0.2.1', 'c0000201'], ['10.0.100.9', '0a006409']]) {
      assert.deepEqual(ipv4ToBytes(text), h(hex));
      assert.equal(bytesToIpv4(h(hex)), text);
    }
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '00.1.2.3', '1.2.3.012', '1..2.3', '1.2.3.4.', '.1.2.3', '1.2.3.a', ' 1.2.3.4',
      '1.2.3.1000', '1.2.3.256', '1.2.3.-1', '1.2.3.4 ', '１.2.3.4']) {
      expectWire(() => ipv4ToBytes(bad), WireErr.VALUE, 'ID');
    }
    assert.equal(maskToPrefix(h('fffffff0')), 28);
    assert.equal(maskToPrefix(h('fffff0f0')), -1);
  });
});
