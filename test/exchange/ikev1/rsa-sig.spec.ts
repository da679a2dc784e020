/**
 * Main Mode with RSA signatures (RFC 2409 §5.1), identities other than DNs:
 *
 *   A (initiator)                         B (responder)
 *   MM1 HDR, SA, VIDs               -->
 *                                   <--   MM2 HDR, SA, VIDs
 *   MM3 HDR, KE, Ni, CR, NAT-D x2   -->
 *                                   <--   MM4 HDR, KE, Nr, CR, NAT-D x2
 *   MM5 HDR*, IDii, CERT, SIG_I     -->
 *                                   <--   MM6 HDR*, IDir, CERT, SIG_R
 */
import assert from 'node:assert/strict';

import { decodeHeader, decodePayloadChain } from '../../../src/wire/ikev1/message';
import { HeaderFlag, PayloadType, type CrPayload } from '../../../src/wire/ikev1/types';
import { subjectDer } from '../../../src/keystore/minimal';
import { A, B, makeBed } from './harness';
import { assertSameKeys, rsaCredentials, rule, settled, SUITES, xform } from './fixtures';
import { TestPki, type Issued } from './pki';

describe('IKEv1 Main Mode with RSA signatures', function () {
  this.timeout(60_000);
  let pki: TestPki;
  let ca: Issued;
  let alice: Issued;
  let bob: Issued;
  const t = xform(SUITES[3][1], 'rsa_sig');

  before(() => {
    pki = new TestPki();
    ca = pki.ca('ca', 'Oakley Test CA');
    alice = pki.issue('ca', 'alice', 'alice', ['DNS:alice.test', 'IP:192.0.2.1']);
    bob = pki.issue('ca', 'bob', 'bob', ['DNS:bob.test', 'IP:192.0.2.2']);
  });
  after(() => pki.dispose());

  it('FQDN and IP identities matched against subjectAltName; CR names our CA; both sides agree', async () => {
    const bed = await makeBed({
      rulesA: [rule('to-b', [t], { localId: { kind: 'fqdn', name: 'alice.test' } })],
      rulesB: [rule('from-a', [t])], // B identifies by its address (ID_IPV4_ADDR 192.0.2.2, a SAN of bob)
      credsA: rsaCredentials([ca], alice), credsB: rsaCredentials([ca], bob),
    });
    try {
      const ctx = await bed.a.engine.initiate(A, B);
      const peer = await settled(bed);
      assertSameKeys(ctx, peer);
      assert.deepEqual(peer!.peerId, { kind: 'fqdn', name: 'alice.test' });
      assert.deepEqual(ctx.peerId, { kind: 'ipv4', address: '192.0.2.2' });
      // MM3 (third packet) is in the clear: its CR names the trust anchor's subject.
      const mm3 = bed.net.log[2].data;
      const { header } = decodeHeader(mm3);
      assert.equal(header.flags & HeaderFlag.ENCRYPTION, 0);
      const cr = decodePayloadChain(header.nextPayload, mm3.subarray(28, header.length), 28).find((p) => p.type === PayloadType.CR) as CrPayload;
      assert.ok(cr.authority.equals(subjectDer(ca.certPem)));
    } finally {
      await bed.close();
    }
  });

  it('an identity that is not in the certificate fails both sides with INVALID-ID-INFORMATION', async () => {
    const bed = await makeBed({
      rulesA: [rule('to-b', [t], { localId: { kind: 'fqdn', name: 'bob.test' } })], // alice's certificate, bob's name
      rulesB: [rule('from-a', [t])],
      credsA: rsaCredentials([ca], alice), credsB: rsaCredentials([ca], bob),
    });
    try {
      await assert.rejects(bed.a.engine.initiate(A, B), /reported INVALID_ID_INFORMATION/);
      assert.equal(bed.b.counters.get('p1.failed'), 1);
      assert.ok(bed.b.logs.some((l) => /not the subject or a subjectAltName/.test(l)));
      assert.equal(bed.a.engine.phase1Sas().length + bed.b.engine.phase1Sas().length, 0);
    } finally {
      await bed.close();
    }
  });
});
