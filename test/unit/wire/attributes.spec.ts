import { strict as assert } from 'node:assert';
import { decodeIkeTransform, decodeIpsecTransform, encodeIkeTransform, encodeIpsecTransform } from '../../../src/wire/ikev1/attributes';
import { Transform } from '../../../src/wire/ikev1/types';
import { IkeAttr, NotifyType, ProtocolId } from '../../../src/wire/ikev1/iana';
import { WireErr } from '../../../src/wire/errors';
import { expectWire } from './helpers';
import { h } from './samples';

const t = (attributes: Transform['attributes'], id = 1): Transform => ({ number: 3, id, attributes });
const BASE = [{ type: 1, value: 7 }, { type: 2, value: 4 }, { type: 3, value: 1 }, { type: 4, value: 14 }];

describe('wire IKEv1 transform attributes', () => {
  it('IKE: round trip incl. a lifetime above 16 bits and kilobytes', () => {
    const v = { encr: 7, keyLength: 256, hash: 5, auth: 3, group: 20, prf: 5, lifeSeconds: 86400, lifeKilobytes: 1000, unknownAttributes: [] };
    assert.deepEqual(decodeIkeTransform(encodeIkeTransform(v)), v);
  });
  it('IKE: order-independent (vpnc sends KEY_LENGTH first)', () => {
    const d = decodeIkeTransform(t([{ type: IkeAttr.KEY_LENGTH, value: 128 }, ...BASE]));
    assert.equal(d.keyLength, 128);
    assert.equal(d.encr, 7);
  });
  it('IKE: lifetime as an 8-byte TLV and as a TV', () => {
    assert.equal(decodeIkeTransform(t([...BASE, { type: 11, value: 1 }, { type: 12, value: h('0000000000015180') }])).lifeSeconds, 86400);
    assert.equal(decodeIkeTransform(t([...BASE, { type: 11, value: 1 }, { type: 12, value: 28800 }])).lifeSeconds, 28800);
    assert.equal(decodeIkeTransform(t([...BASE, { type: 11, value: 1 }, { type: 12, value: h('ffffffffffffffffff') }])).lifeSeconds, Number.MAX_SAFE_INTEGER);
  });
  it('IKE: two life pairs allowed, same type twice refused', () => {
    const d = decodeIkeTransform(t([...BASE, { type: 11, value: 2 }, { type: 12, value: 50 }, { type: 11, value: 1 }, { type: 12, value: 60 }]));
    assert.deepEqual([d.lifeSeconds, d.lifeKilobytes], [60, 50]);
    expectWire(() => decodeIkeTransform(t([...BASE, { type: 11, value: 1 }, { type: 12, value: 5 }, { type: 11, value: 1 }, { type: 12, value: 6 }])),
      WireErr.VALUE, 'T', -1, NotifyType.BAD_PROPOSAL_SYNTAX);
  });
  it('IKE: a duration must follow its type', () => {
    expectWire(() => decodeIkeTransform(t([...BASE, { type: 12, value: 5 }])), WireErr.VALUE, 'T');
    expectWire(() => decodeIkeTransform(t([...BASE, { type: 11, value: 1 }])), WireErr.VALUE, 'T');
    expectWire(() => decodeIkeTransform(t([{ type: 11, value: 1 }, ...BASE, { type: 12, value: 5 }])), WireErr.VALUE, 'T');
  });
  it('IKE: unknown life type is strict', () => {
    expectWire(() => decodeIkeTransform(t([...BASE, { type: 11, value: 3 }, { type: 12, value: 5 }])), WireErr.VALUE, 'T', -1, NotifyType.ATTRIBUTES_NOT_SUPPORTED);
  });
  it('IKE: duplicates and missing required attributes are refused', () => {
    expectWire(() => decodeIkeTransform(t([...BASE, { type: 1, value: 5 }])), WireErr.VALUE, 'T');
    expectWire(() => decodeIkeTransform(t(BASE.slice(1))), WireErr.VALUE, 'T');
    expectWire(() => decodeIkeTransform(t(BASE, 2)), WireErr.VALUE, 'T', -1, NotifyType.INVALID_TRANSFORM_ID);
    expectWire(() => decodeIkeTransform(t([...BASE, { type: 14, value: 0 }])), WireErr.VALUE, 'T');
  });
  it('IKE: unsupported-but-valid values and unknown attributes are returned, not errors', () => {
    const d = decodeIkeTransform(t([{ type: 1, value: 65001 }, { type: 2, value: 99 }, { type: 3, value: 65001 }, { type: 4, value: 31 }, { type: 200, value: 1 }]));
    assert.deepEqual([d.encr, d.hash, d.auth, d.group], [65001, 99, 65001, 31]);
    assert.deepEqual(d.unknownAttributes, [{ type: 200, value: 1 }]);
  });
  it('IKE: private group definition goes to unknownAttributes with group 0', () => {
    const d = decodeIkeTransform(t([...BASE.slice(0, 3), { type: 5, value: 1 }, { type: 6, value: h('ff') }]));
    assert.equal(d.group, 0);
    assert.equal(d.unknownAttributes.length, 2);
  });
  it('IKE: basic attribute as TLV is tolerated; too large is refused', () => {
    assert.equal(decodeIkeTransform(t([...BASE, { type: 14, value: h('0080') }])).keyLength, 128);
    expectWire(() => decodeIkeTransform(t([...BASE, { type: 14, value: h('010000') }])), WireErr.VALUE, 'T');
  });
  it('IPsec: round trip and duplicates', () => {
    const v = { transformId: 12, keyLength: 128, authAlg: 5, encapsulation: 3, group: 14, keyRounds: 12, lifeSeconds: 3600, lifeKilobytes: 4608000, unknownAttributes: [] };
    assert.deepEqual(decodeIpsecTransform(ProtocolId.IPSEC_ESP, encodeIpsecTransform(v)), v);
    expectWire(() => decodeIpsecTransform(3, t([{ type: 4, value: 1 }, { type: 4, value: 2 }], 12)), WireErr.VALUE, 'T');
    expectWire(() => decodeIpsecTransform(3, t([{ type: 2, value: 1 }], 12)), WireErr.VALUE, 'T');
  });
  it('IPsec: draft UDP encapsulation values are returned', () => {
    assert.equal(decodeIpsecTransform(3, t([{ type: 4, value: 61443 }], 3)).encapsulation, 61443);
  });
});
