/**
 * The three stores as ikecert reads them for listing and matching: certificates (publickeys/),
 * private keys and hint files (ike.privatekeys/), CRLs (crls/). A slot that cannot be read is
 * kept with its error so listings can name it instead of failing.
 *
 * Pairing (§4.5): a key file pairs with the certificate whose public key it holds; a hint file
 * pairs with the certificate whose subject DN is its object label (the identifier ikecert wrote).
 */
import { createHash, createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';

import { OakleyError } from '../../util/errors';
import { certificateDns, certificateNames, renderDn } from '../cert-names';
import { x509 } from '../x509-lib';
import { formatHintFile, looksLikeHint, parseHintFile, type HintFile, type KeyType } from './hint-file';
import type { TokenCertificateReader } from '../token-certificates';
import { listSlots, readPrivateSlot, readSlot, writeNewSlot, type StoreDirs } from './store';

export const FORMAT_ERR = 'IKE_ERR_FORMAT';

export interface CertEntry {
  readonly slot: string;
  readonly cert: X509Certificate;
  readonly subject: string;
  readonly issuer: string;
  readonly names: ReadonlySet<string>;
  readonly spki: Buffer;
  /** Set when the slot is a PKCS#11 hint file: the certificate was read from the token. */
  readonly hint?: HintFile;
}

export type KeyEntry =
  | { readonly slot: string; readonly kind: 'file'; readonly key: KeyObject; readonly spki: Buffer }
  | { readonly slot: string; readonly kind: 'hint'; readonly hint: HintFile }
  | { readonly slot: string; readonly kind: 'bad'; readonly error: string };

export interface CrlEntry {
  readonly slot: string;
  readonly crl: x509.X509Crl;
  readonly issuer: string;
  readonly der: Buffer;
}

/** Normalised DN for comparisons (case and blanks around separators do not matter). */
export const dnKey = (dn: string): string => dn.replace(/\s*([,=+])\s*/g, '$1').trim().toLowerCase();

/** SHA-1 over the DER SubjectPublicKeyInfo, in hex: the "Public key hash" of listings. */
export const publicKeyHash = (spki: Buffer): string => createHash('sha1').update(spki).digest('hex');

/**
 * A private key from PKCS#8 DER, PKCS#1 DER or unencrypted PEM (Solaris takes PKCS#8 DER and its
 * own format; Oakley takes PEM too but stores PKCS#8 DER).
 * @throws OakleyError IKE_ERR_FORMAT naming what was wrong
 */
export function parsePrivateKey(raw: Buffer): KeyObject {
  const text = raw.subarray(0, 200).toString('latin1');
  if (text.includes('-----BEGIN')) {
    if (/ENCRYPTED/.test(raw.toString('latin1'))) throw new OakleyError(FORMAT_ERR, 'encrypted private keys are not supported: decrypt it first (openssl pkcs8 -nocrypt)');
    try { return checkRsa(createPrivateKey(raw.toString('latin1'))); } catch (e) { throw wrap(e); }
  }
  if (raw[0] !== 0x30) throw new OakleyError(FORMAT_ERR, 'not a private key: neither DER (PKCS#8/PKCS#1) nor PEM');
  for (const type of ['pkcs8', 'pkcs1'] as const) {
    try { return checkRsa(createPrivateKey({ key: raw, format: 'der', type })); } catch (e) { if (OakleyError.is(e)) throw e; }
  }
  throw new OakleyError(FORMAT_ERR, 'not a private key: the DER is neither unencrypted PKCS#8 nor PKCS#1 (encrypted PKCS#8 is not supported)');
}

function checkRsa(k: KeyObject): KeyObject {
  if (k.asymmetricKeyType !== 'rsa') throw new OakleyError(FORMAT_ERR, `a ${k.asymmetricKeyType} key: only RSA keys are supported`);
  return k;
}

function wrap(e: unknown): OakleyError {
  return OakleyError.is(e) ? e : new OakleyError(FORMAT_ERR, `not a usable private key: ${(e as Error).message}`);
}

/**
 * A certificate from PEM or BER/DER.
 * @throws OakleyError IKE_ERR_FORMAT
 */
export function parseCertificate(raw: Buffer): X509Certificate {
  try {
    const text = raw.subarray(0, 200).toString('latin1');
    if (text.includes('-----BEGIN')) {
      const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(raw.toString('latin1'));
      if (!m) throw new Error('no CERTIFICATE block in the PEM');
      return new X509Certificate(m[0]);
    }
    return new X509Certificate(raw);
  } catch (e) {
    throw new OakleyError(FORMAT_ERR, `not an X.509 certificate (PEM or BER/DER): ${(e as Error).message}`);
  }
}

/** A CRL from PEM or BER/DER. @throws OakleyError IKE_ERR_FORMAT */
export function parseCrl(raw: Buffer): x509.X509Crl {
  try {
    const text = raw.subarray(0, 200).toString('latin1');
    return new x509.X509Crl(text.includes('-----BEGIN') ? raw.toString('latin1') : raw);
  } catch (e) {
    throw new OakleyError(FORMAT_ERR, `not an X.509 CRL (PEM or BER/DER): ${(e as Error).message}`);
  }
}

export function certEntry(slot: string, cert: X509Certificate, hint?: HintFile): CertEntry {
  return { slot, cert, ...certificateDns(cert.raw), names: certificateNames(cert, slot), spki: cert.publicKey.export({ type: 'spki', format: 'der' }),
    ...(hint ? { hint } : {}) };
}

/**
 * The certificates of publickeys/. A hint file there names a certificate on a token, read through
 * `tokens` (without it, such a slot is skipped with a warning).
 */
export function loadCertificates(dirs: StoreDirs, warn: (m: string) => void, tokens?: TokenCertificateReader): CertEntry[] {
  return listSlots(dirs.publicKeys).flatMap((slot) => {
    try {
      const raw = readSlot(dirs.publicKeys, slot);
      if (looksLikeHint(raw)) {
        const hint = parseHintFile(raw);
        if (!tokens) throw new OakleyError(FORMAT_ERR, `a PKCS#11 hint file for a certificate on token "${hint.token}"`);
        return [certEntry(slot, parseCertificate(tokens.read(hint)), hint)];
      }
      return [certEntry(slot, parseCertificate(raw))];
    } catch (e) {
      warn(`certificate slot ${slot}: skipped: ${(e as Error).message}`);
      return [];
    }
  });
}

export function loadKeys(dirs: StoreDirs): KeyEntry[] {
  return listSlots(dirs.privateKeys).map((slot): KeyEntry => {
    try {
      const raw = readPrivateSlot(dirs.privateKeys, slot);
      if (looksLikeHint(raw)) return { slot, kind: 'hint', hint: parseHintFile(raw) };
      const key = parsePrivateKey(raw);
      return { slot, kind: 'file', key, spki: createPublicKey(key).export({ type: 'spki', format: 'der' }) };
    } catch (e) {
      return { slot, kind: 'bad', error: (e as Error).message };
    }
  });
}

export function loadCrls(dirs: StoreDirs, warn: (m: string) => void): CrlEntry[] {
  return listSlots(dirs.crls).flatMap((slot) => {
    try {
      const raw = readSlot(dirs.crls, slot, true);
      const crl = parseCrl(raw);
      return [{ slot, crl, issuer: renderDn(Buffer.from(crl.issuerName.toArrayBuffer())), der: Buffer.from(crl.rawData) }];
    } catch (e) {
      warn(`CRL slot ${slot}: skipped: ${(e as Error).message}`);
      return [];
    }
  });
}

/** A hint file's key type from a certificate's signature algorithm (sha1WithRSA -> rsa-sha1). */
export function keyTypeOfCertificate(cert: X509Certificate): KeyType {
  const alg = new x509.X509Certificate(cert.raw).signatureAlgorithm as { name?: string; hash?: { name?: string } };
  return alg.hash?.name === 'SHA-1' ? 'rsa-sha1' : alg.hash?.name === 'MD5' ? 'rsa-md5' : 'rsa-sha256';
}

/**
 * Writes a certificate's publickeys slot as a hint file (§4.3 `certdb -a -T`, §4.5): the
 * certificate lives on `token` under the CKA_LABEL `object` (its subject DN). Mode 0600 as every
 * hint file; no PIN (certificate objects are public).
 * @returns the slot
 */
export function writeCertificateHint(dirs: StoreDirs, token: string, object: string, cert: X509Certificate): string {
  return writeNewSlot(dirs.publicKeys, formatHintFile({ token, object, keyType: keyTypeOfCertificate(cert) }), 0o600, false);
}

/** The key that pairs with a certificate (§4.5), if any. */
export function keyForCert(keys: readonly KeyEntry[], c: CertEntry): KeyEntry | undefined {
  return keys.find((k) => (k.kind === 'file' && k.spki.equals(c.spki))
    || (k.kind === 'hint' && k.hint.label !== undefined && dnKey(k.hint.label) === dnKey(c.subject)));
}

/** The certificate that pairs with a key, if any. */
export function certForKey(certs: readonly CertEntry[], k: KeyEntry): CertEntry | undefined {
  return certs.find((c) => keyForCert([k], c) !== undefined);
}
