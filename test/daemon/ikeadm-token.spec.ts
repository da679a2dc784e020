/**
 * `ikeadm token login|logout LABEL` against a real tools/iked whose ike/config puts RSA and key
 * exchange on a real SoftHSM2 token opened without a PIN (Solaris: the token's keys stay locked
 * until `ikeadm token login`). The PIN goes to ikeadm on standard input (not a terminal); it must
 * never show in ikeadm's output or in the daemon's log. After every command the daemon still
 * answers (`get stats`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createSoftHsmToken, findSoftHsmModule } from '../../src/crypto/pkcs11';
import { freeUdpPorts, ikeConfigText, startDaemon, stopDaemon, TOOLS, writeRoot, type Daemon, type Run } from '../../src/demo/iked-demo';
import { recordToolRun } from '../../src/demo/log-audit';

const LABEL = 'iked-token';
const PIN = '80261357';
const WRONG_PIN = '11223399';

function ikeadm(control: string, args: readonly string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [path.join(TOOLS, 'ikeadm'), '--control', control, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      recordToolRun('ikeadm', ['--control', control, ...args], input, stdout, stderr);
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
    p.stdin!.end(input);
  });
}

describe('ikeadm token login/logout (tools/iked, SoftHSM2)', function () {
  this.timeout(60_000);
  let tmp: string;
  let d: Daemon | undefined;
  let savedConf: string | undefined;
  const outputs: string[] = [];

  const run = async (args: readonly string[], input = ''): Promise<Run> => {
    const r = await ikeadm(d!.control, args, input);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  /** The daemon still serves requests and names the token's library. */
  const stillServing = async (module: string): Promise<void> => {
    const r = await run(['get', 'stats']);
    assert.equal(r.code, 0, r.stderr + d!.log);
    assert.ok(r.stdout.endsWith(`PKCS#11 library linked in from ${module}\n`), r.stdout);
    assert.equal(d!.proc.exitCode, null, d!.log);
  };

  let module: string;
  before(async function () {
    const found = findSoftHsmModule();
    if (!found) this.skip();
    module = found!;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-ikeadm-token-'));
    savedConf = process.env.SOFTHSM2_CONF;
    // Sets SOFTHSM2_CONF, which the daemon inherits: it sees this private token directory only.
    createSoftHsmToken({ dir: path.join(tmp, 'hsm'), label: LABEL, soPin: '12345678', pin: PIN, module });
    const [port, nat] = await freeUdpPorts(2);
    const root = path.join(tmp, 'root');
    const spec = { label: 'tok', local: '127.0.0.1', remote: '127.0.0.1', remotePort: 9, psk: 'k' };
    writeRoot(root, spec);
    fs.writeFileSync(path.join(root, 'ike', 'config'),
      `pkcs11_path "${module}"\npkcs11_token "${LABEL}"\ncrypto_path rsa pkcs11\ncrypto_path ke pkcs11\n${ikeConfigText(spec)}`);
    d = await startDaemon(root, port!, nat!);
  });

  after(async () => {
    if (d) await stopDaemon(d, 2000);
    if (savedConf === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = savedConf;
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('starts with the token open but logged out, and says how to log in', async () => {
    assert.match(d!.log, new RegExp(`PKCS#11 token "${LABEL}" is open without a login \\(no PIN given\\): private keys on it stay locked until 'ikeadm token login ${LABEL}'`));
    assert.doesNotMatch(d!.log, /crypto path is not available/, 'the token path was used, no fallback to node');
    await stillServing(module);
  });

  it('token logout of a token that is not logged in succeeds', async () => {
    const r = await run(['token', 'logout', LABEL]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`PKCS#11 operation successful: logged out of token '${LABEL}'`));
    await stillServing(module);
  });

  it('token login with the PIN on standard input logs the token in', async () => {
    const r = await run(['token', 'login', LABEL], `${PIN}\n`);
    assert.equal(r.code, 0, r.stderr + d!.log);
    assert.match(r.stderr, new RegExp(`PKCS#11 operation successful: logged in to token '${LABEL}'`));
    await stillServing(module);
    // Again: the login in force is kept and reported.
    const again = await run(['-j', 'token', 'login', LABEL], `${PIN}\n`);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { label: LABEL, alreadyLoggedIn: true });
  });

  it('token logout locks the token again; the daemon keeps serving', async () => {
    const r = await run(['-j', 'token', 'logout', LABEL]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { label: LABEL });
    await stillServing(module);
    const twice = await run(['-j', 'token', 'logout', LABEL]);
    assert.equal(twice.code, 0, twice.stderr);
    assert.deepEqual(JSON.parse(twice.stdout), { label: LABEL, notLoggedIn: true });
  });

  it('a wrong PIN is refused with a clear message; the right one works afterwards', async () => {
    const r = await run(['token', 'login', LABEL], `${WRONG_PIN}\n`);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`PKCS#11 login on token "${LABEL}" failed: the PIN was not accepted \\(CKR_PIN_INCORRECT\\)`));
    await stillServing(module);
    const ok = await run(['token', 'login', LABEL], `${PIN}\n`);
    assert.equal(ok.code, 0, ok.stderr);
    const out = await run(['token', 'logout', LABEL]);
    assert.equal(out.code, 0, out.stderr);
    await stillServing(module);
  });

  it('an unknown label is refused, naming the tokens that are open', async () => {
    for (const args of [['token', 'login', 'no-such-token'], ['token', 'logout', 'no-such-token']]) {
      const r = await run(args, `${PIN}\n`);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`No PKCS#11 token labelled "no-such-token" is open in this daemon \\(open tokens: "${LABEL}"\\)`));
    }
    await stillServing(module);
  });

  it('token directory gone: token login names the missing token, the daemon keeps serving; restored, token login brings it back', async () => {
    const tokens = path.join(tmp, 'hsm', 'tokens');
    const ok = await run(['token', 'login', LABEL], `${PIN}\n`);
    assert.equal(ok.code, 0, ok.stderr);
    fs.renameSync(tokens, `${tokens}.away`);
    try {
      const r = await run(['token', 'login', LABEL], `${PIN}\n`);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`PKCS#11 login on token "${LABEL}" failed: token "${LABEL}" is no longer usable \\(C_GetTokenInfo: CKR_GENERAL_ERROR; token directory removed\\?\\); re-initialising the PKCS#11 library failed`));
      await stillServing(module);
      // The lost token forgot its login: logout has nothing to do.
      const out = await run(['-j', 'token', 'logout', LABEL]);
      assert.deepEqual(JSON.parse(out.stdout), { label: LABEL, notLoggedIn: true });
    } finally {
      fs.renameSync(`${tokens}.away`, tokens);
    }
    const back = await run(['-j', 'token', 'login', LABEL], `${PIN}\n`);
    assert.equal(back.code, 0, back.stderr + d!.log);
    assert.deepEqual(JSON.parse(back.stdout), { label: LABEL });
    await stillServing(module);
    const out = await run(['token', 'logout', LABEL]);
    assert.equal(out.code, 0, out.stderr);
  });

  it('the daemon logged every login and logout, and no PIN appears in any output or the log', async () => {
    assert.match(d!.log, /PKCS#11 token logged in by ikeadm/);
    assert.match(d!.log, /PKCS#11 token logged out by ikeadm/);
    assert.match(d!.log, /PKCS#11 login on token "iked-token" failed: the PIN was not accepted/);
    for (const pin of [PIN, WRONG_PIN]) {
      assert.ok(!d!.log.includes(pin), 'PIN in the daemon log');
      for (const o of outputs) assert.ok(!o.includes(pin), `PIN in ikeadm output: ${o}`);
    }
    assert.equal(await stopDaemon(d!), 0, d!.log);
    d = undefined;
  });
});
