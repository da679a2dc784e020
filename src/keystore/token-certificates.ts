/**
 * Certificates kept on a PKCS#11 token and represented in publickeys/ by a hint file
 * (solaris-ike.md §4.3 `certdb -a -T`, §4.5): the hint names the token (line 1) and the
 * certificate object's CKA_LABEL, or an RFC 7512 URI with object= and/or id= (line 3). Certificate
 * objects are public (ikecert stores them CKA_PRIVATE false), so reading one needs no login.
 *
 * The token is the one this process already has open under that label (the daemon's
 * pkcs11_token), else it is opened here without a PIN on `module` and closed by close().
 */
import * as P from 'pkcs11js';

import { openTokenNamed, Pkcs11Token } from '../crypto/pkcs11/token';
import { findSoftHsmModule } from '../crypto/pkcs11/softhsm';
import { CryptoErr, OakleyError } from '../util/errors';
import type { HintFile } from './ikecert/hint-file';

export class TokenCertificateReader {
  private readonly opened = new Map<string, Pkcs11Token>();

  /** @param module the PKCS#11 library for tokens not open yet (default: SoftHSM2's, if installed) */
  constructor(private readonly module: () => string | undefined) {}

  /**
   * The DER certificate a hint file names.
   * @throws OakleyError NO_TOKEN (library or token missing), TOKEN_OBJECT (no or several objects)
   */
  read(hint: HintFile): Buffer {
    const token = this.token(hint.token);
    const t: P.Template = [{ type: P.CKA_CLASS, value: P.CKO_CERTIFICATE }];
    if (hint.label !== undefined) t.push({ type: P.CKA_LABEL, value: hint.label });
    if (hint.id !== undefined) t.push({ type: P.CKA_ID, value: hint.id });
    const found = token.find(t, 2);
    if (found.length !== 1) {
      throw new OakleyError(CryptoErr.TOKEN_OBJECT,
        `${found.length ? 'more than one' : 'no'} certificate object "${hint.object}" on PKCS#11 token "${hint.token}"`, { label: hint.token });
    }
    return Buffer.from(token.attribute(found[0]!, P.CKA_VALUE));
  }

  private token(label: string): Pkcs11Token {
    const open = openTokenNamed(label) ?? this.opened.get(label);
    if (open) return open;
    const module = this.module() ?? findSoftHsmModule();
    if (!module) throw new OakleyError(CryptoErr.NO_TOKEN, `no PKCS#11 library to read token "${label}" with (set pkcs11_path)`);
    const token = new Pkcs11Token({ module, tokenLabel: label });
    this.opened.set(label, token);
    return token;
  }

  /** Closes the tokens opened here. */
  close(): void {
    for (const t of this.opened.values()) t.close();
    this.opened.clear();
  }
}
