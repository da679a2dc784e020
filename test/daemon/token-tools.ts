/**
 * Shared by the token daemon specs: a tools/ script (ikecert, ikeadm) run with standard input
 * (PIN lines, certificates; output kept as latin1 so DER survives), an rsa_sig rule between two
 * daemons, and the temporary SoftHSM2 token's mocha hooks.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createSoftHsmToken, findSoftHsmModule } from '../../src/crypto/pkcs11';
import { stopDaemon, TOOLS, type Daemon, type Run } from '../../src/demo/iked-demo';
import { recordToolRun } from '../../src/demo/log-audit';

export function tool(name: string, args: readonly string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [path.join(TOOLS, name), ...args], { timeout: 60_000, encoding: 'buffer' }, (err, stdout, stderr) => {
      recordToolRun(name, args, input, stdout.toString('latin1'), stderr.toString());
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout: stdout.toString('latin1'), stderr: stderr.toString() });
    });
    p.stdin!.end(input);
  });
}

/** ike/config of a daemon with one rsa_sig rule to its peer on 127.0.0.1 (cert_trust pins the peer). */
export function tokenRuleConfig(opts: { own: string; peer: string; label: string; remotePort: number; token?: string; module?: string;
  /** Where A's key exchange runs (default node; pkcs11: the DH acceleration path on the token). */
  ke?: 'node' | 'pkcs11' }): string {
  const p11 = opts.token ? `pkcs11_path "${opts.module}"\npkcs11_token "${opts.token}"\ncrypto_path ke ${opts.ke ?? 'node'}\n` : '';
  return `${p11}cert_trust "${opts.peer}"
{
  label "${opts.label}"
  local_addr 127.0.0.1
  remote_addr 127.0.0.1
  remote_port ${opts.remotePort}
  local_id_type dn
  local_id "${opts.own}"
  remote_id "${opts.peer}"
  p1_xform { auth_method rsa_sig oakley_group 14 encr_alg aes(128..128) auth_alg sha256 }
  p2_pfs 14
}
`;
}

/** What tokenFixture() sets up for a spec: its temporary directory and the SoftHSM2 module. */
export interface TokenFixture {
  tmp: string;
  module: string;
}

/**
 * Mocha hooks for a spec with one SoftHSM2 token in a temporary directory (tmp/hsm; tmp/a and
 * tmp/b are left for daemon roots): SOFTHSM2_CONF points there, inherited by ikecert and iked,
 * so they see this token directory only. after() stops the daemons, restores SOFTHSM2_CONF and
 * removes everything. Skips the spec when SoftHSM2 is not installed.
 */
export function tokenFixture(prefix: string, label: string, pin: string, daemons: () => readonly (Daemon | undefined)[]): TokenFixture {
  const f: TokenFixture = { tmp: '', module: '' };
  let savedConf: string | undefined;
  before(function () {
    const found = findSoftHsmModule();
    if (!found) this.skip();
    f.module = found!;
    f.tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    savedConf = process.env.SOFTHSM2_CONF;
    createSoftHsmToken({ dir: path.join(f.tmp, 'hsm'), label, soPin: '12345678', pin, module: f.module });
  });
  after(async () => {
    for (const d of daemons()) if (d) await stopDaemon(d, 2000);
    if (savedConf === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = savedConf;
    if (f.tmp) fs.rmSync(f.tmp, { recursive: true, force: true });
  });
  return f;
}
