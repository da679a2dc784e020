/**
 * Certificates and PKCS#10 requests for `ikecert certlocal -ks|-kc`, built with @peculiar/x509
 * (x509-lib.ts; issue 6: no hand-written ASN.1).
 *
 * The signing key is a KeySigner: a node KeyObject for keys kept on disk, or a token private key
 * signed through the crypto suite's PKCS#11 RSA provider (so a token key never leaves the token).
 * @peculiar/x509 signs through a WebCrypto `Crypto`; signerCrypto() is the small adapter that
 * gives it one whose subtle.sign() calls the KeySigner and whose exportKey('spki') returns the
 * signer's public key. Digests and random numbers stay node's WebCrypto.
 */
import { isIP } from 'node:net';
import { webcrypto } from 'node:crypto';

import { OakleyError } from '../../util/errors';
import { x509 } from '../x509-lib';
import type { KeyType } from './hint-file';

export const X509_ERR = 'IKE_ERR_X509';

export type SigHash = 'sha1' | 'sha256' | 'md5';

/** A private key that can sign for a certificate or request. */
export interface KeySigner {
  /** DER SubjectPublicKeyInfo of the public half. */
  readonly spki: Buffer;
  /** PKCS#1 v1.5 signature over `data` with `hash`. */
  sign(data: Buffer, hash: SigHash): Promise<Buffer>;
}

export function hashOf(keyType: KeyType): SigHash {
  return keyType === 'rsa-sha1' ? 'sha1' : keyType === 'rsa-md5' ? 'md5' : 'sha256';
}

const WEB_HASH: Readonly<Record<SigHash, string>> = { sha1: 'SHA-1', sha256: 'SHA-256', md5: 'MD5' };

const arrayBuffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** A `Crypto` for @peculiar/x509 that signs with `signer` (see the file comment). */
function signerCrypto(signer: KeySigner, hash: SigHash): Crypto {
  const subtle = {
    sign: async (_alg: unknown, _key: unknown, data: BufferSource) =>
      arrayBuffer(await signer.sign(Buffer.from(data instanceof ArrayBuffer ? data : (data as ArrayBufferView).buffer.slice(
        (data as ArrayBufferView).byteOffset, (data as ArrayBufferView).byteOffset + (data as ArrayBufferView).byteLength)), hash)),
    exportKey: async (format: string) => {
      if (format !== 'spki') throw new OakleyError(X509_ERR, `key export as ${format} is not possible here`);
      return arrayBuffer(signer.spki);
    },
    digest: (alg: AlgorithmIdentifier, data: BufferSource) => webcrypto.subtle.digest(alg, data),
  };
  return { subtle, getRandomValues: <T extends ArrayBufferView | null>(a: T) => webcrypto.getRandomValues(a as never) as T } as unknown as Crypto;
}

/** Stand-ins for CryptoKeys: @peculiar/x509 reads only `algorithm` from them; the adapter does the rest. */
function keyPair(hash: SigHash): CryptoKeyPair {
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: { name: WEB_HASH[hash] } };
  const key = (type: KeyType2): CryptoKey => ({ algorithm, type, extractable: false, usages: type === 'private' ? ['sign'] : ['verify'] }) as unknown as CryptoKey;
  return { privateKey: key('private'), publicKey: key('public') };
}
type KeyType2 = 'private' | 'public';

/**
 * -D: an X.509 DN written most significant first, "C=US, O=Org, OU=Unit, CN=name" (the order
 * is kept as written; daemon-side rendering in cert-names.ts prints it back the same way).
 * @throws OakleyError IKE_ERR_X509 when it does not parse
 */
export function parseDn(text: string): x509.Name {
  if (!/^\s*[A-Za-z][A-Za-z0-9.]*\s*=/.test(text)) throw new OakleyError(X509_ERR, `-D "${text}": not a DN (expected TAG=value, …, e.g. "C=US, O=Org, CN=gw")`);
  try {
    const n = new x509.Name(text);
    if (n.toJSON().length === 0) throw new Error('empty');
    return n;
  } catch (e) {
    throw new OakleyError(X509_ERR, `-D "${text}": not a DN: ${(e as Error).message}`);
  }
}

const ALT_TAGS: Readonly<Record<string, x509.JsonGeneralName['type']>> = {
  IP: 'ip', DNS: 'dns', EMAIL: 'email', URI: 'url', DN: 'dn', RID: 'id',
};

/**
 * -A values: `tag=value` with tag IP, DNS, EMAIL, URI, DN or RID (§4.2).
 * @throws OakleyError IKE_ERR_X509 "Invalid Alternative Name type: …" or a bad value
 */
export function parseAltNames(list: readonly string[]): x509.JsonGeneralName[] {
  return list.map((a) => {
    const eq = a.indexOf('=');
    const tag = eq > 0 ? a.slice(0, eq).toUpperCase() : '';
    const value = eq > 0 ? a.slice(eq + 1) : '';
    const type = ALT_TAGS[tag];
    if (!type) throw new OakleyError(X509_ERR, `Invalid Alternative Name type: "${a}" (use IP=, DNS=, EMAIL=, URI=, DN= or RID=)`);
    if (value === '') throw new OakleyError(X509_ERR, `-A ${tag}= needs a value`);
    if (type === 'ip' && !isIP(value)) throw new OakleyError(X509_ERR, `-A IP=${value}: not an IPv4 or IPv6 address`);
    if (type === 'id' && !/^\d+(\.\d+)+$/.test(value)) throw new OakleyError(X509_ERR, `-A RID=${value}: not an object identifier`);
    if (type === 'dn') parseDn(value);
    return { type, value };
  });
}

export interface CertificateRequest {
  readonly subject: x509.Name;
  readonly altNames: readonly x509.JsonGeneralName[];
  readonly keyType: KeyType;
}

/**
 * The signature hash of -t. rsa-md5 (md5WithRSAEncryption, registered in x509-lib.ts) is built as
 * Solaris did; OpenSSL 3 accepts such a certificate only at security level 0 (e.g. `openssl
 * verify -auth_level 0`), and strongSwan's default configuration refuses MD5 too.
 */
export function checkSignatureHash(keyType: KeyType): SigHash {
  return hashOf(keyType);
}

function extensions(req: CertificateRequest): x509.Extension[] {
  const out: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
  ];
  if (req.altNames.length) out.push(new x509.SubjectAlternativeNameExtension([...req.altNames]));
  return out;
}

/** A self-signed certificate (-ks). */
export async function selfSignedCertificate(signer: KeySigner, req: CertificateRequest, window: { notBefore: Date; notAfter: Date }):
  Promise<x509.X509Certificate> {
  const hash = checkSignatureHash(req.keyType);
  const crypto = signerCrypto(signer, hash);
  const serial = Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)));
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, never a leading zero byte
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: req.subject,
    notBefore: window.notBefore,
    notAfter: window.notAfter,
    keys: keyPair(hash),
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: WEB_HASH[hash] } as Algorithm,
    extensions: [...extensions(req), await x509.SubjectKeyIdentifierExtension.create(arrayBuffer(signer.spki), false, crypto)],
  }, crypto);
}

/** A PKCS#10 request (-kc); the altnames travel as an extensionRequest attribute. */
export async function certificationRequest(signer: KeySigner, req: CertificateRequest): Promise<x509.Pkcs10CertificateRequest> {
  const hash = checkSignatureHash(req.keyType);
  return x509.Pkcs10CertificateRequestGenerator.create({
    name: req.subject,
    keys: keyPair(hash),
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: WEB_HASH[hash] } as Algorithm,
    extensions: extensions(req),
  }, signerCrypto(signer, hash));
}
