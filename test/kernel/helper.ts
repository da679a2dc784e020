/**
 * One XfrmKernel operation in the current network namespace (run by xfrm.spec.ts through
 * `ip netns exec`), printing JSON. Keeps the sockets of the spec process in the root namespace.
 */
import { SystemClock } from '../../src/util/clock';
import { XfrmKernel } from '../../src/kernel/xfrm/kernel';
import type { ExpireEvent } from '../../src/kernel/types';
import { OakleyError } from '../../src/util/errors';

async function main(): Promise<unknown> {
  const args = JSON.parse(process.argv[2] ?? '{}') as { op: string; src?: string; dst?: string; spi?: number; waitMs?: number };
  const k = new XfrmKernel({ clock: new SystemClock() });
  try {
    switch (args.op) {
      case 'allocspi':
        return { spi: await k.getSpi({ src: args.src!, dst: args.dst!, protocol: 'esp' }) };
      case 'delsa':
        await k.delSa({ dst: args.dst!, spi: args.spi!, protocol: 'esp' });
        return {};
      case 'expire': {
        const got = new Promise<ExpireEvent>((resolve) => k.events.once('expire', resolve));
        const spi = await k.getSpi({ src: args.src!, dst: args.dst!, protocol: 'esp' });
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no EXPIRE')), args.waitMs ?? 5000)));
        try {
          return { spi, ...await Promise.race([got, timeout]) };
        } finally {
          clearTimeout(timer);
        }
      }
      case 'addsa':
        try {
          await k.addSa({
            src: args.src!, dst: args.dst!, spi: 0x1000, protocol: 'esp', direction: 'outbound', mode: 'transport', encapsulation: { type: 'none' },
            encryption: { alg: 'aes-cbc', key: Buffer.alloc(16, 1) }, integrity: { alg: 'hmac-sha256', key: Buffer.alloc(32, 2) },
            lifetimes: { soft: { seconds: 10, bytes: 0 }, hard: { seconds: 20, bytes: 0 } }, replayWindow: 32,
          });
          return { code: 'installed' };
        } catch (e) {
          if (!OakleyError.is(e)) throw e;
          return { code: e.code, errno: e.detail?.errno, counter: k.counters.get('kernel.sa_unsupported') };
        }
      default:
        throw new Error(`unknown op ${args.op}`);
    }
  } finally {
    await k.close();
  }
}

main().then((r) => process.stdout.write(JSON.stringify(r) + '\n'), (e: unknown) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
