/**
 * Suite-wide log audit, checking side (issue 9, "Secrets"): a mocha root-hook plugin (required
 * from .mocharc.json; `npm test` sets OAKLEY_LOG_AUDIT_DIR). After the whole run it reads what
 * src/demo/log-audit.ts recorded there and fails the run when
 *   - a PIN appears in any daemon log or tool output, at any privilege level, or
 *   - a PSK (as written, and as hex of its octets) appears in one below keymat.
 * A finding names the file and the secret's kind, never the secret. Without the variable (or
 * with `--no-config`, which skips the plugin) nothing happens.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { AuditLevel, AuditSecret } from '../../src/demo/log-audit';

export interface AuditFinding { readonly file: string; readonly kind: string; readonly level: AuditLevel }
export interface AuditReport {
  readonly logs: number;
  readonly outputs: number;
  readonly secrets: number;
  /** Secrets too short to grep for without matching by chance (hex under 8 digits, text under 6). */
  readonly tooShort: number;
  readonly findings: AuditFinding[];
}

interface Needle { readonly kind: string; readonly text: string; readonly caseless: boolean; readonly everywhere: boolean }

const printable = (s: string) => /^[\x20-\x7e]+$/.test(s);

/** What to grep for one secret: the PIN; a PSK as written and as hex (or its ASCII for a hex key). */
function needlesOf(s: AuditSecret): Needle[] {
  const out: Needle[] = [];
  if (s.kind === 'pin') {
    if (s.value.length >= 4) out.push({ kind: 'PIN', text: s.value, caseless: false, everywhere: true });
    return out;
  }
  if (s.form === 'text') {
    if (s.value.length >= 6) out.push({ kind: 'PSK (text)', text: s.value, caseless: false, everywhere: false });
    const hex = Buffer.from(s.value, 'utf8').toString('hex');
    if (hex.length >= 8) out.push({ kind: 'PSK (hex)', text: hex, caseless: true, everywhere: false });
  } else if (/^[0-9a-f]+$/i.test(s.value)) {
    if (s.value.length >= 8) out.push({ kind: 'PSK (hex)', text: s.value.toLowerCase(), caseless: true, everywhere: false });
    const ascii = Buffer.from(s.value.length % 2 ? `${s.value}0` : s.value, 'hex').toString('latin1');
    if (ascii.length >= 6 && printable(ascii)) out.push({ kind: 'PSK (text)', text: ascii, caseless: false, everywhere: false });
  }
  return out;
}

/** Reads one audit directory and greps every recorded log and output for every recorded secret. */
export function auditLogs(dir: string): AuditReport {
  const names = fs.readdirSync(dir);
  const seen = new Set<string>();
  const secrets: AuditSecret[] = [];
  for (const n of names.filter((x) => x.startsWith('secrets-') && x.endsWith('.json'))) {
    for (const s of JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as AuditSecret[]) {
      const key = `${s.kind}\0${s.form}\0${s.value}`;
      if (!seen.has(key)) {
        seen.add(key);
        secrets.push(s);
      }
    }
  }
  const needles = secrets.map(needlesOf);
  const tooShort = needles.filter((n) => n.length === 0).length;
  const flat = needles.flat();
  const findings: AuditFinding[] = [];
  let logs = 0;
  let outputs = 0;
  for (const n of names.filter((x) => /^(daemon|tool)-.*\.json$/.test(x))) {
    const side = JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')) as { kind: 'daemon' | 'tool'; level: AuditLevel; log?: string; out?: string };
    const file = side.kind === 'daemon' ? side.log! : side.out!;
    if (side.kind === 'daemon') logs++;
    else outputs++;
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, file), 'latin1');
    } catch {
      continue; // a daemon that never wrote a byte (its stream not yet opened)
    }
    const lower = text.toLowerCase();
    const belowKeymat = side.level === 'base' || side.level === 'modkeys';
    const kinds = new Set<string>();
    for (const nd of flat) {
      if (!nd.everywhere && !belowKeymat) continue;
      if ((nd.caseless ? lower : text).includes(nd.text)) kinds.add(nd.kind);
    }
    for (const kind of kinds) findings.push({ file, kind, level: side.level });
  }
  return { logs, outputs, secrets: secrets.length, tooShort, findings };
}

export function summaryLine(r: AuditReport): string {
  return `log audit: ${r.logs} logs, ${r.outputs} tool outputs, ${r.secrets - r.tooShort} secrets checked` +
    `${r.tooShort ? ` (${r.tooShort} too short to grep)` : ''}, ${r.findings.length} found`;
}

export const mochaHooks = {
  afterAll(this: Mocha.Context): void {
    const dir = process.env.OAKLEY_LOG_AUDIT_DIR;
    if (!dir) return;
    this.timeout(60_000);
    const r = auditLogs(dir);
    console.log(summaryLine(r));
    if (r.findings.length) {
      throw new Error(`secrets in logs (${dir}):\n${r.findings.map((f) => `  ${f.file} (${f.level}): ${f.kind}`).join('\n')}`);
    }
  },
};
