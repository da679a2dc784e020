/**
 * tools/iked: the daemon's command line (options: src/daemon/options.ts). Runs in the foreground;
 * logs to stderr, or to --log FILE (one JSON object per line with --json-logs).
 *
 *   iked -c [-f FILE] [--root DIR]   check the configuration: exit 0 when it is valid, else 1
 *   iked [...]                        run until SIGTERM/SIGINT; SIGHUP re-reads the configuration
 */
import fs from 'node:fs';

import { loadConfig, startIked } from '../daemon/iked';
import { parseIkedOptions, USAGE, UsageError, type IkedOptions } from '../daemon/options';
import { Logger } from '../util/log';

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
  if (o.kernel === 'xfrm') {
    say('--kernel xfrm is not available yet (use --kernel memory)');
    return 1;
  }
  let logFd: number | undefined;
  if (o.logFile) {
    try {
      logFd = fs.openSync(o.logFile, 'a', 0o600);
    } catch (e) {
      say(`cannot open log file: ${(e as Error).message}`);
      return 1;
    }
  }
  const fd = logFd;
  const log = new Logger({
    level: o.debugFlags !== 0 ? 'debug' : 'info',
    json: o.jsonLogs,
    privilege: o.privilege,
    sink: (line) => {
      if (fd !== undefined) fs.writeSync(fd, line + '\n');
      else process.stderr.write(line + '\n');
    },
  });
  let config;
  try {
    config = loadConfig(o);
  } catch (e) {
    log.error(`configuration error: ${(e as Error).message}`);
    return 1;
  }
  let daemon;
  try {
    daemon = await startIked(o, log, config);
  } catch (e) {
    log.error(`cannot start: ${(e as Error).message}`);
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
        if (fd !== undefined) fs.closeSync(fd);
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
