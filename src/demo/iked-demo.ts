/**
 * `npm run demo`: tools/iked daemons on 127.0.0.1 (different ports, own control sockets and
 * --root trees in a temp dir) negotiate with `ikeadm initiate`:
 *
 *  1. A and B with a pre-shared key; `dump p1` and `dump p2` on both sides.
 *  2. A and C with RSA signatures, A's private key on a SoftHSM2 token made for the demo
 *     (`ikecert certlocal -ks -T`): `ikecert tokens`, `certdb -l`, `dump certcache` before and
 *     after `ikeadm token login` (the key is "linked but locked" until then), then the
 *     negotiation, whose signature the token makes. C keeps a file key made by ikecert; each
 *     side pins the other's self-signed certificate with cert_trust.
 *
 * Every daemon is stopped by PID and the temp dir (token directory included) removed. Exit 0
 * when everything worked. Without SoftHSM2 part 2 is skipped with a note.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createSoftHsmToken, findSoftHsmModule } from '../crypto/pkcs11/softhsm';
import { recordDaemon, recordToolRun } from './log-audit';

export const TOOLS = path.resolve(__dirname, '..', '..', '..', 'tools');

export interface RootSpec {
  readonly label: string;
  readonly local: string;
  readonly remote: string;
  readonly remotePort: number;
  readonly psk: string;
}

/** ike/config text for one preshared rule (Oakley `remote_port` names the peer's IKE port). */
export function ikeConfigText(s: RootSpec): string {
  return `# Oakley demo rule
p1_lifetime_secs 3600
{
  label "${s.label}"
  local_addr ${s.local}
  remote_addr ${s.remote}
  remote_port ${s.remotePort}
  p1_xform { auth_method preshared oakley_group 14 encr_alg aes(256..256) auth_alg sha256 }
  p2_pfs 14
}
`;
}

/** Writes DIR/ike/config, DIR/secret/ike.preshared (0600) and DIR/ipsecinit.conf. */
export function writeRoot(dir: string, s: RootSpec): void {
  fs.mkdirSync(path.join(dir, 'ike'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'secret'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'ike', 'config'), ikeConfigText(s));
  fs.writeFileSync(path.join(dir, 'secret', 'ike.preshared'),
    `{\n  localidtype IP\n  localid ${s.local}\n  remoteidtype IP\n  remoteid ${s.remote}\n  key "${s.psk}"\n}\n`, { mode: 0o600 });
  fs.chmodSync(path.join(dir, 'secret', 'ike.preshared'), 0o600);
  fs.writeFileSync(path.join(dir, 'ipsecinit.conf'), `{laddr ${s.local} raddr ${s.remote}} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}\n`);
}

/** Free UDP ports on 127.0.0.1 (bound together, then released). */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const socks = await Promise.all(Array.from({ length: n }, () => new Promise<dgram.Socket>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = socks.map((s) => s.address().port);
  for (const s of socks) s.close();
  return ports;
}

export interface Run { code: number | null; stdout: string; stderr: string }

/** Runs tools/<tool>; `input` (a PIN line, a certificate) goes to its standard input. */
export function runTool(tool: string, args: readonly string[], timeoutMs = 30_000, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(TOOLS, tool), ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) p.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      recordToolRun(tool, args, input, stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Daemon { readonly proc: ChildProcess; readonly control: string; log: string }

/** Starts tools/iked in the foreground and waits for its control socket. */
export async function startDaemon(root: string, port: number, natPort: number, extra: readonly string[] = []): Promise<Daemon> {
  const control = path.join(root, 'iked.sock');
  const args = ['--root', root, '--listen', '127.0.0.1', '--port', String(port), '--nat-port', String(natPort), '--control', control, ...extra];
  const proc = spawn(process.execPath, [path.join(TOOLS, 'iked'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  recordDaemon(proc, args, control, root);
  const d: Daemon = { proc, control, log: '' };
  proc.stderr!.on('data', (b) => (d.log += b));
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(control)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`iked did not start (exit ${proc.exitCode}): ${d.log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return d;
}

/** SIGTERM, then SIGKILL after `ms`. @returns the exit code (null when killed) */
export function stopDaemon(d: Daemon, ms = 5000): Promise<number | null> {
  const p = d.proc;
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
    p.kill('SIGTERM');
  });
}

const TOKEN = 'oakley-demo';
const DEMO_PIN = '52718364';
const DN_A = 'C=US, O=Oakley Demo, CN=iked-a.demo';
const DN_C = 'C=US, O=Oakley Demo, CN=iked-c.demo';

/** ike/config for an rsa_sig rule between DN identities, pinning the peer's certificate. */
function certRuleText(label: string, own: string, peer: string, remotePort: number): string {
  return `{
  label "${label}"
  local_addr 127.0.0.1
  remote_addr 127.0.0.1
  remote_port ${remotePort}
  local_id_type dn
  local_id "${own}"
  remote_id "${peer}"
  p1_xform { auth_method rsa_sig oakley_group 14 encr_alg aes(256..256) auth_alg sha256 }
  p2_pfs 14
}
`;
}

async function main(): Promise<number> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-iked-demo-'));
  const daemons: Daemon[] = [];
  let ok = true;
  const step = async (title: string, tool: string, args: string[], input?: string): Promise<Run> => {
    console.log(`\n$ ${tool} ${args.join(' ')}    # ${title}`);
    const r = await runTool(tool, args, 60_000, input);
    process.stdout.write(r.stdout);
    if (r.stderr) process.stdout.write(r.stderr);
    if (r.code !== 0) {
      ok = false;
      console.log(`(exit status ${r.code})`);
    }
    return r;
  };
  try {
    const [portA, natA, portB, natB, portC, natC] = await freeUdpPorts(6);
    const psk = 'oakley demo pre-shared key';
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    const c = path.join(tmp, 'c');
    writeRoot(a, { label: 'demo-a-to-b', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portB!, psk });
    writeRoot(b, { label: 'demo-b-to-a', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portA!, psk });

    // Part 2's keys and certificates are made before the daemons start: SoftHSM builds its slot
    // list at C_Initialize, so A must find the token already there.
    const module = findSoftHsmModule();
    if (module) {
      console.log(`# SoftHSM2 token "${TOKEN}" for A's private key, in ${path.join(tmp, 'hsm')} (SOFTHSM2_CONF, inherited by ikecert and iked)`);
      createSoftHsmToken({ dir: path.join(tmp, 'hsm'), label: TOKEN, soPin: '10293847', pin: DEMO_PIN, module });
      await step('the token, as ikecert sees the library', 'ikecert', ['tokens', '--pkcs11-module', module]);
      await step('A: key pair generated on the token, self-signed certificate (PIN on standard input)', 'ikecert',
        ['certlocal', '-ks', '-m', '2048', '-t', 'rsa-sha256', '-D', DN_A, '-A', 'IP=127.0.0.1', '-T', TOKEN, '--pkcs11-module', module, '--root', a], `${DEMO_PIN}\n`);
      await step('C: key pair in a file', 'ikecert', ['certlocal', '-ks', '-m', '2048', '-D', DN_C, '--root', c]);
      for (const [from, to] of [[a, c], [c, a]] as const) {
        const e = await runTool('ikecert', ['certdb', '-e', 'SLOT=0', '--root', from]);
        await step(`${path.basename(to).toUpperCase()} imports ${path.basename(from).toUpperCase()}'s certificate`, 'ikecert', ['certdb', '-a', '--root', to], e.stdout);
      }
      await step('A\'s certificates: its own (key on the token) and C\'s', 'ikecert', ['certdb', '-l', '--root', a]);
      fs.appendFileSync(path.join(a, 'ike', 'config'), certRuleText('demo-a-to-c', DN_A, DN_C, portC!));
      fs.writeFileSync(path.join(a, 'ike', 'config'), `pkcs11_path "${module}"\npkcs11_token "${TOKEN}"\ncrypto_path ke node\n` +
        `cert_trust "${DN_C}"\n${fs.readFileSync(path.join(a, 'ike', 'config'), 'utf8')}`);
      fs.writeFileSync(path.join(c, 'ike', 'config'), `cert_trust "${DN_A}"\n${certRuleText('demo-c-to-a', DN_C, DN_A, portA!)}`);
      fs.writeFileSync(path.join(c, 'ipsecinit.conf'), '{laddr 127.0.0.1 raddr 127.0.0.1} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}\n');
    } else {
      console.log('# SoftHSM2 is not installed: the token-backed certificate rule is skipped');
    }

    console.log(`# iked A: 127.0.0.1 port ${portA} (NAT-T ${natA}); iked B: 127.0.0.1 port ${portB} (NAT-T ${natB})` +
      (module ? `; iked C: 127.0.0.1 port ${portC} (NAT-T ${natC})` : ''));
    daemons.push(await startDaemon(a, portA!, natA!));
    daemons.push(await startDaemon(b, portB!, natB!));
    if (module) daemons.push(await startDaemon(c, portC!, natC!));
    console.log(`# daemon PIDs: ${daemons.map((d) => d.proc.pid).join(' ')}`);
    const [dA, dB, dC] = daemons;
    await step('A initiates (pre-shared key)', 'ikeadm', ['--control', dA!.control, 'initiate', 'demo-a-to-b']);
    for (const [name, d] of [['A', dA!], ['B', dB!]] as const) {
      await step(`phase 1 SAs on ${name}`, 'ikeadm', ['--control', d.control, 'dump', 'p1']);
      await step(`phase 2 SAs on ${name}`, 'ikeadm', ['--control', d.control, 'dump', 'p2']);
    }
    if (dC) {
      await step('A\'s certificate cache: the token is logged out, so the key is locked', 'ikeadm', ['--control', dA!.control, 'dump', 'certcache']);
      await step('unlock the token in the running daemon (PIN on standard input)', 'ikeadm', ['--control', dA!.control, 'token', 'login', TOKEN], `${DEMO_PIN}\n`);
      await step('A\'s certificate cache after token login', 'ikeadm', ['--control', dA!.control, 'dump', 'certcache']);
      // `new`: a fresh Main Mode under this rule. Without it the engine reuses the ISAKMP SA it
      // already has with 127.0.0.1 (B's, found by peer address only) for the Quick Mode.
      await step('A initiates (RSA signature made by the token)', 'ikeadm', ['--control', dA!.control, 'initiate', 'demo-a-to-c', 'new']);
      await step('phase 1 SAs on C', 'ikeadm', ['--control', dC.control, 'dump', 'p1']);
      await step('C\'s certificate cache', 'ikeadm', ['--control', dC.control, 'dump', 'certcache']);
    }
  } catch (e) {
    ok = false;
    console.error(`demo failed: ${(e as Error).message}`);
  } finally {
    for (const d of daemons) {
      const code = await stopDaemon(d);
      if (code !== 0) {
        ok = false;
        console.error(`iked exited with ${code}; its log:\n${d.log}`);
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(ok ? '\n# demo OK' : '\n# demo FAILED');
  return ok ? 0 : 1;
}

if (require.main === module) main().then((c) => process.exit(c), () => process.exit(1));
