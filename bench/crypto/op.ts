/**
 * What one benchmarked operation is: an id, how to prepare it on a backend, which `openssl speed`
 * row it is compared with, and whether it is a micro-operation (timed with benchmark.js) or a
 * longer async one (timed with the alternating-sample harness).
 */
import type { CryptoBackend } from '../../src/crypto/types';
import type { OpensslAlg, OpensslFigure } from '../lib/openssl';

/** How an op relates to an `openssl speed` figure. */
export interface OpensslRef {
  readonly alg: OpensslAlg;
  readonly op: OpensslFigure['op'];
  /** Our op does `factor` of openssl's operations (MODP key pair + g^xy = 2 modexps). */
  readonly factor: number;
  /** What is being compared, printed under the table. */
  readonly note: string;
}

export interface PreparedOp {
  /** One operation. */
  run(): Promise<unknown>;
  /** Sanity check of one result (null when fine): a benchmark of a wrong answer is worthless. */
  check(): Promise<string | null>;
  close(): Promise<void> | void;
  /** What this path actually did, when it differs per path (e.g. exponent length). */
  readonly detail?: string;
}

export interface OpDef {
  readonly id: string;
  /** Short label for tables and the chart. */
  readonly label: string;
  /** One line on what is timed. */
  readonly what: string;
  /** benchmark.js (deferred) for short ops; the alternating harness otherwise. */
  readonly micro: boolean;
  readonly openssl: OpensslRef | { readonly none: string };
  /** Rejects with SkipOp when the path cannot do it. */
  prepare(backend: CryptoBackend): Promise<PreparedOp>;
}

/** The path cannot run this op (unsupported group, key type...). Reported, never fatal. */
export class SkipOp extends Error {
  override readonly name = 'SkipOp';
}
