/**
 * Certificate names and selectors (solaris-ike.md §1.2 "cert-sel"): the strings a certificate
 * answers to in `cert_root`, `cert_trust`, `local_id` and `remote_id`, and the include/exclude
 * match over them.
 *
 * DNs are rendered as libike does, from the Name's RDN objects as @peculiar/asn1-x509 decodes
 * them (not from node's X509Certificate.subject, whose separators and escaping changed between
 * node releases): RDNs in certificate order, joined by ", ", each `TYPE=value` with commas inside
 * a value escaped as `\,` (written `\\,` in ike/config, whose lexer turns `\\` into `\`).
 * Multi-valued RDNs join their parts with " + ".
 */
import type { X509Certificate } from 'node:crypto';
import { isIPv6 } from 'node:net';

import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AttributeValue, Certificate, GeneralName, id_ce_subjectAltName, Name, SubjectAlternativeName,
} from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';

import { bytesToIpv6, ipv6ToBytes } from '../wire/ikev1/id';

/** Attribute types by OID, with the short names libike prints. */
const ATTRIBUTE: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN', '2.5.4.4': 'SN', '2.5.4.5': 'SERIALNUMBER', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.12': 'T', '2.5.4.42': 'GN', '2.5.4.43': 'I',
  '2.5.4.46': 'DNQ', '1.2.840.113549.1.9.1': 'E', '0.9.2342.19200300.100.1.1': 'UID', '0.9.2342.19200300.100.1.25': 'DC',
};

/**
 * The text of an attribute value. The DirectoryString choices and IA5String arrive decoded
 * (UTF8String as UTF-8, Printable/Teletex as ISO 8859-1, BMPString as UCS-2, UniversalString as
 * UCS-4); NumericString and VisibleString are text too; anything else is shown in RFC 4514 §2.4's
 * `#hex` form of the whole element.
 */
function stringValue(v: AttributeValue): string {
  const text = v.utf8String ?? v.printableString ?? v.teletexString ?? v.bmpString ?? v.universalString ?? v.ia5String;
  if (text !== undefined) return text;
  const any = Buffer.from(v.anyValue ?? new ArrayBuffer(0));
  const el = asn1js.fromBER(any).result;
  if (el instanceof asn1js.NumericString || el instanceof asn1js.VisibleString) return el.getValue();
  return `#${any.toString('hex')}`;
}

/** A decoded Name as libike renders it. */
function renderName(name: Name): string {
  return name.map((rdn) => rdn.map((atv) => `${ATTRIBUTE[atv.type] ?? atv.type}=${stringValue(atv.value).replace(/,/g, '\\,')}`).join(' + ')).join(', ');
}

/**
 * A DER Name (RFC 5280 §4.1.2.4) as libike renders it, e.g. `C=XX, O=Interop Lab, CN=peer-a.test`.
 * @throws Error when the DER is malformed
 */
export function renderDn(der: Buffer): string {
  return renderName(AsnConvert.parse(der, Name));
}

/**
 * Whether two DER Names are the same name: equal octets, or equal after decoding (RFC 5280 §7.1:
 * the string types may differ — strongSwan encodes an ID_DER_ASN1_DN with PrintableString where
 * openssl wrote UTF8String — and values compare case-insensitively with white space collapsed).
 * Malformed DER is never equal to anything but itself.
 */
export function sameDn(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  try {
    const norm = (d: Buffer): string => renderDn(d).split(', ').map((part) => part.replace(/\s+/g, ' ').trim().toLowerCase()).join(', ');
    return norm(a) === norm(b);
  } catch {
    return false;
  }
}

/**
 * The decoded certificate (RFC 5280 §4.1).
 * @throws Error when the DER is malformed
 */
export function certificateAsn(raw: Buffer): Certificate {
  return AsnConvert.parse(raw, Certificate);
}

/**
 * The DER of the subject Name. The schema library decodes the Name and encodes it again; for a
 * DER certificate (a signed one is) that is the same octets the certificate holds, since DER
 * has one encoding per value.
 * @throws Error when the certificate's DER is malformed
 */
export function subjectNameDer(raw: Buffer): Buffer {
  return Buffer.from(AsnConvert.serialize(certificateAsn(raw).tbsCertificate.subject));
}

/** One subjectAltName entry (RFC 5280 §4.2.1.6) with the cert-sel tag that names it. */
export interface AltName {
  readonly tag: 'IP' | 'DNS' | 'EMAIL' | 'URI' | 'RID' | 'DN';
  readonly value: string;
}

/** A GeneralName as a cert-sel name; otherName, x400Address and ediPartyName have no form. */
function altName(gn: GeneralName): AltName | undefined {
  if (gn.rfc822Name !== undefined) return { tag: 'EMAIL', value: gn.rfc822Name };
  if (gn.dNSName !== undefined) return { tag: 'DNS', value: gn.dNSName };
  if (gn.directoryName !== undefined) return { tag: 'DN', value: renderName(gn.directoryName) };
  if (gn.uniformResourceIdentifier !== undefined) return { tag: 'URI', value: gn.uniformResourceIdentifier };
  if (gn.registeredID !== undefined) return { tag: 'RID', value: gn.registeredID };
  // 4 or 16 octets, which the library prints as text; an address/mask pair ("a/n") belongs to
  // name constraints only. IPv6 is re-printed the way ID payloads print it, so IP= selectors
  // and IDs agree.
  const ip = gn.iPAddress;
  if (ip === undefined || ip.includes('/')) return undefined;
  return { tag: 'IP', value: isIPv6(ip) ? bytesToIpv6(ipv6ToBytes(ip)) : ip };
}

/** The subjectAltNames of a certificate; other GeneralName forms (otherName, x400, EDI) are skipped. */
export function altNames(raw: Buffer): AltName[] {
  const out: AltName[] = [];
  for (const ext of certificateAsn(raw).tbsCertificate.extensions ?? []) {
    if (ext.extnID !== id_ce_subjectAltName) continue;
    for (const gn of AsnConvert.parse(ext.extnValue, SubjectAlternativeName)) {
      const a = altName(gn);
      if (a) out.push(a);
    }
  }
  return out;
}

/** Subject and issuer DN strings of a certificate. */
export function certificateDns(raw: Buffer): { subject: string; issuer: string } {
  const { tbsCertificate } = certificateAsn(raw);
  return { subject: renderName(tbsCertificate.subject), issuer: renderName(tbsCertificate.issuer) };
}

/**
 * Every name a certificate answers to (§1.2): the subject DN bare and as `SUBJECT=`, `ISSUER=`,
 * `SLOT=n` when it came from a publickeys file, each subjectAltName tagged and bare, and the
 * serial number (hex, as node prints it).
 * @throws Error when the certificate's DER is malformed
 */
export function certificateNames(cert: X509Certificate, slot?: string): Set<string> {
  const { subject, issuer } = certificateDns(cert.raw);
  const names = new Set([subject, `SUBJECT=${subject}`, `ISSUER=${issuer}`, cert.serialNumber]);
  if (slot !== undefined) names.add(`SLOT=${slot}`);
  for (const a of altNames(cert.raw)) {
    names.add(`${a.tag}=${a.value}`);
    names.add(a.value);
  }
  return names;
}

/** A selector list: includes and `!` excludes (ike-config's CertSel). */
export interface Selector {
  readonly includes: readonly string[];
  readonly excludes: readonly string[];
}

/**
 * The cert-sel match (§1.2): no exclude may equal a name; then any include must. With
 * `emptyMatchesAny` (remote_id), a single include `""` matches every certificate not excluded.
 */
export function matchesSelector(names: ReadonlySet<string>, sel: Selector, opts: { emptyMatchesAny?: boolean } = {}): boolean {
  if (sel.excludes.some((x) => names.has(x))) return false;
  if (opts.emptyMatchesAny && sel.includes.length === 1 && sel.includes[0] === '') return true;
  return sel.includes.some((x) => names.has(x));
}

/** The same match for a flat list of selector strings as ike/config globals hold them ("!x" excludes). */
export function selectorOf(list: readonly string[]): Selector {
  return {
    includes: list.filter((s) => !s.startsWith('!')),
    excludes: list.filter((s) => s.startsWith('!')).map((s) => s.slice(1)),
  };
}
