/**
 * tools/iked: the daemon's command line (options: src/daemon/options.ts). Runs in the foreground
 * (systemd supervises it; there is no fork); logs to stderr, or to --log FILE (one JSON object per
 * line with --json-logs), until `ikeadm set debug LEVEL FILE` moves the log to FILE.
 *
 * -d is Solaris's debug mode: every debug category, log on stderr, and a configuration that does
 * not load is reported loudly and replaced by an empty one instead of stopping the daemon.
 *
 *   iked -c [-f FILE] [--root DIR]   check the configuration: exit 0 when it is valid, else 1
 *   iked [...]                        run until SIGTERM/SIGINT; SIGHUP re-reads the configuration
 */
import fs from 'node:fs';

import { emptyConfig, loadConfig, startIked, type LoadedConfig } from '../daemon/iked';
import { parseIkedOptions, USAGE, UsageError, type IkedOptions } from '../daemon/options';
import { LogDestination, Logger } from '../util/log';

const say = (msg: string): void => {
  process.stderr.write(`iked: ${msg}\n`);
};

export async function main(argv: string[]): Promise<number> {
  let o: IkedOptions;
  try {
    o = parseIkedOptions(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    say(e.message);
    process.stderr.write(USAGE + '\n');
    return 1;
  }
  if (o.check) {
    try {
      const c = loadConfig(o);
      for (const w of c.warnings) say(`warning: ${w}`);
      process.stdout.write(`Configuration file ${o.configFile} syntactically checks out.\n`);
      return 0;
    } catch (e) {
      say((e as Error).message);
      return 1;
    }
  }
  let dest: LogDestination;
  if (o.logFile && !o.debug) {
    try {
      dest = new LogDestination(fs.openSync(o.logFile, 'a', 0o600), o.logFile);
    } catch (e) {
      say(`cannot open log file: ${(e as Error).message}`);
      return 1;
    }
  } else {
    // -d is Solaris's debug mode: everything on stderr, whatever --log says.
    if (o.logFile) say(`-d: logging to stderr, not ${o.logFile}`);
    dest = new LogDestination();
  }
  const log = new Logger({ level: 'info', debugMask: o.debugFlags, json: o.jsonLogs, privilege: o.privilege, sink: dest.sink });
  if (o.debugFlags !== 0) log.info(`Setting debug level to 0x${o.debugFlags.toString(16)}`);
  let config: LoadedConfig;
  try {
    config = loadConfig(o);
  } catch (e) {
    if (!o.debug) {
      log.error(`configuration error: ${(e as Error).message}`);
      dest.close();
      return 1;
    }
    // Solaris -d (ignore_errors): run with no rules rather than not at all, so the operator can
    // fix the files and send SIGHUP or `ikeadm read rule` while watching the debug output.
    log.error(`CONFIGURATION ERROR, running with NO rules (-d keeps the daemon up): ${(e as Error).message}`);
    log.error('fix the configuration, then send SIGHUP or run `ikeadm read rule` and `ikeadm read preshared`');
    config = emptyConfig(o.configFile);
  }
  let daemon;
  try {
    daemon = await startIked(o, log, config, dest);
  } catch (e) {
    log.error(`cannot start: ${(e as Error).message}`);
    dest.close();
    return 1;
  }
  const d = daemon;
  return new Promise<number>((resolve) => {
    process.on('SIGHUP', () => {
      log.info('SIGHUP: re-reading the configuration');
      d.reload();
    });
    const stop = (sig: string): void => {
      log.info(`${sig}: shutting down`);
      d.close().then(() => {
        log.info('stopped');
        dest.close();
        resolve(0);
      }, (e: unknown) => {
        log.error(`shutdown: ${(e as Error).message}`);
        resolve(1);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** Runs main() on process.argv and exits with its status (called by tools/iked). */
export function run(): void {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      say(String((e as Error).stack ?? e));
      process.exit(1);
    },
  );
}

if (require.main === module) run();
