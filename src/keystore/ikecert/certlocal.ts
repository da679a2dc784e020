/**
 * `ikecert certlocal` (solaris-ike.md §4.2): private keys in ROOT/secret/ike.privatekeys.
 *
 *   -ks|-kc -m SIZE -t TYPE -D DN [-A ALT]… [-S START] [-F FINISH] [-f pem|der] [-o FILE] [[-p] -T TOKEN]
 *   -l [-v] [SLOT | SLOT=n]
 *   -a [-i FILE] [[-p] -T TOKEN]
 *   -e [-f pkcs8|pem] [-o FILE] SLOT
 *   -r SLOT
 *   -T TOKEN -U SLOT          unlink: remove only the hint file
 *   -T TOKEN [-p] -C CERTSPEC copy an on-disk key pair and its certificate onto the token
 *   -T TOKEN [-p] -L PATTERN  link an existing token key (its CKA_LABEL, or an RFC 7512 URI)
 *   -X                        the tokens (what `ikecert tokens` runs)
 */
import { createPublicKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';

import * as P from 'pkcs11js';

import type { Pkcs11Token } from '../../crypto/pkcs11/token';
import type { TokenObjectRef } from '../../crypto/types';
import { OakleyError } from '../../util/errors';
import { matchesSelector, selectorOf } from '../cert-names';
import {
  certForKey, keyForCert, keyTypeOfCertificate, loadCertificates, loadKeys, parsePrivateKey, publicKeyHash, writeCertificateHint,
  type CertEntry, type KeyEntry,
} from './catalog';
import type { IkecertContext } from './context';
import { formatHintFile, KEY_TYPES, padLabel, type KeyType } from './hint-file';
import { USAGE_ERR } from './options';
import { formatPkcs11Uri, isPkcs11Uri, parsePkcs11Uri } from './pkcs11-uri';
import { removeSlot, slotPath, writeNewSlot } from './store';
import {
  destroyObjects, findObjects, generateOnToken, importKeyToToken, labelInUse, newKeyId, objectNames, privateKeyProtection,
  storeCertificateOnToken, tokenSigner, TOKEN_ERR,
} from './token-store';
import { certificationRequest, checkSignatureHash, parseAltNames, parseDn, selfSignedCertificate, type KeySigner } from './x509-build';
import { validityWindow } from './validity';
import { runTokens } from './tokens';

const BITS = { min: 1024, max: 4096, step: 512 };

function keySize(text: string | undefined): number {
  const bits = Number(text ?? '2048');
  if (!Number.isInteger(bits) || bits < BITS.min || bits > BITS.max || bits % BITS.step !== 0) {
    throw new OakleyError(USAGE_ERR, `Invalid Key Size. (-m ${text}: use a multiple of ${BITS.step} from ${BITS.min} to ${BITS.max})`);
  }
  return bits;
}

function keyType(text: string | undefined): KeyType {
  const t = text ?? 'rsa-sha256';
  if (!(KEY_TYPES as readonly string[]).includes(t)) {
    throw new OakleyError(USAGE_ERR, `Invalid Key Encryption Type. (-t ${t}: use ${KEY_TYPES.join(', ')}${t === 'dsa-sha1' ? '; DSA is not supported' : ''})`);
  }
  return t as KeyType;
}

/** Writes data to -o FILE (mode 0644 for certificates and requests, 0600 for keys) or stdout. */
function emit(ctx: IkecertContext, data: string | Buffer, mode = 0o644): void {
  const o = ctx.value('o');
  if (o === undefined) return ctx.io.out(data);
  try {
    fs.writeFileSync(o, data, { mode });
    fs.chmodSync(o, mode);
  } catch (e) {
    throw new OakleyError('IKE_ERR_IO', `cannot write ${o}: ${(e as Error).message}`);
  }
}

const pemOrDer = (ctx: IkecertContext, pem: string, der: Buffer): string | Buffer => {
  const f = ctx.value('f') ?? 'pem';
  if (f === 'pem') return pem.endsWith('\n') ? pem : `${pem}\n`;
  if (f === 'der' || f === 'ber') return der;
  throw new OakleyError(USAGE_ERR, `-f ${f}: use pem or der (ber)`);
};

/** Writes the hint file for a token object; with -p the PIN is stored in it (root-only file). */
function writeHint(ctx: IkecertContext, token: string, object: string, type: KeyType, pin: string | undefined): string {
  const stored = ctx.flag('p') ? pin : undefined;
  return writeNewSlot(ctx.dirs.privateKeys, formatHintFile({ token, object, keyType: type, ...(stored !== undefined ? { pin: stored } : {}) }), 0o600, true);
}

async function generate(ctx: IkecertContext, mode: 's' | 'c'): Promise<void> {
  // Every argument is checked before any key is made.
  const bits = keySize(ctx.value('m'));
  const type = keyType(ctx.value('t'));
  const dnText = ctx.value('D');
  if (dnText === undefined) throw new OakleyError(USAGE_ERR, `-k${mode} needs -D "DN" (e.g. -D "C=US, O=Org, CN=gw.example.com")`);
  const subject = parseDn(dnText);
  const altNames = parseAltNames(ctx.args.altNames);
  const window = validityWindow(ctx.value('S'), ctx.value('F'));
  if (ctx.flag('p') && ctx.value('T') === undefined) throw new OakleyError(USAGE_ERR, '-p (store the PIN) needs -T TOKEN');
  const f = ctx.value('f') ?? 'pem';
  if (!['pem', 'der', 'ber'].includes(f)) throw new OakleyError(USAGE_ERR, `-f ${f}: use pem or der (ber)`);
  checkSignatureHash(type);
  const label = ctx.tokenLabel();
  const dn = subject.toString();
  ctx.io.note('Generating, please wait...');
  let signer: KeySigner & { dispose?(): void };
  let stored: () => string;
  let token: Pkcs11Token | undefined;
  let ref: TokenObjectRef | undefined;
  if (label !== undefined) {
    const opened = await ctx.openToken(label, true);
    token = opened.token;
    if (labelInUse(token, dn)) {
      throw new OakleyError(TOKEN_ERR, `token "${label}" already holds objects labelled "${dn}": remove them (ikecert certlocal -r) or use another -D`);
    }
    const g = await generateOnToken(token, dn, newKeyId(), bits);
    ref = g.ref;
    signer = await tokenSigner(token, g.ref, g.spki);
    stored = () => writeHint(ctx, label, dn, type, opened.pin);
  } else {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
    signer = nodeSigner(privateKey);
    stored = () => writeNewSlot(ctx.dirs.privateKeys, privateKey.export({ type: 'pkcs8', format: 'der' }), 0o600, true);
  }
  try {
    if (mode === 's') {
      const cert = await selfSignedCertificate(signer, { subject, altNames, keyType: type }, window);
      const der = Buffer.from(cert.rawData);
      if (token && ref) storeCertificateOnToken(token, der, dn, ref.id!);
      const keySlot = stored();
      // On a token the certificate is represented by a hint file, as Solaris does (§4.3, §4.5).
      const certSlot = label !== undefined ? writeCertificateHint(ctx.dirs, label, dn, new X509Certificate(der))
        : writeNewSlot(ctx.dirs.publicKeys, der, 0o644, false);
      emit(ctx, pemOrDer(ctx, cert.toString('pem'), der));
      ctx.io.note('Certificate generated.');
      ctx.io.note(`Certificate added to database. (certdb slot ${certSlot}, private key in certlocal slot ${keySlot}${label !== undefined ? `, key on PKCS#11 token "${label}"` : ''})`);
    } else {
      const csr = await certificationRequest(signer, { subject, altNames, keyType: type });
      const keySlot = stored();
      emit(ctx, pemOrDer(ctx, csr.toString('pem'), Buffer.from(csr.rawData)));
      ctx.io.note(`Certificate Request generated. (private key in certlocal slot ${keySlot}${label !== undefined ? `, on PKCS#11 token "${label}"` : ''})`);
    }
  } catch (e) {
    // Nothing half-made stays on the token.
    if (token && ref) destroyObjects(token, [P.CKO_PRIVATE_KEY, P.CKO_PUBLIC_KEY, P.CKO_CERTIFICATE], ref);
    throw e;
  } finally {
    signer.dispose?.();
  }
}

/** A signer over a node KeyObject (on-disk keys). */
export function nodeSigner(key: KeyObject): KeySigner {
  return {
    spki: createPublicKey(key).export({ type: 'spki', format: 'der' }),
    sign: async (data, hash) => sign(hash, data, key),
  };
}

/** -l pattern: a slot name or SLOT=n. */
function slotMatches(slot: string, patterns: readonly string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => p === slot || p === `SLOT=${slot}`);
}

function list(ctx: IkecertContext): void {
  const keys = loadKeys(ctx.dirs).filter((k) => slotMatches(k.slot, ctx.args.positional));
  const certs = loadCertificates(ctx.dirs, (m) => ctx.io.note(`warning: ${m}`), ctx.tokenCertificates);
  const verbose = ctx.flag('v');
  if (keys.length === 0 && ctx.args.positional.length) throw new OakleyError('IKE_ERR_NOT_FOUND', `no private key matches ${ctx.args.positional.join(' ')}`);
  const L: string[] = [];
  for (const k of keys) {
    if (k.kind === 'bad') {
      L.push(`Local ID Slot Name: ${k.slot}   (unusable: ${k.error})`, '');
      continue;
    }
    const cert = certForKey(certs, k);
    L.push(`Local ID Slot Name: ${k.slot}   Key Type: rsa`);
    if (k.kind === 'hint') {
      L.push(`\t(In PKCS#11 hardware token "${padLabel(k.hint.token)}")`);
      L.push(`\t(PKCS#11 object identifier "${k.hint.object}")`);
      L.push(`\t(${k.hint.pin !== undefined ? 'PIN stored on disk' : 'PIN not stored on disk: use ikeadm token login'})`);
      L.push(`\tSignature Type: ${k.hint.keyType}`);
      if (cert) L.push(`\tKey Size: ${cert.cert.publicKey.asymmetricKeyDetails?.modulusLength}`, `\tPublic key hash: ${publicKeyHash(cert.spki)}`);
      if (verbose) {
        L.push(`\tPKCS#11 URI: ${formatPkcs11Uri({ token: k.hint.token, ...(k.hint.label !== undefined ? { object: k.hint.label } : {}), ...(k.hint.id ? { id: k.hint.id } : {}), type: 'private' })}`);
      }
    } else {
      const d = k.key.asymmetricKeyDetails;
      L.push(`\tKey Size: ${d?.modulusLength}`, `\tPublic key hash: ${publicKeyHash(k.spki)}`);
      if (verbose) {
        const jwk = k.key.export({ format: 'jwk' });
        L.push(`\tModulus (n): ${Buffer.from(jwk.n!, 'base64url').toString('hex')}`, `\tPublic exponent (e): ${Buffer.from(jwk.e!, 'base64url').toString('hex')}`);
      }
    }
    if (cert) L.push(`\t(Certificate in certdb slot ${cert.slot}: ${cert.subject})`);
    L.push('');
  }
  ctx.io.out(L.join('\n'));
}

async function add(ctx: IkecertContext): Promise<void> {
  const label = ctx.tokenLabel();
  // With -T the PIN line comes first on standard input, then the key (input.ts).
  const opened = label !== undefined ? await ctx.openToken(label, true) : undefined;
  const key = parsePrivateKey(await ctx.input.data(ctx.value('i')));
  if (label === undefined) {
    if (ctx.flag('p')) throw new OakleyError(USAGE_ERR, '-p (store the PIN) needs -T TOKEN');
    const slot = writeNewSlot(ctx.dirs.privateKeys, key.export({ type: 'pkcs8', format: 'der' }), 0o600, true);
    ctx.io.note(`Private key added to certlocal slot ${slot}.`);
    return;
  }
  // Solaris: with -T the matching certificate must already be in certdb (it names the object).
  const probe: KeyEntry = { slot: '-', kind: 'file', key, spki: nodeSigner(key).spki };
  const cert = certForKey(loadCertificates(ctx.dirs, () => undefined, ctx.tokenCertificates), probe);
  if (!cert) throw new OakleyError(USAGE_ERR, `no certificate in ${ctx.dirs.publicKeys} matches this key: add it first (ikecert certdb -a)`);
  await toToken(ctx, label, key, cert, opened);
}

/** Puts an on-disk key and its certificate on the token and writes the hint file. */
async function toToken(ctx: IkecertContext, label: string, key: KeyObject, cert: CertEntry,
  opened?: { token: Pkcs11Token; pin?: string }): Promise<void> {
  const { token, pin } = opened ?? await ctx.openToken(label, true);
  if (labelInUse(token, cert.subject)) throw new OakleyError(TOKEN_ERR, `token "${label}" already holds objects labelled "${cert.subject}"`);
  const ref = importKeyToToken(token, key, cert.subject, newKeyId());
  storeCertificateOnToken(token, cert.cert.raw, cert.subject, ref.id!);
  const type = keyTypeOfCertificate(cert.cert);
  const slot = writeHint(ctx, label, cert.subject, type, pin);
  ctx.io.note(`Private key and certificate copied to PKCS#11 token "${label}"; hint file in certlocal slot ${slot}.`);
}


function onlySlot(ctx: IkecertContext, what: string): string {
  const [slot, ...rest] = ctx.args.positional;
  if (slot === undefined || rest.length) throw new OakleyError(USAGE_ERR, `${what} needs exactly one slot`);
  return slot.replace(/^SLOT=/, '');
}

function keyAt(ctx: IkecertContext, slot: string): KeyEntry {
  slotPath(ctx.dirs.privateKeys, slot);
  const k = loadKeys(ctx.dirs).find((x) => x.slot === slot);
  if (!k) throw new OakleyError('IKE_ERR_NOT_FOUND', `no private key in certlocal slot ${slot} (${ctx.dirs.privateKeys})`);
  if (k.kind === 'bad') throw new OakleyError('IKE_ERR_STORE', `certlocal slot ${slot}: ${k.error}`);
  return k;
}

function extract(ctx: IkecertContext): void {
  const slot = onlySlot(ctx, '-e');
  const k = keyAt(ctx, slot);
  if (k.kind === 'hint') {
    throw new OakleyError(TOKEN_ERR, `certlocal slot ${slot} is a key on PKCS#11 token "${k.hint.token}": token keys cannot be extracted (CKA_EXTRACTABLE is false)`);
  }
  if (k.kind !== 'file') return;
  const f = ctx.value('f') ?? 'pkcs8';
  if (f === 'pkcs8' || f === 'der') emit(ctx, k.key.export({ type: 'pkcs8', format: 'der' }), 0o600);
  else if (f === 'pem') emit(ctx, k.key.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  else throw new OakleyError(USAGE_ERR, `-f ${f}: use pkcs8 (DER) or pem`);
}

const hintRef = (k: Extract<KeyEntry, { kind: 'hint' }>): TokenObjectRef => ({
  ...(k.hint.label !== undefined ? { label: k.hint.label } : {}), ...(k.hint.id ? { id: k.hint.id } : {}),
});

async function remove(ctx: IkecertContext): Promise<void> {
  const slot = onlySlot(ctx, '-r');
  const k = keyAt(ctx, slot);
  if (k.kind === 'hint') {
    const { token } = await ctx.openToken(k.hint.token, true);
    const n = destroyObjects(token, [P.CKO_PRIVATE_KEY, P.CKO_PUBLIC_KEY], hintRef(k));
    ctx.io.note(`Destroyed ${n} key object(s) on PKCS#11 token "${k.hint.token}".`);
  }
  removeSlot(ctx.dirs.privateKeys, slot);
  ctx.io.note(`Private key in certlocal slot ${slot} removed.`);
}

function unlink(ctx: IkecertContext, label: string): void {
  const slot = onlySlot(ctx, '-U');
  const k = keyAt(ctx, slot);
  if (k.kind !== 'hint') throw new OakleyError(USAGE_ERR, `certlocal slot ${slot} is a key file, not a PKCS#11 hint: nothing to unlink`);
  if (k.hint.token !== label) throw new OakleyError(USAGE_ERR, `certlocal slot ${slot} links token "${k.hint.token}", not "${label}"`);
  removeSlot(ctx.dirs.privateKeys, slot);
  ctx.io.note(`Unlinked certlocal slot ${slot}; the key stays on PKCS#11 token "${label}".`);
}

async function copy(ctx: IkecertContext, label: string): Promise<void> {
  if (ctx.args.positional.length === 0) throw new OakleyError(USAGE_ERR, '-C needs a certspec');
  const certs = loadCertificates(ctx.dirs, () => undefined, ctx.tokenCertificates);
  const sel = selectorOf(ctx.args.positional);
  const cert = certs.find((c) => matchesSelector(c.names, sel) || ctx.args.positional.includes(c.slot));
  if (!cert) throw new OakleyError('IKE_ERR_NOT_FOUND', `no certificate in ${ctx.dirs.publicKeys} matches ${ctx.args.positional.join(' ')}`);
  const k = keyForCert(loadKeys(ctx.dirs), cert);
  if (!k || k.kind !== 'file') throw new OakleyError('IKE_ERR_NOT_FOUND', `certificate slot ${cert.slot} (${cert.subject}) has no on-disk private key to copy`);
  await toToken(ctx, label, k.key, cert);
}

async function link(ctx: IkecertContext, label: string): Promise<void> {
  const [pattern, ...rest] = ctx.args.positional;
  if (pattern === undefined || rest.length) throw new OakleyError(USAGE_ERR, '-L needs one pattern: the object label or a pkcs11: URI');
  const ref: TokenObjectRef = isPkcs11Uri(pattern) ? (() => {
    const u = parsePkcs11Uri(pattern);
    if (u.token !== undefined && u.token.trimEnd() !== label) throw new OakleyError(USAGE_ERR, `the URI names token "${u.token}" but -T names "${label}"`);
    if (u.type !== undefined && u.type !== 'private') throw new OakleyError(USAGE_ERR, `-L links a private key: the URI has type=${u.type}`);
    return { ...(u.object !== undefined ? { label: u.object } : {}), ...(u.id ? { id: u.id } : {}) };
  })() : { label: pattern };
  const { token, pin } = await ctx.openToken(label, true);
  const found = findObjects(token, P.CKO_PRIVATE_KEY, ref);
  if (found.length !== 1) {
    throw new OakleyError('IKE_ERR_NOT_FOUND', `${found.length === 0 ? 'no' : 'more than one'} private key on token "${label}" matches ${pattern}`);
  }
  const names = objectNames(token, found[0]!);
  const object = names.label !== '' && findObjects(token, P.CKO_PRIVATE_KEY, { label: names.label }).length === 1
    ? names.label : formatPkcs11Uri({ token: label, id: names.id, type: 'private' });
  const slot = writeHint(ctx, label, object, keyType(ctx.value('t')), pin);
  ctx.io.note(`Linked the key "${object}" on PKCS#11 token "${label}" into certlocal slot ${slot}.`);
}

/** The protection attributes of the key a hint file names (tests and -l -v on a token). */
export async function hintKeyProtection(token: Pkcs11Token, ref: TokenObjectRef): Promise<ReturnType<typeof privateKeyProtection>> {
  const [h] = findObjects(token, P.CKO_PRIVATE_KEY, ref);
  if (!h) throw new OakleyError('IKE_ERR_NOT_FOUND', 'no such private key on the token');
  return privateKeyProtection(token, h);
}

export async function runCertlocal(ctx: IkecertContext): Promise<void> {
  const k = ctx.value('k');
  const label = ctx.tokenLabel();
  const ops = ['l', 'a', 'e', 'r', 'U', 'C', 'L', 'X'].filter((c) => ctx.flag(c));
  if (k !== undefined) ops.push(`k${k}`);
  if (ops.length !== 1) {
    throw new OakleyError(USAGE_ERR, ops.length ? `conflicting operations: ${ops.map((o) => `-${o}`).join(' ')}` : 'no operation given (one of -ks, -kc, -l, -a, -e, -r, -U, -C, -L, -X)');
  }
  if (['U', 'C', 'L'].includes(ops[0]!) && label === undefined) throw new OakleyError(USAGE_ERR, `-${ops[0]} needs -T TOKEN`);
  switch (ops[0]) {
    case 'ks': return generate(ctx, 's');
    case 'kc': return generate(ctx, 'c');
    case 'l': return list(ctx);
    case 'a': return add(ctx);
    case 'e': return extract(ctx);
    case 'r': return remove(ctx);
    case 'U': return unlink(ctx, label!);
    case 'C': return copy(ctx, label!);
    case 'L': return link(ctx, label!);
    case 'X': return runTokens(ctx);
    default: throw new OakleyError(USAGE_ERR, `unknown operation -k${k} (use -ks or -kc)`);
  }
}

