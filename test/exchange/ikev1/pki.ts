/**
 * A throwaway PKI for the exchange specs, made with the openssl CLI in a temp dir (no network):
 * RSA-2048 CAs and end-entity certificates with DN identities (C=US, O=Oakley Test, CN=...) and
 * subjectAltNames (DNS, IP, email).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'oakley-pki-'));
  private serial = 1;

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** A self-signed CA certificate. */
  ca(name: string, cn: string): Issued {
    this.openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3650',
      '-subj', `/C=US/O=Oakley Test/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    return this.read(name);
  }

  /** An end-entity certificate issued by `ca` with subjectAltNames `san` (e.g. DNS:alice.test). */
  issue(caName: string, name: string, cn: string, san: readonly string[], days = 365): Issued {
    this.openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/C=US/O=Oakley Test/CN=${cn}`);
    const ext = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', ...(san.length ? [`subjectAltName=${san.join(',')}`] : [])];
    writeFileSync(join(this.dir, `${name}.ext`), `${ext.join('\n')}\n`);
    this.openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-set_serial', String(this.serial++),
      '-out', `${name}.pem`, '-days', String(days), '-sha256', '-extfile', `${name}.ext`);
    return this.read(name);
  }

  /** An intermediate CA certificate issued by `ca`. */
  intermediate(caName: string, name: string, cn: string): Issued {
    this.openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/C=US/O=Oakley Test/CN=${cn}`);
    writeFileSync(join(this.dir, `${name}.ext`), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
    this.openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-set_serial', String(this.serial++),
      '-out', `${name}.pem`, '-days', '3650', '-sha256', '-extfile', `${name}.ext`);
    return this.read(name);
  }

  private read(name: string): Issued {
    return { certPem: readFileSync(join(this.dir, `${name}.pem`), 'utf8'), keyPem: readFileSync(join(this.dir, `${name}.key`), 'utf8') };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
