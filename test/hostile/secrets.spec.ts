/**
 * Secrets never reach logs below keymat (issue 9, "Secrets"). Two real tools/iked daemons on
 * loopback negotiate Main Mode + Quick Mode (PSK) with `-D all`, one at `-p keymat` and the other at
 * `-p base` / `-p modkeys`, with plain and JSON logs. The keymat side logs the derived keys of the
 * negotiation (SKEYID*, KEYMAT, g^xy…); the other side derived the very same values, so every hex
 * string of 16+ octets the keymat log prints is a secret the other side's log and every ikeadm
 * output must not contain. Also checked everywhere: the PSK (text and hex), a PSK added with
 * `ikeadm add preshared`, and a token PIN given to `ikeadm token login` (SoftHSM2, when present).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createSoftHsmToken, findSoftHsmModule } from '../../src/crypto/pkcs11';
import { freeUdpPorts, ikeConfigText, runTool, startDaemon, stopDaemon, writeRoot, type Daemon } from '../../src/demo/iked-demo';

const PSK = 'Secret-PSK-d41d8cd98f00b204';
const ADDED_PSK = '5ec2e7a11ad0ed0b5ec2e7a11ad0ed0b';
const PIN = '73104628';
const TOKEN = 'secrets-audit';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Hex strings of 16+ octets in a keymat log: the derived keys of the negotiation (SKEYID,
 * SKEYID_e, …). The Phase 1 IV is left out: it is a hash of the two public KE values.
 */
export function keymatSecrets(log: string): Set<string> {
  const out = new Set<string>();
  for (const m of log.matchAll(/(\w*)=?\b([0-9a-f]{32,})\b/gi)) if (m[1]!.toLowerCase() !== 'iv') out.add(m[2]!.toLowerCase());
  return out;
}

/** outputs: every ikeadm output of B (below keymat). */
interface Pair { a: Daemon; b: Daemon; outputs: string[] }

describe('secrets stay out of logs below keymat (tools/iked, ikeadm)', function () {
  this.timeout(120_000);
  let tmp: string;
  let module: string | undefined;
  let savedConf: string | undefined;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-secrets-'));
    module = findSoftHsmModule();
    savedConf = process.env.SOFTHSM2_CONF;
    if (module) createSoftHsmToken({ dir: path.join(tmp, 'hsm'), label: TOKEN, soPin: '12345678', pin: PIN, module });
  });
  after(() => {
    if (savedConf === undefined) delete process.env.SOFTHSM2_CONF; else process.env.SOFTHSM2_CONF = savedConf;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function negotiate(tag: string, levelA: string, levelB: string, jsonB: boolean): Promise<Pair> {
    const [pa, na, pb, nb] = await freeUdpPorts(4);
    const roots = [path.join(tmp, `${tag}-a`), path.join(tmp, `${tag}-b`)];
    writeRoot(roots[0]!, { label: 'a-to-b', local: '127.0.0.1', remote: '127.0.0.1', remotePort: pb!, psk: PSK });
    writeRoot(roots[1]!, { label: 'b-to-a', local: '127.0.0.1', remote: '127.0.0.1', remotePort: pa!, psk: PSK });
    if (module) {
      const spec = { label: 'b-to-a', local: '127.0.0.1', remote: '127.0.0.1', remotePort: pa!, psk: PSK };
      fs.writeFileSync(path.join(roots[1]!, 'ike', 'config'), `pkcs11_path "${module}"\npkcs11_token "${TOKEN}"\n${ikeConfigText(spec)}`);
    }
    const a = await startDaemon(roots[0]!, pa!, na!, ['-p', levelA, '-D', 'all']);
    const b = await startDaemon(roots[1]!, pb!, nb!, ['-p', levelB, '-D', 'all', ...(jsonB ? ['--json-logs'] : [])]);
    const outputs: string[] = [];
    const adm = async (d: Daemon, args: string[], input?: string) => {
      const r = await runTool('ikeadm', ['--control', d.control, ...args], 30_000, input);
      // A runs at keymat, where `dump preshared` shows keys by design; B's outputs are checked.
      if (d === b) outputs.push(`$ ikeadm ${args.join(' ')}\n${r.stdout}${r.stderr}`);
      return r;
    };
    const r = await adm(a, ['initiate', 'a-to-b']);
    assert.equal(r.code, 0, r.stderr + a.log + b.log);
    for (let i = 0; i < 100 && !/ESTABLISHED|established/i.test((await adm(b, ['dump', 'p1'])).stdout); i++) await sleep(100);
    await sleep(300);
    for (const d of [a, b]) for (const c of [['dump', 'p1'], ['dump', 'p2'], ['get', 'stats'], ['dump', 'preshared'], ['get', 'debug']]) await adm(d, c);
    const file = path.join(tmp, `${tag}-added.preshared`);
    fs.writeFileSync(file, `{\n  localidtype IP\n  localid 127.0.0.1\n  remoteidtype IP\n  remoteid 10.1.2.3\n  key ${ADDED_PSK}\n}\n`, { mode: 0o600 });
    await adm(b, ['add', 'preshared', file]);
    await adm(b, ['dump', 'preshared']);
    if (module) {
      await adm(b, ['token', 'login', TOKEN], `${PIN}\n`);
      await adm(b, ['token', 'logout', TOKEN]);
    }
    await sleep(200);
    await stopDaemon(a, 3000);
    await stopDaemon(b, 3000);
    return { a, b, outputs };
  }

  function assertClean(what: string, text: string, secrets: Iterable<string>): void {
    const lower = text.toLowerCase();
    for (const s of secrets) {
      assert.ok(!lower.includes(s.toLowerCase()), `${what} contains the secret ${s.slice(0, 12)}…`);
    }
  }

  const fixed = [PSK, Buffer.from(PSK).toString('hex'), ADDED_PSK, PIN];

  for (const [levelB, json] of [['base', true], ['modkeys', false], ['base', false], ['modkeys', true]] as const) {
    it(`-p ${levelB} with ${json ? 'JSON' : 'plain'} logs: no PSK, PIN or derived key of the negotiation (the peer at -p keymat names them)`, async () => {
      const p = await negotiate(`${levelB}-${json}`, 'keymat', levelB, json);
      const keys = keymatSecrets(p.a.log);
      assert.ok(keys.size >= 2, `the keymat log shows the derived keys:\n${p.a.log.slice(-3000)}`);
      assertClean(`iked -p ${levelB} log`, p.b.log, [...fixed, ...keys]);
      assertClean('ikeadm output', p.outputs.join('\n'), [...fixed, ...keys]);
      assert.match(p.b.log, /established|ESTABLISHED/, 'B logged the negotiation');
      assert.match(p.outputs.join('\n'), /\$ ikeadm add preshared/, 'ikeadm add preshared ran');
      if (module) assert.match(p.outputs.join('\n'), /\$ ikeadm token login/, 'ikeadm token login ran');
    });
  }
});
