/**
 * The X.509 libraries the keystore uses, loaded in one place (issue 6: well-kept libraries, no
 * hand-written ASN.1):
 *
 *  - @peculiar/asn1-x509 (+ asn1-schema): the RFC 5280 schemas — Certificate, Name with its
 *    RelativeDistinguishedName / AttributeTypeAndValue objects, GeneralNames, CertificateList.
 *    Certificate names and subjectAltNames are read from these (cert-names.ts).
 *  - @peculiar/x509: CRLs (X509Crl: signature check, thisUpdate/nextUpdate, revoked entries).
 *  - node:crypto's X509Certificate stays where it suffices: chain links, validity, host/IP/email
 *    checks, public keys.
 *
 * @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
 * metadata polyfill loaded before it: hence the side-effect import first. Its WebCrypto provider
 * is node's own.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as Crypto);

/** md5WithRSAEncryption (RFC 3279 §2.2.1, PKCS #1): the OID of `ikecert -t rsa-md5` signatures. */
export const MD5_WITH_RSA = '1.2.840.113549.1.1.4';

/**
 * RSASSA-PKCS1-v1_5 with MD5 <-> md5WithRSAEncryption (NULL parameters, as for the SHA ones).
 * @peculiar/x509's RsaAlgorithm maps only the SHA hashes; its algorithm provider asks every
 * algorithm registered under diAlgorithm, so this one adds MD5 for `ikecert -t rsa-md5` (the
 * signature itself is made by node:crypto or the token's CKM_MD5_RSA_PKCS: x509-build.ts).
 */
class Md5RsaAlgorithm implements x509.IAlgorithm {
  toAsnAlgorithm(alg: Algorithm & { hash?: string | { name?: string } }): AlgorithmIdentifier | null {
    const hash = typeof alg.hash === 'string' ? alg.hash : alg.hash?.name;
    if (alg.name.toLowerCase() !== 'rsassa-pkcs1-v1_5' || hash?.toUpperCase() !== 'MD5') return null;
    return new AlgorithmIdentifier({ algorithm: MD5_WITH_RSA, parameters: null });
  }

  toWebAlgorithm(alg: AlgorithmIdentifier): Algorithm | null {
    return alg.algorithm === MD5_WITH_RSA ? ({ name: 'RSASSA-PKCS1-v1_5', hash: { name: 'MD5' } } as Algorithm) : null;
  }
}

// The tsyringe container @peculiar/x509 itself resolves from (its own dependency, same instance).
const { container } = createRequire(require.resolve('@peculiar/x509'))('tsyringe') as
  { container: { register(token: string, provider: { useValue: unknown }): void } };
container.register(x509.diAlgorithm, { useValue: new Md5RsaAlgorithm() });

export { x509 };
