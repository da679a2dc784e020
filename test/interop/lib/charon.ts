/**
 * One private strongSwan (charon 5.9.x) instance in a network namespace, driven through swanctl
 * over its own vici socket. What makes it work on these machines (see the harness README in
 * test/interop/README.md): kernel-libipsec before kernel-netlink (no ESP in the kernel), a
 * private mount namespace with /run bound to the instance directory (the pid file is fixed at
 * /var/run/charon.pid), STRONGSWAN_CONF and SWANCTL_DIR per instance, and a `keys` file logger at
 * level 4 for the key comparison.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { run, stopProcess, waitFor, type Result } from './sys';

export const CHARON = '/usr/lib/ipsec/charon';

const PLUGINS = 'random nonce openssl aes sha1 sha2 md5 hmac gmp pem pkcs1 pkcs8 x509 pubkey revocation constraints kdf curve25519 ' +
  'kernel-libipsec kernel-netlink socket-default vici';

export function strongswanConf(dir: string): string {
  const logger = (file: string, levels: string): string => `		${file} {
			path = ${dir}/${file}.log
			time_format = %T
			time_add_ms = yes
			ike_name = yes
			append = no
			flush_line = yes
${levels}
		}`;
  return `# one private interop peer; written by test/interop/lib/charon.ts
charon {
	load_modular = no
	load = ${PLUGINS}
	port = 500
	port_nat_t = 4500
	install_virtual_ip = no
	retransmit_tries = 2
	retransmit_timeout = 1.5
	retransmit_base = 1.4
	dos_protection = no
	block_threshold = 100000
	cookie_threshold = 100000
	init_limit_half_open = 0
	send_vendor_id = yes
	i_dont_care_about_security_and_use_aggressive_mode_psk = yes
	plugins {
		vici {
			socket = unix://${dir}/charon.vici
		}
		socket-default {
			use_ipv6 = no
		}
	}
	filelog {
${logger('charon', '			default = 1\n			ike = 2\n			cfg = 2')}
${logger('keys', '			default = -1\n			ike = 4\n			chd = 4\n			enc = 3\n			esp = 2')}
	}
}
swanctl {
	socket = unix://${dir}/charon.vici
}
`;
}

export interface SwanConn {
  readonly name: string;
  readonly localAddr: string;
  readonly remoteAddr: string;
  readonly aggressive?: boolean;
  /** IKE proposals, e.g. aes128-sha256-modp2048 */
  readonly proposals: string;
  /** ESP proposals; a DH group means PFS */
  readonly espProposals: string;
  readonly localTs: string;
  readonly remoteTs: string;
  readonly auth: 'psk' | 'pubkey';
  readonly localId: string;
  readonly remoteId: string;
  readonly psk?: string;
  /** pubkey: our certificate file and the CA file (absolute paths) */
  readonly cert?: string;
  readonly cacert?: string;
  readonly childRekeySecs?: number;
  readonly childLifeSecs?: number;
  readonly dpdDelaySecs?: number;
  /** IKE_SA uniqueness policy (default never; `no` honours INITIAL_CONTACT) */
  readonly unique?: 'never' | 'no' | 'keep' | 'replace';
}

const quote = (s: string): string => `"${s.replace(/"/g, '\\"')}"`;

export function swanctlConf(c: SwanConn): string {
  const side = (id: string, cert?: string, ca?: string): string =>
    `auth = ${c.auth}\n\t\t\tid = ${quote(id)}` + (cert ? `\n\t\t\tcerts = ${cert}` : '') + (ca ? `\n\t\t\tcacerts = ${ca}` : '');
  const life = c.childRekeySecs !== undefined
    ? `\n\t\t\t\trekey_time = ${c.childRekeySecs}s\n\t\t\t\tlife_time = ${c.childLifeSecs ?? c.childRekeySecs * 2}s\n\t\t\t\trand_time = 0s`
    : '';
  return `connections {
	${c.name} {
		version = 1
		aggressive = ${c.aggressive ? 'yes' : 'no'}
		local_addrs = ${c.localAddr}
		remote_addrs = ${c.remoteAddr}
		proposals = ${c.proposals}
		unique = ${c.unique ?? 'never'}
		dpd_delay = ${c.dpdDelaySecs ?? 0}s
		reauth_time = 0
		rekey_time = 0
		local {
			${side(c.localId, c.cert)}
		}
		remote {
			${side(c.remoteId, undefined, c.cacert)}
		}
		children {
			${c.name} {
				mode = tunnel
				local_ts = ${c.localTs}
				remote_ts = ${c.remoteTs}
				esp_proposals = ${c.espProposals}
				start_action = none
				close_action = none
				dpd_action = clear${life}
			}
		}
	}
}
secrets {
${c.psk !== undefined ? `	ike-${c.name} {\n		id-local = ${quote(c.localId)}\n		id-remote = ${quote(c.remoteId)}\n		secret = ${quote(c.psk)}\n	}\n` : ''}}
`;
}

/** A parsed swanctl value: sections are objects, lists are string arrays. */
export type RawValue = string | string[] | RawSection;
export interface RawSection { [key: string]: RawValue }

/**
 * Parses swanctl's --pretty output: `kind {` opens a message, `key {` a section, `key = value`
 * (values may contain spaces, e.g. DN identities), `key = [` … `]` a list, `}` closes.
 */
export function parsePretty(text: string): { kind: string; body: RawSection }[] {
  const out: { kind: string; body: RawSection }[] = [];
  const stack: RawSection[] = [];
  let list: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (list) {
      if (line === ']') list = undefined;
      else list.push(line);
      continue;
    }
    const open = /^(.+?) \{$/.exec(line);
    if (open) {
      const section: RawSection = {};
      if (stack.length === 0) out.push({ kind: open[1]!, body: section });
      else stack[stack.length - 1]![open[1]!] = section;
      stack.push(section);
      continue;
    }
    if (line === '}') {
      stack.pop();
      continue;
    }
    const kv = /^(\S+) = (.*)$/.exec(line);
    if (!kv || stack.length === 0) continue; // e.g. "list-sas reply {}" or a one-line empty reply
    if (kv[2] === '[') {
      list = [];
      stack[stack.length - 1]![kv[1]!] = list;
    } else {
      stack[stack.length - 1]![kv[1]!] = kv[2]!;
    }
  }
  return out;
}

export interface SwanChild {
  readonly name: string;
  readonly state: string;
  readonly mode: string;
  readonly encap: boolean;
  readonly spiIn: string;
  readonly spiOut: string;
  readonly lifeTime?: number;
}

export interface SwanIkeSa {
  readonly conn: string;
  readonly uniqueId: number;
  readonly state: string;
  readonly initiatorSpi: string;
  readonly responderSpi: string;
  readonly children: SwanChild[];
}

export class Charon {
  private constructor(readonly dir: string, readonly proc: ChildProcess, readonly ns: string) {}

  /** Starts charon in `ns` with its own configuration under `dir` (created). */
  static async start(ns: string, dir: string): Promise<Charon> {
    fs.mkdirSync(path.join(dir, 'run'), { recursive: true });
    for (const d of ['x509', 'x509ca', 'private']) fs.mkdirSync(path.join(dir, 'swanctl', d), { recursive: true });
    fs.writeFileSync(path.join(dir, 'strongswan.conf'), strongswanConf(dir));
    // Left behind by an instance that was killed: a stale socket would look like a ready daemon.
    for (const stale of ['charon.vici', 'run/charon.pid', 'run/charon.ctl']) fs.rmSync(path.join(dir, stale), { force: true });
    const script = `mount --bind ${dir}/run /run && STRONGSWAN_CONF=${dir}/strongswan.conf exec ${CHARON}`;
    const proc = spawn('ip', ['netns', 'exec', ns, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (b) => (err += b));
    const c = new Charon(dir, proc, ns);
    fs.writeFileSync(path.join(dir, 'charon.pid'), String(proc.pid));
    try {
      await waitFor('charon vici socket', async () => {
        if (proc.exitCode !== null) throw new Error(`charon exited ${proc.exitCode}: ${err}`);
        return fs.existsSync(path.join(dir, 'charon.vici')) ? true : undefined;
      }, 15_000);
    } catch (e) {
      await stopProcess(proc);
      throw e;
    }
    return c;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  swanctl(args: readonly string[], timeoutMs = 30_000): Promise<Result> {
    return run('swanctl', [...args, '--uri', `unix://${this.dir}/charon.vici`], {
      env: { ...process.env, STRONGSWAN_CONF: path.join(this.dir, 'strongswan.conf'), SWANCTL_DIR: path.join(this.dir, 'swanctl') },
      timeoutMs,
    });
  }

  /** Writes swanctl.conf and loads it (connections, secrets, and the key/certs in swanctl/). */
  async load(conf: string): Promise<void> {
    const file = path.join(this.dir, 'swanctl', 'swanctl.conf');
    fs.writeFileSync(file, conf);
    const r = await this.swanctl(['--load-all', '--noprompt', '--file', file]);
    if (r.code !== 0) throw new Error(`swanctl --load-all failed: ${r.stderr}${r.stdout}`);
  }

  /** swanctl --initiate --child NAME. @returns the result (code 0 on success) */
  initiate(child: string, timeoutSecs = 20): Promise<Result> {
    return this.swanctl(['--initiate', '--child', child, '--timeout', String(timeoutSecs)], (timeoutSecs + 10) * 1000);
  }

  terminateIke(name: string): Promise<Result> {
    return this.swanctl(['--terminate', '--ike', name, '--timeout', '5'], 15_000);
  }

  terminateChild(name: string): Promise<Result> {
    return this.swanctl(['--terminate', '--child', name, '--timeout', '5'], 15_000);
  }

  async listSas(): Promise<SwanIkeSa[]> {
    const r = await this.swanctl(['--list-sas', '--pretty']);
    if (r.code !== 0) throw new Error(`swanctl --list-sas failed: ${r.stderr}`);
    const out: SwanIkeSa[] = [];
    for (const msg of parsePretty(r.stdout)) {
      if (msg.kind !== 'list-sa event') continue;
      for (const [conn, v] of Object.entries(msg.body)) {
        const sa = v as RawSection;
        const children = Object.values((sa['child-sas'] ?? {}) as RawSection).map((cv) => {
          const c = cv as Record<string, string>;
          return {
            name: c.name!, state: c.state!, mode: c.mode!, encap: c.encap === 'yes', spiIn: c['spi-in']!, spiOut: c['spi-out']!,
            ...(c['life-time'] ? { lifeTime: Number(c['life-time']) } : {}),
          };
        });
        out.push({
          conn, uniqueId: Number(sa.uniqueid), state: sa.state as string,
          initiatorSpi: sa['initiator-spi'] as string, responderSpi: sa['responder-spi'] as string, children,
        });
      }
    }
    return out;
  }

  /** The main log (for failure messages). */
  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'charon.log'), 'utf8');
    } catch {
      return '';
    }
  }

  keyLogText(): string {
    return fs.readFileSync(path.join(this.dir, 'keys.log'), 'utf8');
  }

  async stop(): Promise<void> {
    await stopProcess(this.proc, 5000);
  }

  /** SIGKILL: a crash, so no Delete reaches the peer. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }
}
