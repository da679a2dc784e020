/**
 * The daemon's certificate store (solaris-ike.md §4.2, §4.3, §4.5): every certificate in
 * ROOT/ike/publickeys/<slot> and every RSA private key in ROOT/secret/ike.privatekeys/<slot>, the
 * trust that ike/config's `cert_root` and `cert_trust` selectors give them, and per rule (by its
 * `local_id` / `remote_id` selectors) our certificate and the checks on a peer's.
 *
 *  - A key pairs with a certificate when the public keys match; file names do not matter (§4.5).
 *  - `cert_root` picks trust anchors among the publickeys certificates. `cert_trust` certificates
 *    are trusted without chain validation: a peer certificate that is itself pinned is accepted
 *    as is while inside its validity window; a pinned CA certificate also serves as an anchor.
 *  - A peer's end-entity certificate must carry its Phase 1 identity and chain to an anchor (the
 *    checks shared with MinimalKeystore), then match the rule's `remote_id` selector.
 *  - Unless `ignore_crls`, each certificate on a chain to an anchor is checked against its CA's
 *    CRL from ROOT/ike/crls (crl-store.ts); pinned cert_trust end entities are not (no chain).
 *
 * PKCS#11 hint files (§4.5, written by `ikecert certlocal -ks|-kc|-a|-C|-L -T TOKEN`; format in
 * ikecert/hint-file.ts) stand in ike.privatekeys/ for keys that live on a token. Such a key pairs
 * with the certificate whose subject DN is the hint's object label (the public key is on the
 * token, which is not open yet when the store loads). It signs through the crypto suite's RSA
 * provider, which must be the PKCS#11 path on the token the hint names (`pkcs11_token`): the key
 * is found there by CKA_LABEL/CKA_ID and never leaves the token. While that token is logged out
 * the key is "linked but locked" (`ikeadm dump certcache`); `ikeadm token login` unlocks it
 * without a restart, and a PIN stored in the hint file (ikecert -p) logs in on first use.
 *
 * Loading never fails on a bad file: the file is skipped with a warning naming it, so one broken
 * slot cannot keep the daemon (or its other rules) down; `iked -c` prints the same warnings. A
 * private key file (or hint file) that group or others can access, or that another user owns, is
 * refused that way ("Insecure permissions", as Solaris skips untrusted keys), not only warned about.
 * Building the store is synchronous, so a reload can build it beside the rules and install both
 * at once. Private keys reach the crypto suite's RSA provider only when a rule first signs, so a
 * PKCS#11 provider can hold them later without changing this file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createPublicKey, X509Certificate } from 'node:crypto';

import * as P from 'pkcs11js';

import type { CertCacheEntry } from '../control/commands';
import type { RsaPrivateKey, RsaPrivateKeySource, RsaProvider, RsaPublicKey } from '../crypto/types';
import { privateKeyObject } from '../crypto/rsa-keys';
import { openTokenNamed } from '../crypto/pkcs11/token';
import type { Ikev1Credentials, Ikev1Rule } from '../exchange/ikev1/config';
import type { IkeConfig, IkeRule } from '../policy/ike-config';
import { OakleyError } from '../util/errors';
import { NotifyType } from '../wire/ikev1/iana';
import type { IdValue } from '../wire/ikev1/id';
import { altNames, certificateDns, certificateNames, matchesSelector, selectorOf, type AltName, type Selector } from './cert-names';
import { CrlStore } from './crl-store';
import { looksLikeHint, parseHintFile, type HintFile } from './ikecert/hint-file';
import { insecurity } from './ikecert/store';
import { TokenCertificateReader } from './token-certificates';
import { chainToAnchor, checkValidity, endEntityFor, KeystoreErr, parseCertificates, receivedCertificates, subjectDer } from './minimal';

/** Where the two stores live (IkedOptions has both). */
export interface KeystoreDirs {
  readonly publicKeysDir: string;
  readonly privateKeysDir: string;
  /** ROOT/ike/crls; without it no CRL is read. */
  readonly crlsDir?: string;
}

/** The trust part of ike/config's globals. */
export interface KeystoreTrust {
  readonly certRoot: readonly string[];
  readonly certTrust: readonly string[];
  /** max_certs: how many peer certificates the cache keeps (default 1024). */
  readonly maxCerts?: number;
  /** ignore_crls: chains to an anchor are not checked against crls/. */
  readonly ignoreCrls?: boolean;
  /** use_http: CRL fetching over HTTP, which is reported as unsupported. */
  readonly useHttp?: boolean;
  /** pkcs11_path: the library for tokens that publickeys hint files name (default SoftHSM2's). */
  readonly pkcs11Path?: string;
}

export interface StoredCertificate {
  readonly slot: string;
  readonly file: string;
  /** Set when the slot is a PKCS#11 hint file: the certificate was read from this token. */
  readonly token?: string;
  readonly cert: X509Certificate;
  readonly subject: string;
  readonly issuer: string;
  readonly names: ReadonlySet<string>;
  readonly spki: Buffer;
}

export interface StoredKey {
  readonly slot: string;
  readonly file: string;
  readonly source: RsaPrivateKeySource;
  /** The public key (key files; a hint file's key is on the token). */
  readonly spki?: Buffer;
  /** Set for a PKCS#11 hint file. */
  readonly hint?: HintFile;
}

/** DN comparison that ignores case and blanks around separators (hint object labels vs subjects). */
const dnKey = (dn: string): string => dn.replace(/\s*([,=+])\s*/g, '$1').trim().toLowerCase();

/** Solaris ignores certificate and key files above this size, and empty ones (§4.5). */
const MAX_FILE = 100_000;

const spkiOf = (c: X509Certificate): Buffer => c.publicKey.export({ type: 'spki', format: 'der' });

/** Slot files in slot order: numeric names by value, then the rest by name. */
function slotFiles(dir: string, warnings: string[]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(`${dir}: cannot list: ${(e as Error).message}`);
    return [];
  }
  const num = (s: string): number => (/^\d+$/.test(s) ? Number(s) : Infinity);
  return names.filter((n) => !n.startsWith('.')).sort((a, b) => num(a) - num(b) || a.localeCompare(b));
}

/** Reads a slot file, refusing directories, empty files and files over MAX_FILE. */
function readSlot(file: string): Buffer {
  const st = statSync(file);
  if (!st.isFile()) throw new Error('not a regular file');
  if (st.size === 0 || st.size > MAX_FILE) throw new Error(`size ${st.size} is outside 1..${MAX_FILE} bytes`);
  return readFileSync(file);
}

const isPem = (b: Buffer): boolean => b.subarray(0, 200).toString('latin1').includes('-----BEGIN');
const isDer = (b: Buffer): boolean => b[0] === 0x30;

function loadCertificate(dir: string, slot: string, warnings: string[], tokens: TokenCertificateReader): StoredCertificate {
  const file = join(dir, slot);
  const raw = readSlot(file);
  if (!isPem(raw) && !isDer(raw) && looksLikeHint(raw)) {
    // A certificate kept on a token (ikecert certdb -a -T, certlocal -ks -T): read it from there.
    const hint = parseHintFile(raw);
    if (hint.pin !== undefined && insecurity(file)) throw new Error(`a PKCS#11 hint file holding a PIN: ${insecurity(file)}`);
    const cert = new X509Certificate(tokens.read(hint));
    return { slot, file, token: hint.token, cert, ...certificateDns(cert.raw), names: certificateNames(cert, slot), spki: spkiOf(cert) };
  }
  if (!isPem(raw) && !isDer(raw)) throw new Error('neither PEM nor DER, nor a PKCS#11 hint file');
  const all = parseCertificates(raw);
  if (all.length > 1) warnings.push(`${file}: holds ${all.length} certificates; only the first is used (one certificate per slot)`);
  const cert = all[0]!;
  return { slot, file, cert, ...certificateDns(cert.raw), names: certificateNames(cert, slot), spki: spkiOf(cert) };
}

function loadKey(dir: string, slot: string): StoredKey {
  const file = join(dir, slot);
  const raw = readSlot(file);
  // A key others can read (or one another user could have replaced) is not trusted at all; for a
  // hint file line 2 may hold the token PIN. The file is refused, the daemon runs with the rest.
  const why = insecurity(file);
  if (why) throw new Error(`Insecure permissions, skipped untrusted private key ${slot}: ${why}`);
  let source: RsaPrivateKeySource;
  if (isPem(raw)) {
    if (/ENCRYPTED/.test(raw.toString('latin1'))) throw new Error('encrypted private keys are not supported (store it unencrypted, mode 0600)');
    source = { pem: raw.toString('latin1') };
  } else if (isDer(raw)) {
    source = { der: raw };
  } else if (looksLikeHint(raw)) {
    const hint = parseHintFile(raw);
    if (hint.label === undefined) throw new Error('the PKCS#11 hint names its object by CKA_ID only; the daemon pairs token keys with certificates by label (the subject DN)');
    return { slot, file, source: { token: { label: hint.label, ...(hint.id ? { id: hint.id } : {}) } }, hint };
  } else {
    throw new Error('neither PEM nor DER PKCS#8/PKCS#1, nor a PKCS#11 hint file');
  }
  // privateKeyObject accepts PKCS#8 or PKCS#1 and refuses anything but RSA of a usable size.
  const { key } = privateKeyObject(source, 'keystore');
  return { slot, file, source, spki: createPublicKey(key).export({ type: 'spki', format: 'der' }) };
}

/** Group/other read bits on the private key directory: a warning (its files are checked one by one). */
function secretDirWarnings(dir: string, files: readonly string[]): string[] {
  try {
    const mode = statSync(dir).mode;
    if (files.length && mode & 0o044) return [`${dir}: mode ${(mode & 0o777).toString(8).padStart(4, '0')} lets group or others list it; use chmod 0700`];
  } catch {
    // gone since it was listed: nothing to warn about
  }
  return [];
}

export class DaemonKeystore {
  /** Trust anchors: cert_root matches, and cert_trust matches that are CA certificates. */
  readonly anchors: readonly StoredCertificate[];
  /** cert_trust matches: trusted as they are. */
  readonly pinned: readonly StoredCertificate[];
  /** Peer certificates accepted from CERT payloads, by SHA-256 fingerprint (the certcache). */
  private readonly received = new Map<string, X509Certificate>();
  private readonly opened = new Map<string, Promise<RsaPrivateKey>>();
  /** Tokens (label and recovery count) whose hint-file PIN was already used to log in (tokenKeyState). */
  private readonly storedPinTried = new Set<string>();

  private constructor(
    readonly dirs: KeystoreDirs,
    readonly trust: KeystoreTrust,
    readonly certificates: readonly StoredCertificate[],
    readonly keys: readonly StoredKey[],
    readonly warnings: readonly string[],
    private readonly now: () => number,
    /** The CRLs of crls/ (empty without crlsDir). */
    readonly crls: CrlStore,
  ) {
    const root = selectorOf(trust.certRoot);
    const pin = selectorOf(trust.certTrust);
    this.pinned = certificates.filter((c) => matchesSelector(c.names, pin));
    this.anchors = certificates.filter((c) => matchesSelector(c.names, root) || (c.cert.ca && this.pinned.includes(c)));
  }

  /**
   * Reads both stores. Never throws for a bad file: it is skipped and named in `warnings`.
   * @param now clock for validity checks (ms; default Date.now)
   */
  static load(dirs: KeystoreDirs, trust: KeystoreTrust, now: () => number = Date.now): DaemonKeystore {
    const warnings: string[] = [];
    const each = <T>(dir: string, what: string, load: (slot: string) => T): T[] => slotFiles(dir, warnings).flatMap((slot) => {
      try {
        return [load(slot)];
      } catch (e) {
        warnings.push(`${join(dir, slot)}: skipped, not a usable ${what}: ${(e as Error).message}`);
        return [];
      }
    });
    const tokens = new TokenCertificateReader(() => trust.pkcs11Path);
    let certs: StoredCertificate[];
    try {
      certs = each(dirs.publicKeysDir, 'certificate', (s) => loadCertificate(dirs.publicKeysDir, s, warnings, tokens));
    } finally {
      tokens.close(); // tokens opened only to read certificates; the crypto suite's stay open
    }
    const keys = each(dirs.privateKeysDir, 'RSA private key', (s) => loadKey(dirs.privateKeysDir, s));
    warnings.push(...secretDirWarnings(dirs.privateKeysDir, keys.map((k) => k.slot)));
    // With ignore_crls the directory is not even read: nothing in it can matter.
    const crls = dirs.crlsDir !== undefined && !trust.ignoreCrls ? CrlStore.load(dirs.crlsDir, warnings, trust.useHttp) : CrlStore.empty();
    const ks = new DaemonKeystore(dirs, trust, certs, keys, warnings, now, crls);
    for (const [kw, list] of [['cert_root', trust.certRoot], ['cert_trust', trust.certTrust]] as const) {
      for (const s of list.filter((x) => !x.startsWith('!'))) {
        if (!certs.some((c) => c.names.has(s))) warnings.push(`${kw} "${s}" matches no certificate in ${dirs.publicKeysDir}`);
      }
    }
    return ks;
  }

  /** The private key whose public half is the certificate's. */
  keyFor(c: StoredCertificate): StoredKey | undefined {
    return this.keys.find((k) => k.spki?.equals(c.spki)) ?? this.keys.find((k) => k.hint?.label !== undefined && dnKey(k.hint.label) === dnKey(c.subject));
  }

  /**
   * Whether a token key can sign now: its token is open in this process (the crypto suite's
   * `pkcs11_token`) and logged in. A PIN stored in the hint file logs the token in here
   * (C_Login runs synchronously inside login(); a wrong stored PIN leaves it locked).
   */
  private tokenKeyState(hint: HintFile, onRefused?: (e: unknown) => void): 'available' | 'locked' {
    const token = openTokenNamed(hint.token);
    // A token that went away is locked: `ikeadm token login` brings it back (token.ts, recovery).
    if (!token || !token.present()) return 'locked';
    // Once per store (startup, reload, flush certcache) and per return of a lost token: after
    // `ikeadm token logout` the key stays locked until `ikeadm token login`, as on Solaris, even
    // with a stored PIN.
    const tried = `${hint.token.trimEnd()}#${token.recoveries}`;
    if (!token.loggedIn && hint.pin !== undefined && !this.storedPinTried.has(tried)) {
      this.storedPinTried.add(tried);
      token.login(hint.pin).catch((e: unknown) => onRefused?.(e));
    }
    return token.loggedIn ? 'available' : 'locked';
  }

  /**
   * Logs in the open tokens whose hint files carry a stored PIN (ikecert -p), as in.iked does at
   * startup (solaris-ike.md §4.5), so their keys are available without `ikeadm token login`.
   * @param warn told (file and token named, never the PIN) when a stored PIN is refused
   */
  useStoredPins(warn?: (message: string) => void): void {
    for (const k of this.keys) {
      if (k.hint?.pin === undefined) continue;
      const hint = k.hint;
      this.tokenKeyState(hint, (e) => warn?.(`the PIN stored in ${k.file} was not accepted by PKCS#11 token "${hint.token}" ` +
        `(${OakleyError.is(e) && typeof e.detail?.ckr === 'string' ? e.detail.ckr : 'login failed'}): its key stays locked until 'ikeadm token login ${hint.token}'`));
    }
  }

  /** Why a token key cannot be used through `rsa` (undefined when it can). */
  private tokenKeyProblem(rsa: RsaProvider, key: StoredKey & { hint: HintFile }, rule: IkeRule): string | undefined {
    const where = `rule "${rule.label}": the private key ${key.file} is on PKCS#11 token "${key.hint.token}"`;
    if (rsa.path !== 'pkcs11') return `${where}, but RSA runs on the ${rsa.path} path (set pkcs11_path and pkcs11_token "${key.hint.token}" in ike/config)`;
    const token = openTokenNamed(key.hint.token);
    if (!token) return `${where}, which this daemon has not opened (its pkcs11_token must be "${key.hint.token}")`;
    // A lost token is re-initialised here when it can be (it comes back logged out).
    if (!token.usable()) return `${where}, which is not usable: ${token.lostError().message}; once it is back, 'ikeadm token login ${key.hint.token}'`;
    if (this.tokenKeyState(key.hint) === 'locked') return `${where}, which is logged out: the key is locked until 'ikeadm token login ${key.hint.token}'`;
    return undefined;
  }

  /** Our certificate under a `local_id` selector: the first match (slot order) that has a key. */
  localCertificate(sel: Selector): { cert: StoredCertificate; key: StoredKey } | undefined {
    for (const cert of this.certificates) {
      const key = matchesSelector(cert.names, sel) ? this.keyFor(cert) : undefined;
      if (key) return { cert, key };
    }
    return undefined;
  }

  /**
   * Our Phase 1 identity under a certificate rule: the certificate's subject (ID_DER_ASN1_DN) for
   * local_id_type dn, else the subjectAltName of the type local_id_type names (the one local_id
   * names, if it names one). Undefined for preshared rules or when there is no such name.
   */
  localId(rule: IkeRule): IdValue | undefined {
    if (rule.preshared) return undefined;
    const local = this.localCertificate(rule.localId);
    if (!local) return undefined;
    if (rule.localIdType === 'dn') return { kind: 'der-dn', der: subjectDer(local.cert.cert) };
    const want: Partial<Record<IkeRule['localIdType'], (a: AltName) => IdValue | undefined>> = {
      fqdn: (a) => (a.tag === 'DNS' ? { kind: 'fqdn', name: a.value } : undefined),
      user_fqdn: (a) => (a.tag === 'EMAIL' ? { kind: 'user-fqdn', name: a.value } : undefined),
      ip: (a) => (a.tag === 'IP' && !a.value.includes(':') ? { kind: 'ipv4', address: a.value } : undefined),
      ipv6: (a) => (a.tag === 'IP' && a.value.includes(':') ? { kind: 'ipv6', address: a.value } : undefined),
    };
    const pick = want[rule.localIdType];
    if (!pick) return undefined;
    const sans = altNames(local.cert.cert.raw);
    const named = sans.find((a) => rule.localId.includes.includes(`${a.tag}=${a.value}`) || rule.localId.includes.includes(a.value));
    return (named && pick(named)) ?? sans.map(pick).find((x) => x);
  }

  /**
   * Our key and certificate for a rule, the key loaded through `rsa` once and kept.
   * @throws OakleyError NO_CERT naming the selector when no certificate with a key matches
   */
  async signer(rsa: RsaProvider, rule: IkeRule): Promise<{ key: RsaPrivateKey; certificate: Buffer }> {
    const local = this.localCertificate(rule.localId);
    if (!local) {
      throw new OakleyError(KeystoreErr.NO_CERT, `rule "${rule.label}": no certificate in ${this.dirs.publicKeysDir} matches local_id ` +
        `${describeSelector(rule.localId)} and has its private key in ${this.dirs.privateKeysDir}`, { notify: NotifyType.AUTHENTICATION_FAILED });
    }
    if (local.key.hint) {
      const problem = this.tokenKeyProblem(rsa, local.key as StoredKey & { hint: HintFile }, rule)
        ?? (this.opened.has(local.key.slot) ? undefined : tokenKeyMismatch(local.key as StoredKey & { hint: HintFile }, local.cert));
      if (problem) throw new OakleyError(KeystoreErr.NO_CERT, problem, { notify: NotifyType.AUTHENTICATION_FAILED });
    }
    let key = this.opened.get(local.key.slot);
    if (!key) {
      key = rsa.loadPrivateKey(local.key.source).then(notifyingFailures);
      key.catch(() => this.opened.delete(local.key.slot));
      this.opened.set(local.key.slot, key);
    }
    return { key: await key, certificate: local.cert.cert.raw };
  }

  /**
   * Checks a peer: its end-entity certificate (sent, or when it sent none, one of ours that carries
   * its identity) must carry `peerId`, be pinned by cert_trust or chain to an anchor with no
   * certificate on the chain revoked by its CA's CRL (unless ignore_crls), and match the rule's
   * remote_id. Accepted certificates join the certcache.
   * @param warn receives stale or untrusted CRL warnings (crl-store.ts)
   * @returns the certificate's verification key
   * @throws OakleyError KeystoreErr.* with detail.notify (MinimalKeystore's codes, and REVOKED)
   */
  async verify(rsa: RsaProvider, rule: IkeRule | undefined, peerId: IdValue, received: readonly Buffer[],
    warn?: (message: string) => void): Promise<RsaPublicKey> {
    const now = this.now();
    const certs = received.length ? receivedCertificates(received) : this.certificates.map((c) => c.cert);
    let leaf: X509Certificate;
    try {
      leaf = endEntityFor(peerId, certs);
    } catch (e) {
      if (received.length) throw e;
      throw new OakleyError(KeystoreErr.NO_CERT, `the peer sent no certificate and none in ${this.dirs.publicKeysDir} carries its identity`,
        { notify: NotifyType.CERTIFICATE_UNAVAILABLE });
    }
    const stored = this.certificates.find((c) => c.cert.raw.equals(leaf.raw));
    if (stored && this.pinned.includes(stored)) {
      checkValidity(leaf, now);
    } else {
      const intermediates = [...certs, ...this.certificates.map((c) => c.cert)].filter((c) => c.ca);
      const path = chainToAnchor(leaf, intermediates, this.anchors.map((a) => a.cert), now);
      await this.crls.check(path, now, warn);
    }
    if (rule) {
      const names = stored?.names ?? certificateNames(leaf);
      if (!matchesSelector(names, rule.remoteId, { emptyMatchesAny: true })) {
        throw new OakleyError(KeystoreErr.ID_MISMATCH, `certificate "${certificateDns(leaf.raw).subject}" does not match remote_id ` +
          `${describeSelector(rule.remoteId)} of rule "${rule.label}"`, { notify: NotifyType.INVALID_ID_INFORMATION });
      }
    }
    if (!stored) this.remember(leaf);
    return rsa.loadPublicKey({ der: leaf.raw });
  }

  private remember(c: X509Certificate): void {
    this.received.delete(c.fingerprint256);
    this.received.set(c.fingerprint256, c);
    const max = this.trust.maxCerts ?? 1024;
    for (const k of this.received.keys()) {
      if (this.received.size <= max) break;
      this.received.delete(k);
    }
  }

  /** Subject DNs (DER) of the anchors, for our CR payloads. */
  authorities(): Buffer[] {
    return this.anchors.map((a) => subjectDer(a.cert));
  }

  /** What `ikeadm dump certcache` shows: the publickeys slots, then accepted peer certificates. */
  list(): CertCacheEntry[] {
    const keyState = (c: StoredCertificate): CertCacheEntry['key'] => {
      const k = this.keyFor(c);
      if (!k) return 'public-only';
      return k.hint ? this.tokenKeyState(k.hint) : 'available';
    };
    const stored = this.certificates.map((c, i): CertCacheEntry => ({
      id: i + 1, subject: c.subject, issuer: c.issuer, trusted: this.anchors.includes(c) || this.pinned.includes(c),
      key: keyState(c),
    }));
    const peers = [...this.received.values()].map((c, i): CertCacheEntry => ({
      id: stored.length + i + 1, ...certificateDns(c.raw), trusted: false, key: 'public-only', fromPayload: true,
    }));
    return [...stored, ...peers];
  }

  /**
   * Problems that will make certificate rules fail (for `iked -c` and the daemon's start log):
   * no certificate matching local_id, no private key for it, an expired one, and no trust at all.
   */
  checkRules(rules: readonly IkeRule[]): string[] {
    const out: string[] = [];
    const certRules = rules.filter((r) => r.xforms.some((x) => x.auth === 'rsa_sig'));
    for (const r of certRules) {
      const local = this.localCertificate(r.localId);
      const named = this.certificates.filter((c) => matchesSelector(c.names, r.localId));
      if (!local) {
        out.push(named.length
          ? `rule "${r.label}": certificate ${named[0]!.file} (${named[0]!.subject}) matches local_id but no private key in ${this.dirs.privateKeysDir} pairs with it`
          : `rule "${r.label}": no certificate in ${this.dirs.publicKeysDir} matches local_id ${describeSelector(r.localId)}`);
        continue;
      }
      try {
        checkValidity(local.cert.cert, this.now());
      } catch (e) {
        out.push(`rule "${r.label}": ${local.cert.file}: ${(e as Error).message}`);
      }
    }
    if (certRules.length && this.anchors.length + this.pinned.length === 0) {
      out.push(`no cert_root or cert_trust certificate in ${this.dirs.publicKeysDir}: rsa_sig rules (${certRules.map((r) => `"${r.label}"`).join(', ')}) cannot trust any peer`);
    }
    return out;
  }

  /** Empties the peer certificate cache. @returns how many certificates it held */
  flushReceived(): number {
    const n = this.received.size;
    this.received.clear();
    return n;
  }

  /** Releases the private keys opened through the RSA provider. */
  close(): void {
    for (const k of this.opened.values()) k.then((key) => key.dispose(), () => undefined);
    this.opened.clear();
  }
}

/**
 * A hint pairs by name only; before its first use the token's public key object of the same
 * label/id must carry the certificate's modulus, so a wrong pairing is named here rather than
 * showing up as the peer's AUTHENTICATION_FAILED. No public key object: nothing to compare.
 */
function tokenKeyMismatch(key: StoredKey & { hint: HintFile }, cert: StoredCertificate): string | undefined {
  const token = openTokenNamed(key.hint.token);
  if (!token) return undefined;
  const ref = key.source as { token: { label?: string; id?: Buffer } };
  const t: P.Template = [{ type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY }];
  if (ref.token.label !== undefined) t.push({ type: P.CKA_LABEL, value: ref.token.label });
  if (ref.token.id !== undefined) t.push({ type: P.CKA_ID, value: ref.token.id });
  try {
    const found = token.find(t, 2);
    if (found.length !== 1) return undefined;
    const strip = (b: Buffer): Buffer => b.subarray(b.findIndex((x) => x !== 0));
    const onToken = strip(token.attribute(found[0]!, P.CKA_MODULUS));
    const inCert = strip(Buffer.from(cert.cert.publicKey.export({ format: 'jwk' }).n ?? '', 'base64url'));
    if (onToken.equals(inCert)) return undefined;
  } catch {
    return undefined; // the token's own error comes with the signature
  }
  return `the key "${key.hint.object}" on PKCS#11 token "${key.hint.token}" (${key.file}) is not the key of certificate ${cert.file} (${cert.subject})`;
}

function describeSelector(s: Selector): string {
  return [...s.includes.map((x) => `"${x}"`), ...s.excludes.map((x) => `"!${x}"`)].join(' ') || '(none)';
}

/**
 * A signing failure (a token error: the token gone, the key object deleted, C_Sign refused) ends
 * the negotiation; with AUTHENTICATION_FAILED in its detail the engine tells the peer, whose half
 * of the exchange then ends at once instead of at its retransmission limit.
 */
function notifyingFailures(key: RsaPrivateKey): RsaPrivateKey {
  return {
    path: key.path,
    bits: key.bits,
    sign: (data, scheme) => key.sign(data, scheme).catch((e: unknown) => { throw withNotify(e, NotifyType.AUTHENTICATION_FAILED); }),
    dispose: () => key.dispose(),
  };
}

/** The error with `notify` in its detail (kept when it has one already). */
function withNotify(e: unknown, notify: number): unknown {
  if (!OakleyError.is(e) || e.detail?.notify !== undefined) return e;
  return new OakleyError(e.code, e.message, { ...e.detail, notify }, { cause: e });
}

/** What the daemon state holds for the credentials: its parsed ike/config and its keystore. */
export interface KeystoreState {
  readonly ike: IkeConfig;
  readonly keystore?: DaemonKeystore;
}

/**
 * The engine's certificate credentials over the daemon's current state, read at each call so a
 * reload (new rules and a new keystore installed together) takes effect for the next exchange.
 * Engine rules are matched to ike/config rules by label.
 * @param warn where stale or untrusted CRL warnings go (the daemon's log)
 */
export function keystoreCredentials(rsa: RsaProvider, state: () => KeystoreState, warn?: (message: string) => void):
  Required<Pick<Ikev1Credentials, 'rsaSigner' | 'rsaVerifier' | 'certificateAuthorities'>> {
  // Called once the crypto suite has opened its token: stored PINs unlock token keys now.
  state().keystore?.useStoredPins(warn);
  const ruleOf = (r: Ikev1Rule): IkeRule | undefined => state().ike.rules.find((x) => x.label === r.label);
  const store = (): DaemonKeystore => {
    const ks = state().keystore;
    if (!ks) throw new OakleyError(KeystoreErr.NO_CERT, 'no certificate store is loaded', { notify: NotifyType.CERTIFICATE_UNAVAILABLE });
    return ks;
  };
  return {
    rsaSigner: async (r) => {
      const rule = ruleOf(r);
      if (!rule) throw new OakleyError(KeystoreErr.NO_CERT, `rule "${r.label}" is not in the running ike/config`, { notify: NotifyType.AUTHENTICATION_FAILED });
      return store().signer(rsa, rule);
    },
    rsaVerifier: async (r, peerId, certs) => store().verify(rsa, ruleOf(r), peerId, certs, warn),
    certificateAuthorities: () => state().keystore?.authorities() ?? [],
  };
}
