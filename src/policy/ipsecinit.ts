/**
 * /etc/inet/ipsecinit.conf (ipsecconf(1M), solaris-ike.md §5.8) — the subset Oakley reads to know
 * the Phase 2 algorithms and mode for each IKE rule. Supported, one entry per `{...} ipsec {...}`:
 *
 *   { [tunnel NAME negotiate tunnel] laddr A raddr B [ulp P] [lport N] [rport N] [dir in|out|both] }
 *   ipsec { encr_algs aes|aes-gcm|3des[(low..high)] [encr_auth_algs sha1|sha256|sha384|sha512] [sa shared|unique] }
 *
 * A, B: an address or prefix (A/n). P: a protocol number or tcp/udp/icmp. `tunnel NAME` alone
 * implies tunnel mode; `negotiate tunnel` may also be written; `negotiate transport` is transport.
 * Algorithm names also accept the ipsecalgs long forms (aes-cbc, 3des-cbc, hmac-sha256, ...).
 *
 * Oakley extension: tunnel endpoints. Solaris takes the outer addresses of `tunnel NAME` from the
 * interface (`ifconfig ip.tun0 tsrc A tdst B`); Linux has no such interface for IKE to read, so
 * the endpoints are declared in this file, outside any entry, with the same words:
 *
 *   tunnel NAME tsrc A tdst B
 *
 * A tunnel entry belongs to the IKE rule whose local_addr/remote_addr contain tsrc/tdst.
 * Everything else — `pass`, `drop`, `permit`, `apply`, AH (`auth_algs`), `sa` other values,
 * hostnames, other algorithms — is refused as unsupported, naming file:line:column.
 */
import { configError, type Token, tokenize } from './lexer';
import { type AddrRange, checkUnicastRange, parseAddrRange } from './addresses';
import type { P2Auth, P2EspAlternative } from '../exchange/ikev1/proposals';

export interface IpsecPolicyEntry {
  readonly laddr: AddrRange;
  readonly raddr: AddrRange;
  readonly ulp?: number;
  readonly lport?: number;
  readonly rport?: number;
  readonly dir: 'in' | 'out' | 'both';
  readonly mode: 'tunnel' | 'transport';
  readonly tunnel?: string;
  /** The declared outer addresses of `tunnel` (resolved when the file is parsed). */
  readonly tunnelEndpoints?: TunnelEndpoints;
  readonly esp: readonly P2EspAlternative[];
  readonly sa: 'shared' | 'unique';
  readonly line: number;
}

const ENCR: Readonly<Record<string, 'aes' | 'aes-gcm' | '3des'>> = { aes: 'aes', 'aes-cbc': 'aes', 'aes-gcm': 'aes-gcm', 'aes-gcm16': 'aes-gcm', '3des': '3des', '3des-cbc': '3des' };
const AUTH: Readonly<Record<string, P2Auth>> = {
  sha1: 'hmac-sha1', 'hmac-sha1': 'hmac-sha1', sha: 'hmac-sha1', sha256: 'hmac-sha256', 'hmac-sha256': 'hmac-sha256',
  sha384: 'hmac-sha384', 'hmac-sha384': 'hmac-sha384', sha512: 'hmac-sha512', 'hmac-sha512': 'hmac-sha512',
};
const ULP: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17, ipv6_icmp: 58 };

/** Outer addresses of a tunnel interface (the `tunnel NAME tsrc A tdst B` extension). */
export interface TunnelEndpoints {
  readonly local: string;
  readonly remote: string;
}

export interface IpsecInit {
  readonly entries: IpsecPolicyEntry[];
  readonly tunnels: Map<string, TunnelEndpoints>;
}

/** The policy entries only (see parseIpsecInitFile for tunnel endpoints too). */
export function parseIpsecInit(text: string, file: string): IpsecPolicyEntry[] {
  return parseIpsecInitFile(text, file).entries;
}

/**
 * Parses ipsecinit.conf: policy entries and tunnel endpoint declarations (a tunnel entry whose
 * tunnel is not declared here gets its endpoints from the caller of buildEngineRules, or matches
 * no rule).
 * @throws OakleyError IKE_ERR_CONFIG naming file:line:column
 */
export function parseIpsecInitFile(text: string, file: string): IpsecInit {
  const toks = tokenize(text, file);
  const out: IpsecPolicyEntry[] = [];
  const tunnels = new Map<string, TunnelEndpoints>();
  let i = 0;
  const next = (after: Token, what: string): Token => {
    const t = toks[i++];
    if (!t) throw configError(after.pos, `${after.text}: expected ${what}, but the file ends`);
    return t;
  };
  const atom = (after: Token, what: string): Token => {
    const t = next(after, what);
    if (t.kind !== 'atom') throw configError(t.pos, `${after.text}: expected ${what}, found "${t.text}"`);
    return t;
  };
  const port = (kw: Token): number => {
    const v = atom(kw, 'a port number');
    if (!/^\d+$/.test(v.text) || +v.text < 1 || +v.text > 65535) throw configError(v.pos, `${kw.text}: expected a port number 1..65535, found "${v.text}"`);
    return +v.text;
  };
  const addr = (kw: Token): AddrRange => {
    const v = atom(kw, 'an address or prefix');
    const r = v.text.includes('-') ? 'address ranges are not supported here (use A/prefix)' : parseAddrRange(v.text);
    if (typeof r === 'string') throw configError(v.pos, `${kw.text}: ${r}`);
    const bad = checkUnicastRange(r);
    if (bad) throw configError(v.pos, `${kw.text}: ${bad}`);
    return r;
  };
  const unsupported = (t: Token, where: string): never => {
    throw configError(t.pos, `"${t.text}" ${where} is not supported by Oakley's ipsecinit.conf subset`);
  };
  const hostAddr = (kw: Token): string => {
    const v = atom(kw, 'an address');
    const r = parseAddrRange(v.text);
    if (typeof r === 'string' || r.start !== r.end) throw configError(v.pos, `${kw.text}: expected a single address, found "${v.text}"`);
    return v.text;
  };
  while (i < toks.length) {
    const open = toks[i++]!;
    if (open.kind === 'atom' && open.text === 'tunnel') {
      const name = atom(open, 'a tunnel interface name');
      const tsrc = atom(name, '"tsrc"');
      if (tsrc.text !== 'tsrc') throw configError(tsrc.pos, `tunnel ${name.text}: expected "tsrc", found "${tsrc.text}"`);
      const local = hostAddr(tsrc);
      const tdst = atom(tsrc, '"tdst"');
      if (tdst.text !== 'tdst') throw configError(tdst.pos, `tunnel ${name.text}: expected "tdst", found "${tdst.text}"`);
      const remote = hostAddr(tdst);
      if (tunnels.has(name.text)) throw configError(name.pos, `tunnel ${name.text} is declared twice`);
      tunnels.set(name.text, { local, remote });
      continue;
    }
    if (open.kind !== '{') throw configError(open.pos, `expected "{" to start a policy entry, found "${open.text}"`);
    let laddr: AddrRange | undefined, raddr: AddrRange | undefined, ulp: number | undefined, lport: number | undefined, rport: number | undefined;
    let dir: IpsecPolicyEntry['dir'] = 'both';
    let mode: IpsecPolicyEntry['mode'] = 'transport';
    let tunnel: string | undefined;
    for (;;) {
      const t = next(open, 'a selector or "}"');
      if (t.kind === '}') break;
      if (t.kind !== 'atom') throw configError(t.pos, `expected a selector, found "${t.text}"`);
      switch (t.text) {
        case 'laddr': case 'saddr': case 'src': laddr = addr(t); break;
        case 'raddr': case 'daddr': case 'dst': raddr = addr(t); break;
        case 'lport': case 'sport': lport = port(t); break;
        case 'rport': case 'dport': rport = port(t); break;
        case 'ulp': case 'proto': {
          const v = atom(t, 'a protocol');
          const n = ULP[v.text] ?? (/^\d+$/.test(v.text) && +v.text <= 255 ? +v.text : undefined);
          if (n === undefined) throw configError(v.pos, `ulp: expected tcp, udp, icmp or a protocol number, found "${v.text}"`);
          ulp = n;
          break;
        }
        case 'dir': {
          const v = atom(t, 'in, out or both');
          if (v.text !== 'in' && v.text !== 'out' && v.text !== 'both') throw configError(v.pos, `dir: expected in, out or both, found "${v.text}"`);
          dir = v.text;
          break;
        }
        case 'tunnel': {
          const n = atom(t, 'a tunnel interface name');
          tunnel = n.text;
          mode = 'tunnel';
          break;
        }
        case 'negotiate': {
          const v = atom(t, 'tunnel or transport');
          if (v.text !== 'tunnel' && v.text !== 'transport') throw configError(v.pos, `negotiate: expected tunnel or transport, found "${v.text}"`);
          mode = v.text;
          break;
        }
        default: unsupported(t, 'in a policy selector');
      }
    }
    const close = toks[i - 1]!;
    if (!laddr) throw configError(close.pos, 'policy entry needs laddr');
    if (!raddr) throw configError(close.pos, 'policy entry needs raddr');
    if (laddr.v6 !== raddr.v6) throw configError(close.pos, 'laddr and raddr are of different address families');
    if (mode === 'tunnel' && !tunnel) throw configError(close.pos, '"negotiate tunnel" needs "tunnel NAME"');
    const action = atom(close, 'the action "ipsec"');
    if (action.text !== 'ipsec') unsupported(action, 'as an action (only "ipsec" is)');
    const o = next(action, '"{"');
    if (o.kind !== '{') throw configError(o.pos, `ipsec: expected "{", found "${o.text}"`);
    const encrs: { encr: 'aes' | 'aes-gcm' | '3des'; keyLengths?: { min: number; max: number } }[] = [];
    let auths: P2Auth[] = [];
    let sa: IpsecPolicyEntry['sa'] = 'shared';
    for (;;) {
      const t = next(o, 'an action property or "}"');
      if (t.kind === '}') break;
      if (t.kind !== 'atom') throw configError(t.pos, `expected an action property, found "${t.text}"`);
      if (t.text === 'encr_algs') {
        const v = atom(t, 'an encryption algorithm');
        const m = /^([a-z0-9-]+)(?:\((\d*)\.\.(\d*)\))?$/.exec(v.text);
        const encr = m ? ENCR[m[1]!] : undefined;
        if (!encr) throw configError(v.pos, `encr_algs: "${v.text}" is not supported (expected aes, aes-gcm or 3des, optionally aes(low..high))`);
        if (m![2] !== undefined || m![3] !== undefined) {
          if (encr === '3des') throw configError(v.pos, 'Cannot specify key size on non-AES ciphers.');
          const min = m![2] ? +m![2] : 128, max = m![3] ? +m![3] : 256;
          if (![128, 192, 256].includes(min) || ![128, 192, 256].includes(max) || min > max) throw configError(v.pos, `encr_algs: invalid AES key size range in "${v.text}"`);
          encrs.push({ encr, keyLengths: { min, max } });
        } else encrs.push({ encr });
      } else if (t.text === 'encr_auth_algs') {
        const v = atom(t, 'an authentication algorithm');
        const a = AUTH[v.text];
        if (!a) throw configError(v.pos, `encr_auth_algs: "${v.text}" is not supported (expected sha1, sha256, sha384 or sha512)`);
        auths = [...auths, a];
      } else if (t.text === 'sa') {
        const v = atom(t, 'shared or unique');
        if (v.text !== 'shared' && v.text !== 'unique') throw configError(v.pos, `sa: expected shared or unique, found "${v.text}"`);
        sa = v.text;
      } else unsupported(t, 'in an ipsec action');
    }
    if (!encrs.length) throw configError(toks[i - 1]!.pos, 'ipsec action needs encr_algs (ESP); AH-only policy is not supported');
    const esp: P2EspAlternative[] = [];
    for (const e of encrs) {
      if (e.encr === 'aes-gcm') esp.push({ ...e });
      else {
        if (!auths.length) throw configError(toks[i - 1]!.pos, `encr_algs ${e.encr} needs encr_auth_algs`);
        for (const a of auths) esp.push({ ...e, auth: a });
      }
    }
    out.push({ laddr, raddr, ...(ulp !== undefined ? { ulp } : {}), ...(lport ? { lport } : {}), ...(rport ? { rport } : {}), dir, mode, ...(tunnel ? { tunnel } : {}), esp, sa, line: open.pos.line });
  }
  const entries = out.map((e) => {
    const ep = e.tunnel ? tunnels.get(e.tunnel) : undefined;
    return ep ? { ...e, tunnelEndpoints: ep } : e;
  });
  return { entries, tunnels };
}
