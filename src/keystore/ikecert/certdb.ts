/**
 * `ikecert certdb` (solaris-ike.md §4.3): certificates in ROOT/ike/publickeys.
 *
 *   -l [-v] [CERTSPEC…]
 *   -a [-i FILE] [[-p] -T TOKEN]       PEM or BER/DER in; stored as DER, mode 0644 (with -T: on the
 *                                      token, and the slot is a 0600 PKCS#11 hint file)
 *   -e [-f pem|ber] [-o FILE] CERTSPEC…
 *   -r [-T TOKEN] CERTSPEC…            with -T also the token's certificate object
 *   -T TOKEN -U CERTSPEC…              unlink: remove the slot file only
 *   -T TOKEN [-p] -C CERTSPEC…         copy the certificate to the token (the DER slot file stays)
 *   -T TOKEN [-p] -L PATTERN           link a token certificate (its CKA_LABEL or a pkcs11: URI)
 *                                      through a hint file
 *
 * A certificate that lives on a token (`-a -T`, `certlocal -ks -T`, `-L`) is represented in
 * publickeys by a hint file, as on Solaris (§4.5); listings, exports and the daemon read it from
 * the token (certificate objects are public: no login). A certspec is §4.3's: a subject DN,
 * SUBJECT=, ISSUER=, SLOT=n or a bare slot number, altname tags and bare values, `!` excludes.
 */
import * as P from 'pkcs11js';

import type { Pkcs11Token } from '../../crypto/pkcs11/token';
import { OakleyError } from '../../util/errors';
import { matchesSelector, selectorOf } from '../cert-names';
import {
  certEntry, dnKey, keyForCert, loadCertificates, loadCrls, loadKeys, parseCertificate, publicKeyHash, writeCertificateHint, type CertEntry,
} from './catalog';
import type { IkecertContext } from './context';
import { padLabel } from './hint-file';
import { USAGE_ERR } from './options';
import { isPkcs11Uri, parsePkcs11Uri } from './pkcs11-uri';
import { removeSlot, writeNewSlot } from './store';
import { certificateValue, findObjects, newKeyId, objectNames, storeCertificateOnToken } from './token-store';
import { x509 } from '../x509-lib';
import { altNames } from '../cert-names';
import fs from 'node:fs';

/** Certificates matching a certspec (all of them for an empty one). */
export function matching(certs: readonly CertEntry[], spec: readonly string[]): CertEntry[] {
  if (spec.length === 0) return [...certs];
  const bare = spec.filter((s) => /^\d+$/.test(s)).map((s) => `SLOT=${s}`);
  const sel = selectorOf([...spec.filter((s) => !/^\d+$/.test(s)), ...bare]);
  // Only excludes: everything not excluded.
  if (sel.includes.length === 0) return certs.filter((c) => !sel.excludes.some((x) => c.names.has(x)));
  return certs.filter((c) => matchesSelector(c.names, sel));
}

function first(ctx: IkecertContext, certs: readonly CertEntry[], what: string): CertEntry {
  if (ctx.args.positional.length === 0) throw new OakleyError(USAGE_ERR, `${what} needs a certspec`);
  const [c] = matching(certs, ctx.args.positional);
  if (!c) throw new OakleyError('IKE_ERR_NOT_FOUND', `no certificate in ${ctx.dirs.publicKeys} matches ${ctx.args.positional.map((s) => `"${s}"`).join(' ')}`);
  return c;
}

function list(ctx: IkecertContext): void {
  const certs = loadCertificates(ctx.dirs, (m) => ctx.io.note(`warning: ${m}`), ctx.tokenCertificates);
  const keys = loadKeys(ctx.dirs);
  const crls = loadCrls(ctx.dirs, () => undefined);
  const shown = matching(certs, ctx.args.positional);
  if (shown.length === 0 && ctx.args.positional.length) throw new OakleyError('IKE_ERR_NOT_FOUND', `no certificate matches ${ctx.args.positional.join(' ')}`);
  const L: string[] = [];
  for (const c of shown) {
    L.push(`Certificate Slot Name: ${c.slot}   Key Type: ${c.cert.publicKey.asymmetricKeyType}`);
    const k = keyForCert(keys, c);
    if (k) L.push(`\t(Private key in certlocal slot ${k.slot})`);
    if (k?.kind === 'hint') {
      L.push(`\t(In PKCS#11 hardware token "${padLabel(k.hint.token)}")`, `\t(PKCS#11 object identifier "${k.hint.object}")`);
    }
    if (c.hint) L.push(`\t(Certificate on PKCS#11 token "${padLabel(c.hint.token)}")`);
    const crl = crls.find((r) => dnKey(r.issuer) === dnKey(c.issuer));
    if (crl) L.push(`\t(CRL in certrldb slot ${crl.slot})`);
    L.push(`\tSubject Name: <${c.subject}>`);
    if (ctx.flag('v')) {
      const pc = new x509.X509Certificate(c.cert.raw);
      L.push(`\tIssuer Name: <${c.issuer}>`, `\tSerial Number: ${c.cert.serialNumber}`);
      // Not X509Certificate.checkIssued: OpenSSL's check also wants keyCertSign, which -ks
      // certificates (end entities) do not carry.
      L.push(`\tSelf-signed: ${dnKey(c.subject) === dnKey(c.issuer) && c.cert.verify(c.cert.publicKey) ? 'yes (signature verified)' : 'no'}`);
      L.push(`\tNot Valid Before: ${new Date(c.cert.validFrom).toUTCString()}`, `\tNot Valid After: ${new Date(c.cert.validTo).toUTCString()}`);
      L.push(`\tSignature Algorithm: ${(pc.signatureAlgorithm as { name: string; hash?: { name: string } }).hash?.name ?? ''} ${pc.signatureAlgorithm.name}`);
      L.push(`\tPublic Key: ${c.cert.publicKey.asymmetricKeyDetails?.modulusLength}-bit RSA, hash ${publicKeyHash(c.spki)}`);
      for (const a of altNames(c.cert.raw)) L.push(`\tSubjectAltName: ${a.tag}=${a.value}`);
      const ku = pc.getExtension(x509.KeyUsagesExtension);
      if (ku) {
        const flags = Object.entries(x509.KeyUsageFlags).filter(([n, v]) => typeof v === 'number' && (ku.usages & v) !== 0 && isNaN(Number(n))).map(([n]) => n);
        L.push(`\tKey Usage: ${flags.join(', ')}`);
      }
      if (c.cert.ca) L.push('\tBasic Constraints: CA');
    }
    L.push('');
  }
  ctx.io.out(L.join('\n'));
}

async function add(ctx: IkecertContext): Promise<void> {
  const label = ctx.tokenLabel();
  // With -T the PIN line comes first on standard input, then the certificate (input.ts).
  const opened = label !== undefined ? await ctx.openToken(label, true) : undefined;
  const cert = parseCertificate(await ctx.input.data(ctx.value('i')));
  const certs = loadCertificates(ctx.dirs, () => undefined, ctx.tokenCertificates);
  if (certs.some((c) => c.cert.raw.equals(cert.raw))) {
    throw new OakleyError('IKE_ERR_DUPLICATE', `this certificate is already in certdb slot ${certs.find((c) => c.cert.raw.equals(cert.raw))!.slot}`);
  }
  const entry = certEntry('-', cert);
  const key = keyForCert(loadKeys(ctx.dirs), entry);
  if (label !== undefined) await toToken(ctx, label, entry, opened!.token);
  const slot = label !== undefined ? writeCertificateHint(ctx.dirs, label, entry.subject, cert) : writeNewSlot(ctx.dirs.publicKeys, cert.raw, 0o644, false);
  ctx.io.note(`Certificate added to database (certdb slot ${slot}${label !== undefined ? `, a hint file for the certificate on PKCS#11 token "${label}"` : ''}).`);
  // Solaris copies it to the token by itself; here that needs -T (the PIN must come first).
  if (label === undefined && key?.kind === 'hint') {
    ctx.io.note(`Its private key is on PKCS#11 token "${key.hint.token}"; add -T ${key.hint.token} to store the certificate there too.`);
  }
}

async function toToken(ctx: IkecertContext, label: string, c: CertEntry, open?: Pkcs11Token): Promise<void> {
  const token = open ?? (await ctx.openToken(label, true)).token;
  if (findObjects(token, P.CKO_CERTIFICATE, { label: c.subject }).some((h) => certificateValue(token, h).equals(c.cert.raw))) {
    ctx.io.note(`The certificate is already on PKCS#11 token "${label}".`);
    return;
  }
  // The key's CKA_ID when the token holds the key (so the pair is linked), else a new one.
  const [keyObj] = findObjects(token, P.CKO_PRIVATE_KEY, { label: c.subject });
  const id = keyObj ? objectNames(token, keyObj).id : newKeyId();
  storeCertificateOnToken(token, c.cert.raw, c.subject, id);
  ctx.io.note(`Certificate stored on PKCS#11 token "${label}".`);
}

function exportCert(ctx: IkecertContext): void {
  const c = first(ctx, loadCertificates(ctx.dirs, () => undefined, ctx.tokenCertificates), '-e');
  const f = ctx.value('f') ?? 'pem';
  let data: string | Buffer;
  if (f === 'pem') data = c.cert.toString();
  else if (f === 'ber' || f === 'der') data = c.cert.raw;
  else throw new OakleyError(USAGE_ERR, `-f ${f}: use pem or ber`);
  const o = ctx.value('o');
  if (o !== undefined) fs.writeFileSync(o, data, { mode: 0o644 });
  else ctx.io.out(data);
}

async function remove(ctx: IkecertContext, unlinkOnly: boolean): Promise<void> {
  const c = first(ctx, loadCertificates(ctx.dirs, () => undefined, ctx.tokenCertificates), unlinkOnly ? '-U' : '-r');
  const label = ctx.tokenLabel();
  if (label !== undefined && !unlinkOnly) {
    const { token } = await ctx.openToken(label, true);
    const hs = findObjects(token, P.CKO_CERTIFICATE, { label: c.subject }).filter((h) => certificateValue(token, h).equals(c.cert.raw));
    for (const h of hs) token.runSync('C_DestroyObject', (s) => token.p.C_DestroyObject(s, h));
    ctx.io.note(`Removed ${hs.length} certificate object(s) from PKCS#11 token "${label}".`);
  }
  removeSlot(ctx.dirs.publicKeys, c.slot);
  ctx.io.note(`${unlinkOnly ? 'Unlinked' : 'Removed'} certificate in certdb slot ${c.slot} (${c.subject}).`);
}

async function link(ctx: IkecertContext, label: string): Promise<void> {
  const [pattern, ...rest] = ctx.args.positional;
  if (pattern === undefined || rest.length) throw new OakleyError(USAGE_ERR, '-L needs one pattern: the object label or a pkcs11: URI');
  const ref = isPkcs11Uri(pattern) ? parsePkcs11Uri(pattern) : { object: pattern };
  const { token } = await ctx.openToken(label, true);
  const hs = findObjects(token, P.CKO_CERTIFICATE, { ...(ref.object !== undefined ? { label: ref.object } : {}), ...(ref.id ? { id: ref.id } : {}) });
  if (hs.length !== 1) throw new OakleyError('IKE_ERR_NOT_FOUND', `${hs.length ? 'more than one' : 'no'} certificate on token "${label}" matches ${pattern}`);
  const der = certificateValue(token, hs[0]!);
  const slot = writeCertificateHint(ctx.dirs, label, pattern, parseCertificate(der));
  ctx.io.note(`Linked the certificate on PKCS#11 token "${label}" into certdb slot ${slot}.`);
}

export async function runCertdb(ctx: IkecertContext): Promise<void> {
  const ops = ['l', 'a', 'e', 'r', 'U', 'C', 'L'].filter((c) => ctx.flag(c));
  if (ops.length !== 1) {
    throw new OakleyError(USAGE_ERR, ops.length ? `conflicting operations: ${ops.map((o) => `-${o}`).join(' ')}` : 'no operation given (one of -l, -a, -e, -r, -U, -C, -L)');
  }
  const label = ctx.tokenLabel();
  if (['U', 'C', 'L'].includes(ops[0]!) && label === undefined) throw new OakleyError(USAGE_ERR, `-${ops[0]} needs -T TOKEN`);
  switch (ops[0]) {
    case 'l': return list(ctx);
    case 'a': return add(ctx);
    case 'e': return exportCert(ctx);
    case 'r': return remove(ctx, false);
    case 'U': return remove(ctx, true);
    case 'C': return toToken(ctx, label!, first(ctx, loadCertificates(ctx.dirs, () => undefined, ctx.tokenCertificates), '-C'));
    case 'L': return link(ctx, label!);
  }
}
