/**
 * /etc/inet/ike/config (ike.config(4), solaris-ike.md §1): the whole grammar of §1.3 — global-only
 * parameters (§1.4), defaults and rule parameters (§1.5), `p1_xform` blocks (§1.6) — with the
 * validation and inheritance of §1.7 done when each rule's closing `}` is read, plus Oakley's
 * crypto-path keywords (validated by parseCryptoConfig, src/policy/crypto-config.ts).
 *
 * Oakley extension, rule only: `aggressive_responder yes|no` (default no) — answer Aggressive Mode
 * as responder under this rule (see Ikev1Rule.aggressiveResponder for why it is off by default).
 * Oakley extension, global: `dpd_idle_secs N` (default 0 = off) — send an RFC 3706 R-U-THERE
 * after N idle seconds on an ISAKMP SA whose peer announced DPD; peers that stop answering are
 * declared dead and their SAs deleted. R-U-THERE from a peer is always answered.
 * Oakley extensions, global, flood bounds (src/exchange/ikev1/admission.ts): `p1_half_open_max N`
 * (default 4096, 0 = no cap) half-open responder SAs at most, the oldest evicted first;
 * `p1_new_per_source N` (default 500, 0 = no limit) new responder SAs per second per source
 * address, with a burst of twice that.
 *
 * Differences from S11, on purpose: mixing preshared and certificate transforms is refused in every
 * rule, not only for inherited transforms (§1.7 step 5); an octal number with digits 8/9 is an
 * error instead of being cut short by strtoul. Diagnostics that Solaris only logs (repeated flags,
 * `local_id_type` twice, lifetimes raised to their minimum) are returned in `warnings`.
 * Every error is an OakleyError IKE_ERR_CONFIG naming file:line:column and what was expected.
 */
import { type CryptoConfig, parseCryptoConfig } from './crypto-config';
import { configError, type Position, type Token, tokenize } from './lexer';
import { type AddrRange, checkUnicastRange, parseAddrRange } from './addresses';
import { normalizeP2Lifetimes, P1_LIFETIME, type P2Lifetimes } from '../exchange/ikev1/lifetimes';
import type { KeyLengthRange, P1Encr, P1Hash } from '../exchange/ikev1/proposals';

/** Canonical local_id_type names (the spellings `ikeadm write rule` uses, §1.8). */
export type IdTypeName = 'ip' | 'ipv6' | 'ipv4_prefix' | 'ipv6_prefix' | 'ipv4_range' | 'ipv6_range' | 'fqdn' | 'user_fqdn' | 'dn' | 'gn';
export type AuthMethod = 'preshared' | 'rsa_sig' | 'rsa_encrypt' | 'dss_sig' | 'improved_rsa_encrypt';
export type P1Mode = 'main' | 'aggressive' | 'any';

const ID_TYPES: Readonly<Record<string, IdTypeName>> = {
  ip: 'ip', IP: 'ip', ipv4: 'ip', ipv6: 'ipv6', ipv4_prefix: 'ipv4_prefix', ipv6_prefix: 'ipv6_prefix',
  ipv4_range: 'ipv4_range', ipv6_range: 'ipv6_range', dns: 'fqdn', DNS: 'fqdn', fqdn: 'fqdn', FQDN: 'fqdn',
  mbox: 'user_fqdn', MBOX: 'user_fqdn', email: 'user_fqdn', EMAIL: 'user_fqdn', user_fqdn: 'user_fqdn',
  dn: 'dn', DN: 'dn', gn: 'gn', GN: 'gn',
};
export const ADDRESS_ID_TYPES: readonly IdTypeName[] = ['ip', 'ipv6', 'ipv4_prefix', 'ipv6_prefix', 'ipv4_range', 'ipv6_range'];
const AUTH_METHODS: readonly AuthMethod[] = ['preshared', 'rsa_sig', 'rsa_encrypt', 'dss_sig', 'improved_rsa_encrypt'];
/** §1.6: oakley_group accepts 1-5 and 14-26; p2_pfs the same plus 0 (§6.2). */
export const CONFIG_GROUPS: readonly number[] = [1, 2, 3, 4, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26];
const ENCR: Readonly<Record<string, P1Encr>> = {
  des: 'des', 'des-cbc': 'des', '3des': '3des', '3des-cbc': '3des', blowfish: 'blowfish', 'blowfish-cbc': 'blowfish', aes: 'aes', 'aes-cbc': 'aes',
};
const HASH: Readonly<Record<string, P1Hash>> = {
  md5: 'md5', sha: 'sha1', sha1: 'sha1', 'sha-1': 'sha1', sha256: 'sha256', 'sha-256': 'sha256',
  sha384: 'sha384', 'sha-384': 'sha384', sha512: 'sha512', 'sha-512': 'sha512',
};
const YES_NO: Readonly<Record<string, boolean>> = { yes: true, true: true, no: false, false: false };

/** A certificate selector list (§1.2 cert-sel): includes and `!` excludes, in file order. */
export interface CertSel {
  readonly includes: readonly string[];
  readonly excludes: readonly string[];
}

/** One `p1_xform { ... }` (§1.6). */
export interface P1Xform {
  readonly auth: AuthMethod;
  readonly group: number;
  readonly encr: P1Encr;
  /** AES only; plain `aes` = 128..256. */
  readonly keyLengths?: KeyLengthRange;
  readonly hash: P1Hash;
  /** Resolved: the transform's own value, else the global p1_lifetime_secs, else 3600; minimum 60. */
  readonly lifetimeSecs: number;
  readonly pos: Position;
}

/** A validated rule (§1.7 applied: everything inherited is filled in). */
export interface IkeRule {
  readonly label: string;
  readonly pos: Position;
  readonly localAddrs: readonly AddrRange[];
  readonly remoteAddrs: readonly AddrRange[];
  /** Absent only for certificate rules... never: preshared rules default to `ip`. */
  readonly localIdType: IdTypeName;
  readonly localId: CertSel;
  readonly remoteId: CertSel;
  readonly p1Mode: P1Mode;
  readonly xforms: readonly P1Xform[];
  /** Normalised per §5.7. */
  readonly p2: P2Lifetimes;
  readonly p2SoftDisabled: boolean;
  /** 0 = no PFS. */
  readonly pfsGroup: number;
  readonly preshared: boolean;
  readonly aggressiveResponder: boolean;
  readonly multiLabel?: boolean;
  readonly wireLabel?: string;
  /** Oakley extension `remote_port N`: the peer's IKE port when initiating (default 500). */
  readonly remotePort?: number;
}

export interface IkeGlobals {
  readonly certRoot: readonly string[];
  readonly certTrust: readonly string[];
  readonly certRequest: readonly string[];
  readonly ignoreCrls: boolean;
  readonly useHttp: boolean;
  readonly proxy?: string;
  readonly socks?: string;
  readonly ldapServers: readonly { host: string; port: number }[];
  readonly pkcs11Path?: string;
  readonly expireTimerSecs: number;
  /** Oakley: dpd_idle_secs (0 = off). */
  readonly dpdIdleSecs: number;
  /** Oakley: p1_half_open_max, p1_new_per_source. */
  readonly halfOpenMax: number;
  readonly newPerSource: number;
  readonly retryLimit: number;
  readonly retryTimerInitSecs: number;
  readonly retryTimerMaxSecs: number;
  readonly maxCerts: number;
  readonly natTPort: number;
  readonly p1LifetimeSecs: number;
  readonly p1NonceLen: number;
  readonly p2NonceLen: number;
  readonly labelAware: boolean;
  readonly wireLabel?: string;
  /** Normalised global p2 defaults. */
  readonly p2: P2Lifetimes;
  readonly pfsGroup: number;
}

export interface IkeConfig {
  readonly globals: IkeGlobals;
  readonly crypto: CryptoConfig;
  readonly rules: readonly IkeRule[];
  /** Diagnostics Solaris only logs, each prefixed with file:line:column. */
  readonly warnings: readonly string[];
}

/** Parameters that may be given globally (as defaults) or in a rule. */
interface Defaults {
  localAddrs: AddrRange[];
  remoteAddrs: AddrRange[];
  localIdType?: IdTypeName;
  localId: { includes: string[]; excludes: string[] };
  remoteId: { includes: string[]; excludes: string[] };
  p1Mode?: 'main' | 'aggressive';
  xforms: RawXform[];
  hardSecs: number; softSecs: number; idleSecs: number; hardKb: number; softKb: number;
  pfs: number;
  multiLabel?: boolean;
  wireLabel?: string;
}
interface RawXform { auth: AuthMethod; group: number; encr: P1Encr; keyLengths?: KeyLengthRange; hash: P1Hash; lifetimeSecs?: number; pos: Position }

const emptyDefaults = (): Defaults => ({
  localAddrs: [], remoteAddrs: [], localId: { includes: [], excludes: [] }, remoteId: { includes: [], excludes: [] },
  xforms: [], hardSecs: 0, softSecs: 0, idleSecs: 0, hardKb: 0, softKb: 0, pfs: 0,
});

const GLOBAL_ONLY = new Set(['cert_root', 'cert_trust', 'cert_request', 'ignore_crls', 'use_http', 'proxy', 'socks', 'ldap_server',
  'pkcs11_path', 'expire_timer', 'retry_limit', 'retry_timer_init', 'retry_timer_max', 'max_certs', 'nat_t_port',
  'p1_lifetime_secs', 'p1_nonce_len', 'p2_nonce_len', 'label_aware', 'dpd_idle_secs', 'p1_half_open_max', 'p1_new_per_source']);
/** Oakley crypto-path keywords (crypto-config.ts) and their argument counts. */
const CRYPTO_KEYWORDS: Readonly<Record<string, number>> = {
  pkcs11_token: 1, crypto_path: 2, dh_exponent_bits: 1, pkcs11_secret_on_token: 1, pkcs11_token_random: 1,
  pkcs11_reinit_after: 1, pkcs11_async_keyops: 1,
};
const MAX_LABEL = 245;
const U32_MAX = 4294967295;

/** Parses one unsigned integer as C strtoul(…, 0) would for a `[0-9]+` token (leading 0 = octal). */
function u32(text: string): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  let v: number;
  if (text.length > 1 && text[0] === '0') {
    if (!/^[0-7]+$/.test(text)) return undefined;
    v = parseInt(text, 8);
  } else v = Number(text);
  return v <= U32_MAX ? v : undefined;
}

class Cursor {
  i = 0;
  constructor(readonly tokens: readonly Token[], readonly file: string) {}
  peek(): Token | undefined { return this.tokens[this.i]; }
  next(after: Token, what: string): Token {
    const t = this.tokens[this.i++];
    if (!t) throw configError(after.pos, `${after.text}: expected ${what}, but the file ends`);
    return t;
  }
  atom(after: Token, what: string): Token {
    const t = this.next(after, what);
    if (t.kind !== 'atom') throw configError(t.pos, `${after.text}: expected ${what}, found "${t.text}"`);
    return t;
  }
  str(after: Token, what: string): string {
    const t = this.next(after, what);
    if (t.kind !== 'string') throw configError(t.pos, `${after.text}: expected ${what} as a quoted string, found "${t.text}"`);
    return t.text;
  }
  uint(after: Token, what = 'an unsigned number', min = 0, max = U32_MAX): number {
    const t = this.atom(after, what);
    const v = u32(t.text);
    if (v === undefined || v < min || v > max) {
      throw configError(t.pos, `${after.text}: expected ${what} (${min}..${max}), found "${t.text}"`);
    }
    return v;
  }
  /** An address literal; whitespace around `/` and `-` joins up to three atoms (§1.2). */
  addr(after: Token): AddrRange {
    const first = this.atom(after, 'an address, range or prefix');
    let text = first.text;
    for (;;) {
      const n = this.peek();
      const joins = /[-/]$/.test(text) || (n?.kind === 'atom' && /^[-/]/.test(n.text));
      if (!joins) break;
      if (!n || n.kind !== 'atom') throw configError(first.pos, `${after.text}: "${text}" is not complete`);
      text += n.text;
      this.i++;
    }
    const r = parseAddrRange(text);
    if (typeof r === 'string') throw configError(first.pos, `${after.text}: ${r}`);
    const bad = checkUnicastRange(r);
    if (bad) throw configError(first.pos, `${after.text}: ${bad}`);
    return r;
  }
}

function pushSel(sel: { includes: string[]; excludes: string[] }, s: string): void {
  if (s.startsWith('!')) sel.excludes.push(s.slice(1));
  else sel.includes.push(s);
}

function parseXform(c: Cursor, kw: Token): RawXform {
  const open = c.next(kw, '"{"');
  if (open.kind !== '{') throw configError(open.pos, `p1_xform: expected "{", found "${open.text}"`);
  const x: Partial<RawXform> = { pos: kw.pos };
  const dup = (t: Token, what: string): never => { throw configError(t.pos, `phase 1 transform already has ${what}`); };
  for (;;) {
    const t = c.next(kw, 'a transform parameter or "}"');
    if (t.kind === '}') break;
    if (t.kind !== 'atom') throw configError(t.pos, `p1_xform: expected auth_method, oakley_group, encr_alg, auth_alg, p1_lifetime_secs or "}", found "${t.text}"`);
    switch (t.text) {
      case 'auth_method': {
        if (x.auth) dup(t, 'an auth method');
        const v = c.atom(t, `an auth method (${AUTH_METHODS.join(', ')})`);
        if (!AUTH_METHODS.includes(v.text as AuthMethod)) throw configError(v.pos, `auth_method: expected one of ${AUTH_METHODS.join(', ')}, found "${v.text}"`);
        x.auth = v.text as AuthMethod;
        break;
      }
      case 'oakley_group': case 'dh_group': {
        if (x.group !== undefined) dup(t, 'a Oakley group');
        const v = c.atom(t, 'a group number');
        const g = u32(v.text);
        if (g === undefined || !CONFIG_GROUPS.includes(g)) throw configError(v.pos, `Unsupported Oakley group "${v.text}" (expected 1-5 or 14-26)`);
        x.group = g;
        break;
      }
      case 'encr_alg': {
        if (x.encr) dup(t, 'an encr algorithm');
        const v = c.atom(t, 'an encryption algorithm');
        const m = /^([^()]+)(?:\((.*)\))?$/.exec(v.text);
        const encr = m ? ENCR[m[1]!.toLowerCase()] : undefined;
        if (!encr) throw configError(v.pos, `phase 1 transform must specify an encr algorithm (des, 3des, blowfish, aes; found "${v.text}")`);
        if (m![2] !== undefined) {
          if (encr !== 'aes') throw configError(v.pos, 'Cannot specify key size on non-AES ciphers.');
          const r = /^(\d*)\.\.(\d*)$/.exec(m![2]);
          if (!r) throw configError(v.pos, `malformed encryption key range "${v.text}" (expected aes(low..high))`);
          const min = r[1] ? Number(r[1]) : 128;
          const max = r[2] ? Number(r[2]) : 256;
          if (![128, 192, 256].includes(min) || ![128, 192, 256].includes(max) || min > max) {
            throw configError(v.pos, `Invalid key size for AES in "${v.text}" (bounds 128, 192, 256, low <= high)`);
          }
          x.keyLengths = { min, max };
        }
        x.encr = encr;
        break;
      }
      case 'auth_alg': {
        if (x.hash) dup(t, 'an auth algorithm');
        const v = c.atom(t, 'a hash algorithm');
        const h = HASH[v.text.toLowerCase()];
        if (!h) throw configError(v.pos, `auth_alg: expected md5, sha1, sha256, sha384 or sha512, found "${v.text}"`);
        x.hash = h;
        break;
      }
      case 'p1_lifetime_secs':
        if (x.lifetimeSecs !== undefined) dup(t, 'a lifetime');
        x.lifetimeSecs = c.uint(t, 'a lifetime in seconds');
        break;
      default:
        throw configError(t.pos, `p1_xform: expected auth_method, oakley_group, encr_alg, auth_alg, p1_lifetime_secs or "}", found "${t.text}"`);
    }
  }
  if (!x.encr) throw configError(kw.pos, 'phase 1 transform must specify an encr algorithm');
  if (!x.hash) throw configError(kw.pos, 'phase 1 transform must specify an auth algorithm');
  if (x.group === undefined) throw configError(kw.pos, 'phase 1 transform must specify a Oakley group');
  if (!x.auth) throw configError(kw.pos, 'phase 1 transform must specify an auth method');
  return x as RawXform;
}

/**
 * Parses and validates a whole ike/config text.
 * @throws OakleyError IKE_ERR_CONFIG naming file:line:column
 */
export function parseIkeConfig(text: string, file: string): IkeConfig {
  const c = new Cursor(tokenize(text, file), file);
  const warnings: string[] = [];
  const warn = (pos: Position, msg: string): void => { warnings.push(`${pos.file}:${pos.line}:${pos.column}: ${msg}`); };
  const g = {
    certRoot: [] as string[], certTrust: [] as string[], certRequest: [] as string[], ignoreCrls: false, useHttp: false,
    proxy: undefined as string | undefined, socks: undefined as string | undefined, ldapServers: [] as { host: string; port: number }[],
    pkcs11Path: undefined as string | undefined, expireTimerSecs: 300, dpdIdleSecs: 0, halfOpenMax: 4096, newPerSource: 500, retryLimit: 5, retryTimerInitSecs: 0.5, retryTimerMaxSecs: 30,
    maxCerts: 1024, natTPort: 4500, p1LifetimeSecs: P1_LIFETIME.defaultSecs as number, p1NonceLen: 64, p2NonceLen: 64, labelAware: false,
    wireLabel: undefined as string | undefined,
  };
  const defaults = emptyDefaults();
  const rawRules: { d: Defaults; label?: string; pos: Position; end: Position; aggr: boolean; localIdTypeSet: boolean; remotePort?: number }[] = [];
  let sawRule = false;

  const secondsOrFloat = (kw: Token): number => {
    const v = c.atom(kw, 'seconds');
    if (/^[0-9]+\.[0-9]+$/.test(v.text)) return Number(v.text);
    const n = u32(v.text);
    if (n === undefined) throw configError(v.pos, `${kw.text}: expected seconds as a number or a decimal like 0.5, found "${v.text}"`);
    return n;
  };

  const wireLabel = (kw: Token): string => {
    const v = c.next(kw, '"inner", a label or "none" label');
    if (v.kind === 'atom' && v.text === 'inner') return 'inner';
    if (v.kind === 'atom' && v.text === 'none') {
      const l = c.next(v, 'a label');
      if (l.kind === 'string' || /^0x[0-9a-fA-F]+(-[0-9a-fA-F]+)+$/.test(l.text)) return `none ${l.kind === 'string' ? JSON.stringify(l.text) : l.text}`;
      throw configError(l.pos, `wire_label none: expected a label, found "${l.text}"`);
    }
    if (v.kind === 'string') return JSON.stringify(v.text);
    if (v.kind === 'atom' && /^0x[0-9a-fA-F]+(-[0-9a-fA-F]+)+$/.test(v.text)) return v.text;
    throw configError(v.pos, `wire_label: expected "inner", a label or "none" label, found "${v.text}"`);
  };

  /** A parameter valid both globally and in a rule; false when `t` is not one. */
  const defaultParam = (t: Token, d: Defaults, inRule: boolean): boolean => {
    switch (t.text) {
      case 'local_addr': d.localAddrs.push(c.addr(t)); return true;
      case 'remote_addr': d.remoteAddrs.push(c.addr(t)); return true;
      case 'local_id': pushSel(d.localId, c.str(t, 'a certificate selector')); return true;
      case 'remote_id': pushSel(d.remoteId, c.str(t, 'a certificate selector')); return true;
      case 'local_id_type': {
        const v = c.atom(t, 'an identity type');
        const idt = ID_TYPES[v.text];
        if (!idt) throw configError(v.pos, `local_id_type: expected ${Object.keys(ID_TYPES).join(', ')}; found "${v.text}"`);
        if (inRule && d.localIdType !== undefined) warn(t.pos, 'rule already has a local id type');
        d.localIdType = idt;
        return true;
      }
      case 'p1_mode': {
        const v = c.atom(t, 'main or aggressive');
        if (v.text !== 'main' && v.text !== 'aggressive') throw configError(v.pos, `p1_mode: expected main or aggressive, found "${v.text}"`);
        d.p1Mode = v.text;
        return true;
      }
      case 'p1_xform': d.xforms.push(parseXform(c, t)); return true;
      case 'p2_lifetime_secs': d.hardSecs = c.uint(t, 'seconds'); return true;
      case 'p2_softlife_secs': d.softSecs = c.uint(t, 'seconds'); return true;
      case 'p2_idletime_secs': d.idleSecs = c.uint(t, 'seconds'); return true;
      case 'p2_lifetime_kb': d.hardKb = c.uint(t, 'KiB'); return true;
      case 'p2_softlife_kb': d.softKb = c.uint(t, 'KiB'); return true;
      case 'p2_pfs': {
        const v = c.atom(t, 'a group number');
        const n = u32(v.text);
        if (n === undefined || (n !== 0 && !CONFIG_GROUPS.includes(n))) throw configError(v.pos, `p2_pfs: expected 0 or a group number (1-5, 14-26), found "${v.text}"`);
        if (inRule && n !== 0 && d.pfs !== 0) throw configError(t.pos, 'Rule already has a PFS group');
        d.pfs = n;
        return true;
      }
      case 'multi_label': d.multiLabel = true; return true;
      case 'single_label': d.multiLabel = false; return true;
      case 'wire_label': d.wireLabel = wireLabel(t); return true;
      default: return false;
    }
  };

  const parseRule = (open: Token): void => {
    const d = emptyDefaults();
    let label: string | undefined;
    let aggr = false;
    let remotePort: number | undefined;
    for (;;) {
      const t = c.next(open, 'a rule parameter or "}"');
      if (t.kind === '}') {
        rawRules.push({ d, label, pos: open.pos, end: t.pos, aggr, localIdTypeSet: d.localIdType !== undefined, ...(remotePort !== undefined ? { remotePort } : {}) });
        return;
      }
      if (t.kind !== 'atom') throw configError(t.pos, `expected a rule parameter or "}", found ${t.kind === '{' ? '"{" (rules do not nest)' : `"${t.text}"`}`);
      if (t.text === 'label') {
        const l = c.str(t, 'the rule label');
        if (label !== undefined) throw configError(t.pos, 'multiple rule labels');
        if (l.length > MAX_LABEL) throw configError(t.pos, `Label name too long (${l.length} characters, at most ${MAX_LABEL})`);
        if (l === '') throw configError(t.pos, 'rule requires a label (the label is empty)');
        label = l;
        continue;
      }
      if (t.text === 'remote_port') {
        // Oakley extension: the peer's IKE port (daemons side by side on one address, in tests).
        const v = c.atom(t, 'a port');
        const n = u32(v.text);
        if (n === undefined || n < 1 || n > 65535) throw configError(v.pos, `remote_port: Port number must be in range (1 - 65535), found "${v.text}"`);
        remotePort = n;
        continue;
      }
      if (t.text === 'aggressive_responder') {
        const v = c.atom(t, 'yes or no');
        if (!(v.text in YES_NO)) throw configError(v.pos, `aggressive_responder: expected yes or no, found "${v.text}"`);
        aggr = YES_NO[v.text]!;
        continue;
      }
      if (defaultParam(t, d, true)) continue;
      if (GLOBAL_ONLY.has(t.text) || t.text in CRYPTO_KEYWORDS) throw configError(t.pos, `${t.text} is a global parameter and cannot appear inside a rule`);
      throw configError(t.pos, `unknown rule parameter "${t.text}"`);
    }
  };

  for (let t = c.peek(); t; t = c.peek()) {
    c.i++;
    if (t.kind === '{') { sawRule = true; parseRule(t); continue; }
    if (t.kind !== 'atom') throw configError(t.pos, `expected a global parameter or "{", found "${t.text}"`);
    if (sawRule) throw configError(t.pos, `global parameter "${t.text}" after the first rule (all globals must precede the first rule)`);
    if (t.text === 'label') throw configError(t.pos, 'label cannot appear outside rule');
    if (t.text === 'aggressive_responder') throw configError(t.pos, 'aggressive_responder cannot appear outside rule');
    if (defaultParam(t, defaults, false)) continue;
    switch (t.text) {
      case 'cert_root': g.certRoot.push(c.str(t, 'a certificate selector')); break;
      case 'cert_trust': g.certTrust.push(c.str(t, 'a certificate selector')); break;
      case 'cert_request': g.certRequest.push(c.str(t, 'a certificate selector')); break;
      case 'ignore_crls': if (g.ignoreCrls) warn(t.pos, 'Already specified ignore_crls'); g.ignoreCrls = true; break;
      case 'use_http': if (g.useHttp) warn(t.pos, 'Already specified use_http'); g.useHttp = true; break;
      case 'label_aware': g.labelAware = true; break;
      case 'proxy':
        if (g.proxy !== undefined) throw configError(t.pos, 'proxy is already specified');
        g.proxy = c.str(t, 'the proxy URL');
        break;
      case 'socks':
        if (g.socks !== undefined) throw configError(t.pos, 'socks is already specified');
        g.socks = c.str(t, 'the SOCKS URL');
        break;
      case 'ldap_server': {
        const s = c.str(t, 'a comma-separated list of host[:port]');
        const servers: { host: string; port: number }[] = [];
        for (const item of s.split(',').map((x) => x.trim())) {
          const m = /^([^:\s]+)(?::(\d+))?$/.exec(item);
          const port = m?.[2] !== undefined ? Number(m[2]) : 389;
          if (!m || port < 1 || port > 65535) throw configError(t.pos, `ldap_server: "${item}" is not host[:port]`);
          servers.push({ host: m[1]!, port });
        }
        g.ldapServers = servers; // S11: the last occurrence wins
        break;
      }
      case 'pkcs11_path': {
        const p = c.str(t, 'the PKCS#11 library path');
        if (g.pkcs11Path !== undefined && g.pkcs11Path !== p) throw configError(t.pos, 'Already specified different PKCS#11 path');
        g.pkcs11Path = p;
        break;
      }
      case 'expire_timer': g.expireTimerSecs = c.uint(t, 'seconds'); break;
      case 'dpd_idle_secs': g.dpdIdleSecs = c.uint(t, 'seconds (0 = no DPD)'); break;
      case 'p1_half_open_max': g.halfOpenMax = c.uint(t, 'a number of half-open Phase 1 SAs (0 = no cap)'); break;
      case 'p1_new_per_source': g.newPerSource = c.uint(t, 'new Phase 1 SAs per second per source (0 = no limit)'); break;
      case 'retry_limit': g.retryLimit = c.uint(t, 'a retransmission count'); break;
      case 'retry_timer_init': g.retryTimerInitSecs = secondsOrFloat(t); break;
      case 'retry_timer_max': g.retryTimerMaxSecs = secondsOrFloat(t); break;
      case 'max_certs': g.maxCerts = c.uint(t, 'a certificate count'); break;
      case 'nat_t_port': {
        const v = c.atom(t, 'a port');
        const n = u32(v.text);
        if (n === undefined || n < 1 || n > 65535) throw configError(v.pos, `Port number must be in range (1 - 65535), found "${v.text}"`);
        g.natTPort = n;
        break;
      }
      case 'p1_lifetime_secs': {
        const n = c.uint(t, 'seconds');
        if (n < P1_LIFETIME.minSecs) warn(t.pos, `p1_lifetime_secs ${n} raised to ${P1_LIFETIME.minSecs}`);
        g.p1LifetimeSecs = Math.max(n, P1_LIFETIME.minSecs);
        break;
      }
      case 'p1_nonce_len': g.p1NonceLen = c.uint(t, 'a nonce length in bytes', 8, 256); break;
      case 'p2_nonce_len': g.p2NonceLen = c.uint(t, 'a nonce length in bytes', 8, 256); break;
      default: {
        const n = CRYPTO_KEYWORDS[t.text];
        if (n === undefined) throw configError(t.pos, `unknown global parameter "${t.text}"`);
        for (let k = 0; k < n; k++) {
          const v = c.next(t, 'an argument');
          if (v.kind === '{' || v.kind === '}') throw configError(v.pos, `${t.text}: expected an argument, found "${v.text}"`);
        }
      }
    }
  }

  // §1.7, per rule.
  const gLife = normalizeP2Lifetimes(defaults);
  const labels = new Map<string, Position>();
  const rules: IkeRule[] = [];
  const resolveXform = (x: RawXform, end: Position): P1Xform => {
    let secs = x.lifetimeSecs ?? g.p1LifetimeSecs;
    if (secs < P1_LIFETIME.minSecs) { warn(end, `p1_lifetime_secs ${secs} raised to ${P1_LIFETIME.minSecs}`); secs = P1_LIFETIME.minSecs; }
    return { auth: x.auth, group: x.group, encr: x.encr, ...(x.keyLengths ? { keyLengths: x.keyLengths } : {}), hash: x.hash, lifetimeSecs: secs, pos: x.pos };
  };
  for (const r of rawRules) {
    const d = r.d;
    const at = r.end; // Solaris validates when the closing brace is read
    if (r.label === undefined) throw configError(at, 'rule requires a label');
    const localAddrs = d.localAddrs.length ? d.localAddrs : defaults.localAddrs;
    const remoteAddrs = d.remoteAddrs.length ? d.remoteAddrs : defaults.remoteAddrs;
    if (!localAddrs.length) throw configError(at, `rule "${r.label}" doesn't specify local address`);
    if (!remoteAddrs.length) throw configError(at, `rule "${r.label}" doesn't specify remote address`);
    const v6 = localAddrs[0]!.v6;
    if (localAddrs.some((a) => a.v6 !== v6) || remoteAddrs.some((a) => a.v6 !== v6)) {
      throw configError(at, `rule "${r.label}": Invalid combination of IPv4 and IPv6 addresses`);
    }
    const raw = d.xforms.length ? d.xforms : defaults.xforms;
    if (!raw.length) throw configError(at, `rule "${r.label}" doesn't specify any phase 1 transforms`);
    const preshared = raw[0]!.auth === 'preshared';
    const mixed = raw.find((x) => (x.auth === 'preshared') !== preshared);
    if (mixed) throw configError(mixed.pos, `rule "${r.label}": all or no preshared phase 1 auth methods`);
    let localIdType = d.localIdType ?? defaults.localIdType;
    let localId: CertSel = d.localId;
    let remoteId: CertSel = d.remoteId;
    if (preshared) {
      localIdType ??= 'ip';
      if (!ADDRESS_ID_TYPES.includes(localIdType)) throw configError(at, `rule "${r.label}": preshared key authentication requires identity type to be IP`);
      if (d.localId.includes.length + d.localId.excludes.length + d.remoteId.includes.length + d.remoteId.excludes.length) {
        throw configError(at, `rule "${r.label}": preshared key authentication doesn't allow identity specification`);
      }
    } else {
      const none = (s: CertSel) => s.includes.length + s.excludes.length === 0;
      if (none(localId)) localId = defaults.localId;
      if (none(remoteId)) remoteId = defaults.remoteId;
      if (!localIdType) throw configError(at, `rule "${r.label}" doesn't specify local id type`);
      if (none(localId)) throw configError(at, `rule "${r.label}" doesn't specify local identity`);
      if (none(remoteId)) throw configError(at, `rule "${r.label}" doesn't specify remote identity`);
    }
    const life = normalizeP2Lifetimes({
      hardSecs: d.hardSecs || gLife.lifetimes.hardSecs,
      softSecs: d.softSecs || gLife.lifetimes.softSecs,
      idleSecs: d.idleSecs || gLife.lifetimes.idleSecs,
      hardKb: d.hardKb || gLife.lifetimes.hardKb,
      softKb: d.softKb || gLife.lifetimes.softKb,
    });
    for (const w of life.warnings) warn(at, `rule "${r.label}": ${w}`);
    const prev = labels.get(r.label);
    if (prev) throw configError(r.pos, `rule label not unique: "${r.label}" is already used at line ${prev.line}`);
    labels.set(r.label, r.pos);
    const multiLabel = d.multiLabel ?? defaults.multiLabel;
    const wl = d.wireLabel ?? defaults.wireLabel;
    rules.push({
      label: r.label, pos: r.pos, localAddrs, remoteAddrs, localIdType, localId, remoteId,
      p1Mode: d.p1Mode ?? defaults.p1Mode ?? 'any',
      xforms: raw.map((x) => resolveXform(x, at)),
      p2: life.lifetimes, p2SoftDisabled: life.softDisabled,
      pfsGroup: d.pfs || defaults.pfs,
      preshared, aggressiveResponder: r.aggr,
      ...(multiLabel !== undefined ? { multiLabel } : {}),
      ...(wl !== undefined ? { wireLabel: wl } : {}),
      ...(r.remotePort !== undefined ? { remotePort: r.remotePort } : {}),
    });
  }
  for (const w of gLife.warnings) warnings.push(`${file}: global defaults: ${w}`);

  const crypto = parseCryptoConfig(text, file);
  return {
    globals: { ...g, p2: gLife.lifetimes, pfsGroup: defaults.pfs },
    crypto,
    rules,
    warnings,
  };
}
