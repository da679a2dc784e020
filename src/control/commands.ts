/**
 * The ikeadm command language (solaris-ike.md §3.1–3.6): parsing a command line into a control
 * request, and formatting the daemon's results the way Solaris ikeadm prints them (or as JSON
 * with -j). Shared by tools/ikeadm and the daemon's handlers, which return the result shapes
 * declared here.
 *
 * Wire command names are "<command> <object>" ("get stats", "dump p1"), or "initiate".
 * Files named on the command line (add/read rule|preshared) are read by ikeadm, with the
 * user's permissions, and sent as text: the equivalent of the fd Solaris passes over the door.
 * `write rule|preshared FILE` asks the daemon for the text and ikeadm creates FILE (O_EXCL, 0600).
 */
import { isIP } from 'node:net';

import { OakleyError } from '../util/errors';
import { PRIVILEGES, parsePrivilege, type Privilege } from '../util/log';
import { ControlErr } from './frame';

// ---------------------------------------------------------------------------------------------
// Parsing

export type ParsedCommand =
  | { readonly kind: 'request'; readonly command: string; readonly args: Record<string, unknown> }
  | { readonly kind: 'help'; readonly topic?: string }
  | { readonly kind: 'exit' };

export interface ParseOptions {
  /** Interactive mode: `exit`/`quit` allowed, inline `add preshared {…}` allowed. */
  readonly interactive?: boolean;
  /** -n: addresses must be literals. */
  readonly numeric?: boolean;
}

export const COMMANDS = ['get', 'set', 'add', 'del', 'dump', 'flush', 'read', 'write', 'token', 'help'] as const;

type ArgParser = (rest: string[], cmd: string, o: ParseOptions) => Record<string, unknown>;

function usage(message: string, help?: string): OakleyError {
  return new OakleyError(ControlErr.USAGE, message, help ? { help } : undefined);
}

const none: ArgParser = (rest, cmd) => {
  if (rest.length) throw usage(`'${cmd}' takes no arguments (got '${rest.join(' ')}')`, cmd);
  return {};
};

function address(a: string, what: string, o: ParseOptions): string {
  if (o.numeric && isIP(a) === 0) throw usage(`${what} '${a}' is not a literal address (-n given)`);
  if (a.length === 0 || a.length > 255) throw usage(`${what} is empty or too long`);
  return a;
}

/** A 64-bit cookie typed as 0x…, read as a big-endian number (§3.3). @returns 16 hex digits */
function cookie(t: string): string {
  if (!/^0x[0-9a-fA-F]{1,16}$/.test(t)) throw usage(`'${t}' is not a 64-bit cookie (0x followed by up to 16 hex digits)`);
  return t.slice(2).toLowerCase().padStart(16, '0');
}

const p1Id: ArgParser = (rest, cmd, o) => {
  if (rest.length !== 2) throw usage(`'${cmd}' expects local-ip remote-ip, or 0xINITCOOKIE 0xRESPCOOKIE`, cmd);
  if (rest[0].startsWith('0x') || rest[1].startsWith('0x')) return { initiatorCookie: cookie(rest[0]), responderCookie: cookie(rest[1]) };
  return { local: address(rest[0], 'local address', o), remote: address(rest[1], 'remote address', o) };
};

/** Identity types accepted for preshared ids (§3.3), case-insensitive, mapped to a canonical name. */
const ID_TYPES: Readonly<Record<string, string>> = {
  ip: 'ip', ipv4: 'ip', ipv6: 'ip',
  prefix: 'prefix', 'ipv4-prefix': 'prefix', 'ipv6-prefix': 'prefix', subnet: 'prefix', subnetv4: 'prefix', subnetv6: 'prefix',
  fqdn: 'fqdn', dns: 'fqdn', domain: 'fqdn', domainname: 'fqdn',
  user_fqdn: 'user_fqdn', mbox: 'user_fqdn', mailbox: 'user_fqdn',
  dn: 'dn', asn1dn: 'dn', gn: 'gn', asn1gn: 'gn',
  'ipv4-range': 'range', 'ipv6-range': 'range', rangev4: 'range', rangev6: 'range',
  keyid: 'keyid',
};

function idType(t: string): string {
  const v = ID_TYPES[t.toLowerCase()];
  if (!v) throw usage(`Unknown identity type '${t}' (expected one of: ${Object.keys(ID_TYPES).join(' ')})`);
  return v;
}

const psId: ArgParser = (rest, cmd, o) => {
  if (rest.length === 2) return { local: address(rest[0], 'local address', o), remote: address(rest[1], 'remote address', o) };
  if (rest.length === 4) return { localIdType: idType(rest[0]), localId: rest[1], remoteIdType: idType(rest[2]), remoteId: rest[3] };
  throw usage(`'${cmd}' expects local-ip remote-ip, or <idtype> <id> <idtype> <id>`, cmd);
};

const label: ArgParser = (rest, cmd) => {
  if (rest.length !== 1) throw usage(`'${cmd}' expects one rule label (quote it if it contains spaces)`, cmd);
  if (Buffer.byteLength(rest[0]) > 255) throw usage('rule label longer than 255 bytes');
  return { label: rest[0] };
};

const tokenLabel: ArgParser = (rest, cmd) => {
  if (rest.length !== 1) throw usage(`'${cmd}' expects one token label`, cmd);
  if (rest[0].length > 32) throw usage('PKCS#11 token label longer than 32 characters');
  return { label: rest[0] };
};

const optionalFile: ArgParser = (rest, cmd) => {
  if (rest.length > 1) throw usage(`'${cmd}' expects at most one file name`, cmd);
  return rest.length ? { file: rest[0] } : {};
};

const requiredFile: ArgParser = (rest, cmd) => {
  if (rest.length !== 1) throw usage(`'${cmd}' expects one file name (it must not exist yet)`, cmd);
  return { file: rest[0] };
};

/** Inline rule: the tokens again as config text, quotes re-added after label/local_id/remote_id. */
function inlineRule(rest: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    out.push(rest[i]);
    if (['label', 'local_id', 'remote_id'].includes(rest[i]) && i + 1 < rest.length) {
      out.push(`"${rest[++i].replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
    }
  }
  return out.join(' ');
}

const addRule: ArgParser = (rest, cmd) => {
  if (rest.length === 0) throw usage(`'${cmd}' expects '{ rule }' or a file name`, cmd);
  if (rest[0].startsWith('{')) {
    if (!rest[rest.length - 1].endsWith('}')) throw usage(`'${cmd}': inline rule must end with '}'`, cmd);
    return { text: inlineRule(rest) };
  }
  if (rest.length !== 1) throw usage(`'${cmd}' expects one file name`, cmd);
  return { file: rest[0] };
};

const addPreshared: ArgParser = (rest, cmd, o) => {
  if (rest.length === 0) throw usage(`'${cmd}' expects '{ preshared entry }' or a file name`, cmd);
  if (!rest[0].startsWith('{')) {
    if (rest.length !== 1) throw usage(`'${cmd}' expects one file name`, cmd);
    return { file: rest[0] };
  }
  if (!o.interactive) throw usage('Must be in interactive mode to add key info.');
  const toks = rest.join(' ').replace(/^\{/, '').replace(/\}$/, '').trim().split(/\s+/).filter(Boolean);
  if (toks.length % 2) throw usage(`'${cmd}': every keyword needs a value`, cmd);
  const e: Record<string, string> = { localidtype: 'ip', remoteidtype: 'ip' };
  const known = ['localidtype', 'localid', 'remoteidtype', 'remoteid', 'ike_mode', 'key'];
  for (let i = 0; i < toks.length; i += 2) {
    const k = toks[i].toLowerCase();
    if (!known.includes(k)) throw usage(`Unknown preshared keyword '${toks[i]}' (expected one of: ${known.join(' ')})`);
    e[k] = toks[i + 1];
  }
  for (const k of ['localid', 'remoteid', 'ike_mode', 'key']) if (!e[k]) throw usage(`inline preshared entry needs '${k}'`);
  if (!['main', 'aggressive', 'both'].includes(e.ike_mode)) throw usage(`ike_mode must be main, aggressive or both (got '${e.ike_mode}')`);
  if (!/^(0x)?[0-9a-fA-F]+(\/[0-9]+)?$/.test(e.key)) throw usage('Only hex keys are accepted inline (hex[/bits])');
  return {
    entry: {
      localIdType: idType(e.localidtype), localId: e.localid, remoteIdType: idType(e.remoteidtype), remoteId: e.remoteid,
      ikeMode: e.ike_mode, key: e.key.replace(/^0x/, ''),
    },
  };
};

const setPriv: ArgParser = (rest, cmd) => {
  if (rest.length !== 1) throw usage(`'${cmd}' expects a level: base, modkeys, keymat or 0..2`, cmd);
  const p = parsePrivilege(rest[0]);
  if (!p) throw usage(`Invalid privilege level '${rest[0]}' (expected base, modkeys, keymat or 0..2)`);
  return { level: p };
};

const setDebug: ArgParser = (rest, cmd) => {
  if (rest.length < 1 || rest.length > 2) throw usage(`'${cmd}' expects a level (number or flag expression) and an optional file`, cmd);
  return { level: parseDebugLevel(rest[0]), ...(rest[1] ? { file: rest[1] } : {}) };
};

const GRAMMAR: Readonly<Record<string, Readonly<Record<string, ArgParser>>>> = {
  get: { debug: none, priv: none, stats: none, defaults: none, p1: p1Id, rule: label, preshared: psId },
  set: { debug: setDebug, priv: setPriv },
  add: { rule: addRule, preshared: addPreshared },
  del: { p1: p1Id, rule: label, preshared: psId },
  dump: { p1: none, p2: none, rule: none, preshared: none, certcache: none, groups: none, encralgs: none, authalgs: none },
  flush: { p1: none, certcache: none },
  read: { rule: optionalFile, preshared: optionalFile },
  write: { rule: requiredFile, preshared: requiredFile },
  token: { login: tokenLabel, logout: tokenLabel },
  dbg: { rbdump: none },
};

/**
 * Parses one ikeadm command line (already split into words).
 * @throws OakleyError IKE_ERR_USAGE with a message naming what was expected; detail.help names
 *   the command whose help to show
 */
export function parseCommand(words: readonly string[], o: ParseOptions = {}): ParsedCommand {
  const [cmd, obj, ...rest] = words;
  if (cmd === undefined) throw usage('no command given');
  if (cmd === 'help') {
    if (rest.length) throw usage("'help' expects at most one command name", 'help');
    if (obj !== undefined && !(COMMANDS as readonly string[]).includes(obj)) throw usage(`Unrecognized command '${obj}'`);
    return { kind: 'help', ...(obj !== undefined ? { topic: obj } : {}) };
  }
  if (cmd === 'exit' || cmd === 'quit') {
    if (!o.interactive) throw usage(`Unrecognized command '${cmd}'`);
    return { kind: 'exit' };
  }
  if (cmd === 'initiate') {
    // Oakley: `initiate LABEL [new]` — `new` forces a fresh Phase 1 even when one is established.
    const words = obj === undefined ? rest : [obj, ...rest];
    const fresh = words.length === 2 && words[1] === 'new';
    return { kind: 'request', command: 'initiate', args: { ...label(fresh ? words.slice(0, 1) : words, 'initiate', o), ...(fresh ? { fresh: true } : {}) } };
  }
  const objects = GRAMMAR[cmd];
  if (!objects) throw usage(`Unrecognized command '${cmd}'`);
  if (obj === undefined) throw usage(`'${cmd}' needs an object: one of ${Object.keys(objects).join(' ')}`, cmd);
  const parse = Object.prototype.hasOwnProperty.call(objects, obj) ? objects[obj] : undefined;
  if (!parse) throw usage(`Unrecognized object '${obj}' (expected one of: ${Object.keys(objects).join(' ')})`, cmd);
  const command = `${cmd} ${obj}`;
  return { kind: 'request', command, args: parse(rest, command, o) };
}

/** Splits an interactive line into words: whitespace-separated, "double" or 'single' quotes. */
export function splitLine(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) {
    if (m[1] !== undefined) out.push(m[1].replace(/\\(.)/g, '$1'));
    else if (m[2] !== undefined) out.push(m[2]);
    else out.push(m[3]);
  }
  return out;
}

export const USAGE = 'Usage: ikeadm [ -hnp ] [ -j ] [ --control PATH ] cmd obj [cmd-specific options]\n       ikeadm help\n';

const HELP: Readonly<Record<string, string>> = {
  get: 'get debug|priv|stats|defaults\nget p1 <local-ip> <remote-ip> | 0x<initcookie> 0x<respcookie>\nget rule <label>\nget preshared <local-ip> <remote-ip> | <idtype> <id> <idtype> <id>',
  set: 'set debug <level> [file]\nset priv <base|modkeys|keymat>',
  add: 'add rule { rule } | <file>\nadd preshared { entry } | <file>',
  del: 'del p1 <id>\ndel rule <label>\ndel preshared <id>',
  dump: 'dump p1|p2|rule|preshared|certcache|groups|encralgs|authalgs',
  flush: 'flush p1|certcache',
  read: 'read rule|preshared [file]',
  write: 'write rule|preshared <file>',
  token: 'token login|logout <label>',
  help: 'help [get|set|add|del|dump|flush|read|write|token|help]',
};

export function helpText(topic?: string): string {
  if (topic && HELP[topic]) return HELP[topic] + '\n';
  return 'This command may be used to view and modify in.iked (Oakley) parameters.\n' +
    Object.values(HELP).join('\n') + '\ninitiate <label> [new]   (Oakley: Phase 1 + Quick Mode now; new = a fresh Phase 1)\n' + 'exit | quit   (interactive mode)\n';
}

// ---------------------------------------------------------------------------------------------
// Debug levels (§3.5)

export const DEBUG_FLAGS: readonly { readonly bit: number; readonly names: readonly string[]; readonly description: string }[] = [
  { bit: 0x0001, names: ['cert'], description: 'Certificate management' },
  { bit: 0x0002, names: ['key'], description: 'Key management' },
  { bit: 0x0004, names: ['op'], description: 'Operational' },
  { bit: 0x0008, names: ['p1', 'phase1'], description: 'Phase 1 SA creation' },
  { bit: 0x0010, names: ['p2', 'phase2'], description: 'Phase 2 SA creation' },
  { bit: 0x0020, names: ['pfkey'], description: 'PF_KEY interface' },
  { bit: 0x0040, names: ['pol', 'policy'], description: 'Policy management' },
  { bit: 0x0080, names: ['prop'], description: 'Proposal construction' },
  { bit: 0x0100, names: ['door'], description: 'Door interface' },
  { bit: 0x0200, names: ['config'], description: 'Config file processing' },
  { bit: 0x0400, names: ['label'], description: 'MAC label processing' },
];
export const DEBUG_ALL = 0x07ff;

/** A number in any C base, or nicknames joined by + and - ("all-op" = 0x7fb). */
export function parseDebugLevel(text: string): number {
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t, 16) >>> 0;
  if (/^0[0-7]*$/.test(t)) return parseInt(t, 8) >>> 0;
  if (/^[1-9][0-9]*$/.test(t)) return Number(t) >>> 0;
  let level = 0;
  const re = /([+-]?)([^+-]+)/g;
  let m: RegExpExecArray | null;
  let seen = 0;
  while ((m = re.exec(t))) {
    seen += m[0].length;
    const name = m[2].toLowerCase();
    const bit = name === 'all' ? DEBUG_ALL : DEBUG_FLAGS.find((f) => f.names.includes(name))?.bit;
    if (bit === undefined) throw usage(`Bad debug flag: ${m[2]}`);
    level = m[1] === '-' ? level & ~bit : level | bit;
  }
  if (seen !== t.length || t.length === 0) throw usage(`Bad debug flag: ${text}`);
  return level >>> 0;
}

function debugCategories(level: number): string {
  const on = DEBUG_FLAGS.filter((f) => level & f.bit);
  return on.length ? 'Debug categories enabled:\n' + on.map((f) => `\t${f.description}\n`).join('') : 'No debug categories enabled.\n';
}

// ---------------------------------------------------------------------------------------------
// Result shapes (daemon -> ikeadm)

/** `get stats` (§7.1). */
export interface StatsResult {
  initP1Current: number; respP1Current: number;
  initP1Total: number; respP1Total: number;
  initP1Attempts: number; respP1Attempts: number;
  initP1NoResp: number; initP1RespFail: number; respP1Fail: number;
  pkcs11Library?: string;
}

/** One `get defaults` row (§3.6). token '-' = not configurable. */
export interface DefaultsRow { token: string; source: 'default' | 'config'; value: number; unit: string; description: string }

export interface IdentityInfo { type: string; value: string }

/** One P1 SA in `dump p1` / `get p1` (§3.6, §7.2). Times are epoch milliseconds. */
export interface P1Info {
  initiatorCookie: string; responderCookie: string;
  localIsInitiator: boolean;
  mode: 'main' | 'aggressive';
  state: string;
  dpd?: { enabled: boolean; status?: 'success' | 'failure' | 'in-progress'; at?: number };
  authMethod: string;
  encryption: string; encryptionBits?: number;
  hash: string; prf?: string;
  group: number; pfsGroup?: number;
  local: { address: string; port: number; name?: string };
  remote: { address: string; port: number; name?: string };
  limits: { seconds: number; kbytes: number; keyUses: number };
  createdAt: number; kbytes: number; keyUses: number;
  expiresAt: number;
  qmCreated: number; qmDeleted: number;
  errors: { decrypt: number; hash: number; otherRx: number; tx: number };
  localId?: IdentityInfo; remoteId?: IdentityInfo;
  /** Present only at keymat privilege: name -> hex. */
  keys?: { name: string; hex: string }[];
}

/** One phase 2 (IPsec) SA, Oakley's `dump p2` (from the kernel SADB view). */
export interface P2Info {
  protocol: string; spi: number; src: string; dst: string;
  direction?: string; state: string; mode?: string; encapsulation?: string;
  encryption?: { alg: string; keyBits: number };
  integrity?: { alg: string; keyBits: number };
  bytes: number; softRemaining?: number; hardRemaining?: number;
  /** Present only at keymat privilege: hex key bytes. */
  keys?: { encryption?: string; integrity?: string };
}

export interface RuleXform { authMethod: string; encryption: string; encryptionBits?: number; hash: string; group: number; lifetimeSeconds?: number }

/** One rule in `dump rule` / `get rule` (§3.6). */
export interface RuleInfo {
  label: string; cookie: number;
  localIdType: string; ikeMode: string;
  p1NonceLen: number; p2NonceLen: number; p2Pfs: number;
  p2Lifetime: number; p2Softlife: number; p2Idletime: number; p2LifetimeKb: number; p2SoftlifeKb: number;
  localAddrs: string[]; remoteAddrs: string[];
  localIds: { include: string[]; exclude: string[] };
  remoteIds: { include: string[]; exclude: string[] };
  xforms: RuleXform[];
}

/** One entry of `dump preshared` / `get preshared` (§3.6). */
export interface PresharedInfo {
  localIdType: string; local: string; remoteIdType: string; remote: string;
  ikeMode: string;
  /** Where the entry came from: file:line:column. */
  source?: string;
  /** Present only at keymat privilege: as written in ike.preshared (hex[/bits]). */
  key?: string; keyBits?: number;
}

/** One row of `dump groups` (§6.2): a group the engine negotiates and the crypto suite computes. */
export interface GroupInfo { value: number; strength: number; kind: 'modp' | 'ecp'; bits: number }

/** One row of `dump encralgs` (§6.3): IKE attribute value, name, and key size(s). */
export interface EncrAlgInfo { value: number; name: string; keyBits?: number; keyLengths?: { min: number; max: number } }

/** One row of `dump authalgs` (§6.3). */
export interface HashAlgInfo { value: number; name: string }

/** One certificate in `dump certcache` (§3.6). */
export interface CertCacheEntry {
  id: number; subject: string; issuer: string; trusted: boolean;
  key: 'public-only' | 'locked' | 'available';
  /** Received in a CERT payload rather than loaded from a store. */
  fromPayload?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Formatting

export interface FormatOptions {
  /** -j: JSON instead of text. */
  readonly json?: boolean;
  /** -p: key bytes printed as X. */
  readonly paranoid?: boolean;
}

/** What ikeadm prints: stdout for data, stderr (prefixed `ikeadm: `) for status messages. */
export interface Formatted { stdout: string; stderr: string }

/** "3600 seconds (1 hour)"-style humanization. */
export function humanSeconds(s: number): string {
  if (s === 0) return '0 seconds';
  const parts: string[] = [];
  const units: [number, string][] = [[86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  let left = s;
  for (const [n, name] of units) {
    const q = Math.floor(left / n);
    if (q) parts.push(`${q} ${name}${q === 1 ? '' : 's'}`);
    left -= q * n;
  }
  return parts.join(', ');
}

export function humanKbytes(kb: number): string {
  if (kb >= 1024 * 1024) return `${(kb / (1024 * 1024)).toFixed(2)} GB`;
  if (kb >= 1024) return `${(kb / 1024).toFixed(2)} MB`;
  return `${kb} KB`;
}

const GROUP_NAMES: Readonly<Record<number, string>> = {
  0: '<unavailable>', 1: '768-bit MODP (group 1)', 2: '1024-bit MODP (group 2)', 3: 'EC2N group on GP[2^155]', 4: 'EC2N group on GP[2^185]',
  5: '1536-bit MODP (group 5)', 14: '2048-bit MODP (group 14)', 15: '3072-bit MODP (group 15)', 16: '4096-bit MODP (group 16)',
  17: '6144-bit MODP (group 17)', 18: '8192-bit MODP (group 18)', 19: '256-bit ECP (group 19)', 20: '384-bit ECP (group 20)',
  21: '521-bit ECP (group 21)', 22: '1024-bit MODP with 160-bit subprime (group 22)', 23: '2048-bit MODP with 224-bit subprime (group 23)',
  24: '2048-bit MODP with 256-bit subprime (group 24)', 25: '192-bit ECP (group 25)', 26: '224-bit ECP (group 26)',
};

export function groupName(g: number): string {
  return GROUP_NAMES[g] ?? `group ${g}`;
}

const pad = (s: string, n: number): string => s.padEnd(n);
const u10 = (n: number): string => String(n).padStart(10);
const hex = (n: number, w = 0): string => '0x' + (n >>> 0).toString(16).padStart(w, '0');
const date = (ms: number): string => new Date(ms).toUTCString();

export function formatStats(s: StatsResult): string {
  const row = (name: string, i: number, r: number): string => `${pad(name, 11)}initiator: ${u10(i)}   responder: ${u10(r)}\n`;
  let out = 'Phase 1 SA counts:\n' +
    row('Current:', s.initP1Current, s.respP1Current) +
    row('Total:', s.initP1Total, s.respP1Total) +
    row('Attempted:', s.initP1Attempts, s.respP1Attempts) +
    row('Failed:', s.initP1NoResp + s.initP1RespFail, s.respP1Fail) +
    `           initiator fails include ${s.initP1NoResp} time-out(s)\n`;
  if (s.pkcs11Library) out += `PKCS#11 library linked in from ${s.pkcs11Library}\n`;
  return out;
}

/** The built-in `get defaults` rows (§3.6), before configuration and kernel values. */
export function builtinDefaults(): DefaultsRow[] {
  const r = (token: string, value: number, unit: string, description: string): DefaultsRow => ({ token, source: 'default', value, unit, description });
  return [
    r('p1_lifetime_secs', 3600, 'seconds', 'phase 1 lifetime'),
    r('-', 60, 'seconds', 'minimum phase 1 lifetime'),
    r('p1_nonce_len', 64, 'bytes', 'phase 1 nonce length'),
    r('p2_lifetime_secs', 28800, 'seconds', 'phase 2 lifetime'),
    r('p2_softlife_secs', 24000, 'seconds', 'phase 2 soft lifetime'),
    r('p2_idletime_secs', 13333, 'seconds', 'phase 2 idle time'),
    r('p2_lifetime_kb', 29491200, 'kilobytes', 'phase 2 lifetime'),
    r('p2_softlife_kb', 24576000, 'kilobytes', 'phase 2 soft lifetime'),
    r('-', 100, 'seconds', 'minimum phase 2 hard lifetime'),
    r('-', 90, 'seconds', 'minimum phase 2 soft lifetime'),
    r('-', 30, 'seconds', 'minimum phase 2 idle time'),
    r('-', 1024, 'kilobytes', 'minimum phase 2 hard lifetime'),
    r('-', 900, 'kilobytes', 'minimum phase 2 soft lifetime'),
    r('-', 10, 'seconds', 'minimum phase 2 delta'),
    r('-', 100, 'kilobytes', 'minimum phase 2 delta'),
    r('-', 172800, 'seconds', 'maximum phase 2 lifetime'),
    r('-', 1024, 'kbytes/s', 'conversion factor'),
    r('-', 536870912, 'kilobytes', 'maximum phase 2 lifetime'),
    r('p2_nonce_len', 64, 'bytes', 'phase 2 nonce length'),
    r('p2_pfs', 0, '-', 'phase 2 PFS group'),
    r('max_certs', 1024, 'number', 'maximum cached certificates'),
    r('-', 500, 'port', 'IKE port'),
    r('-', 4500, 'port', 'NAT-T port'),
  ];
}

export function formatDefaults(rows: readonly DefaultsRow[]): string {
  const line = (a: string, b: string, c: string, d: string, e: string): string => `${pad(a, 18)}${pad(b, 10)}${c.padStart(11)} ${pad(d, 10)}${pad(e, 26)}`.trimEnd() + '\n';
  let out = 'Global defaults. Some values can be over-ridden on a per rule basis.\nSystem defaults are time delayed.\n\n';
  out += line('Token:', 'Source:', 'Value:', 'Unit:', 'Description:');
  for (const r of rows) out += line(r.token, r.source, String(r.value >>> 0), r.unit, r.description);
  return out;
}

function keyText(hexStr: string, paranoid: boolean): string {
  return paranoid ? 'X'.repeat(hexStr.length) : hexStr;
}

const MODES: Readonly<Record<string, string>> = { main: 'main mode (identity protect)', aggressive: 'aggressive mode' };

export function formatP1(sa: P1Info, o: FormatOptions = {}): string {
  const L: string[] = [''];
  const role = (local: boolean): string => (local === sa.localIsInitiator ? 'Initiator' : 'Responder');
  L.push(`IKESA: Cookies: Initiator 0x${sa.initiatorCookie}  Responder 0x${sa.responderCookie}`);
  L.push(`IKESA: The local host is the ${sa.localIsInitiator ? 'initiator' : 'responder'}.`);
  L.push(`IKESA: ISAKMP version 1.0; ${MODES[sa.mode] ?? sa.mode} exchange`);
  L.push(`IKESA: Current state is ${sa.state}`);
  if (sa.dpd?.enabled) {
    L.push('IKESA: Dead Peer Detection (RFC 3706) enabled');
    if (sa.dpd.status === 'success') L.push(`IKESA: Dead Peer Detection handshake was successful at ${date(sa.dpd.at ?? 0)}`);
    else if (sa.dpd.status === 'failure') L.push(`IKESA: Dead Peer Detection handshake failed at ${date(sa.dpd.at ?? 0)}`);
    else if (sa.dpd.status === 'in-progress') L.push('IKESA: Dead Peer Detection handshake is in progress.');
  }
  L.push(`XFORM: Authentication method: ${sa.authMethod}`);
  L.push(`XFORM: Encryption alg: ${sa.encryption}${sa.encryptionBits ? `(${sa.encryptionBits})` : ''}; Authentication alg: ${sa.hash}`);
  L.push(`XFORM: ${sa.prf ? `PRF: ${sa.prf} ; ` : ''}Oakley Group: ${groupName(sa.group)}`);
  L.push(sa.pfsGroup ? `XFORM: Phase 2 PFS is required (Oakley Group: ${groupName(sa.pfsGroup)})` : 'XFORM: Phase 2 PFS is not used');
  for (const [tag, ep, local] of [['LOCIP', sa.local, true], ['REMIP', sa.remote, false]] as const) {
    L.push(`${tag}: Address (${role(local)}):`);
    L.push(`${tag}: ${ep.address} port ${ep.port}${ep.name ? ` (${ep.name})` : ''}`);
  }
  L.push('LIFTM: Lifetime limits:');
  L.push(`LIFTM: ${sa.limits.seconds} seconds (${humanSeconds(sa.limits.seconds)}); ${sa.limits.kbytes} kbytes (${humanKbytes(sa.limits.kbytes)}) protected`);
  L.push(`LIFTM: keying material for IPsec SAs can be provided ${sa.limits.keyUses} times${sa.limits.keyUses === 0 ? ' (no limit)' : ''}`);
  L.push('LIFTM: Current usage:');
  L.push(`LIFTM: SA was created at ${date(sa.createdAt)}`);
  L.push(`LIFTM: ${sa.kbytes} kbytes protected`);
  L.push(`LIFTM: keying material for IPsec SAs provided ${sa.keyUses} times`);
  L.push('LIFTM: Expiration info:');
  if (sa.limits.kbytes) {
    const left = Math.max(0, sa.limits.kbytes - sa.kbytes) * 1024;
    L.push(`LIFTM: ${left} more bytes (${humanKbytes(left / 1024)}) can be protected.`);
  }
  const now = Date.now();
  if (sa.expiresAt > now) {
    const s = Math.round((sa.expiresAt - now) / 1000);
    L.push(`LIFTM: SA expires in ${s} seconds (${humanSeconds(s)})`);
    L.push(`LIFTM: Time of expiration: ${date(sa.expiresAt)}`);
  } else L.push(`LIFTM: SA Expired at ${date(sa.expiresAt)}`);
  L.push(`STATS: ${sa.qmCreated} Quick Mode SAs created; ${sa.qmDeleted} Quick Mode SAs deleted`);
  const rx = sa.errors.decrypt + sa.errors.hash + sa.errors.otherRx;
  L.push(`ERRS:  ${rx} RX errors: ${sa.errors.decrypt} decryption, ${sa.errors.hash} hash, ${sa.errors.otherRx} other`);
  L.push(`ERRS:  ${sa.errors.tx} TX errors`);
  for (const [tag, id, local] of [['LOCID', sa.localId, true], ['REMID', sa.remoteId, false]] as const) {
    if (!id) continue;
    L.push(`${tag}: ${role(local)} identity, uid=0, type ${id.type}`);
    L.push(`${tag}: ${id.value}`);
  }
  for (const k of sa.keys ?? []) L.push(`KEY:   ${k.name} (${k.hex.length / 2} bytes): ${keyText(k.hex, !!o.paranoid)}`);
  return L.join('\n') + '\n';
}

export function formatP2(sa: P2Info, o: FormatOptions = {}): string {
  const L = [''];
  L.push(`P2SA:  ${sa.protocol.toUpperCase()} SPI ${hex(sa.spi, 8)} ${sa.src} -> ${sa.dst}${sa.direction ? ` (${sa.direction})` : ''}`);
  L.push(`P2SA:  State ${sa.state}${sa.mode ? `; ${sa.mode} mode` : ''}${sa.encapsulation ? `; encapsulation ${sa.encapsulation}` : ''}`);
  const alg = (a?: { alg: string; keyBits: number }): string => (a ? `${a.alg} (${a.keyBits} bits)` : 'none');
  L.push(`XFORM: Encryption alg: ${alg(sa.encryption)}; Authentication alg: ${alg(sa.integrity)}`);
  L.push(`LIFTM: ${sa.bytes} bytes protected`);
  if (sa.softRemaining !== undefined) L.push(`LIFTM: Soft expiry in ${sa.softRemaining} seconds (${humanSeconds(sa.softRemaining)})`);
  if (sa.hardRemaining !== undefined) L.push(`LIFTM: Hard expiry in ${sa.hardRemaining} seconds (${humanSeconds(sa.hardRemaining)})`);
  if (sa.keys?.encryption) L.push(`KEY:   Encryption (${sa.keys.encryption.length / 2} bytes): ${keyText(sa.keys.encryption, !!o.paranoid)}`);
  if (sa.keys?.integrity) L.push(`KEY:   Authentication (${sa.keys.integrity.length / 2} bytes): ${keyText(sa.keys.integrity, !!o.paranoid)}`);
  return L.join('\n') + '\n';
}

export function formatRule(r: RuleInfo): string {
  const L = [''];
  const secs = (n: number): string => `${n} seconds (${humanSeconds(n)})`;
  const kb = (n: number): string => `${n} kilobytes (${humanKbytes(n)})`;
  L.push(`GLOBL: Label '${r.label}', key manager cookie ${r.cookie}`);
  L.push(`GLOBL: local_idtype=${r.localIdType}, ike_mode=${r.ikeMode}`);
  L.push(`GLOBL: p1_nonce_len=${r.p1NonceLen}, p2_nonce_len=${r.p2NonceLen}, p2_pfs=${r.p2Pfs ? 'true' : 'false'} (group ${r.p2Pfs})`);
  L.push(`GLOBL: p2_lifetime=${secs(r.p2Lifetime)}`);
  L.push(`GLOBL: p2_softlife=${secs(r.p2Softlife)}`);
  L.push(`GLOBL: p2_idletime=${secs(r.p2Idletime)}`);
  L.push(`GLOBL: p2_lifetime_kb=${kb(r.p2LifetimeKb)}`);
  L.push(`GLOBL: p2_softlife_kb=${kb(r.p2SoftlifeKb)}`);
  for (const [tag, addrs] of [['LOCIP', r.localAddrs], ['REMIP', r.remoteAddrs]] as const) {
    L.push(`${tag}: IP address range(s):`);
    for (const a of addrs) L.push(`${tag}: ${a}`);
  }
  for (const [tag, ids] of [['LOCID', r.localIds], ['REMID', r.remoteIds]] as const) {
    L.push(`${tag}: Identity descriptors:`);
    L.push(`${tag}: Includes:`);
    for (const s of ids.include) L.push(`${tag}:    ${s}`);
    L.push(`${tag}: Excludes:`);
    for (const s of ids.exclude) L.push(`${tag}:    ${s}`);
  }
  L.push('XFRMS: Available Transforms:');
  r.xforms.forEach((x, i) => {
    const p = `XF ${String(i).padStart(2)}:`;
    L.push(`${p} Authentication method: ${x.authMethod}`);
    L.push(`${p} Encryption alg: ${x.encryption}${x.encryptionBits ? `(${x.encryptionBits})` : ''}; Authentication alg: ${x.hash}`);
    L.push(`${p} Oakley Group: ${groupName(x.group)}`);
    if (x.lifetimeSeconds !== undefined) L.push(`${p} Lifetime limits: ${secs(x.lifetimeSeconds)}`);
  });
  return L.join('\n') + '\n';
}

export function formatPreshared(e: PresharedInfo, o: FormatOptions = {}): string {
  const L = [''];
  L.push(`PSKEY: For ${MODES[e.ikeMode] ?? e.ikeMode} exchanges`);
  if (e.key !== undefined) {
    const [digits, bits] = e.key.split('/');
    const bytes = Math.ceil((e.keyBits ?? digits!.length * 4) / 8);
    L.push(`PSKEY: Pre-shared key (${bytes} bytes): ${keyText(digits!, !!o.paranoid)}${bits ? `/${bits}` : ''}`);
  }
  L.push('LOCIP: Address:', `LOCIP: ${e.local}`, 'REMIP: Address:', `REMIP: ${e.remote}`);
  if (e.source) L.push(`PSKEY: Defined at ${e.source}`);
  return L.join('\n') + '\n';
}

const ALG_HEADER = 'The values are the IKE Phase 1 attribute values assigned by IANA (RFC 2409 Appendix A)\n\n';

export function formatGroups(rows: readonly GroupInfo[]): string {
  let out = 'List of Diffie-Hellman groups for IKE (those this daemon can negotiate)\n' + ALG_HEADER;
  out += `${pad('Value', 6)}${pad('Strength', 9)}Description\n`;
  for (const g of rows) out += `${pad(String(g.value), 6)}${pad(String(g.strength), 9)}${groupName(g.value)}\n`;
  return out;
}

export function formatEncrAlgs(rows: readonly EncrAlgInfo[]): string {
  let out = 'List of Phase 1 encryption algorithms for IKE (those this daemon can negotiate)\n' + ALG_HEADER;
  out += `${pad('Value', 6)}${pad('Name', 20)}Keylen range\n`;
  for (const a of rows) {
    const range = a.keyLengths ? (a.keyLengths.min === a.keyLengths.max ? String(a.keyLengths.min) : `${a.keyLengths.min}-${a.keyLengths.max}`) : `N/A (${a.keyBits ?? '?'} bits)`;
    out += `${pad(String(a.value), 6)}${pad(a.name, 20)}${range}\n`;
  }
  return out;
}

export function formatAuthAlgs(rows: readonly HashAlgInfo[]): string {
  let out = 'List of Phase 1 hash (authentication and PRF) algorithms for IKE (those this daemon can negotiate)\n' + ALG_HEADER;
  out += `${pad('Value', 6)}Name\n`;
  for (const a of rows) out += `${pad(String(a.value), 6)}${a.name}\n`;
  return out;
}

const CERT_KEY: Readonly<Record<CertCacheEntry['key'], string>> = {
  'public-only': '[Public certificate only]', locked: '[Private key linked but locked]', available: '[Private key available]',
};

export function formatCertCache(c: CertCacheEntry): string {
  const L = ['', `CERTIFICATE CACHE ID: ${c.id}`, `\tSubject Name: ${c.subject}`, `\t Issuer Name: ${c.issuer}`];
  if (c.trusted) L.push('\t\t[trusted certificate]');
  L.push(`\t\t${CERT_KEY[c.key] ?? c.key}${c.fromPayload ? ' [Obtained via certificate payload]' : ''}`);
  return L.join('\n') + '\n';
}

const PRIV_DESCRIPTION: Readonly<Record<Privilege, string>> = {
  base: 'base privileges',
  modkeys: 'access to preshared key information',
  keymat: 'access to keying material',
};

function list<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

/** Daemon warnings (e.g. "Lower bits will be truncated") as status lines before the success line. */
function warningLines(v: unknown): string {
  return list<string>(v).map((w) => `warning: ${w}\n`).join('');
}

/**
 * Formats a successful result for a command (text per §3.6, or JSON with -j). Commands without a
 * dedicated formatter print a string result as is and anything else as JSON.
 */
export function formatResult(command: string, result: unknown, o: FormatOptions = {}): Formatted {
  if (o.json) return { stdout: JSON.stringify(result ?? null, null, 2) + '\n', stderr: '' };
  const r = (result ?? {}) as Record<string, unknown>;
  switch (command) {
    case 'get stats':
      return { stdout: formatStats(result as StatsResult), stderr: '' };
    case 'get defaults':
      return { stdout: formatDefaults(list<DefaultsRow>(r.rows ?? result)), stderr: '' };
    case 'dump p1':
    case 'get p1':
      return { stdout: list<P1Info>(result).map((s) => formatP1(s, o)).join('') + '\nCompleted dump of phase 1 SA info\n', stderr: '' };
    case 'dump p2':
      return { stdout: list<P2Info>(result).map((s) => formatP2(s, o)).join('') + '\nCompleted dump of phase 2 SA info\n', stderr: '' };
    case 'dump rule':
    case 'get rule':
      return { stdout: list<RuleInfo>(result).map(formatRule).join('') + '\nCompleted dump of policy rules\n', stderr: '' };
    case 'get debug': {
      const level = Number(r.level ?? 0);
      return { stdout: `Current debug level is ${hex(level)}\n${debugCategories(level)}`, stderr: '' };
    }
    case 'set debug': {
      const from = Number(r.old ?? 0);
      const to = Number(r.level ?? 0);
      return { stdout: `Successfully changed debug level from ${hex(from)} to ${hex(to)}\n${debugCategories(to)}`, stderr: '' };
    }
    case 'get priv': {
      const p = (r.level as Privilege) ?? 'base';
      return { stdout: `Current privilege level is ${hex(PRIVILEGES.indexOf(p))}, ${PRIV_DESCRIPTION[p] ?? p} enabled\n`, stderr: '' };
    }
    case 'set priv': {
      const from = (r.old as Privilege) ?? 'base';
      const to = (r.level as Privilege) ?? 'base';
      return {
        stdout: `Successfully changed privilege level from ${hex(PRIVILEGES.indexOf(from))} to ${hex(PRIVILEGES.indexOf(to))}\n` +
          `New privilege level ${hex(PRIVILEGES.indexOf(to))} enables ${PRIV_DESCRIPTION[to] ?? to}\n`,
        stderr: '',
      };
    }
    case 'dump preshared':
    case 'get preshared':
      return { stdout: list<PresharedInfo>(result).map((e) => formatPreshared(e, o)).join('') + '\nCompleted dump of preshared keys\n', stderr: '' };
    case 'dump groups': return { stdout: formatGroups(list<GroupInfo>(result)) + '\nCompleted dump of groups\n', stderr: '' };
    case 'dump encralgs': return { stdout: formatEncrAlgs(list<EncrAlgInfo>(result)) + '\nCompleted dump of encralgs\n', stderr: '' };
    case 'dump authalgs': return { stdout: formatAuthAlgs(list<HashAlgInfo>(result)) + '\nCompleted dump of authalgs\n', stderr: '' };
    case 'dump certcache':
      return { stdout: list<CertCacheEntry>(result).map(formatCertCache).join('') + '\nCompleted dump of certcache\n', stderr: '' };
    case 'del p1': return { stdout: '', stderr: 'Successfully deleted selected phase 1 SA.\n' };
    case 'del rule': return { stdout: '', stderr: `Successfully deleted selected policy rule${r.label !== undefined ? ` '${String(r.label)}'` : ''}.\n` };
    case 'del preshared':
      return { stdout: '', stderr: `Successfully deleted selected preshared key${r.local !== undefined ? ` (local ${String(r.local)}, remote ${String(r.remote)})` : ''}.\n` };
    case 'add rule': {
      const labels = list<string>(r.labels);
      const what = labels.length > 1 ? `policy rules ${labels.map((l) => `'${l}'`).join(', ')}` : `policy rule${labels.length ? ` '${labels[0]}'` : ''}`;
      return { stdout: '', stderr: warningLines(r.warnings) + `Successfully created new ${what}.\n` };
    }
    case 'add preshared': {
      const n = Number(r.added ?? 1);
      return { stdout: '', stderr: warningLines(r.warnings) + `Successfully created new preshared key${n === 1 ? '' : `s (${n})`}.\n` };
    }
    case 'flush p1': return { stdout: '', stderr: 'Successfully flushed P1 SAs.\n' };
    case 'flush certcache': {
      const n = Number(r.flushed ?? 0);
      return { stdout: '', stderr: `Successfully flushed cert cache (${n} certificate${n === 1 ? '' : 's'} removed).\n` };
    }
    case 'read rule': return { stdout: '', stderr: 'Completed read of policy rule configuration information.\n' };
    case 'read preshared': return { stdout: '', stderr: 'Completed read of preshared key configuration information.\n' };
    case 'write rule':
    case 'write preshared': {
      const what = command === 'write rule' ? 'policy rule' : 'preshared key';
      return { stdout: '', stderr: `Completed write of ${what} configuration information${r.file !== undefined ? ` to ${String(r.file)}` : ''}.\n` };
    }
    case 'token login':
    case 'token logout': {
      const done = command === 'token login' ? 'logged in to' : 'logged out of';
      return { stdout: '', stderr: `PKCS#11 operation successful${r.label !== undefined ? `: ${done} token '${String(r.label)}'` : ''}\n` };
    }
    default:
      if (typeof result === 'string') return { stdout: result.endsWith('\n') ? result : result + '\n', stderr: '' };
      if (result === null || result === undefined) return { stdout: '', stderr: '' };
      return { stdout: JSON.stringify(result, null, 2) + '\n', stderr: '' };
  }
}
