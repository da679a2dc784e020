/**
 * Just enough DER (X.690) to find the parts of an X.509 certificate (RFC 5280 §4.1) that node's
 * X509Certificate does not hand out as bytes: the subject and issuer Names and the extensions.
 *
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
 *   TBSCertificate ::= SEQUENCE {
 *     version [0] EXPLICIT OPTIONAL, serialNumber, signature, issuer Name, validity,
 *     subject Name, subjectPublicKeyInfo, issuerUniqueID [1] OPTIONAL,
 *     subjectUniqueID [2] OPTIONAL, extensions [3] EXPLICIT Extensions OPTIONAL }
 *
 * Every read is bounded: each element must fit inside its parent, and a length that runs past
 * the parent is an error naming both offsets (STYLE A.4). Only definite lengths of up to four
 * octets are accepted, which is all DER allows for a certificate.
 */

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag octet. */
  readonly start: number;
  readonly contentStart: number;
  /** One past the last content octet. */
  readonly end: number;
}

/** Reads the element at `pos`, which must end at or before `roof`. @throws Error on any overrun */
export function readTlv(der: Buffer, pos: number, roof: number): Tlv {
  if (pos + 2 > roof) throw new Error(`DER element at ${pos} runs past ${roof}`);
  const tag = der[pos]!;
  let len = der[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > roof) throw new Error(`bad DER length at ${pos}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[p + i]!;
    p += n;
  }
  if (p + len > roof) throw new Error(`DER element at ${pos} (${len} octets) runs past ${roof}`);
  return { tag, start: pos, contentStart: p, end: p + len };
}

/** The elements inside a constructed element, which must fill it exactly. */
export function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.contentStart; pos < parent.end;) {
    const el = readTlv(der, pos, parent.end);
    out.push(el);
    pos = el.end;
  }
  return out;
}

/** The content octets of an element (a view into `der`). */
export function content(der: Buffer, el: Tlv): Buffer {
  return der.subarray(el.contentStart, el.end);
}

/** A dotted OBJECT IDENTIFIER from its content octets (X.690 §8.19). */
export function oidText(c: Buffer): string {
  if (c.length === 0) throw new Error('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let v = 0;
  for (const b of c) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs.shift()!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

export interface CertificateParts {
  readonly issuer: Tlv;
  readonly subject: Tlv;
  /** The SEQUENCE of Extension inside [3], when present. */
  readonly extensions?: Tlv;
}

/** Locates the issuer, subject and extensions of a DER certificate. @throws Error when malformed */
export function certificateParts(raw: Buffer): CertificateParts {
  const outer = readTlv(raw, 0, raw.length);
  const tbs = readTlv(raw, outer.contentStart, outer.end);
  const fields = children(raw, tbs);
  const body = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields; // version [0]
  if (body.length < 6) throw new Error(`tbsCertificate has ${body.length} fields, expected at least 6`);
  const [, , issuer, , subject] = body;
  if (issuer!.tag !== 0x30 || subject!.tag !== 0x30) throw new Error('issuer or subject is not a SEQUENCE');
  const ext = body.slice(6).find((f) => f.tag === 0xa3);
  const extensions = ext ? readTlv(raw, ext.contentStart, ext.end) : undefined;
  return { issuer: issuer!, subject: subject!, ...(extensions ? { extensions } : {}) };
}
