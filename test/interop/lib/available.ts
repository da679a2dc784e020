/** Whether the interop tests can run here: strongSwan installed and root (namespaces). */
import fs from 'node:fs';

import { CHARON } from './charon';

export function interopAvailable(): boolean {
  const ok = fs.existsSync(CHARON) && process.getuid?.() === 0;
  if (!ok && process.env.OAKLEY_INTEROP_REQUIRED) throw new Error(`interop tests required but ${CHARON} is missing or not root`);
  return ok;
}
