/**
 * Child process of retention.spec.ts (a fresh process per measurement, so that memory given back
 * by one backend's C_Finalize cannot hide the growth of the next): makes its own SoftHSM token,
 * runs DH group 14 exchanges on the pkcs11 path and prints the RSS growth per exchange before and
 * after the library re-initialise as one JSON line.
 *   node retention-probe.js <sync|async> <round>
 */
import { createDiffieHellman } from 'node:crypto';

import { getGroup, leftPad } from '../../src/crypto/groups';
import type { Pkcs11Backend } from '../../src/crypto/pkcs11';
import { makeTestHsm } from '../helpers/softhsm';

async function main(): Promise<void> {
  const asyncKeyOps = process.argv[2] === 'async';
  const round = Number(process.argv[3] ?? 1500);
  const reinitAfter = 2 * round + 1000;
  const hsm = makeTestHsm({ skip: () => { throw new Error('SoftHSM2 not installed'); } } as unknown as Mocha.Context, ['ret-a']);
  try {
    const b: Pkcs11Backend = await hsm.open('ret-a', { reinitializeAfter: reinitAfter, asyncKeyOps });
    const g = getGroup(14);
    if (g.kind !== 'modp') throw new Error('group 14 is MODP');
    const dh = createDiffieHellman(g.p, g.g);
    dh.generateKeys();
    const peer = leftPad(dh.getPublicKey(), g.size);
    const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
    const exchanges = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const ke = await b.ke.create(14);
        try { await ke.computeSharedSecret(peer); } finally { ke.dispose(); }
      }
    };
    const growth = async (n: number): Promise<number> => {
      gc();
      const before = process.memoryUsage().rss;
      await exchanges(n);
      gc();
      return (process.memoryUsage().rss - before) / n;
    };
    await exchanges(500); // warm-up: JIT, pool, malloc arenas
    const r0 = b.stats().reinitializations;
    const before = await growth(round);
    const reinitBefore = b.stats().reinitializations - r0;
    await exchanges(reinitAfter - b.stats().operationsSinceInit);
    const reinits = b.stats().reinitializations - r0;
    const after = await growth(round);
    process.stdout.write(JSON.stringify({ mode: asyncKeyOps ? 'async' : 'sync', round, before, after, reinitBefore, reinits }) + '\n');
  } finally {
    await hsm.cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
