/**
 * tools/ike-cavp as a user runs it: every vector file with its outputs removed, on every path;
 * the printed array must carry exactly the published outputs. Malformed input names the case.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { OUTPUT_FIELDS, classify, type CavpCase } from '../../src/crypto/cavp';
import { CRYPTO_PATHS } from '../../src/crypto/types';
import { REPO_ROOT, VECTOR_FILES, comparable, loadVectors } from '../helpers/vectors';

const TOOL = join(REPO_ROOT, 'tools', 'ike-cavp');

function run(args: string[], input: string) {
  const r = spawnSync(TOOL, args, { input, cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function stripOutputs(cases: CavpCase[]): CavpCase[] {
  return cases.map((c, i) => {
    const copy = { ...c };
    for (const f of OUTPUT_FIELDS[classify(c, i)]) delete copy[f];
    return copy;
  });
}

describe('tools/ike-cavp', function () {
  this.timeout(600_000);
  for (const path of CRYPTO_PATHS) {
    for (const file of VECTOR_FILES) {
      it(`reproduces ${file} on --path ${path}`, () => {
        const cases = loadVectors(file);
        const r = run(['--path', path], JSON.stringify(stripOutputs(cases)));
        assert.equal(r.status, 0, r.stderr);
        const out = JSON.parse(r.stdout) as CavpCase[];
        assert.equal(out.length, cases.length);
        for (let i = 0; i < cases.length; i++) {
          for (const f of OUTPUT_FIELDS[classify(cases[i], i)]) {
            if (typeof cases[i][f] !== 'string') continue;
            assert.match(String(out[i][f]), /^[0-9a-f]+$/, `case ${i} ${f} is lower-case hex`);
            assert.equal(comparable(cases[i], f, String(out[i][f])), comparable(cases[i], f, String(cases[i][f])), `${file} case ${i} ${f}`);
          }
        }
      });
    }
  }

  it('reads a file argument as well as standard input', () => {
    const r = run(['--path', 'node', join(REPO_ROOT, 'test', 'fixtures', 'vectors', 'prf-hmac-sha2.json')], '');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).length, loadVectors('prf-hmac-sha2.json').length);
  });

  it('names the case index of a truncated or malformed case', () => {
    const cases = loadVectors('ikev1-kdf.json').slice(0, 3);
    const truncated = cases.map((c) => ({ ...c }));
    delete truncated[2].nr;
    let r = run(['--path', 'node'], JSON.stringify(truncated));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /case 2: field "nr" is missing/);

    r = run(['--path', 'node'], JSON.stringify([cases[0], { ...cases[1], gxy: 'abc' }]));
    assert.match(r.stderr, /case 1: field "gxy" is not an even-length hex string/);

    r = run(['--path', 'node'], JSON.stringify([cases[0], { hello: 1 }]));
    assert.match(r.stderr, /case 1: unknown case shape/);

    r = run(['--path', 'node'], JSON.stringify([{ ...loadVectors('ecp-dh.json')[0], group: 31 }]));
    assert.match(r.stderr, /case 0: unknown or unsupported Diffie-Hellman group 31/);

    r = run(['--path', 'node'], JSON.stringify([{ ...cases[0], hashAlg: 'SHA3-256' }]));
    assert.match(r.stderr, /case 0: field "hashAlg" names an unsupported hash/);

    r = run(['--path', 'node'], '[{"authMethod": "psk"');
    assert.match(r.stderr, /not valid JSON/);
  });

  it('refuses unknown options and paths with a usage message', () => {
    let r = run(['--path', 'gpu'], '[]');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown path "gpu"/);
    r = run(['--frobnicate'], '[]');
    assert.equal(r.status, 2);
  });
});
