/**
 * strongSwan interop, RSA signatures with certificates from a test CA and DN identities (Main
 * Mode), both roles; and a strongSwan certificate from a CA Oakley does not trust, refused with a
 * clear reason while both daemons stay up.
 */
import assert from 'node:assert/strict';
import path from 'node:path';

import { DnPki, type DnIssued } from '../unit/keystore/dn-pki';
import { interopAvailable } from './lib/available';
import { Scenario, type CertSetup, type ScenarioSpec } from './lib/scenario';

const CA_DN = 'C=XX, O=Interop Lab, CN=Interop Test CA';
const OAKLEY_DN = 'C=XX, O=Interop Lab, CN=oakley.test';
const SWAN_DN = 'C=XX, O=Interop Lab, CN=strongswan.test';
const slashed = (dn: string): string => '/' + dn.split(', ').join('/');

describe('interop with strongSwan: RSA certificates', function () {
  this.timeout(180_000);
  let pki: DnPki;
  let ca: DnIssued, oakley: DnIssued, swan: DnIssued, rogueSwan: DnIssued;

  before(function () {
    if (!interopAvailable()) this.skip();
    pki = new DnPki();
    ca = pki.selfSigned('ca', slashed(CA_DN));
    pki.selfSigned('rogue-ca', '/C=XX/O=Elsewhere/CN=Unknown CA');
    oakley = pki.issue('ca', 'oakley', slashed(OAKLEY_DN), ['DNS:oakley.test']);
    swan = pki.issue('ca', 'swan', slashed(SWAN_DN), ['DNS:strongswan.test']);
    rogueSwan = pki.issue('rogue-ca', 'rogue-swan', slashed(SWAN_DN), ['DNS:strongswan.test']);
  });

  after(() => pki?.dispose());

  const certs = (swanCert: DnIssued): CertSetup => ({
    swanCert: path.join(pki.dir, `${swanCert.name}.pem`), swanKey: path.join(pki.dir, `${swanCert.name}.key`), swanCa: path.join(pki.dir, 'ca.pem'),
    swanId: SWAN_DN, oakleyId: OAKLEY_DN,
    oakleyGlobals: `cert_root "${CA_DN}"`,
    oakleyRule: `  local_id_type dn\n  local_id "${OAKLEY_DN}"\n  remote_id "${SWAN_DN}"`,
    oakleyFiles: { 'ike/publickeys/0': ca.certPem, 'ike/publickeys/1': oakley.certPem, 'secret/ike.privatekeys/0': oakley.keyPem },
  });
  const spec = (swanCert: DnIssued): ScenarioSpec => ({
    name: 'MM rsa_sig aes128-sha256-modp2048', ike: 'aes128-sha256-modp2048', esp: 'aes128-sha256-modp2048', certs: certs(swanCert),
  });

  for (const role of ['initiator', 'responder'] as const) {
    it(`Main Mode with DN identities, Oakley ${role}`, async () => {
      const s = new Scenario(spec(swan));
      try {
        await s.start();
        await (role === 'initiator' ? s.oakleyInitiates() : s.strongswanInitiates());
        assert.match(s.charon!.log(), /authentication of 'C=XX, O=Interop Lab, CN=oakley\.test' with RSA.* successful/);
        const k = await s.compareKeys();
        assert.equal(k.p1Values, 6);
        assert.equal(k.p2Keys, 2);
        const cache = await s.oakley!.ikeadm(['-j', 'dump', 'certcache']);
        assert.equal(cache.code, 0, cache.stderr);
        assert.ok(cache.stdout.includes('strongswan.test'), 'the peer certificate is in the cache');
      } finally {
        await s.stop();
      }
    });

    it(`a strongSwan certificate from an unknown CA is refused, Oakley ${role}`, async () => {
      const s = new Scenario(spec(rogueSwan));
      try {
        await s.start();
        const r = role === 'initiator' ? await s.oakley!.initiate('iop') : await s.charon!.initiate('iop', 8);
        assert.notEqual(r.code, 0);
        assert.match(s.oakley!.log, /does not chain to a trusted CA/);
        assert.ok(s.oakley!.alive && s.charon!.alive, 'both daemons still running');
        assert.equal((await s.oakley!.dumpP1()).filter((x) => x.state === 'ESTABLISHED').length, 0);
        assert.equal((await s.oakley!.dumpP2()).length, 0);
      } finally {
        await s.stop();
      }
    });
  }
});
