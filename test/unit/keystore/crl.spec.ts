/**
 * CRLs in ROOT/ike/crls (solaris-ike.md §1.4 cert_root/ignore_crls/use_http, §4.4, §4.5) with an
 * openssl-made CA, intermediate and CRLs: a revoked peer (directly or through its intermediate)
 * is refused with INVALID-CERTIFICATE naming it and the date; ignore_crls, no CRL, another CA's
 * CRL and a CRL with a bad signature let it through; a stale CRL still revokes, with a warning;
 * PEM, DER and several CRLs in one file load; broken files are skipped by name.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { createNodeBackend } from '../../../src/crypto/node';
import { DaemonKeystore } from '../../../src/keystore/daemon-keystore';
import { KeystoreErr, subjectDer } from '../../../src/keystore/minimal';
import { parseIkeConfig, type IkeConfig } from '../../../src/policy/ike-config';
import { NotifyType } from '../../../src/wire/ikev1/iana';
import type { IdValue } from '../../../src/wire/ikev1/id';
import { DnPki, type DnIssued } from './dn-pki';

const rsa = createNodeBackend().rsa;
const CA_DN = 'C=XX, O=CRL Lab, CN=CRL Test CA';
const DAY = 86_400_000;

function config(globals: string): IkeConfig {
  return parseIkeConfig(`${globals}
{
  label "crl"
  local_addr 192.0.2.1
  remote_addr 192.0.2.2
  local_id_type dn
  local_id "C=XX, O=CRL Lab, CN=oakley.test"
  remote_id ""
  p1_xform { auth_method rsa_sig oakley_group 14 encr_alg aes(128..128) auth_alg sha256 }
}
`, 'ike/config');
}

describe('keystore/crl', function () {
  this.timeout(60_000);
  let pki: DnPki;
  let ca: DnIssued;
  let revoked: DnIssued;
  let good: DnIssued;
  let inter: DnIssued;
  let viaInter: DnIssued;
  /** The CA's CRL listing `revoked`; the same with `inter` too; one by a look-alike CA's key. */
  let crl: { pem: string; der: Buffer };
  let interRevoked: { pem: string; der: Buffer };
  let forged: { pem: string; der: Buffer };
  let stale: { pem: string; der: Buffer };
  let root: string;
  const dirs = () => ({
    publicKeysDir: path.join(root, 'ike', 'publickeys'), privateKeysDir: path.join(root, 'secret', 'ike.privatekeys'), crlsDir: path.join(root, 'ike', 'crls'),
  });
  const dn = (i: DnIssued): IdValue => ({ kind: 'der-dn', der: subjectDer(i.certPem) });

  function load(crls: Record<string, string | Buffer>, globals = `cert_root "${CA_DN}"`, now?: () => number): DaemonKeystore {
    fs.rmSync(root, { recursive: true, force: true });
    const d = dirs();
    for (const dir of Object.values(d)) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(d.publicKeysDir, '0'), ca.certPem);
    for (const [name, data] of Object.entries(crls)) fs.writeFileSync(path.join(d.crlsDir, name), data);
    return DaemonKeystore.load(d, config(globals).globals, now);
  }

  before(() => {
    pki = new DnPki();
    root = path.join(pki.dir, 'root');
    ca = pki.selfSigned('ca', '/C=XX/O=CRL Lab/CN=CRL Test CA');
    revoked = pki.issue('ca', 'revoked', '/C=XX/O=CRL Lab/CN=revoked.test');
    good = pki.issue('ca', 'good', '/C=XX/O=CRL Lab/CN=good.test');
    // An intermediate CA issued by ca, and a peer under it.
    inter = pki.issueCa('ca', 'inter', '/C=XX/O=CRL Lab/CN=CRL Intermediate CA');
    viaInter = pki.issue('inter', 'via', '/C=XX/O=CRL Lab/CN=via-intermediate.test');
    pki.revoke('ca', revoked);
    crl = pki.crl('ca');
    stale = pki.crl('ca', { thisUpdate: new Date(Date.now() - 60 * DAY), nextUpdate: new Date(Date.now() - 30 * DAY) });
    pki.revoke('ca', inter, 'cACompromise');
    interRevoked = pki.crl('ca');
    // Same issuer name, another key: the signature cannot verify with the real CA's key.
    pki.selfSigned('lookalike', '/C=XX/O=CRL Lab/CN=CRL Test CA');
    pki.revoke('lookalike', good);
    forged = pki.crl('lookalike');
  });
  after(() => pki.dispose());

  async function refused(ks: DaemonKeystore, peer: DnIssued, chain: DnIssued[] = [peer]): Promise<Error & { code: string; detail: { notify: number } }> {
    try {
      await ks.verify(rsa, undefined, dn(peer), chain.map((c) => c.certDer));
    } catch (e) {
      return e as Error & { code: string; detail: { notify: number } };
    }
    throw new Error(`${peer.name} was accepted`);
  }

  it('refuses a certificate its CA revoked, naming it, the CA, the date and the reason; INVALID-CERTIFICATE', async () => {
    const ks = load({ 'ca.crl': crl.pem });
    assert.deepEqual(ks.warnings, []);
    const e = await refused(ks, revoked);
    assert.equal(e.code, KeystoreErr.REVOKED);
    assert.equal(e.detail.notify, NotifyType.INVALID_CERTIFICATE);
    assert.match(e.message, /certificate "C=XX, O=CRL Lab, CN=revoked\.test" \(serial [0-9A-F]+\) was revoked by CA "C=XX, O=CRL Lab, CN=CRL Test CA" on \d{4}-\d\d-\d\dT[\d:.]+Z, reason keyCompromise \(.*ca\.crl\)/);
    await ks.verify(rsa, undefined, dn(good), [good.certDer]);
  });

  it('reads DER CRLs under any name, and several PEM CRLs in one file', async () => {
    await refused(load({ whatever: crl.der }), revoked);
    const ks = load({ both: `${forged.pem}${crl.pem}` });
    assert.deepEqual(ks.crls.crls.map((c) => path.basename(c.file)), ['both#1', 'both#2']);
    assert.equal((await refused(ks, revoked)).code, KeystoreErr.REVOKED);
  });

  it('checks every link: a certificate under a revoked intermediate is refused for the intermediate', async () => {
    const ks = load({ 0: crl.pem });
    await ks.verify(rsa, undefined, dn(viaInter), [viaInter.certDer, inter.certDer]);
    const e = await refused(load({ 0: interRevoked.pem }), viaInter, [viaInter, inter]);
    assert.match(e.message, /"C=XX, O=CRL Lab, CN=CRL Intermediate CA" .* reason cACompromise/);
  });

  it('ignore_crls: crls/ is not read and the revoked certificate is accepted', async () => {
    const ks = load({ 0: crl.pem, junk: 'not a CRL' }, `cert_root "${CA_DN}"\nignore_crls`);
    assert.deepEqual(ks.crls.crls, []);
    assert.deepEqual(ks.warnings, []);
    await ks.verify(rsa, undefined, dn(revoked), [revoked.certDer]);
  });

  it('no CRL for the CA is accepted (Solaris does not insist); a CRL of another issuer is not applied', async () => {
    await load({}).verify(rsa, undefined, dn(revoked), [revoked.certDer]);
    const other = load({ 0: crl.pem });
    await other.verify(rsa, undefined, dn(viaInter), [viaInter.certDer, inter.certDer]);
  });

  it('a CRL whose signature does not verify with the CA key is not trusted: not used, with one warning', async () => {
    const ks = load({ forged: forged.pem });
    const warnings: string[] = [];
    await ks.verify(rsa, undefined, dn(good), [good.certDer], (m) => warnings.push(m));
    await ks.verify(rsa, undefined, dn(good), [good.certDer], (m) => warnings.push(m));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /forged: CRL of "C=XX, O=CRL Lab, CN=CRL Test CA" is not trusted: its signature does not verify with the key of CA/);
  });

  it('a CRL past its nextUpdate still revokes, and warns that it is stale', async () => {
    const warnings: string[] = [];
    const ks = load({ stale: stale.pem });
    const e = await ks.verify(rsa, undefined, dn(revoked), [revoked.certDer], (m) => warnings.push(m)).then(() => undefined, (x: Error) => x);
    assert.match(String(e), /was revoked/);
    await ks.verify(rsa, undefined, dn(good), [good.certDer], (m) => warnings.push(m));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /stale: CRL of "C=XX, O=CRL Lab, CN=CRL Test CA" is valid only from .* to .*; its revocations are still applied/);
  });

  it('skips a file that is not a CRL by name, and reports use_http as unsupported', () => {
    const ks = load({ 0: crl.pem, 1: ca.certPem, 2: Buffer.from([0x30, 0x03, 0x02, 0x01]) }, `cert_root "${CA_DN}"\nuse_http`);
    assert.equal(ks.crls.crls.length, 1);
    assert.equal(ks.warnings.length, 3, ks.warnings.join('\n'));
    assert.match(ks.warnings[0]!, /^use_http: fetching CRLs over HTTP is not supported; only the CRLs in .*crls are used$/);
    assert.match(ks.warnings[1]!, /crls\/1: skipped, not a usable CRL: no X509 CRL block in PEM/);
    assert.match(ks.warnings[2]!, /crls\/2: skipped, not a usable CRL/);
  });

  it('a keystore without a crls directory configured checks nothing', async () => {
    const ks = load({ 0: crl.pem });
    const { crlsDir: _unused, ...noCrls } = dirs();
    const bare = DaemonKeystore.load(noCrls, ks.trust);
    assert.deepEqual(bare.crls.crls, []);
    await bare.verify(rsa, undefined, dn(revoked), [revoked.certDer]);
  });
});
