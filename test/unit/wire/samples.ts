/** One valid instance of every payload of types.ts, for round trips and the fuzz corpus. */
import { Payload, PayloadType, SaPayload } from '../../../src/wire/ikev1/types';
import { encodeIkeTransform, encodeIpsecTransform } from '../../../src/wire/ikev1/attributes';
import { IdType, NotifyType, ProtocolId } from '../../../src/wire/ikev1/iana';

export const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

export function sampleSa(): SaPayload {
  return {
    type: PayloadType.SA, doi: 1, situation: 1, situationData: Buffer.alloc(0),
    proposals: [{
      number: 1, protocol: ProtocolId.ISAKMP, spi: Buffer.alloc(0),
      transforms: [
        encodeIkeTransform({ encr: 7, keyLength: 128, hash: 4, auth: 1, group: 14, lifeSeconds: 28800, unknownAttributes: [] }, 1),
        encodeIkeTransform({ encr: 5, hash: 2, auth: 3, group: 2, lifeSeconds: 86400, lifeKilobytes: 4608000, unknownAttributes: [] }, 2),
      ],
    }],
  };
}

export function sampleQmSa(): SaPayload {
  return {
    type: PayloadType.SA, doi: 1, situation: 1, situationData: Buffer.alloc(0),
    proposals: [
      { number: 1, protocol: ProtocolId.IPSEC_AH, spi: h('aabbccdd'),
        transforms: [encodeIpsecTransform({ transformId: 5, authAlg: 5, encapsulation: 1, unknownAttributes: [] })] },
      { number: 1, protocol: ProtocolId.IPSEC_ESP, spi: h('11223344'),
        transforms: [encodeIpsecTransform({ transformId: 12, keyLength: 256, authAlg: 5, encapsulation: 1, group: 14,
          lifeSeconds: 3600, lifeKilobytes: 100000000, unknownAttributes: [] })] },
      { number: 2, protocol: ProtocolId.IPCOMP, spi: h('0102'),
        transforms: [{ number: 1, id: 2, attributes: [{ type: 4, value: 1 }, { type: 9, value: h('0102030405') }] }] },
    ],
  };
}

/** Every payload kind, in a valid form. */
export function samplePayloads(): Payload[] {
  return [
    sampleSa(),
    sampleQmSa(),
    { type: PayloadType.KE, data: Buffer.alloc(256, 0x5a) },
    { type: PayloadType.ID, idType: IdType.IPV4_ADDR, protocol: 17, port: 500, data: h('c0000201') },
    { type: PayloadType.ID, idType: IdType.FQDN, protocol: 0, port: 0, data: Buffer.from('gw.example.com') },
    { type: PayloadType.ID, idType: IdType.IPV6_ADDR_SUBNET, protocol: 0, port: 0, data: Buffer.concat([h('20010db8000000000000000000000000'), h('ffffffffffffffff0000000000000000')]) },
    { type: PayloadType.CERT, encoding: 4, data: h('3003020101') },
    { type: PayloadType.CR, certType: 4, authority: Buffer.alloc(0) },
    { type: PayloadType.CR, certType: 4, authority: h('3000') },
    { type: PayloadType.HASH, data: Buffer.alloc(32, 1) },
    { type: PayloadType.SIG, data: Buffer.alloc(256, 2) },
    { type: PayloadType.NONCE, data: Buffer.alloc(32, 3) },
    { type: PayloadType.N, doi: 1, protocol: 1, spi: Buffer.alloc(16, 9), notifyType: NotifyType.R_U_THERE, data: h('00000001') },
    { type: PayloadType.N, doi: 1, protocol: 3, spi: h('deadbeef'), notifyType: NotifyType.RESPONDER_LIFETIME, data: h('800b0001000c000400000e10') },
    { type: PayloadType.D, doi: 1, protocol: 3, spiSize: 4, spis: [h('00000001'), h('00000002')] },
    { type: PayloadType.D, doi: 1, protocol: 1, spiSize: 16, spis: [Buffer.alloc(16, 4)] },
    { type: PayloadType.VID, data: h('4a131c81070358455c5728f20e95452f') },
    { type: PayloadType.NAT_D, data: Buffer.alloc(20, 7) },
    { type: PayloadType.NAT_D_DRAFT, data: Buffer.alloc(16, 8) },
    { type: PayloadType.NAT_OA, idType: IdType.IPV4_ADDR, address: h('0a000001') },
    { type: PayloadType.NAT_OA_DRAFT, idType: IdType.IPV6_ADDR, address: h('20010db8000000000000000000000001') },
    { type: 'unknown', payloadType: 99, data: h('010203') },
  ];
}
