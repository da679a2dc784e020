/**
 * strongSwan interop, failures: each must fail cleanly with a message that says why, leave both
 * daemons running, and the same daemons must then negotiate once the configuration is fixed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { interopAvailable } from './lib/available';
import { swanctlConf } from './lib/charon';
import { Scenario, type ScenarioSpec } from './lib/scenario';

const BASE: ScenarioSpec = { name: 'MM aes128-sha256-modp2048, QM PFS', ike: 'aes128-sha256-modp2048', esp: 'aes128-sha256-modp2048' };
type Role = 'initiator' | 'responder';

async function withScenario(spec: ScenarioSpec, body: (s: Scenario) => Promise<void>): Promise<void> {
  const s = new Scenario(spec);
  try {
    await s.start();
    await body(s);
  } finally {
    await s.stop();
  }
}

/** Tries to negotiate; @returns the failing side's message (ikeadm's stderr or swanctl's output). */
async function attempt(s: Scenario, role: Role): Promise<{ ok: boolean; message: string }> {
  if (role === 'initiator') {
    const r = await s.oakley!.initiate('iop');
    return { ok: r.code === 0, message: r.stderr };
  }
  const r = await s.charon!.initiate('iop', 8);
  return { ok: r.code === 0, message: r.stdout };
}

/** Both daemons alive, neither holds an established SA. */
async function nothingEstablished(s: Scenario): Promise<void> {
  assert.ok(s.oakley!.alive, 'iked still running');
  assert.ok(s.charon!.alive, 'charon still running');
  assert.equal((await s.oakley!.dumpP2()).length, 0, 'no IPsec SA on Oakley');
  assert.equal((await s.charon!.listSas()).filter((x) => x.state === 'ESTABLISHED' && x.children.length > 0).length, 0, 'no CHILD_SA on strongSwan');
}

/** After the fix, the same daemons negotiate and agree on the keys. */
async function worksAfterFix(s: Scenario, role: Role): Promise<void> {
  await (role === 'initiator' ? s.oakleyInitiates() : s.strongswanInitiates());
  await s.compareKeys();
}

describe('interop with strongSwan: failures', function () {
  this.timeout(180_000);
  before(function () {
    if (!interopAvailable()) this.skip();
  });

  for (const role of ['initiator', 'responder'] as const) {
    it(`wrong pre-shared key on Oakley's side, Oakley ${role}`, () => withScenario({ ...BASE, psk: { oakley: 'not the key', strongswan: 'interop test key' } }, async (s) => {
      const r = await attempt(s, role);
      assert.equal(r.ok, false);
      if (role === 'initiator') assert.match(r.message, /pre-shared key|AUTHENTICATION_FAILED|INVALID_HASH|PAYLOAD_MALFORMED|did not answer|no answer/i);
      await nothingEstablished(s);
      fs.writeFileSync(path.join(s.oakley!.root, 'secret', 'ike.preshared'), s.oakleyPreshared().replace('not the key', 'interop test key'), { mode: 0o600 });
      const rr = await s.oakley!.ikeadm(['read', 'preshared']);
      assert.equal(rr.code, 0, rr.stderr);
      await worksAfterFix(s, role);
    }));

    it(`wrong pre-shared key on strongSwan's side, Oakley ${role}`, () => withScenario({ ...BASE, psk: { oakley: 'interop test key', strongswan: 'not the key' } }, async (s) => {
      const r = await attempt(s, role);
      assert.equal(r.ok, false);
      if (role === 'responder') assert.match(s.oakley!.log, /the pre-shared keys (probably )?differ/);
      await nothingEstablished(s);
      await s.charon!.load(swanctlConf({ ...s.swanConn, psk: 'interop test key' }));
      await worksAfterFix(s, role);
    }));

    it(`no common Phase 1 proposal, Oakley ${role}`, () => withScenario({ ...BASE, strongswanIke: 'aes256-sha512-modp4096' }, async (s) => {
      const r = await attempt(s, role);
      assert.equal(r.ok, false);
      if (role === 'initiator') assert.match(r.message, /NO_PROPOSAL_CHOSEN|no proposal/i);
      else assert.match(s.oakley!.log, /no acceptable|NO_PROPOSAL_CHOSEN|not acceptable|no transform/i);
      await nothingEstablished(s);
      await s.charon!.load(swanctlConf({ ...s.swanConn, proposals: BASE.ike }));
      await worksAfterFix(s, role);
    }));

    it(`no common Quick Mode proposal, Oakley ${role}`, () => withScenario({ ...BASE, strongswanEsp: '3des-sha1-modp1024' }, async (s) => {
      const r = await attempt(s, role);
      assert.equal(r.ok, false);
      if (role === 'initiator') assert.match(r.message, /NO_PROPOSAL_CHOSEN|no proposal/i);
      else assert.match(s.oakley!.log, /quick mode: no proposal chosen \(#1\.1: /);
      await nothingEstablished(s);
      await s.charon!.load(swanctlConf({ ...s.swanConn, espProposals: BASE.esp }));
      await worksAfterFix(s, role);
    }));
  }
});
