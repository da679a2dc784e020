/**
 * The `openssl speed` reference, run in the same invocation as the bench. Each algorithm runs in
 * its own `openssl speed -seconds 1 -elapsed -mr <alg>` (wall clock, like our figures), so an
 * algorithm this openssl does not know makes only that row unavailable. The machine-readable
 * lines are parsed:
 *
 *   +F2:<i>:<bits>:<sign/s>:<verify/s>      RSA
 *   +F5:<i>:<bits>:<ops/s>:<s/op>           ECDH (derive only; keys are made outside the loop)
 *   +F8:<i>:<bits>:<ops/s>:<s/op>           FFDH (derive only, RFC 7919 ffdhe groups)
 *   +H:<bytes>...  then  +F:<i>:<name>:<bytes/s>...   digests/HMAC per buffer size
 */
import { execFile } from 'node:child_process';

export type OpensslAlg =
  | 'rsa2048' | 'rsa3072' | 'rsa4096'
  | 'ffdh2048' | 'ffdh3072' | 'ffdh4096' | 'ffdh8192'
  | 'ecdhp256' | 'ecdhp384' | 'ecdhp521'
  | 'hmac-sha256-64';

/** One measured figure: ops/s of one openssl operation ('sign', 'verify', 'derive', 'hmac'). */
export interface OpensslFigure {
  readonly alg: OpensslAlg;
  readonly op: 'sign' | 'verify' | 'derive' | 'hmac';
  /** ops/s of each run (wall clock). */
  readonly runs: number[];
}

export interface OpensslRow {
  readonly alg: OpensslAlg;
  readonly available: boolean;
  /** Why not, when unavailable (first line of openssl's complaint). */
  readonly reason?: string;
  readonly figures: OpensslFigure[];
}

export interface OpensslInfo {
  readonly version: string | null;
  readonly error?: string;
}

function run(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('openssl', args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : -1) : 0;
      resolve({ code: err && code === 0 ? -1 : code, stdout: String(stdout), stderr: String(stderr) || (err ? err.message : '') });
    });
  });
}

export async function opensslVersion(): Promise<OpensslInfo> {
  const r = await run(['version'], 10_000);
  if (r.code !== 0) return { version: null, error: (r.stderr || 'openssl not runnable').split('\n')[0] };
  return { version: r.stdout.trim() };
}

export interface SpeedFigure {
  readonly op: OpensslFigure['op'];
  readonly opsPerSec: number;
}

/** Parses one `-mr` output into figures (ops/s). */
export function parseSpeed(out: string): SpeedFigure[] {
  const figs: SpeedFigure[] = [];
  let sizes: number[] = [];
  for (const line of out.split('\n')) {
    const f = line.trim().split(':');
    if (f[0] === '+F2' && f.length >= 5) {
      figs.push({ op: 'sign', opsPerSec: Number(f[3]) }, { op: 'verify', opsPerSec: Number(f[4]) });
    } else if ((f[0] === '+F5' || f[0] === '+F8') && f.length >= 4) {
      figs.push({ op: 'derive', opsPerSec: Number(f[3]) });
    } else if (f[0] === '+H') {
      sizes = f.slice(1).map(Number);
    } else if (f[0] === '+F' && f.length >= 4 && sizes.length > 0) {
      const bytesPerSec = Number(f[3]);
      figs.push({ op: 'hmac', opsPerSec: bytesPerSec / sizes[0] });
    }
  }
  return figs.filter((x) => Number.isFinite(x.opsPerSec) && x.opsPerSec > 0);
}

function argsFor(alg: OpensslAlg): string[] {
  if (alg === 'hmac-sha256-64') return ['speed', '-seconds', '1', '-elapsed', '-mr', '-bytes', '64', '-hmac', 'sha256'];
  return ['speed', '-seconds', '1', '-elapsed', '-mr', alg];
}

/** Runs one algorithm once; returns figures or the reason it is unavailable. */
export async function speedOnce(alg: OpensslAlg): Promise<{ figures: SpeedFigure[] } | { reason: string }> {
  const r = await run(argsFor(alg), 120_000);
  const figures = parseSpeed(r.stdout);
  if (figures.length === 0) {
    const why = (r.stderr + '\n' + r.stdout).split('\n').map((s) => s.trim()).find((s) => s && !s.startsWith('+') && !s.startsWith('Doing'));
    return { reason: `openssl speed ${alg}: ${why ?? `no result (exit ${r.code})`}` };
  }
  return { figures };
}

/** Accumulates the runs of each algorithm. */
export class OpensslReference {
  private readonly rows = new Map<OpensslAlg, OpensslRow>();

  constructor(readonly algs: readonly OpensslAlg[]) {}

  async runOnce(alg: OpensslAlg): Promise<void> {
    const r = await speedOnce(alg);
    const prev = this.rows.get(alg);
    if ('reason' in r) {
      if (!prev) this.rows.set(alg, { alg, available: false, reason: r.reason, figures: [] });
      return;
    }
    const row: OpensslRow = prev?.available ? prev : { alg, available: true, figures: [] };
    for (const f of r.figures) {
      let fig = row.figures.find((x) => x.op === f.op);
      if (!fig) row.figures.push(fig = { alg, op: f.op, runs: [] });
      fig.runs.push(f.opsPerSec);
    }
    this.rows.set(alg, row);
  }

  row(alg: OpensslAlg): OpensslRow | undefined {
    return this.rows.get(alg);
  }

  all(): OpensslRow[] {
    return this.algs.map((a) => this.rows.get(a)).filter((r): r is OpensslRow => r !== undefined);
  }
}
