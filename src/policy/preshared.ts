/**
 * /etc/inet/secret/ike.preshared (ike.preshared(4), solaris-ike.md §2): entries
 * `{ localidtype T localid A[/n] remoteidtype T remoteid A[/n] ike_mode main key K }`, the key in
 * hex (`[0-9a-fA-F]+[/bits]`; a leading `0x` is refused as by the S11 parser) or as a quoted ASCII
 * string. First-match lookup by the addresses of the exchange (Main Mode) or the peer's address ID
 * (Aggressive Mode). Errors are OakleyError IKE_ERR_CONFIG naming file:line:column.
 */
import { statSync } from 'node:fs';
import type { Endpoint } from '../net/transport';
import type { Ikev1Credentials } from '../exchange/ikev1/config';
import type { IdValue } from '../wire/ikev1/id';
import { configError, type Position } from './lexer';
import { type AddrRange, checkUnicastRange, parseAddrRange, parseAddress } from './addresses';

export type PresharedIdType = 'IP' | 'IPv4' | 'IPv6';

export interface PresharedEntry {
  readonly localIdType: PresharedIdType;
  readonly local: AddrRange;
  readonly remoteIdType: PresharedIdType;
  readonly remote: AddrRange;
  readonly ikeMode: 'main';
  readonly key: Buffer;
  /** Key length in bits (8 × bytes for ASCII keys). */
  readonly keyBits: number;
  readonly pos: Position;
  /** Non-fatal diagnostics ("Lower bits will be truncated"). */
  readonly warnings: readonly string[];
}

interface Tok { text: string; quoted: boolean; pos: Position }

const ID_TYPES: Readonly<Record<string, PresharedIdType>> = {
  ip: 'IP', ipv4: 'IPv4', ipv6: 'IPv6', ip_subnet: 'IP', ipv4_subnet: 'IPv4', ipv6_subnet: 'IPv6',
};
const FIELDS: Readonly<Record<string, string>> = {
  localidtype: 'localidtype', local_id_type: 'localidtype', localid: 'localid', local_id: 'localid', local_addr: 'localid',
  remoteidtype: 'remoteidtype', remote_id_type: 'remoteidtype', remoteid: 'remoteid', remote_id: 'remoteid', remote_addr: 'remoteid',
  ike_mode: 'ike_mode', mode: 'ike_mode', key: 'key',
};

function tokenizePreshared(text: string, file: string): Tok[] {
  const out: Tok[] = [];
  const lines = text.split('\n');
  lines.forEach((line, n) => {
    if (line.startsWith('#')) return;
    let i = 0;
    while (i < line.length) {
      const c = line[i]!;
      if (c === ' ' || c === '\t') { i++; continue; }
      const pos = { file, line: n + 1, column: i + 1 };
      if (c === '\r' || c < ' ') throw configError(pos, c === '\r' ? 'unexpected carriage return (the file must use Unix line ends)' : 'unexpected control character');
      if (c === '#') return;
      if (c === '{') { out.push({ text: '{', quoted: false, pos }); i++; continue; }
      if (c === '"') {
        let s = '';
        let j = i + 1;
        for (;;) {
          if (j >= line.length) throw configError(pos, 'Syntax error in ASCII string or quotes (the string is not closed on its line)');
          const d = line[j]!;
          if (d === '\\' && (line[j + 1] === '"' || line[j + 1] === '\\')) { s += line[j + 1]; j += 2; continue; }
          if (d === '"') { j++; break; }
          s += d;
          j++;
        }
        if (j < line.length && line[j] !== ' ' && line[j] !== '\t') {
          throw configError({ file, line: n + 1, column: j + 1 }, 'Syntax error in ASCII string or quotes (an unescaped quote inside the string)');
        }
        out.push({ text: s, quoted: true, pos });
        i = j;
        continue;
      }
      let j = i;
      while (j < line.length && line[j] !== ' ' && line[j] !== '\t') j++;
      const word = line.slice(i, j);
      if (word.includes('"')) throw configError(pos, `Syntax error in ASCII string or quotes in "${word}"`);
      if (word.endsWith('}') && word !== '}') throw configError({ file, line: n + 1, column: j }, '"}" must be preceded by whitespace');
      out.push({ text: word, quoted: false, pos });
      i = j;
    }
  });
  return out;
}

/** §2.2 hex key: odd nibble count padded, /bits checked, bits beyond the count zeroed. */
function hexKey(t: Tok, warnings: string[]): { key: Buffer; bits: number } {
  if (/^0x/i.test(t.text)) throw configError(t.pos, 'Invalid string format - hex string expected (write the key without "0x")');
  const m = /^([0-9a-fA-F]+)(?:\/(\d+))?$/.exec(t.text);
  if (!m) throw configError(t.pos, 'Invalid string format - hex string expected (hex digits with an optional /bits, or a quoted ASCII key)');
  let hex = m[1]!;
  const supplied = hex.length * 4;
  if (hex.length % 2) hex += '0';
  let key = Buffer.from(hex, 'hex');
  let bits = supplied;
  if (m[2] !== undefined) {
    bits = Number(m[2]);
    if (bits === 0) throw configError(t.pos, 'key length /0 is not allowed');
    if (bits > supplied) throw configError(t.pos, `Bit length too large (/${bits} for ${supplied} bits of hex)`);
    if (bits < supplied) warnings.push(`${t.pos.file}:${t.pos.line}:${t.pos.column}: Lower bits will be truncated`);
    key = key.subarray(0, Math.ceil(bits / 8));
  }
  if (bits % 8) key[key.length - 1]! &= (0xff << (8 - (bits % 8))) & 0xff;
  return { key: Buffer.from(key), bits };
}

function address(t: Tok, type: PresharedIdType, which: string): AddrRange {
  const slash = t.text.indexOf('/');
  if (slash >= 0 && !/^\d+$/.test(t.text.slice(slash + 1))) throw configError(t.pos, `Invalid prefix length format in address "${t.text}"`);
  const r = parseAddrRange(t.text.includes('-') ? '!' : t.text);
  if (typeof r === 'string') throw configError(t.pos, `${which}: ${r.replace('"!"', `"${t.text}"`)} (expected an address, optionally /prefixlen)`);
  if ((type === 'IPv4' && r.v6) || (type === 'IPv6' && !r.v6)) throw configError(t.pos, `${which} "${t.text}" is not an ${type} address`);
  const bad = checkUnicastRange(r);
  if (bad) throw configError(t.pos, `${which}: ${bad}`);
  return r;
}

/**
 * Parses ike.preshared.
 * @throws OakleyError IKE_ERR_CONFIG naming file:line:column
 */
export function parsePreshared(text: string, file: string): PresharedEntry[] {
  const toks = tokenizePreshared(text, file);
  const entries: PresharedEntry[] = [];
  let i = 0;
  while (i < toks.length) {
    const open = toks[i++]!;
    if (open.quoted || open.text !== '{') throw configError(open.pos, `Syntax error - Entry does not start with an open brace (found "${open.text}")`);
    const seen = new Map<string, Tok>();
    const warnings: string[] = [];
    for (;;) {
      const name = toks[i++];
      if (!name) throw configError(open.pos, 'entry is not closed with "}" before the end of the file');
      if (!name.quoted && name.text === '}') break;
      const field = name.quoted ? undefined : FIELDS[name.text.toLowerCase()];
      if (!field) throw configError(name.pos, `Invalid attribute field name "${name.text}" (expected localidtype, localid, remoteidtype, remoteid, ike_mode or key)`);
      if (seen.has(field)) throw configError(name.pos, `Field in an entry is repeated: ${name.text}`);
      const value = toks[i++];
      if (!value || (!value.quoted && value.text === '}')) throw configError(name.pos, `${name.text} needs a value`);
      seen.set(field, value);
    }
    const end = toks[i - 1]!;
    const idType = (f: string, msg: string): PresharedIdType => {
      const v = seen.get(f);
      if (!v) return 'IP';
      const t = ID_TYPES[v.text.toLowerCase()];
      if (!t || v.quoted) throw configError(v.pos, `${msg} "${v.text}" (expected IP, IPv4, IPv6, IP_SUBNET, IPv4_SUBNET or IPv6_SUBNET)`);
      return t;
    };
    const localIdType = idType('localidtype', 'Invalid Local Id type');
    const remoteIdType = idType('remoteidtype', 'Invalid Remote Id type');
    const lt = seen.get('localid');
    if (!lt) throw configError(end.pos, 'localid not defined');
    const rt = seen.get('remoteid');
    if (!rt) throw configError(end.pos, 'remotedid not defined');
    if (!parseAddress(lt.text.split('/')[0]!)) throw configError(lt.pos, `Local Id can only be an IP address (found "${lt.text}")`);
    const local = address(lt, localIdType, 'localid');
    const remote = address(rt, remoteIdType, 'remoteid');
    if (local.v6 !== remote.v6) throw configError(rt.pos, 'Address versions do not match');
    const mode = seen.get('ike_mode');
    if (mode && mode.text.toLowerCase() !== 'main') throw configError(mode.pos, `Invalid Ike Mode "${mode.text}" (only main is accepted)`);
    const kt = seen.get('key');
    if (!kt) throw configError(end.pos, 'key not defined');
    let key: Buffer, bits: number;
    if (kt.quoted) {
      if (kt.text === '') throw configError(kt.pos, 'the ASCII key is empty');
      key = Buffer.from(kt.text, 'latin1');
      bits = key.length * 8;
    } else ({ key, bits } = hexKey(kt, warnings));
    entries.push({ localIdType, local, remoteIdType, remote, ikeMode: 'main', key, keyBits: bits, pos: open.pos, warnings });
  }
  return entries;
}

function inRange(r: AddrRange, address: string): boolean {
  let a = parseAddress(address);
  if (!a) return false;
  // IPv4 lookups also match entries written as v4-mapped IPv6 (§2.3); and a v4-mapped peer address.
  if (a.v6 && a.value >> 32n === 0xffffn && !r.v6) a = { v6: false, value: a.value & 0xffffffffn };
  if (!a.v6 && r.v6) a = { v6: true, value: 0xffff00000000n | a.value };
  return a.v6 === r.v6 && r.start <= a.value && a.value <= r.end;
}

/**
 * The engine's pre-shared key lookup over parsed entries: first entry in file order whose localid
 * covers our address and whose remoteid covers the peer's address; in Aggressive Mode, when the
 * peer's ID is an address ID, its address is used instead of the peer's transport address.
 */
export function presharedLookup(entries: readonly PresharedEntry[]): Ikev1Credentials['presharedKey'] {
  return (local: Endpoint, peer: Endpoint, peerId?: IdValue): Buffer | undefined => {
    const remote = peerId && (peerId.kind === 'ipv4' || peerId.kind === 'ipv6') ? peerId.address : peer.address;
    const e = entries.find((x) => inRange(x.local, local.address) && inRange(x.remote, remote));
    return e ? Buffer.from(e.key) : undefined;
  };
}

/**
 * A warning text when the secret file can be read by group or others (the daemon itself does not
 * check, §2.3; Oakley warns). Undefined when the mode is fine or the file is missing.
 */
export function checkSecretFileMode(path: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) === 0) return undefined;
  return `${path}: mode ${(mode & 0o777).toString(8).padStart(4, '0')} lets group or others read pre-shared keys; use chmod 0600`;
}
