/**
 * Suite-wide log audit, recording side (issue 9, "Secrets": keys and PINs never appear in logs
 * below keymat level). When OAKLEY_LOG_AUDIT_DIR is set, the test helpers that start tools/iked
 * or run tools/ikeadm / tools/ikecert call in here, and this module leaves in that directory:
 *
 *   daemon-PID-N.log + .json   the daemon's stderr, sidecar {kind, level} (`-p`, default base)
 *   tool-PID-N.out  + .json    a tool run's stdout+stderr, sidecar {kind, tool, level}
 *   secrets-PID-N.json         secrets the tests fed the daemons: {kind: 'psk' | 'pin', value, form}
 *
 * (PID is the mocha process's, N a counter.) test/hooks/log-audit.ts reads them after the run.
 * Without the variable every function here returns at once: daemons and tools behave as before.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export type AuditLevel = 'base' | 'modkeys' | 'keymat' | 'unknown';

export interface AuditSecret {
  readonly kind: 'psk' | 'pin';
  readonly value: string;
  /** psk: 'text' (quoted ASCII key) or 'hex' (the ike.preshared hex form, /bits stripped). */
  readonly form: 'text' | 'hex';
}

let counter = 0;
/** Control socket -> privilege of the daemon behind it, so ikeadm output gets its daemon's level. */
const levels = new Map<string, AuditLevel>();

export function auditDir(): string | undefined {
  return process.env.OAKLEY_LOG_AUDIT_DIR || undefined;
}

function nextName(kind: string): string {
  return `${kind}-${process.pid}-${++counter}`;
}

/** The `-p LEVEL` / `--privilege LEVEL` of an iked command line (base when absent). */
export function privilegeOf(args: readonly string[]): AuditLevel {
  let level: string = 'base';
  args.forEach((a, i) => {
    if (a === '-p' || a === '--privilege') level = args[i + 1] ?? level;
    else if (a.startsWith('--privilege=')) level = a.slice('--privilege='.length);
  });
  return level === 'base' || level === 'modkeys' || level === 'keymat' ? level : 'unknown';
}

/** The keys of ike.preshared text (or an `ikeadm add preshared { … }` line), as written. */
export function presharedSecrets(text: string): AuditSecret[] {
  const out: AuditSecret[] = [];
  for (const m of text.matchAll(/\bkey\s+(?:"([^"]*)"|([^\s{}]+))/gi)) {
    if (m[1] !== undefined) out.push({ kind: 'psk', value: m[1], form: 'text' });
    else out.push({ kind: 'psk', value: m[2]!.replace(/\/\d+$/, ''), form: 'hex' });
  }
  return out;
}

export function recordSecrets(secrets: readonly AuditSecret[]): void {
  const dir = auditDir();
  if (!dir || secrets.length === 0) return;
  fs.writeFileSync(path.join(dir, `${nextName('secrets')}.json`), JSON.stringify(secrets));
}

/** Records the PSKs of ROOT/secret/ike.preshared (called when a daemon starts on ROOT). */
export function recordRootSecrets(root: string): void {
  if (!auditDir()) return;
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, 'secret', 'ike.preshared'), 'utf8');
  } catch {
    return;
  }
  recordSecrets(presharedSecrets(text));
}

/**
 * Tees a just-spawned tools/iked's stderr into the audit dir. `args` is its command line (for
 * the privilege level), `control` its control socket, `root` its --root (for the PSKs).
 */
export function recordDaemon(proc: ChildProcess, args: readonly string[], control: string, root: string): void {
  const dir = auditDir();
  if (!dir || !proc.stderr) return;
  const level = privilegeOf(args);
  levels.set(path.resolve(control), level);
  recordRootSecrets(root);
  const name = nextName('daemon');
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ kind: 'daemon', level, log: `${name}.log` }));
  const out = fs.createWriteStream(path.join(dir, `${name}.log`), { flags: 'a' });
  proc.stderr.pipe(out);
}

/** Secrets carried by a tool's command: a PIN on stdin, a PSK in an `add preshared` line or file. */
function toolSecrets(tool: string, args: readonly string[], input: string | undefined): AuditSecret[] {
  const out: AuditSecret[] = [];
  const text = input ?? '';
  const tokenLogin = tool === 'ikeadm' && args.includes('token') && args.includes('login');
  const ikecertPin = tool === 'ikecert' && !text.startsWith('-----') && /^[^\n]{4,64}\n?$/.test(text) && text.trim() !== '';
  if ((tokenLogin || ikecertPin) && text.trim() !== '') out.push({ kind: 'pin', value: text.split('\n')[0]!.trim(), form: 'text' });
  if (tool === 'ikeadm' && /preshared/.test(text)) out.push(...presharedSecrets(text));
  if (tool === 'ikeadm' && args.includes('preshared')) {
    for (const a of args) {
      if (!a.includes('/')) continue;
      try {
        out.push(...presharedSecrets(fs.readFileSync(a, 'utf8')));
      } catch {
        // not a readable file (an address, a missing path the test expects to fail)
      }
    }
  }
  return out;
}

/** Records one tools/ikeadm or tools/ikecert run: its secrets, and its output with its level. */
export function recordToolRun(tool: string, args: readonly string[], input: string | undefined, stdout: string, stderr: string): void {
  const dir = auditDir();
  if (!dir || (tool !== 'ikeadm' && tool !== 'ikecert')) return;
  recordSecrets(toolSecrets(tool, args, input));
  const c = args.indexOf('--control');
  const level: AuditLevel = c >= 0 ? levels.get(path.resolve(args[c + 1] ?? '')) ?? 'unknown' : 'base';
  const name = nextName('tool');
  fs.writeFileSync(path.join(dir, `${name}.out`), stdout + stderr);
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ kind: 'tool', tool, level, out: `${name}.out` }));
}
