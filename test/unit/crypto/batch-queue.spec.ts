/**
 * BatchQueue (src/crypto/native/batch-queue.ts) with routes that record what they were given and
 * complete when the test says so: batching per event-loop turn, the maxInFlight hold-back of partial
 * batches, full batches never held, and one failing batch retried item by item.
 */
import assert from 'node:assert/strict';

import { BatchQueue, type BatchRoutes } from '../../../src/crypto/native/batch-queue';

interface Job { items: number[]; finish: (fail?: boolean) => void }

function routes(lanes: number, maxInFlight?: number) {
  const jobs: Job[] = [];
  const singles: number[] = [];
  const r: BatchRoutes<number> = {
    lanes, maxInFlight,
    batching: () => true,
    one: async (x) => {
      singles.push(x);
      return Buffer.from([x]);
    },
    many: (items) => new Promise<Buffer[]>((resolve, reject) => {
      jobs.push({ items, finish: (fail) => (fail ? reject(new Error('kernel refused')) : resolve(items.map((x) => Buffer.from([x * 2])))) });
    }),
  };
  return { r, jobs, singles };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('BatchQueue', () => {
  it('items queued in one event-loop turn go as one kernel run; a lone item takes the single route', async () => {
    const { r, jobs, singles } = routes(8);
    const q = new BatchQueue(r);
    const out = [1, 2, 3].map((x) => q.run(x));
    await turn();
    assert.deepEqual(jobs.map((j) => j.items), [[1, 2, 3]]);
    jobs[0].finish();
    assert.deepEqual((await Promise.all(out)).map((b) => b[0]), [2, 4, 6]);
    assert.equal((await q.run(9))[0], 9);
    assert.deepEqual(singles, [9]);
    assert.deepEqual(q.stats, { runs: 1, batchedItems: 3, singles: 1 });
  });

  it('with maxInFlight 1, partial batches wait for the running job and then go together', async () => {
    const { r, jobs } = routes(8, 1);
    const q = new BatchQueue(r);
    const first = [1, 2].map((x) => q.run(x));
    await turn();
    const later = [3, 4].map((x) => q.run(x));
    await turn();
    const evenLater = [5].map((x) => q.run(x));
    await turn();
    assert.deepEqual(jobs.map((j) => j.items), [[1, 2]], 'held back while a job runs');
    jobs[0].finish();
    await Promise.all(first);
    await turn();
    assert.deepEqual(jobs.map((j) => j.items), [[1, 2], [3, 4, 5]]);
    jobs[1].finish();
    assert.deepEqual((await Promise.all([...later, ...evenLater])).map((b) => b[0]), [6, 8, 10]);
  });

  it('without a limit every turn starts its own job (the old behaviour)', async () => {
    const { r, jobs } = routes(8);
    const q = new BatchQueue(r);
    const a = [1, 2].map((x) => q.run(x));
    await turn();
    const b = [3, 4].map((x) => q.run(x));
    await turn();
    assert.deepEqual(jobs.map((j) => j.items), [[1, 2], [3, 4]]);
    jobs.forEach((j) => j.finish());
    await Promise.all([...a, ...b]);
  });

  it('a full batch goes even while the limit is reached', async () => {
    const { r, jobs } = routes(2, 1);
    const q = new BatchQueue(r);
    const a = [1, 2].map((x) => q.run(x));
    await turn();
    const b = [3, 4, 5].map((x) => q.run(x));
    await turn();
    assert.deepEqual(jobs.map((j) => j.items), [[1, 2], [3, 4]], 'the full pair went, 5 waits');
    jobs[0].finish();
    await Promise.all(a);
    await turn();
    jobs[1].finish();
    assert.deepEqual((await Promise.all(b)).map((x) => x[0]), [6, 8, 5], '5 went alone once a job completed');
  });

  it('a failing kernel run is retried item by item, and the queue moves on', async () => {
    const { r, jobs, singles } = routes(8, 1);
    const q = new BatchQueue(r);
    const a = [1, 2, 3].map((x) => q.run(x));
    await turn();
    const b = [4, 5].map((x) => q.run(x));
    await turn();
    jobs[0].finish(true);
    assert.deepEqual((await Promise.all(a)).map((x) => x[0]), [1, 2, 3]);
    assert.deepEqual(singles, [1, 2, 3]);
    await turn();
    assert.deepEqual(jobs[1].items, [4, 5]);
    jobs[1].finish();
    assert.deepEqual((await Promise.all(b)).map((x) => x[0]), [8, 10]);
  });
});
