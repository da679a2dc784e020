/**
 * Certificate names and selectors (solaris-ike.md §1.2 "cert-sel"): the strings a certificate
 * answers to in `cert_root`, `cert_trust`, `local_id` and `remote_id`, and the include/exclude
 * match over them.
 *
 * DNs are rendered as libike does, from the DER (not from node's X509Certificate.subject, whose
 * separators and escaping changed between node releases): RDNs in certificate order, joined by
 * ", ", each `TYPE=value` with commas inside a value escaped as `\,` (written `\\,` in ike/config,
 * whose lexer turns `\\` into `\`). Multi-valued RDNs join their parts with " + ".
 */
import type { X509Certificate } from 'node:crypto';

import { bytesToIpv4, bytesToIpv6 } from '../wire/ikev1/id';
import { certificateParts, children, content, oidText, readTlv, type Tlv } from './der';

/** Attribute types by OID, with the short names libike prints. */
const ATTRIBUTE: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN', '2.5.4.4': 'SN', '2.5.4.5': 'SERIALNUMBER', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.12': 'T', '2.5.4.42': 'GN', '2.5.4.43': 'I',
  '2.5.4.46': 'DNQ', '1.2.840.113549.1.9.1': 'E', '0.9.2342.19200300.100.1.1': 'UID', '0.9.2342.19200300.100.1.25': 'DC',
};

/** ASN.1 string types (X.680 universal tags) and how their octets become text. */
function stringValue(der: Buffer, el: Tlv): string {
  const c = content(der, el);
  switch (el.tag) {
    case 0x0c: return c.toString('utf8'); // UTF8String
    case 0x12: case 0x13: case 0x16: case 0x1a: return c.toString('latin1'); // Numeric, Printable, IA5, Visible
    case 0x14: return c.toString('latin1'); // TeletexString, in practice ISO 8859-1
    case 0x1e: return Buffer.from(c).swap16().toString('utf16le'); // BMPString, UCS-2 big-endian
    case 0x1c: { // UniversalString, UCS-4 big-endian
      let s = '';
      for (let i = 0; i + 4 <= c.length; i += 4) s += String.fromCodePoint(c.readUInt32BE(i));
      return s;
    }
    default: return `#${der.subarray(el.start, el.end).toString('hex')}`; // RFC 4514 §2.4 form
  }
}

/**
 * A DER Name (RFC 5280 §4.1.2.4) as libike renders it, e.g. `C=XX, O=Interop Lab, CN=peer-a.test`.
 * @throws Error when the DER is malformed
 */
export function renderDn(der: Buffer, name: Tlv = readTlv(der, 0, der.length)): string {
  return children(der, name).map((rdn) => children(der, rdn).map((atv) => {
    const [type, value] = children(der, atv);
    if (!type || !value || type.tag !== 0x06) throw new Error(`bad AttributeTypeAndValue at ${atv.start}`);
    const oid = oidText(content(der, type));
    return `${ATTRIBUTE[oid] ?? oid}=${stringValue(der, value).replace(/,/g, '\\,')}`;
  }).join(' + ')).join(', ');
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

/** One subjectAltName entry (RFC 5280 §4.2.1.6) with the cert-sel tag that names it. */
export interface AltName {
  readonly tag: 'IP' | 'DNS' | 'EMAIL' | 'URI' | 'RID' | 'DN';
  readonly value: string;
}

const SAN_OID = '2.5.29.17';

/** The subjectAltNames of a certificate; other GeneralName forms (otherName, x400, EDI) are skipped. */
export function altNames(raw: Buffer): AltName[] {
  const { extensions } = certificateParts(raw);
  if (!extensions) return [];
  const out: AltName[] = [];
  for (const ext of children(raw, extensions)) {
    const [id, ...rest] = children(raw, ext);
    if (!id || id.tag !== 0x06 || oidText(content(raw, id)) !== SAN_OID) continue;
    const octets = rest[rest.length - 1]; // after the optional critical BOOLEAN
    if (!octets || octets.tag !== 0x04) throw new Error('subjectAltName extnValue is not an OCTET STRING');
    for (const gn of children(raw, readTlv(raw, octets.contentStart, octets.end))) {
      const c = content(raw, gn);
      switch (gn.tag) {
        case 0x81: out.push({ tag: 'EMAIL', value: c.toString('latin1') }); break; // [1] rfc822Name
        case 0x82: out.push({ tag: 'DNS', value: c.toString('latin1') }); break; // [2] dNSName
        case 0xa4: out.push({ tag: 'DN', value: renderDn(raw, readTlv(raw, gn.contentStart, gn.end)) }); break; // [4] directoryName
        case 0x86: out.push({ tag: 'URI', value: c.toString('latin1') }); break; // [6] URI
        case 0x87: // [7] iPAddress: 4 or 16 octets (no mask outside name constraints)
          if (c.length === 4) out.push({ tag: 'IP', value: bytesToIpv4(c) });
          else if (c.length === 16) out.push({ tag: 'IP', value: bytesToIpv6(c) });
          break;
        case 0x88: out.push({ tag: 'RID', value: oidText(c) }); break; // [8] registeredID
        default: break; // otherName, x400Address, ediPartyName: no cert-sel form
      }
    }
  }
  return out;
}

/** Subject and issuer DN strings of a certificate. */
export function certificateDns(raw: Buffer): { subject: string; issuer: string } {
  const p = certificateParts(raw);
  return { subject: renderDn(raw, p.subject), issuer: renderDn(raw, p.issuer) };
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
