/**
 * strongSwan interop, the life of SAs after the first negotiation: several Quick Modes on one
 * ISAKMP SA, Phase 2 rekeys, Delete in both directions, DPD, INITIAL-CONTACT after a restart.
 * Keys of every IPsec SA both sides hold are compared with strongSwan's key log.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { interopAvailable } from './lib/available';
import { Scenario, type ScenarioSpec } from './lib/scenario';
import { sleep, waitFor } from './lib/sys';

const BASE: ScenarioSpec = { name: 'MM aes128-sha256-modp2048, QM PFS', ike: 'aes128-sha256-modp2048', esp: 'aes128-sha256-modp2048' };
type Role = 'initiator' | 'responder';
const ROLES: readonly Role[] = ['initiator', 'responder'];

async function withScenario(spec: ScenarioSpec, body: (s: Scenario) => Promise<void>): Promise<void> {
  const s = new Scenario(spec);
  try {
    await s.start();
    await body(s);
  } finally {
    await s.stop();
  }
}

const negotiate = (s: Scenario, role: Role) => (role === 'initiator' ? s.oakleyInitiates() : s.strongswanInitiates());

describe('interop with strongSwan: SA lifecycle', function () {
  this.timeout(180_000);
  before(function () {
    if (!interopAvailable()) this.skip();
  });

  for (const role of ROLES) {
    it(`three Quick Modes on one ISAKMP SA, Oakley ${role}`, () => withScenario(BASE, async (s) => {
      await negotiate(s, role);
      for (let i = 0; i < 2; i++) {
        const r = role === 'initiator' ? await s.oakley!.initiate('iop') : await s.charon!.initiate('iop');
        assert.equal(r.code, 0, r.stderr + s.logs());
      }
      const sas = await s.charon!.listSas();
      assert.equal(sas.length, 1, 'one IKE_SA');
      const p1 = await s.oakley!.dumpP1();
      assert.equal(p1.length, 1, 'one ISAKMP SA on Oakley');
      const k = await s.compareKeys();
      assert.equal(k.p2Keys, 6, 'three SA pairs, both directions');
    }));

    it(`strongSwan rekeys the IPsec SAs (short lifetime), Oakley ${role}`, () => withScenario({ ...BASE, childRekeySecs: 3, childLifeSecs: 30 }, async (s) => {
      const first = await negotiate(s, role);
      const oldIn = first.children[0]!.spiIn;
      const after = await waitFor('a rekeyed CHILD_SA', async () => {
        const sa = (await s.charon!.listSas())[0];
        return sa?.children.find((c) => c.state === 'INSTALLED' && c.spiIn !== oldIn);
      }, 20_000, 250);
      await sleep(300);
      const ours = await s.oakley!.dumpP2();
      assert.ok(ours.some((x) => x.direction === 'inbound' && x.spi.toString(16).padStart(8, '0') === after.spiOut), 'Oakley installed the rekeyed pair');
      const k = await s.compareKeys();
      assert.ok(k.p2Keys >= 4, `old and new pairs compared (${k.p2Keys})`);
    }));

    it(`Delete from strongSwan removes Oakley's SAs, Oakley ${role}`, () => withScenario(BASE, async (s) => {
      await negotiate(s, role);
      await s.compareKeys();
      const rc = await s.charon!.terminateChild('iop');
      assert.equal(rc.code, 0, rc.stdout);
      await waitFor('Oakley to drop the IPsec SAs', async () => ((await s.oakley!.dumpP2()).length === 0 ? true : undefined), 10_000);
      const ri = await s.charon!.terminateIke('iop');
      assert.equal(ri.code, 0, ri.stdout);
      await waitFor('Oakley to drop the ISAKMP SA', async () => ((await s.oakley!.dumpP1()).length === 0 ? true : undefined), 10_000);
      assert.ok(s.oakley!.alive && s.charon!.alive);
    }));

    it(`Delete from Oakley removes strongSwan's SAs, Oakley ${role}`, () => withScenario(BASE, async (s) => {
      await negotiate(s, role);
      const r = await s.oakley!.ikeadm(['flush', 'p1']);
      assert.equal(r.code, 0, r.stderr);
      await waitFor('strongSwan to drop the IKE_SA', async () => ((await s.charon!.listSas()).length === 0 ? true : undefined), 10_000);
      assert.match(s.charon!.log(), /received DELETE for IKE_SA/);
      assert.ok(s.oakley!.alive && s.charon!.alive);
    }));

    it(`strongSwan's R-U-THERE is answered, Oakley ${role}`, () => withScenario({ ...BASE, dpdDelaySecs: 1 }, async (s) => {
      await negotiate(s, role);
      await waitFor('an R-U-THERE-ACK from Oakley', async () => (/parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD_ACK\) \]/.test(s.charon!.log()) ? true : undefined), 8000, 250);
      assert.equal((await s.charon!.listSas()).length, 1);
    }));

    it(`Oakley's R-U-THERE is answered, then a crashed strongSwan is declared dead, Oakley ${role}`, () => withScenario({ ...BASE, oakleyGlobals: 'dpd_idle_secs 1' }, async (s) => {
      await negotiate(s, role);
      await waitFor('an R-U-THERE from Oakley', async () => (/parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD\) \]/.test(s.charon!.log()) ? true : undefined), 8000, 250);
      await sleep(1500);
      assert.equal((await s.oakley!.dumpP1()).length, 1, 'acknowledged R-U-THERE keeps the SA');
      await s.charon!.kill();
      await waitFor('Oakley to declare the peer dead', async () => ((await s.oakley!.dumpP1()).length === 0 ? true : undefined), 20_000, 250);
      assert.equal((await s.oakley!.dumpP2()).length, 0);
      assert.match(s.oakley!.log, /DPD: peer 192\.0\.2\.2 did not answer/);
      assert.ok(s.oakley!.alive);
    }));
  }

  // Oakley rekeys as Quick Mode initiator at the soft lifetime (the responder leaves it to the
  // initiator, as Solaris does). Solaris' minimums (hard 100 s, soft 90 s) make this the slow one.
  it('Oakley rekeys its IPsec SAs at the soft lifetime (100 s hard, 90 s soft), Oakley initiator', () =>
    withScenario({ ...BASE, oakleyRuleExtra: '  p2_lifetime_secs 100\n  p2_softlife_secs 90' }, async (s) => {
      const first = await s.oakleyInitiates();
      const oldIn = first.children[0]!.spiIn;
      const rekeyed = await waitFor('Oakley\'s rekey to reach strongSwan', async () => {
        const sa = (await s.charon!.listSas())[0];
        return sa?.children.find((c) => c.state === 'INSTALLED' && c.spiIn !== oldIn);
      }, 110_000, 1000);
      assert.match(s.charon!.log(), /parsed QUICK_MODE request \d+ \[ HASH SA No KE ID ID \]/);
      await sleep(300);
      const ours = await s.oakley!.dumpP2();
      assert.ok(ours.some((x) => x.direction === 'outbound' && x.spi.toString(16).padStart(8, '0') === rekeyed.spiIn), 'the new pair is Oakley\'s');
      const k = await s.compareKeys();
      assert.ok(k.p2Keys >= 4, `old and new pairs compared (${k.p2Keys})`);
    }));

  it('INITIAL-CONTACT after Oakley restarts: strongSwan replaces the stale IKE_SA', () => withScenario({ ...BASE, unique: 'no' }, async (s) => {
    const old = await s.oakleyInitiates();
    await s.oakley!.kill();
    fs.rmSync(s.oakley!.control, { force: true });
    assert.equal((await s.charon!.listSas())[0]?.initiatorSpi, old.initiatorSpi, 'strongSwan still holds the stale IKE_SA');
    await s.startOakley();
    const fresh = await s.oakleyInitiates();
    await waitFor('strongSwan to drop the stale IKE_SA', async () => {
      const sas = await s.charon!.listSas();
      return sas.length === 1 && sas[0]!.initiatorSpi === fresh.initiatorSpi ? true : undefined;
    }, 3000);
    assert.notEqual(fresh.initiatorSpi, old.initiatorSpi);
    await s.compareKeys();
  }));

  it('INITIAL-CONTACT after strongSwan restarts: Oakley removes the stale SAs', () => withScenario({ ...BASE, unique: 'no' }, async (s) => {
    const old = await s.oakleyInitiates();
    await s.charon!.kill();
    await s.startCharon();
    const fresh = await s.strongswanInitiates();
    await waitFor('Oakley to drop the stale SAs', async () => {
      const p1 = await s.oakley!.dumpP1();
      const p2 = await s.oakley!.dumpP2();
      return p1.length === 1 && p1[0]!.initiatorCookie === fresh.initiatorSpi && p2.length === 2 ? true : undefined;
    }, 10_000);
    assert.notEqual(fresh.initiatorSpi, old.initiatorSpi);
    assert.match(s.oakley!.log, /INITIAL-CONTACT from 192\.0\.2\.2: [1-9]\d* stale SA/);
    await s.compareKeys();
  }));
});
