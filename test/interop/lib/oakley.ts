/** tools/iked in a network namespace, driven with tools/ikeadm over its control socket. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { recordDaemon, recordToolRun } from '../../../src/demo/log-audit';
import { run, stopProcess, waitFor, type Result } from './sys';

const TOOLS = path.resolve(__dirname, '..', '..', '..', '..', 'tools');

export interface OakleyFiles {
  readonly config: string;
  readonly preshared?: string;
  readonly ipsecinit: string;
  /** extra files under the root, e.g. { 'ike/publickeys/ca.pem': '…' } (mode 0600 under secret/) */
  readonly extra?: Readonly<Record<string, string>>;
}

export function writeOakleyRoot(root: string, f: OakleyFiles): void {
  fs.mkdirSync(path.join(root, 'ike'), { recursive: true });
  fs.mkdirSync(path.join(root, 'secret'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(root, 'ike', 'config'), f.config);
  fs.writeFileSync(path.join(root, 'ipsecinit.conf'), f.ipsecinit);
  if (f.preshared !== undefined) fs.writeFileSync(path.join(root, 'secret', 'ike.preshared'), f.preshared, { mode: 0o600 });
  for (const [rel, text] of Object.entries(f.extra ?? {})) {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: rel.startsWith('secret/') ? 0o700 : 0o755 });
    fs.writeFileSync(file, text, { mode: rel.startsWith('secret/') ? 0o600 : 0o644 });
  }
}

export interface OakleyP1 {
  initiatorCookie: string;
  responderCookie: string;
  localIsInitiator: boolean;
  state: string;
  keys?: { name: string; hex: string }[];
}

export interface OakleyP2 {
  spi: number;
  direction: 'inbound' | 'outbound';
  keys?: { encryption?: string; integrity?: string };
}

export class Oakley {
  log = '';
  private constructor(readonly root: string, readonly proc: ChildProcess, readonly control: string) {}

  /** Starts tools/iked in `ns` listening on `address` (ports 500/4500) at keymat privilege. */
  static async start(ns: string, root: string, address: string): Promise<Oakley> {
    const control = path.join(root, 'iked.sock');
    const args = ['--root', root, '--listen', address, '--control', control, '-p', 'keymat', '-D', 'all'];
    const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, path.join(TOOLS, 'iked'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    recordDaemon(proc, args, control, root);
    const o = new Oakley(root, proc, control);
    proc.stderr!.on('data', (b) => (o.log += b));
    try {
      await waitFor('iked control socket', async () => {
        if (proc.exitCode !== null) throw new Error(`iked exited ${proc.exitCode}: ${o.log}`);
        return fs.existsSync(control) ? true : undefined;
      }, 20_000);
    } catch (e) {
      await stopProcess(proc);
      throw e;
    }
    return o;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async ikeadm(args: readonly string[], timeoutMs = 60_000): Promise<Result> {
    const all = ['--control', this.control, ...args];
    const r = await run(process.execPath, [path.join(TOOLS, 'ikeadm'), ...all], { timeoutMs });
    recordToolRun('ikeadm', all, undefined, r.stdout, r.stderr);
    return r;
  }

  private async json<T>(args: readonly string[]): Promise<T> {
    const r = await this.ikeadm(['-j', ...args]);
    if (r.code !== 0) throw new Error(`ikeadm ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  dumpP1(): Promise<OakleyP1[]> {
    return this.json<OakleyP1[]>(['dump', 'p1']);
  }

  dumpP2(): Promise<OakleyP2[]> {
    return this.json<OakleyP2[]>(['dump', 'p2']);
  }

  initiate(label: string): Promise<Result> {
    return this.ikeadm(['initiate', label]);
  }

  async stop(): Promise<number | null> {
    return stopProcess(this.proc, 5000);
  }

  /** SIGKILL: a crash, so no Delete reaches the peer. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }
}
