import { strict as assert } from 'node:assert';
import { decodeHeader, encodeHeader } from '../../../src/wire/ikev1/header';
import { Writer } from '../../../src/wire/writer';
import { WireErr } from '../../../src/wire/errors';
import { NotifyType } from '../../../src/wire/ikev1/iana';
import { expectWire, hdr } from './helpers';

function headerBytes(length = 28, version = 0x10): Buffer {
  const w = new Writer();
  const at = encodeHeader(w, hdr({ nextPayload: 0, version }));
  w.patchU32(at, length);
  return w.finish();
}

describe('wire IKEv1 header', () => {
  it('round-trips the 28 octets', () => {
    const b = headerBytes();
    assert.equal(b.length, 28);
    const { header, trailing } = decodeHeader(b);
    assert.equal(trailing, 0);
    assert.deepEqual(header.icookie, hdr().icookie);
    assert.equal(header.version, 0x10);
    assert.equal(header.exchangeType, 2);
    assert.equal(header.length, 28);
  });

  it('refuses major version 2 with INVALID-MAJOR-VERSION', () => {
    expectWire(() => decodeHeader(headerBytes(28, 0x20)), WireErr.VERSION, 'HEADER', 17, NotifyType.INVALID_MAJOR_VERSION);
  });

  it('accepts a non-zero minor version (documented decision)', () => {
    assert.equal(decodeHeader(headerBytes(28, 0x11)).header.version, 0x11);
  });

  it('length < 28 and length > datagram are UNEQUAL-PAYLOAD-LENGTHS', () => {
    expectWire(() => decodeHeader(headerBytes(27)), WireErr.LENGTH, 'HEADER', 24, NotifyType.UNEQUAL_PAYLOAD_LENGTHS);
    const e = expectWire(() => decodeHeader(headerBytes(29)), WireErr.LENGTH, 'HEADER', 24, NotifyType.UNEQUAL_PAYLOAD_LENGTHS);
    assert.match(e.message, /length 29 exceeds the 28 bytes/);
  });

  it('ignores datagram bytes beyond Length and reports them', () => {
    const b = Buffer.concat([headerBytes(28), Buffer.alloc(3)]);
    assert.equal(decodeHeader(b).trailing, 3);
  });

  it('every prefix of a header is TRUNCATED', () => {
    const b = headerBytes();
    for (let n = 0; n < 28; n++) expectWire(() => decodeHeader(b.subarray(0, n)), WireErr.TRUNCATED, 'HEADER', 0);
  });

  it('encoder refuses cookies that are not 8 bytes', () => {
    expectWire(() => encodeHeader(new Writer(), hdr({ icookie: Buffer.alloc(7) })), WireErr.VALUE, 'HEADER');
  });
});
