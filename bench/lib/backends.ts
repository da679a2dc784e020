/**
 * Opening each requested path's backend through the registry (src/crypto/registry.ts openBackend).
 * A path that cannot open (addon not built, SoftHSM2 missing, module not there yet) is reported as
 * skipped with the reason; it never stops the bench.
 */
import { createNodeBackend } from '../../src/crypto/node';
import type { CryptoBackend, CryptoPath } from '../../src/crypto/types';

export interface PathStatus {
  readonly path: CryptoPath;
  readonly backend: CryptoBackend | null;
  /** Why the path is skipped (backend null). */
  readonly reason?: string;
  readonly openMs: number;
}

type Registry = typeof import('../../src/crypto/registry');

function loadRegistry(): Registry | Error {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../../src/crypto/registry') as Registry;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

/** Opens the paths in order; each failure becomes a skip reason. */
export async function openPaths(paths: readonly CryptoPath[]): Promise<PathStatus[]> {
  const registry = loadRegistry();
  const out: PathStatus[] = [];
  for (const path of paths) {
    const t0 = Date.now();
    try {
      let backend: CryptoBackend;
      if (registry instanceof Error) {
        // The node path does not need the registry; the others do.
        if (path !== 'node') throw new Error(`the crypto registry does not load: ${firstLine(registry)}`);
        backend = createNodeBackend();
      } else {
        backend = await registry.openBackend(path);
      }
      out.push({ path, backend, openMs: Date.now() - t0 });
    } catch (e) {
      out.push({ path, backend: null, reason: firstLine(e), openMs: Date.now() - t0 });
    }
  }
  return out;
}

export async function closePaths(statuses: readonly PathStatus[]): Promise<void> {
  for (const s of statuses) {
    try {
      await s.backend?.close();
    } catch (e) {
      process.emitWarning(`closing the ${s.path} backend failed: ${firstLine(e)}`);
    }
  }
}
