/**
 * A minimal certificate store for RSA signature authentication (tests, small setups): trust
 * anchors (CA certificates), our certificate and private key, and the checks a received
 * certificate must pass before its key may verify a SIG payload:
 *
 *  - the end-entity certificate chains to a trust anchor, possibly through CA certificates the
 *    peer sent too (each link: issuer name matches and the signature verifies with the issuer's
 *    key; intermediates must be CAs), at most `maxChain` links;
 *  - every certificate on the chain is inside its validity window;
 *  - the peer's Phase 1 identity is in the certificate: ID_DER_ASN1_DN equals the subject DER
 *    exactly; FQDN, USER_FQDN and IP addresses must be subjectAltName entries (no wildcards, no
 *    fallback to the subject CN).
 *
 * The private key is loaded through the crypto suite's RSA provider, so it may be a PEM file in
 * software or an object on a PKCS#11 token (SoftHSM in tests). No revocation checking (no CRL, no
 * OCSP): the daemon's keystore checks CRLs (crl-store.ts).
 */
import { X509Certificate } from 'node:crypto';

import type { RsaPrivateKey, RsaPrivateKeySource, RsaProvider, RsaPublicKey } from '../crypto/types';
import { OakleyError } from '../util/errors';
import { NotifyType } from '../wire/ikev1/iana';
import type { IdValue } from '../wire/ikev1/id';
import type { Ikev1Credentials, Ikev1Rule } from '../exchange/ikev1/config';
import { sameDn, subjectNameDer } from './cert-names';

export const KeystoreErr = {
  BAD_CERT: 'IKE_ERR_CERT_ENCODING',
  UNTRUSTED: 'IKE_ERR_CERT_UNTRUSTED',
  EXPIRED: 'IKE_ERR_CERT_EXPIRED',
  ID_MISMATCH: 'IKE_ERR_CERT_ID_MISMATCH',
  NO_CERT: 'IKE_ERR_CERT_UNAVAILABLE',
  /** Listed in its CA's CRL (crl-store.ts). */
  REVOKED: 'IKE_ERR_CERT_REVOKED',
} as const;

export interface MinimalKeystoreOptions {
  /** The RSA provider of the crypto suite (node, native or pkcs11 path). */
  readonly rsa: RsaProvider;
  /** CA certificates we trust (PEM, possibly several in one string, or DER). */
  readonly trustAnchors: readonly (string | Buffer)[];
  /** Our certificate (PEM or DER). */
  readonly certificate?: string | Buffer;
  /** Our private key: PEM/DER bytes or a token object. */
  readonly privateKey?: RsaPrivateKeySource;
  /** Current time in ms for validity checks (default Date.now). */
  readonly now?: () => number;
  /** Longest chain accepted, end entity to anchor (default 4). */
  readonly maxChain?: number;
}

/** Parses PEM (one or more CERTIFICATE blocks) or DER into certificates. */
export function parseCertificates(input: string | Buffer): X509Certificate[] {
  const text = typeof input === 'string' ? input : input.subarray(0, 64).toString('latin1').includes('-----BEGIN') ? input.toString() : undefined;
  try {
    if (text === undefined) return [new X509Certificate(input as Buffer)];
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new Error('no CERTIFICATE block in PEM');
    return blocks.map((b) => new X509Certificate(b));
  } catch (e) {
    throw new OakleyError(KeystoreErr.BAD_CERT, `cannot read certificate: ${(e as Error).message}`, { notify: NotifyType.INVALID_CERT_ENCODING });
  }
}

/** The DER of a certificate's subject Name, as an ID_DER_ASN1_DN payload carries it. */
export function subjectDer(cert: X509Certificate | Buffer | string): Buffer {
  const raw = cert instanceof X509Certificate ? cert.raw : parseCertificates(cert)[0].raw;
  try {
    return subjectNameDer(raw);
  } catch (e) {
    throw new OakleyError(KeystoreErr.BAD_CERT, `cannot find the subject of a certificate: ${(e as Error).message}`,
      { notify: NotifyType.INVALID_CERT_ENCODING });
  }
}

export class MinimalKeystore {
  private constructor(
    private readonly o: MinimalKeystoreOptions,
    readonly anchors: readonly X509Certificate[],
    readonly certificate: X509Certificate | undefined,
    private readonly key: RsaPrivateKey | undefined,
  ) {}

  /** Reads the anchors and our certificate, and loads our private key through the RSA provider. */
  static async open(o: MinimalKeystoreOptions): Promise<MinimalKeystore> {
    const anchors = o.trustAnchors.flatMap((a) => parseCertificates(a));
    const cert = o.certificate !== undefined ? parseCertificates(o.certificate)[0] : undefined;
    const key = o.privateKey ? await o.rsa.loadPrivateKey(o.privateKey) : undefined;
    return new MinimalKeystore(o, anchors, cert, key);
  }

  /** Our identity as ID_DER_ASN1_DN (the subject of our certificate). */
  localDnId(): IdValue {
    if (!this.certificate) throw new OakleyError(KeystoreErr.NO_CERT, 'no local certificate');
    return { kind: 'der-dn', der: subjectDer(this.certificate) };
  }

  /** Subject DNs of the trust anchors, for CR payloads. */
  authorities(): Buffer[] {
    return this.anchors.map((a) => subjectDer(a));
  }

  /**
   * Checks a peer's certificates against the anchors and its identity (module comment).
   * @param certificates DER certificates the peer sent, in any order
   * @returns the verification key of the end-entity certificate
   * @throws OakleyError KeystoreErr.* with detail.notify naming the IKEv1 notification that fits
   */
  async verify(peerId: IdValue, certificates: readonly Buffer[]): Promise<RsaPublicKey> {
    const certs = receivedCertificates(certificates);
    const leaf = endEntityFor(peerId, certs);
    chainToAnchor(leaf, certs.filter((c) => c.ca), this.anchors, (this.o.now ?? Date.now)(), this.o.maxChain);
    return this.o.rsa.loadPublicKey({ der: leaf.raw });
  }

  /** The engine's view: sign with our key, verify peers, name our CAs in CR. */
  credentials(presharedKey: Ikev1Credentials['presharedKey'] = () => undefined): Ikev1Credentials {
    return {
      presharedKey,
      rsaSigner: async () => (this.key ? { key: this.key, ...(this.certificate ? { certificate: this.certificate.raw } : {}) } : undefined),
      rsaVerifier: (_rule: Ikev1Rule, peerId: IdValue, certs: readonly Buffer[]) => this.verify(peerId, certs),
      certificateAuthorities: () => this.authorities(),
    };
  }

  close(): void {
    this.key?.dispose();
  }
}

/**
 * Parses the certificates of a peer's CERT payloads.
 * @throws OakleyError NO_CERT (CERTIFICATE-UNAVAILABLE) when there are none, BAD_CERT when one is not X.509
 */
export function receivedCertificates(certificates: readonly Buffer[]): X509Certificate[] {
  if (certificates.length === 0) {
    throw new OakleyError(KeystoreErr.NO_CERT, 'the peer sent no certificate', { notify: NotifyType.CERTIFICATE_UNAVAILABLE });
  }
  return certificates.flatMap((c) => parseCertificates(c));
}

/**
 * The end-entity certificate that carries the peer's Phase 1 identity (module comment).
 * @throws OakleyError ID_MISMATCH (INVALID-ID-INFORMATION) when none does
 */
export function endEntityFor(peerId: IdValue, certs: readonly X509Certificate[]): X509Certificate {
  const leaves = certs.filter((c) => !c.ca);
  const leaf = leaves.find((c) => idInCertificate(peerId, c));
  if (leaf) return leaf;
  throw new OakleyError(KeystoreErr.ID_MISMATCH,
    `the peer's identity is not the subject or a subjectAltName of ${leaves.length ? `its certificate (${leaves[0].subject.replace(/\n/g, ', ')})` : 'any end-entity certificate it sent'}`,
    { notify: NotifyType.INVALID_ID_INFORMATION });
}

/**
 * Walks from `leaf` to one of `anchors` through `intermediates` (each link: issuer name matches
 * and the signature verifies), checking every validity window on the way.
 * @param maxChain longest chain accepted, end entity to anchor (default 4)
 * @returns the chain, end entity first and anchor last, each certificate issued by the next
 * @throws OakleyError UNTRUSTED (INVALID-CERT-AUTHORITY) or EXPIRED (INVALID-CERTIFICATE)
 */
export function chainToAnchor(leaf: X509Certificate, intermediates: readonly X509Certificate[], anchors: readonly X509Certificate[],
  now: number, maxChain = 4): X509Certificate[] {
  let current = leaf;
  const path = [leaf];
  for (let depth = 0; depth < maxChain; depth++) {
    checkValidity(current, now);
    const anchor = anchors.find((a) => current.checkIssued(a) && current.verify(a.publicKey));
    if (anchor) {
      checkValidity(anchor, now);
      return [...path, anchor];
    }
    const next = intermediates.find((c) => c !== current && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) break;
    current = next;
    path.push(next);
  }
  throw new OakleyError(KeystoreErr.UNTRUSTED,
    `certificate "${leaf.subject.replace(/\n/g, ', ')}" (issuer "${leaf.issuer.replace(/\n/g, ', ')}") does not chain to a trusted CA`,
    { notify: NotifyType.INVALID_CERT_AUTHORITY });
}

/** @throws OakleyError EXPIRED (INVALID-CERTIFICATE) outside the certificate's validity window */
export function checkValidity(c: X509Certificate, now: number): void {
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  if (!(now >= from && now <= to)) {
    throw new OakleyError(KeystoreErr.EXPIRED, `certificate "${c.subject.replace(/\n/g, ', ')}" is valid only from ${c.validFrom} to ${c.validTo}`,
      { notify: NotifyType.INVALID_CERTIFICATE });
  }
}

/** Is the Phase 1 identity the certificate's subject DN or one of its subjectAltNames? */
export function idInCertificate(id: IdValue, c: X509Certificate): boolean {
  switch (id.kind) {
    case 'der-dn': return sameDn(subjectDer(c), id.der);
    case 'fqdn': return c.checkHost(id.name, { subject: 'never', wildcards: false }) !== undefined;
    case 'user-fqdn': return c.checkEmail(id.name, { subject: 'never' }) !== undefined;
    case 'ipv4': case 'ipv6': return c.checkIP(id.address) !== undefined;
    default: return false;
  }
}
