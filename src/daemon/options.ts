/**
 * Command line of tools/iked: the Solaris in.iked options (solaris-ike.md §5.1) and Oakley's own,
 * which let daemons run unprivileged and side by side in tests.
 *
 *   iked [-d] [-f FILE] [-p LEVEL] [-D FLAGS] [-N] [--root DIR] [--listen ADDR]... [--port N]
 *        [--nat-port N] [--control PATH] [--kernel memory|xfrm] [--kernel-flush] [--log FILE] [--json-logs]
 *        [--metrics ADDR:PORT]
 *   iked -c [-f FILE] [--root DIR]
 */
import { isIP } from 'node:net';
import { join } from 'node:path';

import { DEBUG_ALL, DEBUG_FLAGS, parseDebugLevel } from '../control/commands';
import { parsePrivilege, type Privilege } from '../util/log';

export interface IkedOptions {
  /** -c: check the configuration and exit 0/1. */
  readonly check: boolean;
  /** -d: foreground, debug = all, keep running with a bad configuration. */
  readonly debug: boolean;
  /** The /etc/inet equivalent: DIR/ike/config, DIR/secret/ike.preshared, ... */
  readonly root: string;
  /** -f: the configuration file (default ROOT/ike/config). */
  readonly configFile: string;
  readonly presharedFile: string;
  readonly ipsecInitFile: string;
  readonly publicKeysDir: string;
  readonly privateKeysDir: string;
  readonly crlsDir: string;
  readonly privilege: Privilege;
  /** Debug category bits (§3.5). */
  readonly debugFlags: number;
  /** -N: no NAT traversal. */
  readonly noNatT: boolean;
  readonly listen: readonly string[];
  readonly port: number;
  readonly natPort: number;
  readonly control: string;
  readonly kernel: 'memory' | 'xfrm';
  /** --kernel-flush: with xfrm, delete the SAs Oakley installed at shutdown (policies always go). */
  readonly kernelFlush: boolean;
  readonly logFile?: string;
  readonly jsonLogs: boolean;
  /** --metrics: Prometheus text endpoint (GET /metrics) on a loopback address. */
  readonly metrics?: { readonly host: string; readonly port: number };
}

export const USAGE = [
  'usage: iked [-d] [-f file] [-p base|modkeys|keymat] [-D flags] [-N] [--root DIR] [--listen ADDR]...',
  '            [--port N] [--nat-port N] [--control PATH] [--kernel memory|xfrm] [--kernel-flush] [--log FILE] [--json-logs]',
  '            [--metrics 127.0.0.1:PORT]',
  '       iked -c [-f file] [--root DIR]',
].join('\n');

export class UsageError extends Error {}

/**
 * A debug level as ikeadm and in.iked read it (§3.5): a number in any C base, or nicknames joined
 * with + and -, where a leading - starts from 0 and subtracts. The grammar is ikeadm's
 * (parseDebugLevel); this only turns its error into a UsageError.
 */
export function parseDebugFlags(text: string): number {
  try {
    return parseDebugLevel(text);
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (known: ${DEBUG_FLAGS.flatMap((f) => f.names).join(', ')}, all)`);
  }
}

/**
 * `--metrics ADDR:PORT` (IPv6 as `[ADDR]:PORT`). Only loopback addresses are accepted: the
 * endpoint has no authentication, and SA counts and failure rates are useful to an attacker.
 */
export function parseMetricsAddress(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:([0-9]+)$/.exec(text) ?? /^([^:]+):([0-9]+)$/.exec(text);
  if (!m || isIP(m[1]!) === 0) throw new UsageError(`--metrics needs ADDR:PORT or [ADDR6]:PORT with a literal address, not "${text}"`);
  const host = m[1]!;
  const loopback = isIP(host) === 4 ? host.startsWith('127.') : host === '::1';
  if (!loopback) throw new UsageError(`--metrics must be a loopback address (127.0.0.0/8 or ::1), not ${host}: the endpoint has no access control`);
  return { host, port: portNumber('--metrics', m[2]!) };
}

function portNumber(opt: string, v: string): number {
  if (!/^[0-9]+$/.test(v) || +v > 65535) throw new UsageError(`${opt} needs a port number from 0 to 65535, not "${v}"`);
  return +v;
}

/** Parses argv (without node and the script); throws UsageError with a message for the user. */
export function parseIkedOptions(argv: readonly string[]): IkedOptions {
  let check = false;
  let debug = false;
  let configFile: string | undefined;
  let root = '/etc/inet';
  let privilege: Privilege = 'base';
  let debugFlags = 0;
  let noNatT = false;
  const listen: string[] = [];
  let port = 500;
  let natPort = 4500;
  let control = '/var/run/oakley/iked.sock';
  let kernel: 'memory' | 'xfrm' = 'memory';
  let kernelFlush = false;
  let logFile: string | undefined;
  let jsonLogs = false;
  let metrics: { host: string; port: number } | undefined;
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${opt} needs a value`);
      return v;
    };
    switch (opt) {
      case '-c': check = true; break;
      case '-d': debug = true; debugFlags |= DEBUG_ALL; break;
      case '-f': configFile = value(); break;
      case '-p': {
        const v = value();
        const p = parsePrivilege(v);
        if (!p) throw new UsageError(`bad privilege level "${v}" (base, modkeys, keymat or 0, 1, 2)`);
        privilege = p;
        break;
      }
      case '-D': debugFlags |= parseDebugFlags(value()); break;
      case '-N': noNatT = true; break;
      case '--root': root = value(); break;
      case '--listen': {
        const a = value();
        if (isIP(a) === 0) throw new UsageError(`--listen needs an IPv4 or IPv6 address, not "${a}"`);
        listen.push(a);
        break;
      }
      case '--port': port = portNumber(opt, value()); break;
      case '--nat-port': natPort = portNumber(opt, value()); break;
      case '--control': control = value(); break;
      case '--kernel': {
        const k = value();
        if (k !== 'memory' && k !== 'xfrm') throw new UsageError(`--kernel must be memory or xfrm, not "${k}"`);
        kernel = k;
        break;
      }
      case '--kernel-flush': kernelFlush = true; break;
      case '--log': logFile = value(); break;
      case '--json-logs': jsonLogs = true; break;
      case '--metrics': metrics = parseMetricsAddress(value()); break;
      default: throw new UsageError(`unknown option "${opt}"`);
    }
  }
  if (port !== 0 && port === natPort) throw new UsageError(`--port and --nat-port are both ${port}`);
  return {
    check, debug, root, privilege, debugFlags, noNatT, port, natPort, control, kernel, kernelFlush, logFile, jsonLogs, ...(metrics ? { metrics } : {}),
    configFile: configFile ?? join(root, 'ike', 'config'),
    presharedFile: join(root, 'secret', 'ike.preshared'),
    ipsecInitFile: join(root, 'ipsecinit.conf'),
    publicKeysDir: join(root, 'ike', 'publickeys'),
    privateKeysDir: join(root, 'secret', 'ike.privatekeys'),
    crlsDir: join(root, 'ike', 'crls'),
    listen: listen.length > 0 ? listen : ['0.0.0.0'],
  };
}
