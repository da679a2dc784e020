/**
 * ikeadm: the administration CLI (solaris-ike.md §3), talking to the daemon over its control
 * socket with the shared frame codec (src/control/frame.ts via ControlClient).
 *
 *   tools/ikeadm [-h] [-n] [-p] [-j] [--control PATH] [command [object [args…]]]
 *
 *   -n  addresses must be literals (no name lookups)
 *   -p  paranoid: key bytes printed as X
 *   -j  JSON output (the daemon's result objects as is)
 *   --control PATH  control socket (default $OAKLEY_CONTROL or /var/run/oakley/ikeadm.sock)
 *
 * With no command it runs interactively, reading commands from stdin until EOF, `exit` or `quit`;
 * errors return to the prompt. Messages go to stderr prefixed `ikeadm: `; exit status 0 on
 * success, 1 on error.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

import { ControlClient } from '../control/client';
import { formatResult, helpText, parseCommand, splitLine, USAGE, type ParsedCommand } from '../control/commands';
import { OakleyError } from '../util/errors';

export const DEFAULT_CONTROL_PATH = '/var/run/oakley/ikeadm.sock';

interface Options { numeric: boolean; paranoid: boolean; json: boolean; control: string; help: boolean; words: string[] }

function parseArgs(argv: string[]): Options {
  const o: Options = { numeric: false, paranoid: false, json: false, control: process.env.OAKLEY_CONTROL || DEFAULT_CONTROL_PATH, help: false, words: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { i++; break; }
    if (a === '--control') {
      const v = argv[++i];
      if (!v) throw new OakleyError('IKE_ERR_USAGE', '--control needs a socket path');
      o.control = v;
    } else if (a.startsWith('--control=')) o.control = a.slice('--control='.length);
    else if (/^-[hnpj]+$/.test(a)) {
      for (const f of a.slice(1)) {
        if (f === 'h') o.help = true;
        else if (f === 'n') o.numeric = true;
        else if (f === 'p') o.paranoid = true;
        else o.json = true;
      }
    } else if (a.startsWith('-') && a.length > 1) throw new OakleyError('IKE_ERR_USAGE', `unknown option '${a}'`);
    else break;
  }
  o.words = argv.slice(i);
  return o;
}

const say = (msg: string): void => {
  process.stderr.write(`ikeadm: ${msg}\n`);
};

/** Reads one line of input (the interactive session's own line source, so a PIN piped after
 * `token login` is not taken for a command). */
export type LineSource = () => Promise<string | undefined>;

/**
 * Reads a PIN (§3.2 `token login`: Solaris prompts without echo). From a terminal: raw mode, no
 * echo, Enter ends it, Ctrl-C aborts. Otherwise the next line of standard input. The PIN is never
 * echoed, logged or put into a message.
 */
async function readPin(prompt: string, nextLine: LineSource): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const line = await nextLine();
    if (line === undefined) throw new OakleyError('IKE_ERR_USAGE', 'no PIN given (standard input ended)');
    return line.replace(/\r$/, '');
  }
  process.stderr.write(prompt);
  // In interactive mode readline listens on stdin too: detach it, so the PIN never becomes a command line.
  const others = stdin.listeners('data') as ((b: Buffer) => void)[];
  for (const l of others) stdin.removeListener('data', l);
  return new Promise((resolve, reject) => {
    let pin = '';
    const done = (err?: Error): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      for (const l of others) stdin.on('data', l);
      if (others.length === 0) stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(pin);
    };
    const onData = (b: Buffer): void => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new OakleyError('IKE_ERR_USAGE', 'PIN entry interrupted'));
        if (ch === '\u007f' || ch === '\b') pin = pin.slice(0, -1);
        else pin += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** The first line of standard input (non-interactive `token login` with a piped PIN). */
const stdinLine: LineSource = async () => {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line;
    return undefined;
  } finally {
    rl.close();
  }
};

class Session {
  private client: ControlClient | undefined;

  constructor(private readonly o: Options, private readonly interactive: boolean, private readonly nextLine: LineSource = stdinLine) {}

  private async connect(): Promise<ControlClient> {
    if (!this.client) {
      try {
        this.client = await ControlClient.connect(this.o.control);
      } catch (e) {
        throw new OakleyError('IKE_ERR_CONNECT', `Unable to communicate with in.iked (${(e as Error).message})`);
      }
    }
    return this.client;
  }

  close(): void {
    this.client?.close();
  }

  /** Runs one command line. @returns false on error */
  async run(words: string[]): Promise<boolean | 'exit'> {
    let parsed: ParsedCommand;
    try {
      parsed = parseCommand(words, { interactive: this.interactive, numeric: this.o.numeric });
    } catch (e) {
      const err = e as OakleyError;
      say(err.message);
      const topic = err.detail?.help as string | undefined;
      if (topic) process.stderr.write(helpText(topic));
      else if (this.interactive) process.stderr.write('Type help for usage info\n');
      else process.stderr.write(USAGE);
      return false;
    }
    if (parsed.kind === 'exit') return 'exit';
    if (parsed.kind === 'help') {
      process.stdout.write(helpText(parsed.topic));
      return true;
    }
    const { command } = parsed;
    const args = { ...parsed.args };
    let outFd: number | undefined;
    let outFile: string | undefined;
    try {
      if ((command.startsWith('add ') || command.startsWith('read ')) && typeof args.file === 'string') {
        // Read with the user's permissions, as Solaris ikeadm opens the file and passes the fd.
        const file = path.resolve(args.file);
        args.text = fs.readFileSync(file, 'utf8');
        args.file = file;
      } else if (command.startsWith('write ')) {
        // Created before asking, O_EXCL and 0600 (§3.2): an existing file is never overwritten.
        outFile = path.resolve(String(args.file));
        outFd = fs.openSync(outFile, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
        args.file = outFile;
      } else if (command === 'set debug' && typeof args.file === 'string') {
        args.file = path.resolve(args.file);
      } else if (command === 'token login') {
        args.pin = await readPin(`Enter PIN for PKCS#11 token '${String(args.label)}': `, this.nextLine);
      }
      const client = await this.connect();
      const resp = await client.request(command, args);
      delete args.pin; // nothing below needs it
      if (!resp.ok) {
        say(resp.error.message);
        if (outFd !== undefined) this.discard(outFd, outFile!);
        return false;
      }
      if (outFd !== undefined) {
        const text = (resp.result as { text?: unknown } | null)?.text;
        if (typeof text !== 'string' || text.length === 0) {
          this.discard(outFd, outFile!);
          say(command === 'write rule' ? 'No policy rule information to write.' : 'No preshared key information to write.');
          return false;
        }
        fs.writeSync(outFd, text);
        fs.closeSync(outFd);
        outFd = undefined;
      }
      // What was written goes to the file only, never to stdout (not even with -j: it may hold keys).
      const result = outFile !== undefined ? { file: outFile } : resp.result;
      const f = formatResult(command, result, { json: this.o.json, paranoid: this.o.paranoid });
      process.stdout.write(f.stdout);
      if (f.stderr) for (const line of f.stderr.trimEnd().split('\n')) say(line);
      return true;
    } catch (e) {
      say((e as Error).message);
      if (outFd !== undefined) this.discard(outFd, outFile!);
      if (OakleyError.is(e, 'IKE_ERR_CONNECT') || OakleyError.is(e, 'IKE_ERR_CLOSED')) this.client = undefined;
      return false;
    }
  }

  private discard(fd: number, file: string): void {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

async function interactive(o: Options): Promise<number> {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const nextLine: LineSource = async () => {
    const r = await lines.next();
    return r.done ? undefined : r.value;
  };
  const session = new Session(o, true, nextLine);
  const prompt = (): void => {
    if (process.stdin.isTTY) process.stdout.write('ikeadm> ');
  };
  prompt();
  for (let line = await nextLine(); line !== undefined; line = await nextLine()) {
    const words = splitLine(line);
    if (words.length) {
      const r = await session.run(words);
      if (r === 'exit') break;
    }
    prompt();
  }
  rl.close();
  session.close();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(argv);
  } catch (e) {
    say((e as Error).message);
    process.stderr.write(USAGE);
    return 1;
  }
  if (o.help) {
    process.stdout.write(USAGE + helpText());
    return 0;
  }
  if (o.words.length === 0) return interactive(o);
  const session = new Session(o, false);
  const r = await session.run(o.words);
  session.close();
  return r === true ? 0 : 1;
}

/** Runs main() on process.argv and sets the exit code (called by tools/ikeadm). */
export function run(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      say(String((e as Error).message ?? e));
      process.exitCode = 1;
    },
  );
}

if (require.main === module) run();
