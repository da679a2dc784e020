/**
 * The minimal keystore's checks of a peer certificate: chain to a trust anchor (directly or via
 * an intermediate the peer sends), validity window, and the Phase 1 identity in the certificate.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';

import { createNodeBackend } from '../../../src/crypto/node';
import { KeystoreErr, MinimalKeystore, subjectDer } from '../../../src/keystore/minimal';
import { NotifyType } from '../../../src/wire/ikev1/iana';
import type { IdValue } from '../../../src/wire/ikev1/id';
import { TestPki, type Issued } from '../../exchange/ikev1/pki';

const der = (i: Issued) => new X509Certificate(i.certPem).raw;

describe('keystore/minimal', function () {
  this.timeout(60_000);
  let pki: TestPki;
  let ca: Issued;
  let sub: Issued;
  let alice: Issued;
  let carol: Issued;
  let rogue: Issued;
  let ks: MinimalKeystore;
  const rsa = createNodeBackend().rsa;

  before(async () => {
    pki = new TestPki();
    ca = pki.ca('ca', 'Oakley Test CA');
    sub = pki.intermediate('ca', 'sub', 'Oakley Sub CA');
    alice = pki.issue('ca', 'alice', 'alice', ['DNS:alice.test', 'IP:192.0.2.1', 'email:alice@oakley.test']);
    carol = pki.issue('sub', 'carol', 'carol', ['DNS:carol.test']);
    pki.ca('rogue', 'Oakley Test CA');
    rogue = pki.issue('rogue', 'mallory', 'alice', ['DNS:alice.test']);
    ks = await MinimalKeystore.open({ rsa, trustAnchors: [ca.certPem], certificate: alice.certPem, privateKey: { pem: alice.keyPem } });
  });
  after(() => pki.dispose());

  const dn = (i: Issued): IdValue => ({ kind: 'der-dn', der: subjectDer(i.certPem) });

  async function rejects(id: IdValue, certs: Buffer[], code: string, notify: number, k = ks): Promise<void> {
    await assert.rejects(k.verify(id, certs), (e: { code: string; detail: { notify: number } }) => e.code === code && e.detail.notify === notify);
  }

  it('subjectDer is the DER Name (SEQUENCE holding CN=alice)', () => {
    const d = subjectDer(alice.certPem);
    assert.equal(d[0], 0x30);
    assert.ok(d.includes(Buffer.concat([Buffer.from([0x55, 0x04, 0x03, 0x0c, 5]), Buffer.from('alice')])));
    assert.deepEqual(ks.localDnId(), { kind: 'der-dn', der: d });
    assert.equal(ks.authorities().length, 1);
  });

  it('accepts a certificate from a trusted CA under its DN, DNS, IP and email identities', async () => {
    for (const id of [dn(alice), { kind: 'fqdn', name: 'alice.test' }, { kind: 'ipv4', address: '192.0.2.1' },
      { kind: 'user-fqdn', name: 'alice@oakley.test' }] as IdValue[]) {
      const key = await ks.verify(id, [der(alice)]);
      assert.equal(key.bits, 2048);
    }
  });

  it('accepts a chain through an intermediate CA the peer sends, in any order', async () => {
    await ks.verify(dn(carol), [der(sub), der(carol)]);
    await rejects(dn(carol), [der(carol)], KeystoreErr.UNTRUSTED, NotifyType.INVALID_CERT_AUTHORITY);
  });

  it('refuses a certificate from an unknown CA with the same name as a trusted one', async () => {
    await rejects(dn(alice), [der(rogue)], KeystoreErr.UNTRUSTED, NotifyType.INVALID_CERT_AUTHORITY);
  });

  it('refuses identities that are not in the certificate (no CN fallback for FQDN)', async () => {
    await rejects(dn(carol), [der(alice)], KeystoreErr.ID_MISMATCH, NotifyType.INVALID_ID_INFORMATION);
    await rejects({ kind: 'fqdn', name: 'bob.test' }, [der(alice)], KeystoreErr.ID_MISMATCH, NotifyType.INVALID_ID_INFORMATION);
    await rejects({ kind: 'fqdn', name: 'alice' }, [der(alice)], KeystoreErr.ID_MISMATCH, NotifyType.INVALID_ID_INFORMATION);
    await rejects({ kind: 'ipv4', address: '192.0.2.7' }, [der(alice)], KeystoreErr.ID_MISMATCH, NotifyType.INVALID_ID_INFORMATION);
  });

  it('refuses certificates outside their validity window, and a missing certificate', async () => {
    const late = await MinimalKeystore.open({ rsa, trustAnchors: [ca.certPem], now: () => Date.now() + 400 * 86400_000 });
    await rejects(dn(alice), [der(alice)], KeystoreErr.EXPIRED, NotifyType.INVALID_CERTIFICATE, late);
    await rejects(dn(alice), [], KeystoreErr.NO_CERT, NotifyType.CERTIFICATE_UNAVAILABLE);
    await rejects(dn(alice), [Buffer.from('not a certificate')], KeystoreErr.BAD_CERT, NotifyType.INVALID_CERT_ENCODING);
  });

  it('signs through the provider and the credentials verify with the certificate key', async () => {
    const creds = ks.credentials();
    const signer = await creds.rsaSigner!({} as never);
    const h = Buffer.alloc(32, 7);
    const sig = await signer!.key.sign(h, { padding: 'pkcs1-raw' });
    const pub = await creds.rsaVerifier!({} as never, dn(alice), [signer!.certificate!]);
    assert.ok(await pub!.verify(h, sig, { padding: 'pkcs1-raw' }));
  });
});
