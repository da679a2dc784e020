/** The suite-wide log audit can fail: secrets planted in recorded logs are reported (by kind, not value). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { presharedSecrets, privilegeOf, recordDaemon, recordSecrets, recordToolRun } from '../../src/demo/log-audit';
import { auditLogs, summaryLine } from './log-audit';

const PSK = 'planted-psk-0d5b7e21';
const HEX_PSK = '9f3a61c07d2e48b5';
const PIN = '83920174';

describe('log audit (checker)', () => {
  let tmp: string;
  let saved: string | undefined;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-log-audit-spec-'));
    fs.mkdirSync(path.join(tmp, 'audit'));
    fs.mkdirSync(path.join(tmp, 'root', 'secret'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'root', 'secret', 'ike.preshared'),
      `{ localid 127.0.0.1 remoteid 127.0.0.2 key "${PSK}" }\n{ localid 127.0.0.1 remoteid 127.0.0.3 key ${HEX_PSK}/64 }\n`);
    saved = process.env.OAKLEY_LOG_AUDIT_DIR;
  });
  /** Puts back the suite's own audit dir (or none). */
  function restore(): void {
    if (saved === undefined) delete process.env.OAKLEY_LOG_AUDIT_DIR;
    else process.env.OAKLEY_LOG_AUDIT_DIR = saved;
  }
  afterEach(() => {
    restore();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A stand-in daemon (node -e) that writes `text` to stderr, recorded at `args`' privilege. */
  async function fakeDaemon(args: string[], text: string): Promise<void> {
    process.env.OAKLEY_LOG_AUDIT_DIR = path.join(tmp, 'audit');
    const proc = spawn(process.execPath, ['-e', `process.stderr.write(${JSON.stringify(text)})`], { stdio: ['ignore', 'ignore', 'pipe'] });
    recordDaemon(proc, args, path.join(tmp, `${privilegeOf(args)}.sock`), path.join(tmp, 'root'));
    await new Promise((r) => proc.on('close', r));
    await new Promise((r) => setTimeout(r, 20)); // the file stream's last write
    restore();
  }

  it('reads levels and preshared keys the way the recorder records them', () => {
    assert.equal(privilegeOf(['--root', '/x']), 'base');
    assert.equal(privilegeOf(['-p', 'modkeys']), 'modkeys');
    assert.equal(privilegeOf(['--privilege=keymat']), 'keymat');
    assert.deepEqual(presharedSecrets('add preshared { localid a remoteid b key abc/12 }\n{ key "two words" }'),
      [{ kind: 'psk', value: 'abc', form: 'hex' }, { kind: 'psk', value: 'two words', form: 'text' }]);
  });

  it('reports a PSK below keymat (text and hex forms) and a PIN at any level, naming file and kind only', async () => {
    await fakeDaemon(['-p', 'modkeys'], `key mismatch: ${PSK} / ${Buffer.from(PSK).toString('hex').toUpperCase()}\n`);
    await fakeDaemon([], `rule loaded, key ${HEX_PSK}\n`);
    await fakeDaemon(['-p', 'keymat'], `keymat may show ${PSK} but never the PIN ${PIN}\n`);
    process.env.OAKLEY_LOG_AUDIT_DIR = path.join(tmp, 'audit');
    recordToolRun('ikeadm', ['--control', path.join(tmp, 'keymat.sock'), 'token', 'login', 'tok'], `${PIN}\n`, '', 'Token "tok" logged in\n');
    recordToolRun('ikeadm', ['--control', path.join(tmp, 'keymat.sock'), 'dump', 'preshared'], undefined, `key ${PSK}\n`, '');
    restore();

    const r = auditLogs(path.join(tmp, 'audit'));
    assert.equal(r.logs, 3);
    assert.equal(r.outputs, 2);
    assert.equal(r.secrets, 3);
    const found = r.findings.map((f) => `${f.level} ${f.kind}`).sort();
    assert.deepEqual(found, ['base PSK (hex)', 'keymat PIN', 'modkeys PSK (hex)', 'modkeys PSK (text)']);
    assert.match(summaryLine(r), /^log audit: 3 logs, 2 tool outputs, 3 secrets checked, 4 found$/);
    for (const f of r.findings) assert.match(f.file, /^daemon-\d+-\d+\.log$/);
    assert.doesNotMatch(JSON.stringify(r.findings), new RegExp(`${PSK}|${PIN}|${HEX_PSK}`));
  });

  it('finds nothing in clean logs', async () => {
    await fakeDaemon(['-p', 'base'], 'Phase 1 SA established\n');
    process.env.OAKLEY_LOG_AUDIT_DIR = path.join(tmp, 'audit');
    recordSecrets([{ kind: 'pin', value: PIN, form: 'text' }]);
    restore();
    const r = auditLogs(path.join(tmp, 'audit'));
    assert.deepEqual([r.logs, r.secrets, r.findings.length], [1, 3, 0]);
  });
});
