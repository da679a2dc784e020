/**
 * strongSwan interop, pre-shared keys: Main Mode and Aggressive Mode with Quick Mode, with and
 * without PFS, Oakley as initiator and as responder. Each case runs in its own namespaces with its
 * own charon and iked, and proves the keys equal (see lib/scenario.ts).
 */
import assert from 'node:assert/strict';

import { Scenario, type ScenarioSpec } from './lib/scenario';
import { interopAvailable } from './lib/available';

const SUITES: readonly ScenarioSpec[] = [
  { name: 'MM aes128-sha256-modp2048, QM PFS', ike: 'aes128-sha256-modp2048', esp: 'aes128-sha256-modp2048' },
  { name: 'MM aes256-sha512-modp4096, QM PFS', ike: 'aes256-sha512-modp4096', esp: 'aes256-sha512-modp4096' },
  { name: 'MM 3des-sha1-modp1024, QM PFS', ike: '3des-sha1-modp1024', esp: '3des-sha1-modp1024' },
  { name: 'MM aes128-sha256-ecp256, QM PFS', ike: 'aes128-sha256-ecp256', esp: 'aes128-sha256-ecp256' },
  { name: 'MM aes128-sha256-modp2048, QM without PFS', ike: 'aes128-sha256-modp2048', esp: 'aes128-sha256' },
  { name: 'AM aes128-sha256-modp2048, QM PFS', ike: 'aes128-sha256-modp2048', esp: 'aes128-sha256-modp2048', aggressive: true },
];

describe('interop with strongSwan: pre-shared keys', function () {
  this.timeout(120_000);
  before(function () {
    if (!interopAvailable()) this.skip();
  });

  for (const spec of SUITES) {
    for (const role of ['initiator', 'responder'] as const) {
      it(`${spec.name}, Oakley ${role}`, async () => {
        const s = new Scenario(spec);
        try {
          await s.start();
          const sa = role === 'initiator' ? await s.oakleyInitiates() : await s.strongswanInitiates();
          const child = sa.children.find((c) => c.state === 'INSTALLED')!;
          assert.equal(child.mode, 'TUNNEL');
          assert.equal(child.encap, true, 'UDP-encapsulated (kernel-libipsec forces NAT-T)');
          const k = await s.compareKeys();
          assert.equal(k.p1Values, 6);
          assert.equal(k.p2Keys, 2);
          assert.deepEqual(k.pfs, [/modp|ecp/.test(spec.esp)]);
          const seen = s.exchangesSeen();
          assert.ok(seen.has(spec.aggressive ? 'AGGRESSIVE' : 'ID_PROT') && !seen.has(spec.aggressive ? 'ID_PROT' : 'AGGRESSIVE'), [...seen].join(' '));
        } finally {
          await s.stop();
        }
      });
    }
  }
});
