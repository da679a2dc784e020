/**
 * A throwaway PKI with free-form subjects, made with the openssl CLI in a temp dir at test time:
 * the keystore and daemon specs need DNs such as `C=XX, O=Interop Lab, CN=oakley.test` (and
 * values with commas), which test/exchange/ikev1/pki.ts (fixed `C=US, O=Oakley Test`) cannot
 * issue. Subjects are given in openssl's `/C=XX/O=.../CN=...` form.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    this.openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
    const ext = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', ...(san.length ? [`subjectAltName=${san.join(',')}`] : [])];
    writeFileSync(join(this.dir, `${name}.ext`), `${ext.join('\n')}\n`);
    this.openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-set_serial', String(this.serial++),
      '-out', `${name}.pem`, '-days', String(days), '-sha256', '-extfile', `${name}.ext`);
    return this.read(name);
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
