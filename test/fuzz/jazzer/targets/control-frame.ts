/**
 * Control-socket framing (src/control/frame.ts): the bytes are split into chunks at the positions
 * byte 0 encodes (partial frames, several frames per chunk) and pushed through one FrameDecoder
 * with a small maximum frame, so the length checks and the reassembly both get exercised.
 */
import { FrameDecoder } from '../../../../src/control/frame';
import { FuzzFinding, target, typed } from '../common';

export const fuzz = target((data) => {
  if (data.length < 1) return;
  const step = 1 + (data[0]! % 64);
  const d = new FrameDecoder(data[0]! & 0x80 ? 4096 : 1 << 20);
  for (let at = 1; at < data.length; at += step) {
    const ok = typed('FrameDecoder.push', () => d.push(data.subarray(at, at + step)));
    if (!ok) return;
    if (d.pending > data.length) throw new FuzzFinding(`decoder holds ${d.pending} bytes after ${data.length} were pushed`);
  }
});
