/** The known-answer vector files (copied from NIST/RFC sources into test/fixtures/vectors). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CavpCase } from '../../src/crypto/cavp';

/** Repository root, from dist/test/helpers or test/helpers. */
export const REPO_ROOT = (() => {
  let dir = __dirname;
  while (!require('node:fs').existsSync(join(dir, 'package.json'))) dir = join(dir, '..');
  return dir;
})();

export const VECTOR_FILES = ['ikev1-kdf.json', 'ikev2-kdf.json', 'ecp-dh.json', 'prf-hmac-sha2.json'] as const;

export function loadVectors(file: string): CavpCase[] {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'vectors', file), 'utf8')) as CavpCase[];
}

/**
 * Expected value of an output field, as comparable hex: for a length in bits that is not a
 * multiple of 8, the bits past the length are not part of the value (ACVP left-aligned hex).
 */
export function comparable(c: CavpCase, field: string, hex: string): string {
  const lenField = field === 'derivedKeyingMaterial' ? 'derivedKeyingMaterialLength'
    : field === 'derivedKeyingMaterialChild' || field === 'derivedKeyingMaterialDh' ? 'derivedKeyingMaterialChildLength'
      : field === 'output' ? 'outputLength' : undefined;
  const bits = lenField ? (c[lenField] as number) : undefined;
  if (bits === undefined || bits % 8 === 0) return hex.toLowerCase();
  return hex.toLowerCase().slice(0, Math.floor(bits / 8) * 2);
}
