/**
 * The impairment relay (relay.ts) as a child process, for namespaces: `ip netns exec NS node
 * relay.js CONFIG`. Talks to it over stdin/stdout JSON lines; stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

import type { Endpoint, ImpairmentProfile, RelayConfig, RelayStats } from './relay';

const RELAY_JS = path.join(__dirname, 'relay.js');

interface Line { ready?: Record<string, Endpoint>; stats?: RelayStats; pending?: number; final?: RelayStats; profile?: ImpairmentProfile; error?: string }

export class RelayProcess {
  private readonly waiters: ((l: Line) => void)[] = [];
  stderr = '';
  lastFinal?: RelayStats;

  private constructor(private readonly proc: ChildProcess) {
    readline.createInterface({ input: proc.stdout! }).on('line', (text) => {
      let l: Line;
      try {
        l = JSON.parse(text) as Line;
      } catch {
        return;
      }
      if (l.final) this.lastFinal = l.final;
      this.waiters.shift()?.(l);
    });
    proc.stderr!.on('data', (b) => (this.stderr += b));
  }

  /** Starts the relay inside network namespace `ns` (or here when `ns` is undefined). */
  static async start(config: RelayConfig, ns?: string): Promise<RelayProcess> {
    const argv = [process.execPath, RELAY_JS, JSON.stringify(config)];
    const proc = ns ? spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const r = new RelayProcess(proc);
    const first = await r.next(10_000);
    if (!first.ready) {
      await r.stop();
      throw new Error(`relay did not start: ${JSON.stringify(first)} ${r.stderr}`);
    }
    return r;
  }

  private next(ms: number): Promise<Line> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`relay did not answer within ${ms} ms: ${this.stderr}`)), ms);
      const onExit = (): void => reject(new Error(`relay exited: ${this.stderr}`));
      this.proc.once('exit', onExit);
      this.waiters.push((l) => {
        clearTimeout(t);
        this.proc.removeListener('exit', onExit);
        resolve(l);
      });
    });
  }

  async stats(): Promise<{ stats: RelayStats; pending: number }> {
    const p = this.next(10_000);
    this.proc.stdin!.write('stats\n');
    const l = await p;
    if (!l.stats) throw new Error(`relay: ${JSON.stringify(l)}`);
    return { stats: l.stats, pending: l.pending ?? 0 };
  }

  async setProfile(profile: ImpairmentProfile): Promise<void> {
    const p = this.next(10_000);
    this.proc.stdin!.write(`profile ${JSON.stringify(profile)}\n`);
    const l = await p;
    if (!l.profile) throw new Error(`relay: ${JSON.stringify(l)}`);
  }

  /** Closes stdin (the relay prints its final stats and exits); SIGKILL after `ms`. */
  async stop(ms = 5000): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.stdin!.end();
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(t);
  }
}
