/**
 * What every ikecert subcommand shares: the store directories under --root, standard input (PINs
 * and -a data), output, the PKCS#11 library (ike/config's pkcs11_path, --pkcs11-module, or the
 * SoftHSM2 default) and token opening with a PIN prompt.
 */
import fs from 'node:fs';

import { findSoftHsmModule } from '../../crypto/pkcs11/softhsm';
import type { Pkcs11Token } from '../../crypto/pkcs11/token';
import { CryptoErr, OakleyError } from '../../util/errors';
import { TOKEN_LABEL_LENGTH } from './hint-file';
import type { StdinSource } from './input';
import { USAGE_ERR, type ParsedArgs } from './options';
import { isPkcs11Uri, parsePkcs11Uri } from './pkcs11-uri';
import { configuredPkcs11Path, storeDirs, type StoreDirs } from './store';
import { openToken } from './token-store';
import { TokenCertificateReader } from '../token-certificates';

export interface Output {
  /** Data (certificates, requests, listings). */
  out(data: string | Buffer): void;
  /** Progress and status lines (stderr). */
  note(line: string): void;
}

export class IkecertContext {
  readonly dirs: StoreDirs;
  private readonly tokens: Pkcs11Token[] = [];
  /** Reads certificates that publickeys hint files name from their tokens (no login needed). */
  readonly tokenCertificates = new TokenCertificateReader(() => {
    try {
      return this.module();
    } catch {
      return undefined;
    }
  });

  constructor(readonly args: ParsedArgs, readonly input: StdinSource, readonly io: Output) {
    this.dirs = storeDirs(args.root);
  }

  flag(c: string): boolean {
    return this.args.flags.has(c);
  }

  value(c: string): string | undefined {
    return this.args.values.get(c);
  }

  /** The PKCS#11 library: --pkcs11-module, else ike/config's pkcs11_path, else SoftHSM2's. */
  module(): string {
    const m = this.args.pkcs11Module ?? configuredPkcs11Path(this.dirs.config) ?? findSoftHsmModule();
    if (!m) {
      throw new OakleyError(CryptoErr.NO_TOKEN, `no PKCS#11 library: set pkcs11_path in ${this.dirs.config}, ` +
        'pass --pkcs11-module PATH, or install softhsm2');
    }
    if (!fs.existsSync(m)) throw new OakleyError(CryptoErr.NO_TOKEN, `PKCS#11 library ${m} does not exist`);
    return m;
  }

  /**
   * -T: a token label (at most 32 bytes; the padding is added by the tool) or an RFC 7512 URI
   * with token=.
   */
  tokenLabel(): string | undefined {
    const t = this.value('T');
    if (t === undefined) return undefined;
    const label = isPkcs11Uri(t) ? parsePkcs11Uri(t).token : t;
    if (label === undefined || label.trim() === '') throw new OakleyError(USAGE_ERR, `-T "${t}": no token label`);
    if (Buffer.byteLength(label.trimEnd()) > TOKEN_LABEL_LENGTH) throw new OakleyError(USAGE_ERR, `-T: token label "${label}" is longer than ${TOKEN_LABEL_LENGTH} bytes`);
    return label.trimEnd();
  }

  /** Opens the token, logging in with a prompted PIN when `login`. Closed by close(). */
  async openToken(label: string, login: boolean): Promise<{ token: Pkcs11Token; pin?: string }> {
    const module = this.module();
    const pin = login ? await this.input.pin(`Enter PIN for PKCS#11 token "${label}": `) : undefined;
    const token = openToken(module, label, pin);
    this.tokens.push(token);
    return { token, ...(pin !== undefined ? { pin } : {}) };
  }

  close(): void {
    this.tokenCertificates.close();
    for (const t of this.tokens.splice(0)) t.close();
  }
}
