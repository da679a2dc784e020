/**
 * One-shot message digests for the packet path (NAT-D, the Phase 1 IV, RSA encodings).
 *
 * node:crypto's createHash() makes a Hash object per call, backed by a native object that V8
 * finalises through a weak handle in the next scavenge: at a few hundred negotiations a second
 * that is thousands of handles per second on the GC pause. crypto.hash() (Node >= 20.12) digests
 * one buffer without an object; older Node falls back to createHash.
 */
import crypto from 'node:crypto';

import type { HashAlg } from './types';

type OneShot = (algorithm: string, data: Buffer, outputEncoding: 'buffer') => Buffer;

const oneShot: OneShot | undefined = typeof (crypto as { hash?: unknown }).hash === 'function'
  ? (crypto as unknown as { hash: OneShot }).hash
  : undefined;

/** hash(parts[0] | parts[1] | ...). */
export function digest(hash: HashAlg, ...parts: readonly Buffer[]): Buffer {
  if (oneShot) return oneShot(hash, parts.length === 1 ? parts[0]! : Buffer.concat(parts), 'buffer');
  const h = crypto.createHash(hash);
  for (const p of parts) h.update(p);
  return h.digest();
}
