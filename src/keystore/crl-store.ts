/**
 * Certificate revocation lists (solaris-ike.md §1.4 `cert_root` / `ignore_crls` / `use_http`,
 * §4.4 certrldb, §4.5): every CRL in ROOT/ike/crls (PEM, possibly several `X509 CRL` blocks in a
 * file, or DER; any file name; no size limit), and the check of a validated chain against them.
 *
 * For each link of a chain (a certificate and the CA that issued it) the CA's CRLs are those
 * whose issuer is the CA's subject and whose signature verifies with the CA's key. A serial
 * number listed there refuses the certificate with INVALID-CERTIFICATE, naming it, the CA and the
 * revocation date. (RFC 2408 §3.14.1 has no "certificate revoked" notification; IKEv2's
 * AUTHENTICATION_FAILED is not an IKEv1 type. INVALID-CERTIFICATE is the one that says "this
 * certificate is not acceptable", as for an expired one.)
 *
 * What is not there, and why (all logged once per file and CA, never silently):
 *  - No CRL for a CA: accepted. The man page says a root "must have a CRL", but Solaris' code does
 *    not insist (§1.4), and we follow the code.
 *  - A CRL past its nextUpdate (or before its thisUpdate): still applied, with a warning. Its
 *    revocations stay true (revocation is final but for certificateHold); it only misses newer
 *    ones, which is exactly the position Solaris accepts with no CRL at all. Refusing every peer
 *    of the CA instead (fail closed) would be stricter than deleting the stale file, which makes
 *    no sense, and would turn a late CRL publication into an outage.
 *  - A CRL whose signature does not verify with its CA's key: not trusted, so not used at all —
 *    neither to revoke (anyone could then revoke) nor to vouch; the CA is then treated as having
 *    no CRL (above).
 *  - `use_http` (CRL distribution points over HTTP) and `ldap_server`: not supported; only
 *    ROOT/ike/crls is read. Delta CRLs and indirect CRLs (certificateIssuer entries) are not
 *    interpreted.
 *
 * The signature and window checks run at use, not at load, because which CA key a CRL must
 * verify with is known only once a chain has been built (an intermediate may come from the peer).
 * Verified (CRL, CA) pairs are cached for the life of the store; a reload builds a new store.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { X509Certificate } from 'node:crypto';

import { OakleyError } from '../util/errors';
import { NotifyType } from '../wire/ikev1/iana';
import { certificateDns, renderDn, sameDn, subjectNameDer } from './cert-names';
import { KeystoreErr } from './minimal';
import { x509 } from './x509-lib';

export interface StoredCrl {
  /** The file it came from, with `#n` for the n-th block of a PEM file holding several. */
  readonly file: string;
  readonly crl: x509.X509Crl;
  /** The issuer DN as libike renders it, and as DER for name comparison. */
  readonly issuer: string;
  readonly issuerDer: Buffer;
}

/** Reads the CRLs of `dir`; a file that holds none is skipped and named in `warnings`. */
function loadCrls(dir: string, warnings: string[]): StoredCrl[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(`${dir}: cannot list: ${(e as Error).message}`);
    return [];
  }
  const out: StoredCrl[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) throw new Error('not a regular file');
      const raw = readFileSync(file);
      const text = raw.subarray(0, 200).toString('latin1').includes('-----BEGIN') ? raw.toString('latin1') : undefined;
      const blocks: (string | Buffer)[] = text === undefined ? [raw] : text.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
      if (blocks.length === 0) throw new Error('no X509 CRL block in PEM');
      blocks.forEach((b, i) => {
        const crl = new x509.X509Crl(b);
        // The issuer rendered as cert-names renders DNs (the library's own toString differs).
        const issuerDer = Buffer.from(crl.issuerName.toArrayBuffer());
        out.push({ file: blocks.length > 1 ? `${file}#${i + 1}` : file, crl, issuer: renderDn(issuerDer), issuerDer });
      });
    } catch (e) {
      warnings.push(`${file}: skipped, not a usable CRL: ${(e as Error).message}`);
    }
  }
  return out;
}

const subjectOf = (c: X509Certificate): string => certificateDns(c.raw).subject;

export class CrlStore {
  /** (CRL file, CA fingerprint) -> does the CRL's signature verify with that CA's key. */
  private readonly verified = new Map<string, Promise<boolean>>();
  /** Warnings already given, so a stale or untrusted CRL is reported once per store, not per peer. */
  private readonly warned = new Set<string>();

  private constructor(readonly dir: string, readonly crls: readonly StoredCrl[]) {}

  /**
   * Reads ROOT/ike/crls. Never throws: unusable files are skipped and named in `warnings`.
   * @param useHttp ike/config's use_http, reported as unsupported
   */
  static load(dir: string, warnings: string[], useHttp = false): CrlStore {
    if (useHttp) warnings.push(`use_http: fetching CRLs over HTTP is not supported; only the CRLs in ${dir} are used`);
    return new CrlStore(dir, loadCrls(dir, warnings));
  }

  /** No CRLs: ignore_crls, or no crls/ directory configured. */
  static empty(): CrlStore {
    return new CrlStore('', []);
  }

  /**
   * Checks every link of a validated chain against the issuing CA's CRLs (module comment).
   * @param path the chain from the end entity to the anchor (each element issued by the next)
   * @param now ms, for the thisUpdate/nextUpdate window
   * @param warn receives stale or untrusted CRL warnings (once each)
   * @throws OakleyError KeystoreErr.REVOKED (INVALID-CERTIFICATE) for a revoked certificate
   */
  async check(path: readonly X509Certificate[], now: number, warn: (message: string) => void = () => undefined): Promise<void> {
    for (let i = 0; i + 1 < path.length; i++) await this.checkLink(path[i]!, path[i + 1]!, now, warn);
  }

  private async checkLink(cert: X509Certificate, ca: X509Certificate, now: number, warn: (message: string) => void): Promise<void> {
    const caDn = subjectNameDer(ca.raw);
    const once = (key: string, message: string): void => {
      if (this.warned.has(key)) return;
      this.warned.add(key);
      warn(message);
    };
    for (const c of this.crls.filter((x) => sameDn(x.issuerDer, caDn))) {
      if (!(await this.signedBy(c, ca))) {
        once(`sig:${c.file}:${ca.fingerprint256}`, `${c.file}: CRL of "${c.issuer}" is not trusted: its signature does not verify ` +
          `with the key of CA "${subjectOf(ca)}"; it is not used`);
        continue;
      }
      const { thisUpdate, nextUpdate } = c.crl;
      if (now < thisUpdate.getTime() || (nextUpdate && now > nextUpdate.getTime())) {
        once(`window:${c.file}`, `${c.file}: CRL of "${c.issuer}" is valid only from ${thisUpdate.toISOString()} to ` +
          `${nextUpdate?.toISOString() ?? '(no nextUpdate)'}; its revocations are still applied, newer ones are unknown`);
      }
      const entry = c.crl.findRevoked(new x509.X509Certificate(cert.raw));
      if (entry) {
        const reason = entry.reason !== undefined ? `, reason ${x509.X509CrlReason[entry.reason] ?? entry.reason}` : '';
        throw new OakleyError(KeystoreErr.REVOKED, `certificate "${subjectOf(cert)}" (serial ${cert.serialNumber}) was revoked by CA ` +
          `"${subjectOf(ca)}" on ${entry.revocationDate.toISOString()}${reason} (${c.file})`, { notify: NotifyType.INVALID_CERTIFICATE });
      }
    }
  }

  /** Does the CRL's signature verify with the CA's key (cached)? A CRL the library cannot check is not trusted. */
  private signedBy(c: StoredCrl, ca: X509Certificate): Promise<boolean> {
    const key = `${c.file}\0${ca.fingerprint256}`;
    let p = this.verified.get(key);
    if (!p) {
      p = c.crl.verify({ publicKey: new x509.X509Certificate(ca.raw) }).catch(() => false);
      this.verified.set(key, p);
    }
    return p;
  }
}
