/** Control frames: round trip, partial reads, several frames per read, oversize, garbage. */
import assert from 'node:assert/strict';

import { ControlErr, FrameDecoder, encodeFrame, parseMessage, type ControlMessage } from '../../../src/control/frame';

const req: ControlMessage = { id: 1, command: 'get stats', args: {} };
const res: ControlMessage = { id: 1, ok: true, result: { a: 1 } };
const err: ControlMessage = { id: 'x', ok: false, error: { code: 'IKE_ERR_NO_PRIV', message: 'no' } };
const ev: ControlMessage = { event: 'p1.up', data: { cookie: 'ab' } };

function raw(len: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(len);
  return Buffer.concat([h, body]);
}

const code = (c: string) => (e: Error & { code?: string }) => e.code === c;

describe('control frames', () => {
  it('round-trips requests, responses and events', () => {
    const d = new FrameDecoder();
    for (const m of [req, res, err, ev, { id: 2, command: 'p', args: {}, privilege: 'modkeys' } as ControlMessage]) {
      assert.deepEqual(d.push(encodeFrame(m)), [m]);
    }
    assert.equal(d.pending, 0);
  });

  it('handles partial reads byte by byte and several frames in one read', () => {
    const all = Buffer.concat([encodeFrame(req), encodeFrame(res), encodeFrame(ev)]);
    const d = new FrameDecoder();
    const got: ControlMessage[] = [];
    for (let i = 0; i < all.length; i++) got.push(...d.push(all.subarray(i, i + 1)));
    assert.deepEqual(got, [req, res, ev]);
    assert.deepEqual(new FrameDecoder().push(all), [req, res, ev]);
    // split in the middle of the second header
    const cut = encodeFrame(req).length + 2;
    const d2 = new FrameDecoder();
    assert.deepEqual(d2.push(all.subarray(0, cut)), [req]);
    assert.equal(d2.pending, 2);
    assert.deepEqual(d2.push(all.subarray(cut)), [res, ev]);
  });

  it('enforces the maximum frame size on both sides, before buffering', () => {
    const big = { id: 1, ok: true, result: 'x'.repeat(200) } as ControlMessage;
    assert.throws(() => encodeFrame(big, 100), code(ControlErr.FRAME_TOO_LARGE));
    const d = new FrameDecoder(100);
    assert.throws(() => d.push(raw(101, Buffer.alloc(0))), /101 bytes exceeds the maximum of 100/);
    // poisoned afterwards
    assert.throws(() => d.push(encodeFrame(req)), code(ControlErr.FRAME_TOO_LARGE));
    assert.throws(() => new FrameDecoder().push(raw(0xffffffff, Buffer.alloc(0))), code(ControlErr.FRAME_TOO_LARGE));
  });

  it('rejects garbage with IKE_ERR_BAD_FRAME', () => {
    const cases: Buffer[] = [
      Buffer.from('not json'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('[1,2]'),
      Buffer.from('null'),
      Buffer.from('{}'),
      Buffer.from('{"id":1.5,"command":"x","args":{}}'),
      Buffer.from('{"id":1,"command":"","args":{}}'),
      Buffer.from('{"id":1,"command":"x","args":[]}'),
      Buffer.from('{"id":1,"command":"x","args":{},"privilege":"root"}'),
      Buffer.from('{"id":1,"ok":"yes"}'),
      Buffer.from('{"id":1,"ok":false,"error":"x"}'),
      Buffer.from('{"event":5}'),
      Buffer.alloc(0),
    ];
    for (const body of cases) {
      assert.throws(() => new FrameDecoder().push(raw(body.length, body)), code(ControlErr.BAD_FRAME), body.toString('hex'));
    }
    assert.deepEqual(parseMessage(Buffer.from('{"id":3,"command":"x"}')), { id: 3, command: 'x', args: {} });
  });

  it('never throws anything but coded errors on random bytes', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let n = 0; n < 500; n++) {
      const len = Math.floor(rnd() * 40);
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = Math.floor(rnd() * 256);
      if (len >= 4 && rnd() < 0.5) b.writeUInt32BE(len - 4, 0);
      try {
        new FrameDecoder(1000).push(b);
      } catch (e) {
        assert.ok((e as { code?: string }).code?.startsWith('IKE_ERR_'), String(e));
      }
    }
  });
});
