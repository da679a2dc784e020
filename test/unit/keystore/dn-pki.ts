/**
 * A throwaway PKI with free-form subjects, made with the openssl CLI in a temp dir at test time:
 * the keystore and daemon specs need DNs such as `C=XX, O=Interop Lab, CN=oakley.test` (and
 * values with commas), which test/exchange/ikev1/pki.ts (fixed `C=US, O=Oakley Test`) cannot
 * issue. Subjects are given in openssl's `/C=XX/O=.../CN=...` form.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DnIssued {
  readonly name: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** The certificate as DER. */
  readonly certDer: Buffer;
}

export class DnPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'oakley-dnpki-'));
  private serial = 100;

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** A self-signed certificate: a CA unless `ca` is false (then a pinned end entity with `san`). */
  selfSigned(name: string, subj: string, opts: { ca?: boolean; san?: readonly string[] } = {}): DnIssued {
    const ext = opts.ca === false
      ? ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', ...(opts.san?.length ? [`subjectAltName=${opts.san.join(',')}`] : [])]
      : ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];
    this.openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3650',
      '-subj', subj, ...ext.flatMap((e) => ['-addext', e]));
    return this.read(name);
  }

  /** An end-entity certificate issued by `caName`, with subjectAltNames (`DNS:x`, `IP:a`, `email:m`). */
  issue(caName: string, name: string, subj: string, san: readonly string[] = [], days = 365): DnIssued {
    const ext = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', ...(san.length ? [`subjectAltName=${san.join(',')}`] : [])];
    return this.sign(caName, name, subj, ext, days);
  }

  /** An intermediate CA certificate issued by `caName` (it can then issue and sign CRLs). */
  issueCa(caName: string, name: string, subj: string): DnIssued {
    return this.sign(caName, name, subj, ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'], 1825);
  }

  private sign(caName: string, name: string, subj: string, ext: readonly string[], days: number): DnIssued {
    this.openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
    writeFileSync(join(this.dir, `${name}.ext`), `${ext.join('\n')}\n`);
    this.openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-set_serial', String(this.serial++),
      '-out', `${name}.pem`, '-days', String(days), '-sha256', '-extfile', `${name}.ext`);
    return this.read(name);
  }

  /**
   * Marks `issued` revoked in `caName`'s database (an `openssl ca` index in the temp dir, made on
   * first use); the next `crl(caName)` lists it.
   * @param reason an RFC 5280 CRLReason name as openssl spells it (keyCompromise, superseded…)
   */
  revoke(caName: string, issued: DnIssued, reason = 'keyCompromise'): void {
    this.openssl('ca', '-config', this.caConfig(caName), '-revoke', `${issued.name}.pem`, '-crl_reason', reason);
  }

  /**
   * A CRL signed by `caName` listing what was revoked so far: PEM text and DER.
   * @param window lastUpdate/nextUpdate as dates (default now .. now + 30 days)
   */
  crl(caName: string, window: { thisUpdate?: Date; nextUpdate?: Date } = {}): { pem: string; der: Buffer } {
    const t = (d: Date): string => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
    const out = `${caName}-${this.serial++}.crl`;
    this.openssl('ca', '-config', this.caConfig(caName), '-gencrl', '-out', out,
      ...(window.thisUpdate ? ['-crl_lastupdate', t(window.thisUpdate)] : []),
      ...(window.nextUpdate ? ['-crl_nextupdate', t(window.nextUpdate)] : ['-crldays', '30']));
    const pem = readFileSync(join(this.dir, out), 'utf8');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    return { pem, der };
  }

  /** The minimal `openssl ca` configuration for revoke/gencrl with `caName`'s key. */
  private caConfig(caName: string): string {
    const conf = join(this.dir, `${caName}.ca.cnf`);
    if (!existsSync(conf)) {
      writeFileSync(join(this.dir, `${caName}.index`), '');
      writeFileSync(join(this.dir, `${caName}.crlnumber`), '01\n');
      writeFileSync(conf, ['[ ca ]', 'default_ca = this', '[ this ]', `database = ${caName}.index`, `crlnumber = ${caName}.crlnumber`,
        `certificate = ${caName}.pem`, `private_key = ${caName}.key`, 'default_md = sha256', ''].join('\n'));
    }
    return conf;
  }

  private read(name: string): DnIssued {
    const certPem = readFileSync(join(this.dir, `${name}.pem`), 'utf8');
    return { name, certPem, keyPem: readFileSync(join(this.dir, `${name}.key`), 'utf8'), certDer: new X509Certificate(certPem).raw };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The key re-encoded: PKCS#8 or PKCS#1, PEM or DER. */
export function keyAs(i: DnIssued, type: 'pkcs8' | 'pkcs1', format: 'pem' | 'der'): string | Buffer {
  const key = createPrivateKey(i.keyPem);
  return format === 'pem' ? key.export({ type, format }) : key.export({ type, format });
}
