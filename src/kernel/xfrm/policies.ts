/**
 * ipsecinit.conf entries → kernel policies, as `ipsecconf -a` loads the Solaris SPD
 * (solaris-ike.md §5.8):
 *
 *   { laddr L raddr R [ulp P] [lport a] [rport b] [dir d] } ipsec { ... }
 *     dir out|both → outbound  L:a -> R:b  proto P   ESP template (transport, or tunnel tsrc→tdst)
 *     dir in|both  → inbound   R:b -> L:a  proto P   ESP template (tunnel: tdst→tsrc; XFRM adds FWD)
 *
 * IKE's own traffic is always bypassed, whatever the entries say (§5.8: "UDP port 500 (IKE) is
 * always bypassed"): for each IKE port, UDP to or from that port in both directions, at a
 * priority that beats every IPsec entry. Without it an entry covering the peers' addresses would
 * send ISAKMP itself into ACQUIRE, and inbound IKE would be dropped for lacking ESP.
 */
import { formatAddress, type AddrRange } from '../../policy/addresses';
import type { IpsecPolicyEntry } from '../../policy/ipsecinit';
import type { IpsecPolicy, TrafficSelector } from '../types';

const UDP = 17;

function prefixOf(r: AddrRange): number {
  if (r.prefix !== undefined) return r.prefix;
  if (r.start === r.end) return r.v6 ? 128 : 32;
  // ipsecinit.ts only accepts A or A/n, so a range without a prefix does not occur.
  throw new Error(`address range ${formatAddress(r.v6, r.start)}-${formatAddress(r.v6, r.end)} is not a prefix`);
}

function sel(r: AddrRange, protocol: number | undefined, port: number | undefined): TrafficSelector {
  return { address: formatAddress(r.v6, r.start), prefixLength: prefixOf(r), ...(protocol ? { protocol } : {}), ...(port ? { port } : {}) };
}

/** The policies for one ipsecinit.conf entry (one per direction it covers). */
export function entryPolicies(e: IpsecPolicyEntry): IpsecPolicy[] {
  const out: IpsecPolicy[] = [];
  const tunnel = e.mode === 'tunnel';
  if (tunnel && !e.tunnelEndpoints) {
    throw new Error(`ipsecinit.conf line ${e.line}: tunnel ${e.tunnel ?? '?'} has no declared endpoints (tunnel NAME tsrc A tdst B)`);
  }
  const common = { action: 'ipsec' as const, protocol: 'esp' as const, mode: e.mode };
  const ep = e.tunnelEndpoints;
  if (e.dir !== 'in') {
    out.push({ ...common, direction: 'outbound', src: sel(e.laddr, e.ulp, e.lport), dst: sel(e.raddr, e.ulp, e.rport),
      ...(tunnel ? { tunnel: { src: ep!.local, dst: ep!.remote } } : {}) });
  }
  if (e.dir !== 'out') {
    out.push({ ...common, direction: 'inbound', src: sel(e.raddr, e.ulp, e.rport), dst: sel(e.laddr, e.ulp, e.lport),
      ...(tunnel ? { tunnel: { src: ep!.local, dst: ep!.remote } } : {}) });
  }
  return out;
}

/**
 * Bypass policies for IKE's UDP ports, for each address family in use.
 * @param ports IKE ports (500, 4500 and the daemon's configured ones; duplicates are merged)
 */
export function ikeBypassPolicies(ports: readonly number[], families: readonly ('v4' | 'v6')[]): IpsecPolicy[] {
  const out: IpsecPolicy[] = [];
  for (const fam of families) {
    const any = fam === 'v6' ? '::' : '0.0.0.0';
    const all = (port?: number): TrafficSelector => ({ address: any, prefixLength: 0, protocol: UDP, ...(port ? { port } : {}) });
    for (const port of [...new Set(ports)].filter((p) => p > 0)) {
      for (const direction of ['outbound', 'inbound'] as const) {
        out.push({ direction, action: 'bypass', src: all(port), dst: all() });
        out.push({ direction, action: 'bypass', src: all(), dst: all(port) });
      }
    }
  }
  return out;
}

/** Everything to install for ipsecinit.conf: the IKE bypasses first, then the entries in file order. */
export function ipsecInitPolicies(entries: readonly IpsecPolicyEntry[], ikePorts: readonly number[]): IpsecPolicy[] {
  const families = [...new Set(entries.map((e): 'v4' | 'v6' => (e.laddr.v6 ? 'v6' : 'v4')))];
  return [...ikeBypassPolicies(ikePorts, families), ...entries.flatMap(entryPolicies)];
}
