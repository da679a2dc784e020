/**
 * Property-based fuzzing of the IKEv1 codecs (properties.ts), time-boxed by OAKLEY_FUZZ_SECONDS
 * (total, default 10 s). `npm run fuzz` runs it for 600 s.
 */
import { strict as assert } from 'node:assert';
import { mutateCipherProperty, mutatePlainProperty, roundTripProperty } from './properties';

const total = Number(process.env.OAKLEY_FUZZ_SECONDS ?? '10') || 10;
const seed = process.env.OAKLEY_FUZZ_SEED ? Number(process.env.OAKLEY_FUZZ_SEED) : undefined;

describe(`wire fuzz (${total} s in total)`, function () {
  this.timeout(total * 1000 + 60_000);
  for (const [name, share, prop] of [
    ['random valid messages round-trip', 0.2, roundTripProperty],
    ['mutated plaintext encodings give a message or a WireError', 0.5, mutatePlainProperty],
    ['mutated encrypted encodings give a message or a WireError', 0.3, mutateCipherProperty],
  ] as const) {
    it(name, () => {
      const c = prop(total * share, seed);
      console.log(`      ${c.runs} executions: ${c.decoded} decoded, ${c.wireErrors} WireError`);
      assert.ok(c.runs > 0);
    });
  }
});
