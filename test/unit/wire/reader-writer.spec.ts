import { strict as assert } from 'node:assert';
import { Reader } from '../../../src/wire/reader';
import { Writer } from '../../../src/wire/writer';
import { WireErr, WireError } from '../../../src/wire/errors';
import { expectWire } from './helpers';

describe('wire Reader/Writer', () => {
  it('reads big-endian fields and copies bytes', () => {
    const buf = Buffer.from('0102030405060708090a', 'hex');
    const r = new Reader(buf, 'X');
    assert.equal(r.u8(), 1);
    assert.equal(r.u16(), 0x0203);
    assert.equal(r.u32(), 0x04050607);
    const b = r.bytes(2);
    buf[7] = 0xff;
    assert.deepEqual(b, Buffer.from('0809', 'hex'));
    assert.equal(r.remaining, 1);
  });

  it('refuses reads past the roof with TRUNCATED, naming the offset', () => {
    const r = new Reader(Buffer.alloc(10), 'KE', 2, 5, 100);
    r.u16();
    expectWire(() => r.u16(), WireErr.TRUNCATED, 'KE', 104);
  });

  it('sub() bounds a child; a length beyond the roof names both numbers', () => {
    const r = new Reader(Buffer.alloc(20), 'message', 0, 20, 28);
    const c = r.sub(8, 'SA');
    assert.equal(c.remaining, 8);
    c.u32();
    expectWire(() => c.end(), WireErr.LENGTH, 'SA', 32);
    const e = expectWire(() => r.sub(300, 'KE', 36), WireErr.LENGTH, 'KE', 36);
    assert.match(e.message, /KE at offset 36: length 300 exceeds the 12 bytes that remain/);
  });

  it('constructor clamps the roof to the buffer', () => {
    const r = new Reader(Buffer.alloc(3), 'X', 0, 100);
    assert.equal(r.remaining, 3);
    expectWire(() => r.u32(), WireErr.TRUNCATED);
  });

  it('writer grows and back-patches lengths; refuses values that do not fit', () => {
    const w = new Writer(1);
    w.u8(1);
    const at = w.reserveU16();
    w.bytes(Buffer.alloc(1000, 7));
    w.patchU16(at, w.length);
    const out = w.finish();
    assert.equal(out.length, 1003);
    assert.equal(out.readUInt16BE(1), 1003);
    assert.throws(() => w.u16(0x10000), (e: unknown) => e instanceof WireError && e.code === WireErr.VALUE);
    assert.throws(() => w.patchU16(at, 70000), (e: unknown) => e instanceof WireError);
  });
});
