/**
 * strongSwan interop, RSA signatures with certificates from a test CA and DN identities (Main
 * Mode), both roles; and a strongSwan certificate from a CA Oakley does not trust, refused with a
 * clear reason while both daemons stay up.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
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

  /** Oakley's key and request from `ikecert certlocal -kc`, signed by the test CA, imported with `ikecert certdb -a`. */
  function ikecertKeyAndCert(root: string): void {
    const tool = path.resolve(__dirname, '..', '..', '..', 'tools', 'ikecert');
    const csr = path.join(pki.dir, `oakley-${path.basename(path.dirname(root))}.csr`);
    const crt = `${csr}.pem`;
    execFileSync(process.execPath, [tool, 'certlocal', '-kc', '-m', '2048', '-t', 'rsa-sha256', '-D', OAKLEY_DN, '-A', 'DNS=oakley.test', '--root', root, '-o', csr], { stdio: 'pipe' });
    execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', path.join(pki.dir, 'ca.pem'), '-CAkey', path.join(pki.dir, 'ca.key'), '-set_serial', '4242',
      '-days', '30', '-sha256', '-copy_extensions', 'copy', '-out', crt], { stdio: 'pipe' });
    execFileSync(process.execPath, [tool, 'certdb', '-a', '--root', root], { input: fs.readFileSync(crt), stdio: ['pipe', 'pipe', 'pipe'] });
  }

  for (const role of ['initiator', 'responder'] as const) {
    it(`strongSwan accepts a certificate made with ikecert (certlocal -kc, CA-signed, certdb -a), Oakley ${role}`, async () => {
      const base = certs(swan);
      const s = new Scenario({ ...spec(swan), certs: { ...base, oakleyFiles: { 'ike/publickeys/ca': ca.certPem } } });
      try {
        ikecertKeyAndCert(path.join(s.dir, 'oakley'));
        await s.start();
        await (role === 'initiator' ? s.oakleyInitiates() : s.strongswanInitiates());
        assert.match(s.charon!.log(), /authentication of 'C=XX, O=Interop Lab, CN=oakley\.test' with RSA.* successful/);
        const k = await s.compareKeys();
        assert.equal(k.p2Keys, 2);
      } finally {
        await s.stop();
      }
    });

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
