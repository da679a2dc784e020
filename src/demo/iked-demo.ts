/**
 * `npm run demo`: two tools/iked daemons on 127.0.0.1 (different ports, own control sockets and
 * --root trees in a temp dir) negotiate with `ikeadm initiate`; then `dump p1` and `dump p2` on
 * both sides are printed. Both daemons are stopped by PID and the temp dir removed. Exit 0 when
 * everything worked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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

export function runTool(tool: string, args: readonly string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(TOOLS, tool), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Daemon { readonly proc: ChildProcess; readonly control: string; log: string }

/** Starts tools/iked in the foreground and waits for its control socket. */
export async function startDaemon(root: string, port: number, natPort: number, extra: readonly string[] = []): Promise<Daemon> {
  const control = path.join(root, 'iked.sock');
  const proc = spawn(process.execPath, [path.join(TOOLS, 'iked'), '--root', root, '--listen', '127.0.0.1', '--port', String(port),
    '--nat-port', String(natPort), '--control', control, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
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

async function main(): Promise<number> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-iked-demo-'));
  const daemons: Daemon[] = [];
  let ok = true;
  try {
    const [portA, natA, portB, natB] = await freeUdpPorts(4);
    const psk = 'oakley demo pre-shared key';
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    writeRoot(a, { label: 'demo-a-to-b', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portB!, psk });
    writeRoot(b, { label: 'demo-b-to-a', local: '127.0.0.1', remote: '127.0.0.1', remotePort: portA!, psk });
    console.log(`# iked A: 127.0.0.1 port ${portA} (NAT-T ${natA}); iked B: 127.0.0.1 port ${portB} (NAT-T ${natB})`);
    daemons.push(await startDaemon(a, portA!, natA!));
    daemons.push(await startDaemon(b, portB!, natB!));
    const step = async (title: string, tool: string, args: string[]): Promise<void> => {
      console.log(`\n$ ${tool} ${args.join(' ')}    # ${title}`);
      const r = await runTool(tool, args);
      process.stdout.write(r.stdout);
      if (r.stderr) process.stdout.write(r.stderr);
      if (r.code !== 0) {
        ok = false;
        console.log(`(exit status ${r.code})`);
      }
    };
    await step('A initiates', 'ikeadm', ['--control', daemons[0]!.control, 'initiate', 'demo-a-to-b']);
    for (const [name, d] of [['A', daemons[0]!], ['B', daemons[1]!]] as const) {
      await step(`phase 1 SAs on ${name}`, 'ikeadm', ['--control', d.control, 'dump', 'p1']);
      await step(`phase 2 SAs on ${name}`, 'ikeadm', ['--control', d.control, 'dump', 'p2']);
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
