/**
 * Long wire fuzz run without mocha: node dist/test/fuzz/run-long.js [seconds] [seed]
 * (`npm run fuzz` runs the mocha spec with OAKLEY_FUZZ_SECONDS=600 instead; this entry point is for
 * ad-hoc runs and CI jobs that want the counts as JSON.)
 */
import { fuzzAll } from './properties';

const seconds = Number(process.argv[2] ?? process.env.OAKLEY_FUZZ_SECONDS ?? '600');
const seed = process.argv[3] !== undefined ? Number(process.argv[3]) : undefined;
const t0 = Date.now();
const counts = fuzzAll(seconds, seed);
process.stdout.write(`${JSON.stringify({ seconds: (Date.now() - t0) / 1000, counts }, null, 2)}\n`);
