/**
 * ikecert's standard input: PINs and the data of -a.
 *
 * PINs are never taken from the command line (they would show in `ps` and shell history). On a
 * terminal the PIN is prompted for on stderr with echo off (raw mode: Enter ends it, Ctrl-C
 * aborts, Backspace edits). Otherwise standard input is read whole and each prompt takes the
 * next line; what remains after the PIN lines is the data of `-a` (so `(echo PIN; cat key.der) |
 * ikecert certlocal -a -T tok` works: with -T the PIN is read first; `-i FILE` avoids mixing).
 */
import fs from 'node:fs';

import { OakleyError } from '../../util/errors';
import { USAGE_ERR } from './options';

export class StdinSource {
  private buffered?: Buffer;
  private pos = 0;

  constructor(private readonly stdin: NodeJS.ReadStream = process.stdin) {}

  private get isTty(): boolean {
    return this.stdin.isTTY === true;
  }

  private async all(): Promise<Buffer> {
    if (this.buffered) return this.buffered;
    const chunks: Buffer[] = [];
    for await (const c of this.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
    this.buffered = Buffer.concat(chunks);
    return this.buffered;
  }

  /**
   * Reads a PIN. The PIN is never echoed and never part of an error message.
   * @throws OakleyError IKE_ERR_USAGE when input ends before a PIN or the PIN is empty
   */
  async pin(prompt: string): Promise<string> {
    if (this.isTty) return this.ttyPin(prompt);
    const data = await this.all();
    const nl = data.indexOf(0x0a, this.pos);
    const end = nl < 0 ? data.length : nl;
    if (this.pos >= data.length) throw new OakleyError(USAGE_ERR, `no PIN given: standard input ended (${prompt.replace(/:\s*$/, '')})`);
    const pin = data.subarray(this.pos, end).toString('utf8').replace(/\r$/, '');
    this.pos = nl < 0 ? data.length : nl + 1;
    if (pin === '') throw new OakleyError(USAGE_ERR, 'empty PIN');
    return pin;
  }

  private ttyPin(prompt: string): Promise<string> {
    const input = this.stdin;
    process.stderr.write(prompt);
    return new Promise((resolve, reject) => {
      let pin = '';
      input.setRawMode(true);
      input.resume();
      const done = (err?: Error): void => {
        input.removeListener('data', onData);
        input.setRawMode(false);
        input.pause();
        process.stderr.write('\n');
        if (err) reject(err);
        else if (pin === '') reject(new OakleyError(USAGE_ERR, 'empty PIN'));
        else resolve(pin);
      };
      const onData = (b: Buffer): void => {
        for (const ch of b.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return done();
          if (ch === '\u0003' || ch === '\u0004') return done(new OakleyError(USAGE_ERR, 'PIN entry interrupted'));
          if (ch === '\u007f' || ch === '\b') pin = pin.slice(0, -1);
          else pin += ch;
        }
      };
      input.on('data', onData);
    });
  }

  /** The data of -a: `-i FILE`, else the rest of standard input. */
  async data(file?: string): Promise<Buffer> {
    if (file !== undefined) {
      try {
        return fs.readFileSync(file);
      } catch (e) {
        throw new OakleyError('IKE_ERR_IO', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const data = await this.all();
    const rest = data.subarray(this.pos);
    this.pos = data.length;
    if (rest.length === 0) throw new OakleyError(USAGE_ERR, 'nothing to add: standard input is empty (or use -i FILE)');
    return rest;
  }
}
