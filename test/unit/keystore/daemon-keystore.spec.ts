/**
 * The daemon keystore over real files (ike/publickeys, secret/ike.privatekeys) and a test PKI made
 * with openssl: loading and pairing, bad files, cert_root anchors, cert_trust pinning, refusal of
 * an unknown CA, local_id/remote_id selectors, and the identities given to engine rules.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { createNodeBackend } from '../../../src/crypto/node';
import { DaemonKeystore, keystoreCredentials } from '../../../src/keystore/daemon-keystore';
import { KeystoreErr, subjectDer } from '../../../src/keystore/minimal';
import { parseIkeConfig, type IkeConfig, type IkeRule } from '../../../src/policy/ike-config';
import { withLocalIds } from '../../../src/policy/engine-rules';
import { NotifyType } from '../../../src/wire/ikev1/iana';
import type { IdValue } from '../../../src/wire/ikev1/id';
import { DnPki, keyAs, type DnIssued } from './dn-pki';

const CA_DN = 'C=XX, O=Interop Lab, CN=Interop Test CA';
const rsa = createNodeBackend().rsa;

function config(globals: string, localId = 'C=XX, O=Interop Lab, CN=oakley.test', remoteId = 'C=XX, O=Interop Lab, CN=strongswan.test', idType = 'dn'): IkeConfig {
  return parseIkeConfig(`${globals}
{
  label "iop"
  local_addr 192.0.2.1
  remote_addr 192.0.2.2
  local_id_type ${idType}
  local_id "${localId}"
  remote_id "${remoteId}"
  p1_xform { auth_method rsa_sig oakley_group 14 encr_alg aes(128..128) auth_alg sha256 }
}
`, 'ike/config');
}

describe('keystore/daemon-keystore', function () {
  this.timeout(60_000);
  let pki: DnPki;
  let ca: DnIssued;
  let otherCa: DnIssued;
  let oakley: DnIssued;
  let swan: DnIssued;
  let stranger: DnIssued;
  let pinnedPeer: DnIssued;
  let root: string;
  const dirs = () => ({ publicKeysDir: path.join(root, 'ike', 'publickeys'), privateKeysDir: path.join(root, 'secret', 'ike.privatekeys') });
  const dn = (i: DnIssued): IdValue => ({ kind: 'der-dn', der: subjectDer(i.certPem) });

  function writeStores(certs: Record<string, string | Buffer>, keys: Record<string, string | Buffer>): void {
    fs.rmSync(root, { recursive: true, force: true });
    const d = dirs();
    fs.mkdirSync(d.publicKeysDir, { recursive: true });
    fs.mkdirSync(d.privateKeysDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(d.privateKeysDir, 0o700);
    for (const [slot, data] of Object.entries(certs)) fs.writeFileSync(path.join(d.publicKeysDir, slot), data);
    for (const [slot, data] of Object.entries(keys)) {
      fs.writeFileSync(path.join(d.privateKeysDir, slot), data, { mode: 0o600 });
      fs.chmodSync(path.join(d.privateKeysDir, slot), 0o600);
    }
  }

  before(() => {
    pki = new DnPki();
    root = path.join(pki.dir, 'root');
    ca = pki.selfSigned('ca', '/C=XX/O=Interop Lab/CN=Interop Test CA');
    otherCa = pki.selfSigned('other', '/C=XX/O=Elsewhere/CN=Other CA');
    oakley = pki.issue('ca', 'oakley', '/C=XX/O=Interop Lab/CN=oakley.test', ['DNS:oakley.test', 'IP:192.0.2.1']);
    swan = pki.issue('ca', 'swan', '/C=XX/O=Interop Lab/CN=strongswan.test', ['DNS:strongswan.test']);
    // Same subject as a trusted peer, but issued by a CA nobody trusts.
    pki.selfSigned('rogue', '/C=XX/O=Interop Lab/CN=Interop Test CA');
    stranger = pki.issue('rogue', 'stranger', '/C=XX/O=Interop Lab/CN=strongswan.test', ['DNS:strongswan.test']);
    pinnedPeer = pki.selfSigned('pinned', '/C=XX/O=Pinned/CN=pinned.test', { ca: false, san: ['IP:192.0.2.99'] });
  });
  after(() => pki.dispose());

  describe('with the interop layout (CA in slot 0, our certificate in slot 1, our key in slot 0)', () => {
    let ks: DaemonKeystore;
    let ike: IkeConfig;
    let rule: IkeRule;

    before(() => {
      writeStores({ 0: ca.certPem, 1: oakley.certPem, 2: otherCa.certDer }, { 0: keyAs(oakley, 'pkcs8', 'pem') });
      ike = config(`cert_root "${CA_DN}"`);
      rule = ike.rules[0]!;
      ks = DaemonKeystore.load(dirs(), ike.globals);
    });
    after(() => ks.close());

    it('loads PEM and DER certificates and pairs the key by public key, not by file name', () => {
      assert.deepEqual(ks.warnings, []);
      assert.deepEqual(ks.certificates.map((c) => [c.slot, c.subject]), [
        ['0', CA_DN], ['1', 'C=XX, O=Interop Lab, CN=oakley.test'], ['2', 'C=XX, O=Elsewhere, CN=Other CA']]);
      assert.equal(ks.keyFor(ks.certificates[1]!)?.slot, '0');
      assert.equal(ks.keyFor(ks.certificates[0]!), undefined);
      assert.equal(ks.localCertificate(rule.localId)?.cert.slot, '1');
      assert.deepEqual(ks.checkRules(ike.rules), []);
    });

    it('cert_root picks the anchor; CR names only it', () => {
      assert.deepEqual(ks.anchors.map((a) => a.slot), ['0']);
      assert.deepEqual(ks.authorities(), [subjectDer(ca.certPem)]);
    });

    it('gives the engine rule the subject DER of our certificate as ID_DER_ASN1_DN', () => {
      const [r] = withLocalIds([{ label: 'iop', mode: 'main', p1: [], p2: { esp: [], lifetimeSeconds: 1, mode: 'transport' } }], ike, (x) => ks.localId(x));
      assert.deepEqual(r!.localId, dn(oakley));
      const fqdn = config(`cert_root "${CA_DN}"`, 'DNS=oakley.test', '', 'fqdn').rules[0]!;
      assert.deepEqual(ks.localId(fqdn), { kind: 'fqdn', name: 'oakley.test' });
      const ip = config(`cert_root "${CA_DN}"`, 'SLOT=1', '', 'ip').rules[0]!;
      assert.deepEqual(ks.localId(ip), { kind: 'ipv4', address: '192.0.2.1' });
    });

    it('signs with our key through the RSA provider; the signature verifies with our certificate', async () => {
      const { key, certificate } = await ks.signer(rsa, rule);
      assert.ok(certificate.equals(oakley.certDer));
      const data = Buffer.alloc(32, 7);
      const sig = await key.sign(data, { padding: 'pkcs1-raw' });
      const pub = await rsa.loadPublicKey({ der: certificate });
      assert.equal(await pub.verify(data, sig, { padding: 'pkcs1-raw' }), true);
    });

    it('accepts the peer from the anchor under remote_id, and lists it as obtained via payload', async () => {
      const key = await ks.verify(rsa, rule, dn(swan), [swan.certDer]);
      assert.equal(key.bits, 2048);
      const list = ks.list();
      assert.deepEqual(list.map((e) => [e.id, e.subject, e.trusted, e.key, e.fromPayload ?? false]), [
        [1, CA_DN, true, 'public-only', false],
        [2, 'C=XX, O=Interop Lab, CN=oakley.test', false, 'available', false],
        [3, 'C=XX, O=Elsewhere, CN=Other CA', false, 'public-only', false],
        [4, 'C=XX, O=Interop Lab, CN=strongswan.test', false, 'public-only', true],
      ]);
      assert.equal(ks.flushReceived(), 1);
      assert.equal(ks.list().length, 3);
    });

    it('refuses a certificate from an unknown CA (same names) with INVALID-CERT-AUTHORITY', async () => {
      await assert.rejects(ks.verify(rsa, rule, dn(stranger), [stranger.certDer]),
        (e: { code: string; detail: { notify: number }; message: string }) => e.code === KeystoreErr.UNTRUSTED &&
          e.detail.notify === NotifyType.INVALID_CERT_AUTHORITY && /does not chain to a trusted CA/.test(e.message));
    });

    it('a trusted certificate that does not match remote_id is refused; "" and excludes behave', async () => {
      const other = config(`cert_root "${CA_DN}"`, 'SLOT=1', 'DNS=someone-else.test').rules[0]!;
      await assert.rejects(ks.verify(rsa, other, dn(swan), [swan.certDer]),
        (e: { code: string; detail: { notify: number }; message: string }) => e.code === KeystoreErr.ID_MISMATCH &&
          e.detail.notify === NotifyType.INVALID_ID_INFORMATION && /does not match remote_id "DNS=someone-else.test" of rule "iop"/.test(e.message));
      const any = config(`cert_root "${CA_DN}"`, 'SLOT=1', '').rules[0]!;
      await ks.verify(rsa, any, dn(swan), [swan.certDer]);
      const excluded = { ...any, remoteId: { includes: [''], excludes: ['DNS=strongswan.test'] } };
      await assert.rejects(ks.verify(rsa, excluded, dn(swan), [swan.certDer]), { code: KeystoreErr.ID_MISMATCH });
    });

    it('the peer identity must be in its certificate (MinimalKeystore rule)', async () => {
      await assert.rejects(ks.verify(rsa, rule, dn(oakley), [swan.certDer]), { code: KeystoreErr.ID_MISMATCH });
    });

    it('keystoreCredentials finds the ike/config rule by label and follows a replaced keystore', async () => {
      let state: { ike: IkeConfig; keystore?: DaemonKeystore } = { ike };
      const creds = keystoreCredentials(rsa, () => state);
      const engineRule = { label: 'iop', mode: 'main' as const, p1: [], p2: { esp: [], lifetimeSeconds: 1, mode: 'transport' as const } };
      assert.deepEqual(creds.certificateAuthorities(engineRule), []);
      await assert.rejects(creds.rsaVerifier(engineRule, dn(swan), [swan.certDer]), { code: KeystoreErr.NO_CERT });
      state = { ike, keystore: ks };
      assert.ok((await creds.rsaSigner(engineRule))?.certificate?.equals(oakley.certDer));
      await assert.rejects(creds.rsaSigner({ ...engineRule, label: 'nope' }), /rule "nope" is not in the running ike\/config/);
    });
  });

  it('reads PKCS#1 PEM, PKCS#8 DER and PKCS#1 DER keys; bad files are skipped with a warning naming them', () => {
    writeStores({ 0: ca.certPem, 1: oakley.certPem, 2: swan.certPem, 3: 'not a certificate\n', 4: Buffer.from([0x30, 0x03, 1, 2]) },
      { a: keyAs(oakley, 'pkcs1', 'pem'), b: keyAs(swan, 'pkcs8', 'der'), c: keyAs(stranger, 'pkcs1', 'der'), d: '-----BEGIN PRIVATE KEY-----\nxx\n' });
    const ks = DaemonKeystore.load(dirs(), { certRoot: [CA_DN], certTrust: [] });
    assert.deepEqual(ks.certificates.map((c) => c.slot), ['0', '1', '2']);
    assert.deepEqual(ks.keys.map((k) => k.slot), ['a', 'b', 'c']);
    assert.equal(ks.keyFor(ks.certificates[1]!)?.slot, 'a');
    assert.equal(ks.keyFor(ks.certificates[2]!)?.slot, 'b');
    const d = dirs();
    assert.equal(ks.warnings.length, 3, ks.warnings.join('\n'));
    assert.ok(ks.warnings[0]!.startsWith(`${path.join(d.publicKeysDir, '3')}: skipped, not a usable certificate`), ks.warnings[0]);
    assert.ok(ks.warnings[1]!.startsWith(`${path.join(d.publicKeysDir, '4')}: skipped`), ks.warnings[1]);
    assert.ok(ks.warnings[2]!.startsWith(`${path.join(d.privateKeysDir, 'd')}: skipped, not a usable RSA private key`), ks.warnings[2]);
  });

  it('refuses a private key that group or others can access, naming the file; other keys still load', () => {
    writeStores({ 0: ca.certPem, 1: oakley.certPem, 2: swan.certPem }, { 0: keyAs(oakley, 'pkcs8', 'pem'), 1: keyAs(swan, 'pkcs8', 'pem') });
    const keyFile = path.join(dirs().privateKeysDir, '0');
    fs.chmodSync(keyFile, 0o644);
    const ike = config('cert_root "C=XX, O=Nobody, CN=Missing CA"');
    const ks = DaemonKeystore.load(dirs(), ike.globals);
    assert.deepEqual(ks.warnings, [
      `${keyFile}: skipped, not a usable RSA private key: Insecure permissions, skipped untrusted private key 0: mode 0644 lets group or others access it (chmod 0600 ${keyFile})`,
      `cert_root "C=XX, O=Nobody, CN=Missing CA" matches no certificate in ${dirs().publicKeysDir}`,
    ]);
    assert.deepEqual(ks.keys.map((k) => k.slot), ['1'], 'the other key is kept');
    assert.equal(ks.keyFor(ks.certificates[1]!), undefined, 'no key pairs with the refused file\'s certificate');
    assert.deepEqual(ks.checkRules(ike.rules), [
      `rule "iop": certificate ${path.join(dirs().publicKeysDir, '1')} (C=XX, O=Interop Lab, CN=oakley.test) matches local_id but no private key in ${dirs().privateKeysDir} pairs with it`,
      `no cert_root or cert_trust certificate in ${dirs().publicKeysDir}: rsa_sig rules ("iop") cannot trust any peer`]);
    fs.chmodSync(keyFile, 0o600);
    assert.deepEqual(DaemonKeystore.load(dirs(), ike.globals).keys.map((k) => k.slot), ['0', '1']);
  });

  it('refuses a private key file owned by another user', function () {
    if (process.getuid?.() !== 0) this.skip(); // only root can give a file away
    writeStores({ 0: ca.certPem, 1: oakley.certPem }, { 0: keyAs(oakley, 'pkcs8', 'pem') });
    const keyFile = path.join(dirs().privateKeysDir, '0');
    fs.chownSync(keyFile, 65534, 65534);
    const ks = DaemonKeystore.load(dirs(), { certRoot: [CA_DN], certTrust: [] });
    assert.deepEqual(ks.warnings, [
      `${keyFile}: skipped, not a usable RSA private key: Insecure permissions, skipped untrusted private key 0: owned by uid 65534, not by uid 0`]);
    assert.equal(ks.keys.length, 0);
  });

  it('cert_trust pins a self-signed peer certificate: accepted as is inside its validity window, refused unpinned or expired', async () => {
    writeStores({ 0: ca.certPem, 1: oakley.certPem, 5: pinnedPeer.certPem }, { 0: keyAs(oakley, 'pkcs8', 'pem') });
    const ike = config(`cert_root "${CA_DN}"\ncert_trust "IP=192.0.2.99"`, 'SLOT=1', '');
    const rule = ike.rules[0]!;
    const id: IdValue = { kind: 'ipv4', address: '192.0.2.99' };
    const ks = DaemonKeystore.load(dirs(), ike.globals);
    assert.deepEqual(ks.pinned.map((c) => c.slot), ['5']);
    assert.deepEqual(ks.anchors.map((c) => c.slot), ['0'], 'a pinned end entity is not an anchor');
    await ks.verify(rsa, rule, id, [pinnedPeer.certDer]);
    // Sent no CERT payload: the pinned copy in publickeys carries its identity.
    await ks.verify(rsa, rule, id, []);
    const unpinned = DaemonKeystore.load(dirs(), { certRoot: [CA_DN], certTrust: [] });
    await assert.rejects(unpinned.verify(rsa, rule, id, [pinnedPeer.certDer]), { code: KeystoreErr.UNTRUSTED });
    const later = DaemonKeystore.load(dirs(), ike.globals, () => Date.now() + 20 * 365 * 86_400_000);
    await assert.rejects(later.verify(rsa, rule, id, [pinnedPeer.certDer]),
      (e: { code: string; detail: { notify: number } }) => e.code === KeystoreErr.EXPIRED && e.detail.notify === NotifyType.INVALID_CERTIFICATE);
  });

  it('a missing store is empty, not an error', () => {
    fs.rmSync(root, { recursive: true, force: true });
    const ks = DaemonKeystore.load(dirs(), { certRoot: [], certTrust: [] });
    assert.deepEqual([ks.certificates.length, ks.keys.length, ks.warnings], [0, 0, []]);
  });
});
