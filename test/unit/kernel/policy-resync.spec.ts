/** diffPolicies + applyPolicyDiff (reload of ipsecinit.conf): the diff, the order, all-or-nothing. */
import assert from 'node:assert/strict';

import type { IpsecPolicy } from '../../../src/kernel/types';
import { applyPolicyDiff, diffPolicies, policyKey, type PolicyTarget } from '../../../src/kernel/xfrm/policies';
import { OakleyError } from '../../../src/util/errors';

const pol = (port: number, direction: 'outbound' | 'inbound' = 'outbound', action: IpsecPolicy['action'] = 'ipsec'): IpsecPolicy => ({
  direction, action, ...(action === 'ipsec' ? { protocol: 'esp' as const, mode: 'transport' as const } : {}),
  src: { address: '192.0.2.1', prefixLength: 32, protocol: 17 }, dst: { address: '192.0.2.2', prefixLength: 32, protocol: 17, port },
});

/** An SPD keyed by selector, like the kernel's, refusing the adds named in `refuse`. */
class FakeSpd implements PolicyTarget {
  readonly entries = new Map<string, IpsecPolicy>();
  readonly log: string[] = [];
  constructor(initial: IpsecPolicy[], private readonly refuse: (p: IpsecPolicy) => boolean = () => false) {
    for (const p of initial) this.entries.set(this.sel(p), p);
  }
  private sel(p: IpsecPolicy): string {
    return policyKey({ ...p, action: 'bypass' });
  }
  async addPolicy(p: IpsecPolicy): Promise<void> {
    if (this.entries.has(this.sel(p)) || this.refuse(p)) throw new OakleyError('IKE_ERR_KERNEL_POLICY_EXISTS', 'XFRM NEWPOLICY: already exists (EEXIST)');
    this.log.push(`add ${p.dst.port} ${p.action}`);
    this.entries.set(this.sel(p), p);
  }
  async delPolicy(p: IpsecPolicy): Promise<void> {
    if (!this.entries.delete(this.sel(p))) throw new OakleyError('IKE_ERR_KERNEL_NO_SUCH_POLICY', 'no such policy');
    this.log.push(`del ${p.dst.port} ${p.action}`);
  }
  keys(): string[] {
    return [...this.entries.values()].map(policyKey).sort();
  }
}

describe('kernel policy re-sync (policies.ts)', () => {
  it('diffs by selector: new, replaced (same selector, other action/template), removed, unchanged', () => {
    const d = diffPolicies([pol(1), pol(2), pol(3)], [pol(1), pol(2, 'outbound', 'drop'), pol(4), pol(4)]);
    assert.deepEqual(d.add.map((p) => p.dst.port), [4]);
    assert.deepEqual(d.replace.map((r) => [r.from.action, r.to.action]), [['ipsec', 'drop']]);
    assert.deepEqual(d.remove.map((p) => p.dst.port), [3]);
    assert.equal(d.unchanged, 1);
    assert.deepEqual(diffPolicies([pol(1)], [pol(1)]), { add: [], replace: [], remove: [], unchanged: 1 });
  });

  it('applies adds, then replacements (delete, add), then removals; the SPD ends equal to the wanted set', async () => {
    const spd = new FakeSpd([pol(1), pol(2), pol(3)]);
    const wanted = [pol(1), pol(2, 'outbound', 'drop'), pol(4)];
    await applyPolicyDiff(spd, diffPolicies([pol(1), pol(2), pol(3)], wanted));
    assert.deepEqual(spd.log, ['add 4 ipsec', 'del 2 ipsec', 'add 2 drop', 'del 3 ipsec']);
    assert.deepEqual(spd.keys(), wanted.map(policyKey).sort());
  });

  it('a refused step undoes the steps before it, in reverse, and rethrows naming the policy', async () => {
    const old = [pol(1), pol(2), pol(3)];
    const spd = new FakeSpd(old, (p) => p.dst.port === 6);
    const diff = diffPolicies(old, [pol(1), pol(2, 'outbound', 'drop'), pol(5), pol(6)]);
    await assert.rejects(applyPolicyDiff(spd, diff), (e: OakleyError) =>
      e.code === 'IKE_ERR_KERNEL_POLICY_EXISTS' && /^adding policy outbound .*:6 ipsec esp transport: XFRM NEWPOLICY: already exists/.test(e.message));
    assert.deepEqual(spd.log, ['add 5 ipsec', 'del 5 ipsec']);
    assert.deepEqual(spd.keys(), old.map(policyKey).sort());

    // A failure in a replacement undoes the adds and the replacement's delete.
    const spd2 = new FakeSpd(old, (p) => p.action === 'drop');
    await assert.rejects(applyPolicyDiff(spd2, diffPolicies(old, [pol(1), pol(2, 'outbound', 'drop'), pol(5)])), /adding policy .*:2 drop/);
    assert.deepEqual(spd2.log, ['add 5 ipsec', 'del 2 ipsec', 'add 2 ipsec', 'del 5 ipsec']);
    assert.deepEqual(spd2.keys(), old.map(policyKey).sort());
  });

  it('reports an undo step that fails too, and still rethrows the first refusal', async () => {
    const old = [pol(1)];
    let refuseAll = false;
    const spd = new FakeSpd(old, (p) => refuseAll || p.dst.port === 3);
    const spdDel = spd.delPolicy.bind(spd);
    // The undo of "add 2" is a delete; make deletes fail once the refusal happened.
    spd.delPolicy = async (p) => {
      if (refuseAll) throw new OakleyError('IKE_ERR_KERNEL_FAILED', 'EBUSY');
      return spdDel(p);
    };
    const origAdd = spd.addPolicy.bind(spd);
    spd.addPolicy = async (p) => {
      if (p.dst.port === 3) refuseAll = true;
      return origAdd(p);
    };
    const undoFailures: string[] = [];
    await assert.rejects(applyPolicyDiff(spd, diffPolicies(old, [pol(1), pol(2), pol(3)]), (m) => undoFailures.push(m)), /:3 ipsec/);
    assert.equal(undoFailures.length, 1);
    assert.match(undoFailures[0]!, /^undoing adding policy outbound .*:2 ipsec esp transport failed: EBUSY/);
  });
});
