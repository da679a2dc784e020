/** Shared bits of the native-path tests: fixtures (read from test/fixtures, never ../shared) and the backend. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { createNativeBackend, nativeLoadError } from '../../src/crypto/native';
import { repoRoot } from '../../src/crypto/native/addon';
import type { CryptoBackend, HashAlg } from '../../src/crypto/types';

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(repoRoot(__dirname), 'test', 'fixtures', 'vectors', name), 'utf8')) as T;
}

/** The native backend; the tests fail (never skip) when the addon does not load. */
export function nativeBackend(): CryptoBackend {
  const b = createNativeBackend();
  if (!b) throw new Error(`the native addon must load for these tests: ${nativeLoadError()?.message}`);
  return b;
}

const HASHES: Readonly<Record<string, HashAlg>> = {
  'SHA-1': 'sha1', 'SHA2-224': 'sha224', 'SHA2-256': 'sha256', 'SHA2-384': 'sha384', 'SHA2-512': 'sha512',
};

export function hashOf(vectorName: string): HashAlg {
  const h = HASHES[vectorName];
  if (!h) throw new Error(`unknown vector hash ${vectorName}`);
  return h;
}

export const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** Asserts that a promise rejects (or a function throws) with an error carrying `code`. */
export async function rejectsWithCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    const got = (e as { code?: unknown }).code;
    if (got !== code) throw new Error(`expected error code ${code}, got ${String(got)}: ${(e as Error).message}`);
    return;
  }
  throw new Error(`expected an error with code ${code}, but it succeeded`);
}
