/**
 * SoftHSM 2.6.1 keeps destroyed session objects until C_Finalize (upstream #562/#563; see the
 * comment block in src/crypto/pkcs11/token.ts). Measures the RSS growth per DH group 14 exchange
 * (keygen + derive + CKA_VALUE read + destroys) in a fresh child process per mode, and checks
 * that the mitigation, re-initialising the library (reinitializeAfter), gives the memory back:
 * a round of exchanges after the re-initialise grows RSS by less per exchange than the round
 * before it. Loose assertions: RSS is noisy (JS heap, malloc arenas). With async key calls
 * pkcs11js #120 adds a leak of the copied templates that no re-initialise gives back.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { softHsmModule } from '../helpers/softhsm';

const ROUND = Number(process.env.OAKLEY_RETENTION_ROUND ?? 1500);

interface Probe { mode: string; before: number; after: number; reinitBefore: number; reinits: number }

async function probe(mode: 'sync' | 'async'): Promise<Probe> {
  const { stdout } = await promisify(execFile)(process.execPath,
    ['--expose-gc', join(__dirname, 'retention-probe.js'), mode, String(ROUND)], { timeout: 240_000 });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as Probe;
}

describe('pkcs11 SoftHSM retention (RSS per DH exchange)', function () {
  this.timeout(300_000);
  before(function () {
    if (!softHsmModule) this.skip();
  });

  for (const mode of ['sync', 'async'] as const) {
    it(`${mode} key calls: growth per exchange, and re-initialising brings it down`, async () => {
      const r = await probe(mode);
      // eslint-disable-next-line no-console
      console.log(`      DH group 14, ${mode} key calls: ${r.before.toFixed(0)} B/exchange before re-initialise, ` +
        `${r.after.toFixed(0)} B/exchange after (${ROUND} exchanges per round)`);
      assert.equal(r.reinitBefore, 0, 'no re-initialise in the first round');
      assert.equal(r.reinits, 1, 'exactly one re-initialise');
      assert.ok(r.before > 300, `expected SoftHSM 2.6.1 to retain memory per exchange, measured ${r.before.toFixed(0)} B`);
      // RSS is a noisy measure (another process on the second core changes malloc's behaviour),
      // so only the direction is asserted, and only for sync calls: with async calls pkcs11js #120
      // leaks the copied templates in both rounds, which can hide the gain.
      if (mode === 'sync') {
        assert.ok(r.after < r.before,
          `after re-initialise ${r.after.toFixed(0)} B/exchange should be below ${r.before.toFixed(0)}`);
      }
    });
  }
});
