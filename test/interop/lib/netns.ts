/**
 * Two network namespaces joined by a veth, TEST-NET addresses only: the Oakley side `a`
 * (192.0.2.1, inner 198.51.100.1 on lo) and the peer side `b` (192.0.2.2, inner 203.0.113.1 on
 * lo). The inner addresses are what tunnel-mode traffic selectors name; strongSwan's
 * kernel-libipsec needs its local selector to be an address of its namespace.
 */
import { must, run } from './sys';

export interface NetnsPair {
  readonly a: string;
  readonly b: string;
  readonly outerA: string;
  readonly outerB: string;
  readonly innerA: string;
  readonly innerB: string;
  /** Deletes both namespaces (and with them the veth). Idempotent. */
  destroy(): Promise<void>;
}

let serial = 0;

export async function createNetnsPair(): Promise<NetnsPair> {
  const tag = `oi${process.pid % 100000}x${serial++}`;
  const a = `${tag}a`, b = `${tag}b`;
  const va = `${tag}va`, vb = `${tag}vb`;
  const pair: NetnsPair = {
    a, b, outerA: '192.0.2.1', outerB: '192.0.2.2', innerA: '198.51.100.1', innerB: '203.0.113.1',
    async destroy() {
      await run('ip', ['netns', 'del', a]);
      await run('ip', ['netns', 'del', b]);
    },
  };
  try {
    await must('ip', ['netns', 'add', a]);
    await must('ip', ['netns', 'add', b]);
    await must('ip', ['link', 'add', va, 'type', 'veth', 'peer', 'name', vb]);
    await must('ip', ['link', 'set', va, 'netns', a]);
    await must('ip', ['link', 'set', vb, 'netns', b]);
    for (const [ns, dev, outer, inner] of [[a, va, pair.outerA, pair.innerA], [b, vb, pair.outerB, pair.innerB]] as const) {
      await must('ip', ['-n', ns, 'addr', 'add', `${outer}/24`, 'dev', dev]);
      await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await must('ip', ['-n', ns, 'addr', 'add', `${inner}/32`, 'dev', 'lo']);
    }
  } catch (e) {
    await pair.destroy();
    await run('ip', ['link', 'del', va]);
    throw e;
  }
  return pair;
}
