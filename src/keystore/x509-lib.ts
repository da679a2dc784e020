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
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as Crypto);

export { x509 };
