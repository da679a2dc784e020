/**
 * Imported first by run.ts, before anything can touch the libuv threadpool: libuv reads
 * UV_THREADPOOL_SIZE once, when the pool starts (the first fs/crypto/addon job), so it must be in
 * the environment before that. Default: one pool thread per CPU the OS gives this process (2 on
 * the reference machine; perf-anchors §5.1 measured pool size 4 on 2 cores as worse than 2).
 * An operator's own UV_THREADPOOL_SIZE wins.
 */
import { availableParallelism } from 'node:os';

export const POOL_SIZE_FROM_USER = process.env.UV_THREADPOOL_SIZE !== undefined;
if (!POOL_SIZE_FROM_USER) process.env.UV_THREADPOOL_SIZE = String(Math.max(2, availableParallelism()));
export const POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE);
