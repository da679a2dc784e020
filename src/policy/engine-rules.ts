/**
 * ike/config rules + ipsecinit.conf entries → the IKEv1 engine's rules (Ikev1Rule). Each IKE rule
 * takes its Phase 2 algorithms and mode from the first ipsecinit entry it covers: a transport entry
 * whose laddr/raddr lie inside the rule's local/remote addresses, or a tunnel entry whose tunnel
 * endpoints (given by the caller from the tunnel interface configuration) do. Lifetimes are the
 * rule's normalised p2 values (src/exchange/ikev1/lifetimes.ts), PFS from p2_pfs.
 */
import { OakleyError } from '../util/errors';
import { CryptoErr } from '../util/errors';
import type { Ikev1Rule } from '../exchange/ikev1/config';
import type { P1Transform } from '../exchange/ikev1/proposals';
import { normalizeP2Lifetimes } from '../exchange/ikev1/lifetimes';
import type { TrafficSelectors } from '../exchange/ikev1/traffic-selectors';
import type { IdValue } from '../wire/ikev1/id';
import { type AddrRange, formatAddress, parseAddress, rangeContains } from './addresses';
import type { IkeConfig, IkeRule } from './ike-config';
import type { IpsecPolicyEntry } from './ipsecinit';
import { where } from './lexer';

function fail(rule: IkeRule, msg: string): OakleyError {
  return new OakleyError(CryptoErr.CONFIG, `${where(rule.pos)}: rule "${rule.label}": ${msg}`, { label: rule.label });
}

/** The single addresses among a rule's ranges (what `initiate` can send to). */
function singles(ranges: readonly AddrRange[]): string[] {
  return ranges.filter((r) => r.start === r.end).map((r) => formatAddress(r.v6, r.start));
}

function idOf(r: AddrRange): IdValue {
  const start = formatAddress(r.v6, r.start);
  if (r.start === r.end) return r.v6 ? { kind: 'ipv6', address: start } : { kind: 'ipv4', address: start };
  if (r.prefix !== undefined) return r.v6 ? { kind: 'ipv6-subnet', address: start, prefix: r.prefix } : { kind: 'ipv4-subnet', address: start, prefix: r.prefix };
  const end = formatAddress(r.v6, r.end);
  return r.v6 ? { kind: 'ipv6-range', start, end } : { kind: 'ipv4-range', start, end };
}

/** A certificate selector's identity, when it names one unambiguously (IP=, DNS=, EMAIL=). */
function selectorId(sel: string): IdValue | undefined {
  const m = /^(IP|DNS|EMAIL)=(.+)$/.exec(sel);
  if (!m) return undefined;
  if (m[1] === 'DNS') return { kind: 'fqdn', name: m[2]! };
  if (m[1] === 'EMAIL') return { kind: 'user-fqdn', name: m[2]! };
  const a = parseAddress(m[2]!);
  return a ? (a.v6 ? { kind: 'ipv6', address: m[2]! } : { kind: 'ipv4', address: m[2]! }) : undefined;
}

function p1(rule: IkeRule): P1Transform[] {
  return rule.xforms.map((x) => {
    if (x.auth !== 'preshared' && x.auth !== 'rsa_sig') {
      throw new OakleyError(CryptoErr.CONFIG, `${where(x.pos)}: rule "${rule.label}": auth_method ${x.auth} is not supported by the engine (preshared, rsa_sig)`);
    }
    return { encr: x.encr, ...(x.keyLengths ? { keyLengths: x.keyLengths } : {}), hash: x.hash, auth: x.auth, group: x.group, lifetimeSeconds: x.lifetimeSecs };
  });
}

/**
 * @param tunnelEndpoints outer addresses of each tunnel interface named in ipsecinit.conf
 * @throws OakleyError IKE_ERR_CONFIG when a rule has no matching IPsec policy or uses what the engine lacks
 */
export function buildEngineRules(
  ike: IkeConfig,
  ipsec: readonly IpsecPolicyEntry[],
  tunnelEndpoints: ReadonlyMap<string, { local: string; remote: string }> = new Map(),
): Ikev1Rule[] {
  return ike.rules.map((rule) => {
    const covers = (ranges: readonly AddrRange[], r: AddrRange) => ranges.some((x) => rangeContains(x, r));
    const host = (s: string): AddrRange | undefined => {
      const a = parseAddress(s);
      return a && { v6: a.v6, start: a.value, end: a.value };
    };
    const matching = ipsec.filter((e) => {
      if (e.mode === 'transport') return covers(rule.localAddrs, e.laddr) && covers(rule.remoteAddrs, e.raddr);
      const ep = e.tunnelEndpoints ?? (e.tunnel ? tunnelEndpoints.get(e.tunnel) : undefined);
      const l = ep && host(ep.local), r = ep && host(ep.remote);
      return !!l && !!r && covers(rule.localAddrs, l) && covers(rule.remoteAddrs, r);
    });
    const entry = matching[0];
    if (!entry) {
      const undeclared = ipsec.find((e) => e.mode === 'tunnel' && e.tunnel && !e.tunnelEndpoints && !tunnelEndpoints.has(e.tunnel));
      throw fail(rule, 'no matching IPsec policy in ipsecinit.conf (no entry whose laddr/raddr, or tunnel endpoints, lie inside the rule\'s local_addr/remote_addr)' +
        (undeclared ? `; tunnel ${undeclared.tunnel!} has no endpoints: declare them with "tunnel ${undeclared.tunnel!} tsrc LOCAL tdst REMOTE"` : ''));
    }
    const life = normalizeP2Lifetimes(rule.p2).lifetimes;
    const selectors: TrafficSelectors[] = matching.filter((e) => e.mode === entry.mode).map((e) => ({
      local: { id: idOf(e.laddr), ...(e.ulp !== undefined ? { protocol: e.ulp } : {}), ...(e.lport ? { port: e.lport } : {}) },
      remote: { id: idOf(e.raddr), ...(e.ulp !== undefined ? { protocol: e.ulp } : {}), ...(e.rport ? { port: e.rport } : {}) },
    }));
    const localId = rule.preshared ? undefined : rule.localId.includes.map(selectorId).find((x) => x);
    const remoteId = rule.preshared || rule.remoteId.includes.length !== 1 ? undefined : selectorId(rule.remoteId.includes[0]!);
    return {
      label: rule.label,
      localAddresses: singles(rule.localAddrs),
      remoteAddresses: singles(rule.remoteAddrs),
      localRanges: rule.localAddrs.map(({ v6, start, end }) => ({ v6, start, end })),
      remoteRanges: rule.remoteAddrs.map(({ v6, start, end }) => ({ v6, start, end })),
      mode: rule.p1Mode === 'aggressive' ? 'aggressive' : 'main',
      p1: p1(rule),
      ...(localId ? { localId } : {}),
      ...(remoteId ? { remoteId } : {}),
      p2: {
        esp: entry.esp,
        ...(rule.pfsGroup ? { pfsGroup: rule.pfsGroup } : {}),
        lifetimeSeconds: life.hardSecs,
        lifetimeKilobytes: life.hardKb,
        mode: entry.mode,
      },
      p2Selectors: selectors,
      aggressiveResponder: rule.aggressiveResponder,
      ...(rule.remotePort !== undefined ? { remotePort: rule.remotePort } : {}),
    };
  });
}

/**
 * Gives certificate rules the identity their certificate carries (the daemon's keystore decides:
 * the subject DER as ID_DER_ASN1_DN for `local_id_type dn`, else the subjectAltName of that type),
 * matching engine rules to ike/config rules by label. Preshared rules, and rules for which
 * `localId` answers undefined, keep what buildEngineRules gave them.
 */
export function withLocalIds(rules: readonly Ikev1Rule[], ike: IkeConfig, localId: (rule: IkeRule) => IdValue | undefined): Ikev1Rule[] {
  return rules.map((r) => {
    const rule = ike.rules.find((x) => x.label === r.label);
    const id = rule && !rule.preshared ? localId(rule) : undefined;
    return id ? { ...r, localId: id } : r;
  });
}
