/**
 * A throw-away SoftHSM2 for one spec file: a temporary directory with its own softhsm2.conf
 * (SOFTHSM2_CONF points at it from now on), tokens initialised there, removed by cleanup().
 * Tokens must all be created before the first backend opens (SoftHSM builds its slot list at
 * C_Initialize).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createSoftHsmToken, findSoftHsmModule, openPkcs11Backend, type Pkcs11Backend, type Pkcs11BackendOptions }
  from '../../src/crypto/pkcs11';

export const SO_PIN = '87654321';
export const USER_PIN = '246813';

export interface TestHsm {
  dir: string;
  module: string;
  open(label: string, options?: Partial<Pkcs11BackendOptions>): Promise<Pkcs11Backend>;
  cleanup(): Promise<void>;
}

export const softHsmModule = findSoftHsmModule();

/** Creates the tokens; call from before(). Skips the suite (PK-5) when SoftHSM2 is missing. */
export function makeTestHsm(ctx: Mocha.Context, labels: string[]): TestHsm {
  if (!softHsmModule) ctx.skip();
  const module = softHsmModule as string;
  const dir = mkdtempSync(join(tmpdir(), 'oakley-p11-'));
  for (const label of labels) createSoftHsmToken({ dir, label, soPin: SO_PIN, pin: USER_PIN, module });
  const open: Pkcs11Backend[] = [];
  return {
    dir,
    module,
    async open(label, options = {}) {
      const b = await openPkcs11Backend({ module, tokenLabel: label, pin: USER_PIN, ...options });
      open.push(b);
      return b;
    },
    async cleanup() {
      for (const b of open.splice(0)) await b.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
