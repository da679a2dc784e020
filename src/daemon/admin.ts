/**
 * The daemon's administrative control handlers (solaris-ike.md §3.2) that change or show policy
 * and credentials at run time: add/del/write rule, get/add/del/dump/write preshared,
 * dump groups/encralgs/authalgs, dump/flush certcache, token login/logout.
 *
 * Every mutation is transactional: the new state is parsed, validated and compiled in full
 * (rules through the whole ike/config grammar and buildEngineRules) before anything is installed,
 * so an error leaves the running configuration exactly as it was. As on Solaris, the changes live
 * in memory only: `read rule|preshared` and SIGHUP replace them with the files' contents.
 *
 * Privileges are enforced by the control server (COMMAND_PRIVILEGE); the handlers here only decide
 * what a result may contain at the caller's effective privilege (pre-shared key bytes at keymat).
 */
import fs from 'node:fs';

import type { CertCacheEntry, EncrAlgInfo, GroupInfo, HashAlgInfo, PresharedInfo } from '../control/commands';
import { ControlErr } from '../control/frame';
import type { ControlContext, ControlHandlers } from '../control/server';
import { getGroup } from '../crypto/groups';
import type { CryptoSuite } from '../crypto/registry';
import type { TokenLogin } from '../crypto/types';
import type { Ikev1Rule } from '../exchange/ikev1/config';
import { CIPHER_OF, HASH_ALG } from '../exchange/ikev1/phase1-context';
import { P1_SUPPORTED_GROUPS, type P1Encr, type P1Hash } from '../exchange/ikev1/proposals';
import { type AddrRange, formatAddress, parseAddress, parseAddrRange } from '../policy/addresses';
import { buildEngineRules } from '../policy/engine-rules';
import { type IkeConfig, type IkeRule, parseIkeConfig } from '../policy/ike-config';
import { configError, type Position, type Token, tokenize, where } from '../policy/lexer';
import { parsePreshared, presharedLookup, type PresharedEntry } from '../policy/preshared';
import { serializeRule } from '../policy/serialize';
import { CryptoErr, OakleyError } from '../util/errors';
import type { Logger } from '../util/log';
import { IkeEncr, IkeHash } from '../wire/ikev1/iana';
import type { LoadedConfig } from './iked';

/** No object matches (Solaris IKE_ERR_NO_OBJ: "Could not find requested …"). */
export const NoObject = 'IKE_ERR_NO_OBJ';
/** The object exists already (Solaris reports EEXIST as "Duplicate entry"). */
export const Duplicate = 'IKE_ERR_DUPLICATE';

/**
 * A PKCS#11 token the daemon holds open, as `token login|logout` sees it (CryptoSuite.tokens).
 * Implementations must never put the PIN in an error message or log line.
 */
export type AdminToken = TokenLogin;

/** The certificates the daemon holds (the keystore, once there is one). */
export interface CertificateSource {
  list(): readonly CertCacheEntry[];
  /** Drops cached peer certificates and re-reads the stores. @returns how many entries went */
  flush(): Promise<number> | number;
}

export interface AdminDeps {
  /** The running configuration. */
  readonly config: () => LoadedConfig;
  /** Replaces the running configuration (already validated in full). */
  readonly setConfig: (next: LoadedConfig) => void;
  /** The engine's rule list (Ikev1Engine.setRules). */
  readonly setRules: (rules: readonly Ikev1Rule[]) => void;
  /** The daemon's ike/config: where the global parameters of added rules come from. */
  readonly configFile: string;
  readonly crypto: Pick<CryptoSuite, 'ke' | 'cipher'>;
  /** PKCS#11 tokens open in the daemon; none when absent. */
  readonly tokens?: () => readonly AdminToken[];
  /** Certificates held; an empty cache when absent. */
  readonly certificates?: CertificateSource;
  readonly log: Logger;
}

// ---------------------------------------------------------------------------------------------
// Rules

/** The global-parameter part of an ike/config text: everything before the first rule's `{`. */
function globalsPrefix(text: string, file: string): string {
  const toks = tokenize(text, file);
  // A global `p1_xform { … }` (a default transform) is not a rule: skip its block.
  let open: Token | undefined;
  for (let i = 0; i < toks.length && !open; i++) {
    if (toks[i]!.kind === 'atom' && toks[i]!.text === 'p1_xform' && toks[i + 1]?.kind === '{') {
      for (i += 2; i < toks.length && toks[i]!.kind !== '}'; i++);
    } else if (toks[i]!.kind === '{') open = toks[i];
  }
  if (!open) return text;
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < open.pos.line - 1; i++) offset += lines[i]!.length + 1;
  return text.slice(0, offset + open.pos.column - 1);
}

interface Globals { readonly ike: IkeConfig; readonly text: string; readonly file: string }

/**
 * Parses the rules of `text` (from `source`) in "append mode" (§3.2 `add rule`): after the global
 * parameters of the running configuration, so they inherit its defaults exactly as rules in the
 * file would. Positions in errors and warnings name `source` (or the config file, when the
 * problem is an inherited default) with the line numbers of that file.
 * @throws OakleyError IKE_ERR_CONFIG naming file:line:column
 */
function parseAddedRules(text: string, source: string, g: Globals): { rules: IkeRule[]; warnings: string[] } {
  const first = tokenize(text, source)[0];
  if (!first) throw new OakleyError(ControlErr.BAD_ARGS, `${source}: no rule given (expected "{ label … }")`);
  if (first.kind !== '{') {
    throw configError(first.pos, `add rule takes rules only ("{ … }"), found "${first.text}"; global parameters belong in ${g.file}`);
  }
  const shift = g.text.split('\n').length; // the rules start on the line after the globals
  const remap = (pos: Position): Position => (pos.line <= shift ? { ...pos, file: g.file } : { ...pos, line: pos.line - shift });
  const remapText = (s: string): string => s.replace(new RegExp(`^${escapeRe(source)}:(\\d+):(\\d+)`), (_m, l: string, c: string) => where(remap({ file: source, line: Number(l), column: Number(c) })));
  let parsed: IkeConfig;
  try {
    parsed = parseIkeConfig(`${g.text}\n${text}`, source);
  } catch (e) {
    const d = OakleyError.is(e) ? e.detail : undefined;
    if (!d || d.file !== source || typeof d.line !== 'number' || typeof d.column !== 'number') throw e;
    const at: Position = { file: source, line: d.line, column: d.column };
    throw configError(remap(at), (e as OakleyError).message.slice(where(at).length + 2));
  }
  return {
    rules: parsed.rules.map((r) => ({ ...r, pos: remap(r.pos), xforms: r.xforms.map((x) => ({ ...x, pos: remap(x.pos) })) })),
    // Warnings about the globals themselves were given when the configuration was loaded.
    warnings: parsed.warnings.map(remapText).filter((w) => w.startsWith(`${source}:`) && !w.startsWith(`${source}: global defaults:`)),
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The written form of the rules (§1.8), improved so that it parses back to the same rules:
 * serializeRule writes AES as plain `aes-cbc` (128..256, as Solaris does) and does not carry the
 * Oakley `remote_port` extension yet. Both are restored here; without them a written
 * `aes(256..256)` rule would also offer 128 and 192, and would initiate to port 500.
 */
function writeRules(rules: readonly IkeRule[]): string {
  return rules.map((r) => {
    let k = 0;
    const lines = serializeRule(r).split('\n').map((line) => {
      if (!line.startsWith('\tp1_xform ')) return line;
      const x = r.xforms[k++];
      const range = x?.keyLengths;
      return range ? line.replace('encr_alg aes-cbc ', `encr_alg aes-cbc(${range.min}..${range.max}) `) : line;
    });
    const text = lines.join('\n');
    return r.remotePort === undefined ? text : text.replace(/}\n$/, `\tremote_port\t${r.remotePort}\n}\n`);
  }).join('');
}

// ---------------------------------------------------------------------------------------------
// Pre-shared keys

function idText(r: AddrRange): string {
  const a = formatAddress(r.v6, r.start);
  return r.prefix !== undefined ? `${a}/${r.prefix}` : a;
}

const sameRange = (a: AddrRange, b: AddrRange): boolean => a.v6 === b.v6 && a.start === b.start && a.end === b.end;

/** Key as written in ike.preshared: the nibbles the bit count needs, `/bits` when not a nibble multiple. */
function keyText(e: PresharedEntry): string {
  const hex = e.key.toString('hex').slice(0, Math.ceil(e.keyBits / 4));
  return e.keyBits % 4 ? `${hex}/${e.keyBits}` : hex;
}

function presharedInfo(e: PresharedEntry, ctx: ControlContext): PresharedInfo {
  return {
    localIdType: e.localIdType, local: idText(e.local), remoteIdType: e.remoteIdType, remote: idText(e.remote),
    ikeMode: e.ikeMode, source: where(e.pos),
    // Key bytes leave the daemon only at keymat (§3.4); at modkeys not even their length.
    ...(ctx.privilege === 'keymat' ? { keyBits: e.keyBits, key: keyText(e) } : {}),
  };
}

/** ike.preshared text for all entries (§2.3 written form; hex keys, so ASCII keys round-trip as bytes). */
function writePreshared(entries: readonly PresharedEntry[]): string {
  return entries.map((e) => `{\n\tlocalidtype\t${e.localIdType}\n\tlocalid\t${idText(e.local)}\n\tremoteidtype\t${e.remoteIdType}\n` +
    `\tremoteid\t${idText(e.remote)}\n\tike_mode\t${e.ikeMode}\n\tkey\t${keyText(e)}\n}\n`).join('');
}

/** ikeadm's inline-entry id types (commands.ts canonical names) in ike.preshared spelling. */
const INLINE_ID_TYPE: Readonly<Record<string, string>> = { ip: 'IP', prefix: 'IP_SUBNET' };

function inlinePresharedText(entry: Readonly<Record<string, unknown>>): string {
  const s = (k: string): string => {
    const v = entry[k];
    if (typeof v !== 'string' || v === '' || /[\s{}"#]/.test(v)) throw new OakleyError(ControlErr.BAD_ARGS, `inline preshared entry: bad ${k}`);
    return v;
  };
  const type = (k: string): string => {
    const t = INLINE_ID_TYPE[s(k)];
    if (!t) throw new OakleyError(ControlErr.BAD_ARGS, `inline preshared entry: ${k} ${s(k)} is not supported (the daemon keys pre-shared secrets by IP address or subnet only)`);
    return t;
  };
  return `{ localidtype ${type('localIdType')} localid ${s('localId')} remoteidtype ${type('remoteIdType')} remoteid ${s('remoteId')} ike_mode ${s('ikeMode')} key ${s('key')} }\n`;
}

/**
 * The entries a get/del selects: with `local`/`remote` addresses, the entry the engine would use
 * for that pair (first match, §2.3); with identity pairs, the entry whose ids are exactly those.
 */
function selectPreshared(entries: readonly PresharedEntry[], args: Readonly<Record<string, unknown>>): number {
  const str = (k: string): string => {
    const v = args[k];
    if (typeof v !== 'string') throw new OakleyError(ControlErr.BAD_ARGS, `missing ${k}`);
    return v;
  };
  if (args.local !== undefined) {
    const local = str('local');
    const remote = str('remote');
    for (const a of [local, remote]) {
      if (!parseAddress(a)) throw new OakleyError(ControlErr.BAD_ARGS, `"${a}" is not an IP address (the daemon does not resolve host names; give literal addresses)`);
    }
    const i = entries.findIndex((e) => presharedLookup([e])({ address: local, port: 0 }, { address: remote, port: 0 }) !== undefined);
    if (i < 0) throw new OakleyError(NoObject, `No pre-shared key covers local ${local} and remote ${remote}`);
    return i;
  }
  const range = (typeKey: string, idKey: string): AddrRange => {
    const t = str(typeKey);
    const id = str(idKey);
    if (t !== 'ip' && t !== 'prefix') throw new OakleyError(ControlErr.BAD_ARGS, `identity type ${t} is not supported: the daemon keys pre-shared secrets by IP address or subnet only`);
    const r = parseAddrRange(id);
    if (typeof r === 'string') throw new OakleyError(ControlErr.BAD_ARGS, `${id}: ${r}`);
    return r;
  };
  const l = range('localIdType', 'localId');
  const r = range('remoteIdType', 'remoteId');
  const i = entries.findIndex((e) => sameRange(e.local, l) && sameRange(e.remote, r));
  if (i < 0) throw new OakleyError(NoObject, `No pre-shared key for local id ${String(args.localId)} and remote id ${String(args.remoteId)}`);
  return i;
}

// ---------------------------------------------------------------------------------------------
// Algorithms (what the engine proposes and accepts, as far as the crypto suite can do it)

const ENCR_VALUE: Readonly<Record<P1Encr, number>> = { des: IkeEncr.DES_CBC, blowfish: IkeEncr.BLOWFISH_CBC, '3des': IkeEncr['3DES_CBC'], aes: IkeEncr.AES_CBC };
const ENCR_KEY_BITS: Readonly<Record<P1Encr, readonly number[]>> = { des: [64], blowfish: [128], '3des': [192], aes: [128, 192, 256] };
const HASH_VALUE: Readonly<Record<P1Hash, number>> = { md5: IkeHash.MD5, sha1: IkeHash.SHA, sha256: IkeHash.SHA2_256, sha384: IkeHash.SHA2_384, sha512: IkeHash.SHA2_512 };

function groups(crypto: AdminDeps['crypto']): GroupInfo[] {
  return P1_SUPPORTED_GROUPS.filter((g) => crypto.ke.supports(g)).map((id) => {
    const g = getGroup(id);
    return { value: id, strength: g.strength, kind: g.kind, bits: g.kind === 'modp' ? g.bits : g.size * 8 };
  });
}

function encrAlgs(crypto: AdminDeps['crypto']): EncrAlgInfo[] {
  const out: EncrAlgInfo[] = [];
  for (const encr of Object.keys(CIPHER_OF) as P1Encr[]) {
    const bits = ENCR_KEY_BITS[encr].filter((b) => crypto.cipher.supports(CIPHER_OF[encr], b / 8)); // supports() takes bytes
    if (bits.length === 0) continue;
    out.push({ value: ENCR_VALUE[encr], name: CIPHER_OF[encr], ...(encr === 'aes' ? { keyLengths: { min: bits[0]!, max: bits[bits.length - 1]! } } : { keyBits: bits[0]! }) });
  }
  return out.sort((a, b) => a.value - b.value);
}

function hashAlgs(): HashAlgInfo[] {
  return (Object.keys(HASH_ALG) as P1Hash[]).map((h) => ({ value: HASH_VALUE[h], name: h })).sort((a, b) => a.value - b.value);
}

// ---------------------------------------------------------------------------------------------

/** Builds the handlers; spread them into the daemon's ControlHandlers. */
export function adminHandlers(deps: AdminDeps): ControlHandlers {
  const { log } = deps;
  let globals: Globals | undefined;

  /**
   * The global parameters rules are added after: those of the file the running rules came from
   * (read once per loaded configuration; `read rule`/SIGHUP make a new one).
   */
  const globalsFor = (ike: IkeConfig): Globals => {
    if (globals?.ike === ike) return globals;
    const file = ike.rules[0]?.pos.file ?? deps.configFile;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new OakleyError(CryptoErr.CONFIG, `${file}: cannot read the global parameters for the new rule: ${(e as Error).message}`, { file });
    }
    const prefix = globalsPrefix(text, file);
    parseIkeConfig(prefix, file); // the globals on their own must be valid
    globals = { ike, text: prefix, file };
    return globals;
  };

  /** Validates and compiles `ike` against the running ipsecinit policy, then installs it. */
  const installRules = (cur: LoadedConfig, ike: IkeConfig): void => {
    const rules = buildEngineRules(ike, cur.ipsec);
    const g = globals?.ike === cur.ike ? globals : undefined;
    deps.setConfig({ ...cur, ike, rules });
    deps.setRules(rules);
    // The new configuration keeps the globals of the one it was derived from.
    if (g) globals = { ...g, ike };
  };

  const tokenNamed = (label: unknown): AdminToken => {
    if (typeof label !== 'string' || label === '') throw new OakleyError(ControlErr.BAD_ARGS, 'token label missing');
    const open = deps.tokens?.() ?? [];
    const t = open.find((x) => x.label.trim() === label.trim());
    if (!t) {
      throw new OakleyError(CryptoErr.NO_TOKEN, `No PKCS#11 token labelled "${label}" is open in this daemon ` +
        `(open tokens: ${open.length ? open.map((x) => `"${x.label.trim()}"`).join(', ') : 'none'})`);
    }
    return t;
  };

  /**
   * A token failure without anything the caller typed (the PIN above all): only the error code,
   * the token's label and its CKR_ name. Solaris answers IKE_ERR_PIN_LOGIN ("token login failed").
   */
  const tokenFailure = (what: string, label: string, e: unknown): OakleyError => {
    const ckr = OakleyError.is(e) && typeof e.detail?.ckr === 'string' ? e.detail.ckr : undefined;
    const code = OakleyError.is(e) ? e.code : CryptoErr.TOKEN;
    // A lost token's message (token.ts lostError) names only labels, CKR names and the module path.
    const lost = OakleyError.is(e) && e.detail?.lost === true ? `: ${e.message}` : undefined;
    const why = code === CryptoErr.TOKEN_PIN ? `: the PIN was not accepted${ckr ? ` (${ckr})` : ''}`
      : lost ?? (code === CryptoErr.NO_TOKEN ? `: the token is no longer usable${ckr ? ` (${ckr})` : ''}`
        : ckr ? ` (${ckr})` : '');
    return new OakleyError(code === CryptoErr.TOKEN_PIN || code === CryptoErr.NO_TOKEN ? code : CryptoErr.TOKEN,
      `PKCS#11 ${what} on token "${label}" failed${why}`, { label, ...(ckr ? { ckr } : {}) });
  };

  return {
    'add rule': (args) => {
      if (typeof args.text !== 'string') throw new OakleyError(ControlErr.BAD_ARGS, 'add rule needs the rule text');
      const source = typeof args.file === 'string' ? args.file : '<add rule>';
      const cur = deps.config();
      const g = globalsFor(cur.ike);
      const added = parseAddedRules(args.text, source, g);
      for (const r of added.rules) {
        const old = cur.ike.rules.find((x) => x.label === r.label);
        if (old) {
          throw new OakleyError(Duplicate, `${where(r.pos)}: Duplicate entry: a rule labelled "${r.label}" exists already (from ${where(old.pos)}); ` +
            `remove it first with 'ikeadm del rule ${r.label}'`);
        }
      }
      const ike: IkeConfig = { ...cur.ike, rules: [...cur.ike.rules, ...added.rules], warnings: [...cur.ike.warnings, ...added.warnings] };
      installRules(cur, ike);
      for (const w of added.warnings) log.warn(w);
      log.info('policy rules added by ikeadm', { labels: added.rules.map((r) => r.label).join(','), rules: ike.rules.length });
      return { labels: added.rules.map((r) => r.label), warnings: added.warnings };
    },
    'del rule': (args) => {
      const cur = deps.config();
      const rule = cur.ike.rules.find((r) => r.label === args.label);
      if (!rule) {
        throw new OakleyError(NoObject, `No rule labelled "${String(args.label)}" (rules: ${cur.ike.rules.map((r) => `"${r.label}"`).join(', ') || 'none'})`);
      }
      installRules(cur, { ...cur.ike, rules: cur.ike.rules.filter((r) => r !== rule) });
      // Existing SAs negotiated under the rule stay up (§3.2).
      log.info('policy rule deleted by ikeadm', { label: rule.label });
      return { label: rule.label };
    },
    'write rule': () => ({ text: writeRules(deps.config().ike.rules) }),

    'get preshared': (args, ctx) => {
      const entries = deps.config().preshared;
      return [presharedInfo(entries[selectPreshared(entries, args)]!, ctx)];
    },
    'dump preshared': (_a, ctx) => deps.config().preshared.map((e) => presharedInfo(e, ctx)),
    'add preshared': (args) => {
      let text: string;
      let source: string;
      if (typeof args.text === 'string') {
        text = args.text;
        source = typeof args.file === 'string' ? args.file : '<add preshared>';
      } else if (args.entry && typeof args.entry === 'object') {
        text = inlinePresharedText(args.entry as Record<string, unknown>);
        source = '<inline entry>';
      } else throw new OakleyError(ControlErr.BAD_ARGS, 'add preshared needs an entry or the text of a file');
      const cur = deps.config();
      const added = parsePreshared(text, source);
      if (added.length === 0) throw new OakleyError(ControlErr.BAD_ARGS, `${source}: no preshared entry given`);
      const all = [...cur.preshared];
      for (const e of added) {
        const old = all.find((x) => sameRange(x.local, e.local) && sameRange(x.remote, e.remote));
        if (old) {
          throw new OakleyError(Duplicate, `${where(e.pos)}: Duplicate entry: a pre-shared key for local ${idText(e.local)} remote ${idText(e.remote)} ` +
            `exists already (from ${where(old.pos)}); remove it first with 'ikeadm del preshared'`);
        }
        all.push(e);
      }
      deps.setConfig({ ...cur, preshared: all });
      const warnings = added.flatMap((e) => e.warnings);
      for (const w of warnings) log.warn(w);
      log.info('pre-shared keys added by ikeadm', { added: added.length, entries: all.length });
      return { added: added.length, warnings };
    },
    'del preshared': (args) => {
      const cur = deps.config();
      const i = selectPreshared(cur.preshared, args);
      const gone = cur.preshared[i]!;
      deps.setConfig({ ...cur, preshared: cur.preshared.filter((_e, k) => k !== i) });
      log.info('pre-shared key deleted by ikeadm', { local: idText(gone.local), remote: idText(gone.remote) });
      return { local: idText(gone.local), remote: idText(gone.remote) };
    },
    'write preshared': () => ({ text: writePreshared(deps.config().preshared) }),

    'dump groups': () => groups(deps.crypto),
    'dump encralgs': () => encrAlgs(deps.crypto),
    'dump authalgs': () => hashAlgs(),

    'dump certcache': () => [...(deps.certificates?.list() ?? [])],
    'flush certcache': async () => ({ flushed: deps.certificates ? await deps.certificates.flush() : 0 }),

    'token login': async (args) => {
      const t = tokenNamed(args.label);
      const pin = args.pin;
      if (typeof pin !== 'string' || pin.length === 0) throw new OakleyError(ControlErr.BAD_ARGS, 'token login needs a PIN');
      if (Buffer.byteLength(pin) > 256) throw new OakleyError(ControlErr.BAD_ARGS, 'the PIN is longer than 256 bytes');
      let result: Awaited<ReturnType<AdminToken['login']>>;
      try {
        result = await t.login(pin);
      } catch (e) {
        const err = tokenFailure('login', t.label, e);
        log.warn(err.message, { token: t.label });
        throw err;
      }
      // Already logged in: the token did not check this PIN and keeps the login in force.
      log.info(result === 'already-logged-in' ? 'PKCS#11 token was already logged in (ikeadm token login)' : 'PKCS#11 token logged in by ikeadm',
        { token: t.label });
      return { label: t.label, ...(result === 'already-logged-in' ? { alreadyLoggedIn: true } : {}) };
    },
    'token logout': async (args) => {
      const t = tokenNamed(args.label);
      let result: Awaited<ReturnType<AdminToken['logout']>>;
      try {
        result = await t.logout();
      } catch (e) {
        throw tokenFailure('logout', t.label, e);
      }
      // Private keys on the token are locked from now on; negotiations that need them fail until login.
      log.info(result === 'not-logged-in' ? 'PKCS#11 token was not logged in (ikeadm token logout)' : 'PKCS#11 token logged out by ikeadm',
        { token: t.label });
      return { label: t.label, ...(result === 'not-logged-in' ? { notLoggedIn: true } : {}) };
    },
  };
}
