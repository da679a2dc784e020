/**
 * One updating progress line on stderr: `[12/57] native modp14 ...`. On a terminal the line is
 * rewritten in place; otherwise (CI logs) each step gets its own line.
 */
export class Progress {
  private done = 0;
  private readonly tty = process.stderr.isTTY === true;
  private lastLen = 0;

  constructor(private readonly total: number, private readonly quiet = false) {}

  /** Announces the next step. */
  step(label: string): void {
    this.done++;
    this.show(`[${this.done}/${this.total}] ${label} ...`);
  }

  /** Updates the text of the current step without advancing. */
  note(label: string): void {
    this.show(`[${this.done}/${this.total}] ${label}`);
  }

  private show(text: string): void {
    if (this.quiet) return;
    if (this.tty) {
      const cols = process.stderr.columns || 100;
      const line = text.length > cols - 1 ? text.slice(0, cols - 2) + '…' : text;
      process.stderr.write('\r' + line + ' '.repeat(Math.max(0, this.lastLen - line.length)));
      this.lastLen = line.length;
    } else {
      process.stderr.write(text + '\n');
    }
  }

  /** Clears the line (before the final table goes to stdout). */
  end(): void {
    if (this.quiet || !this.tty) return;
    process.stderr.write('\r' + ' '.repeat(this.lastLen) + '\r');
    this.lastLen = 0;
  }
}
