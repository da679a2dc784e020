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
 *
 * Reload (SIGHUP, `ikeadm read rule`) re-reads ipsecinit.conf and moves the SPD from the installed
 * set to the new one with diffPolicies + applyPolicyDiff, all or nothing.
 */
import { formatAddress, type AddrRange } from '../../policy/addresses';
import type { IpsecPolicyEntry } from '../../policy/ipsecinit';
import { KernelErr, type IpsecPolicy, type KernelIpsec, type TrafficSelector } from '../types';
import { OakleyError } from '../../util/errors';

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

/**
 * A policy's full identity: selectors, direction and everything installed with them (action,
 * protocol, mode, tunnel endpoints). Two policies with equal keys are the same kernel entry.
 */
export function policyKey(p: IpsecPolicy): string {
  const s = (t: TrafficSelector): string => `${t.address}/${t.prefixLength}:${t.protocol ?? 0}:${t.port ?? 0}`;
  const tmpl = p.action === 'ipsec' ? ` ${p.protocol ?? 'esp'} ${p.mode ?? 'transport'}${p.tunnel ? ` ${p.tunnel.src}->${p.tunnel.dst}` : ''}` : '';
  return `${p.direction} ${s(p.src)} -> ${s(p.dst)} ${p.action}${tmpl}`;
}

/** The kernel's key for a policy: only selectors and direction (one entry per key in the SPD). */
function selectorKey(p: IpsecPolicy): string {
  const s = (t: TrafficSelector): string => `${t.address}/${t.prefixLength}:${t.protocol ?? 0}:${t.port ?? 0}`;
  return `${p.direction} ${s(p.src)} -> ${s(p.dst)}`;
}

/** What turns the installed policy set into the wanted one. */
export interface PolicyDiff {
  /** Wanted, with a selector nothing installed uses. */
  readonly add: readonly IpsecPolicy[];
  /** Same selector and direction as an installed policy, different action or template. */
  readonly replace: readonly { readonly from: IpsecPolicy; readonly to: IpsecPolicy }[];
  /** Installed and no longer wanted. */
  readonly remove: readonly IpsecPolicy[];
  /** How many stay as they are. */
  readonly unchanged: number;
}

/** @returns the difference between `installed` and `wanted` (duplicates in `wanted` count once) */
export function diffPolicies(installed: readonly IpsecPolicy[], wanted: readonly IpsecPolicy[]): PolicyDiff {
  const have = new Map(installed.map((p) => [selectorKey(p), p]));
  const want = new Map(wanted.map((p) => [selectorKey(p), p]));
  const add: IpsecPolicy[] = [];
  const replace: { from: IpsecPolicy; to: IpsecPolicy }[] = [];
  let unchanged = 0;
  for (const [k, p] of want) {
    const old = have.get(k);
    if (!old) add.push(p);
    else if (policyKey(old) !== policyKey(p)) replace.push({ from: old, to: p });
    else unchanged++;
  }
  const remove = [...have].filter(([k]) => !want.has(k)).map(([, p]) => p);
  return { add, replace, remove, unchanged };
}

/** The two SPD operations a diff needs (XfrmKernel, MemoryKernel). */
export type PolicyTarget = Pick<KernelIpsec, 'addPolicy' | 'delPolicy'>;

/**
 * Applies a diff all or nothing. Order, so that protected traffic is never left without its
 * policy longer than necessary: new selectors first, then each replaced selector (delete, add:
 * the SPD holds one entry per selector), then the removals. When the kernel refuses a step, the
 * steps already done are undone in reverse order and the refusal is rethrown; the kernel then
 * holds the old set again. An undo step that fails too is reported through `onUndoFailure` (the
 * SPD then differs from both sets, which the caller must say).
 * @throws the kernel's error of the refused step (an OakleyError naming the policy)
 */
export async function applyPolicyDiff(k: PolicyTarget, diff: PolicyDiff, onUndoFailure: (message: string) => void = () => undefined): Promise<void> {
  const undo: { what: string; run: () => Promise<void> }[] = [];
  const step = async (what: string, run: () => Promise<void>, back: () => Promise<void>): Promise<void> => {
    try {
      await run();
    } catch (e) {
      throw new OakleyError(OakleyError.is(e) ? e.code : KernelErr.FAILED, `${what}: ${(e as Error).message}`, OakleyError.is(e) ? e.detail as Record<string, unknown> | undefined : undefined, { cause: e });
    }
    undo.push({ what, run: back });
  };
  try {
    for (const p of diff.add) await step(`adding policy ${policyKey(p)}`, () => k.addPolicy(p), () => k.delPolicy(p));
    for (const { from, to } of diff.replace) {
      await step(`removing policy ${policyKey(from)}`, () => k.delPolicy(from), () => k.addPolicy(from));
      await step(`adding policy ${policyKey(to)}`, () => k.addPolicy(to), () => k.delPolicy(to));
    }
    for (const p of diff.remove) await step(`removing policy ${policyKey(p)}`, () => k.delPolicy(p), () => k.addPolicy(p));
  } catch (e) {
    for (const u of undo.reverse()) {
      try {
        await u.run();
      } catch (err) {
        onUndoFailure(`undoing ${u.what} failed: ${(err as Error).message}`);
      }
    }
    throw e;
  }
}
