/**
 * Aggressive Mode between two engines in one process.
 *
 *   A (initiator)                            B (responder, aggressiveResponder)
 *   AM1 HDR, SA, KE, Ni, IDii [, CR], VIDs  -->
 *                                  <--       AM2 HDR, SA, KE, Nr, IDir, [CERT,] HASH_R|SIG_R [, CR], VIDs, NAT-D x2
 *   AM3 HDR*, [CERT,] HASH_I|SIG_I, NAT-D x2 -->        (port 4500 + non-ESP marker when a NAT was seen)
 */
import assert from 'node:assert/strict';

import type { Ikev1Credentials } from '../../../src/exchange/ikev1/config';
import type { Ikev1Engine } from '../../../src/exchange/ikev1/engine';
import { PayloadType, type Payload } from '../../../src/wire/ikev1/types';
import { A, B, makeBed, type Bed } from './harness';
import { assertSameKeys, dnOf, rsaCredentials, rule, settled, SUITES, xform } from './fixtures';
import { TestPki, type Issued } from './pki';

const AES = SUITES[1][1];

/** PSK by the peer's ID (Aggressive Mode sends it in the clear). */
function pskById(table: Record<string, string>): Ikev1Credentials {
  return {
    presharedKey: (_l, _p, id) => (id?.kind === 'fqdn' && table[id.name] !== undefined ? Buffer.from(table[id.name]) : undefined),
  };
}

async function pskBed(responderOn = true, extra: { natT?: boolean } = {}): Promise<Bed> {
  return makeBed({
    rulesA: [rule('to-b', [xform(AES, 'preshared')], { mode: 'aggressive', localId: { kind: 'fqdn', name: 'a.test' } })],
    rulesB: [rule('from-a', [xform(AES, 'preshared')], { localId: { kind: 'fqdn', name: 'b.test' }, aggressiveResponder: responderOn })],
    credsA: pskById({ 'b.test': 'am secret' }), credsB: pskById({ 'a.test': 'am secret' }),
    settings: { retransmit: { initMs: 100, maxMs: 400, limit: 3 }, ...(extra.natT === false ? { natT: false } : {}) },
  });
}

/** Rewrites what `engine` sends: lets a test tamper with or unencrypt one message. */
function interceptSends(engine: Ikev1Engine, f: (payloads: Payload[], o: { encrypt: boolean; expectReply: boolean }) =>
  [Payload[], { encrypt: boolean; expectReply: boolean }]): void {
  const orig = engine.sendPhase1.bind(engine);
  engine.sendPhase1 = (ctx, payloads, o) => orig(ctx, ...f(payloads, o));
}

describe('IKEv1 Aggressive Mode', function () {
  this.timeout(30_000);

  it('pre-shared key found by peer ID: both sides establish with identical keys; the responder warns about HASH_R', async () => {
    const bed = await pskBed();
    try {
      const ctx = await bed.a.engine.initiate(A, B);
      assert.equal(ctx.sa.mode, 'aggressive');
      assertSameKeys(ctx, await settled(bed));
      assert.ok(bed.b.logs.some((l) => /offline dictionary attacks/.test(l)), 'PSK warning logged');
      assert.equal(bed.b.counters.get('p1.aggressive_psk_answered'), 1);
      assert.equal(bed.b.counters.get('p1.aggressive_plaintext_am3'), 0);
      // Phase 2 starts from the Phase 1 IV, which must be one cipher block (RFC 2409 App. B, racoon interop).
      assert.equal(ctx.sa.keys.iv!.length, 16);
    } finally {
      await bed.close();
    }
  });

  it('the responder refuses Aggressive Mode without aggressiveResponder (counted, logged, NO-PROPOSAL-CHOSEN)', async () => {
    const bed = await pskBed(false);
    try {
      await assert.rejects(bed.a.engine.initiate(A, B), /NO_PROPOSAL_CHOSEN/);
      assert.equal(bed.b.counters.get('p1.aggressive_refused'), 1);
      assert.ok(bed.b.logs.some((l) => /does not answer Aggressive Mode/.test(l)));
      assert.equal(bed.b.engine.phase1Sas().length, 0, 'no responder state');
      assert.equal(bed.a.engine.phase1Sas().length, 0);
    } finally {
      await bed.close();
    }
  });

  it('accepts an unencrypted AM3 that verifies (peers.md §5); the Phase 2 IV is the truncated initial IV on both sides', async () => {
    const bed = await pskBed();
    interceptSends(bed.a.engine, (p, o) => [p, p.some((x) => x.type === PayloadType.SA) ? o : { ...o, encrypt: false }]);
    try {
      const ctx = await bed.a.engine.initiate(A, B);
      const peer = await settled(bed);
      assertSameKeys(ctx, peer);
      assert.equal(bed.b.counters.get('p1.aggressive_plaintext_am3'), 1);
      assert.equal(peer!.sa.keys.iv!.length, 16, 'IV truncated to the AES block');
    } finally {
      await bed.close();
    }
  });

  it('a tampered HASH_I in AM3 fails the responder with AUTHENTICATION-FAILED', async () => {
    const bed = await pskBed();
    interceptSends(bed.a.engine, (p, o) => [p.map((x) => (x.type === PayloadType.HASH ? { ...x, data: flip(x.data) } : x)), o]);
    try {
      // AM3 is the initiator's last message: it is established before the responder checks HASH_I.
      await bed.a.engine.initiate(A, B);
      for (let i = 0; i < 50 && bed.b.counters.get('p1.failed') === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(bed.b.counters.get('p1.failed'), 1);
      assert.equal(bed.b.counters.get('tx.notify.AUTHENTICATION_FAILED'), 1);
      assert.ok(bed.b.logs.some((l) => /HASH_I .* does not verify/.test(l)));
      assert.equal(bed.b.engine.phase1Sas().length, 0);
    } finally {
      await bed.close();
    }
  });

  it('different pre-shared keys: the initiator rejects HASH_R and both sides fail (AUTHENTICATION-FAILED)', async () => {
    const bed = await makeBed({
      rulesA: [rule('to-b', [xform(AES, 'preshared')], { mode: 'aggressive', localId: { kind: 'fqdn', name: 'a.test' } })],
      rulesB: [rule('from-a', [xform(AES, 'preshared')], { localId: { kind: 'fqdn', name: 'b.test' }, aggressiveResponder: true })],
      credsA: pskById({ 'b.test': 'one' }), credsB: pskById({ 'a.test': 'two' }),
    });
    try {
      await assert.rejects(bed.a.engine.initiate(A, B), /HASH_R .* does not verify/);
      for (let i = 0; i < 50 && bed.b.counters.get('p1.failed') === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(bed.a.counters.get('tx.notify.AUTHENTICATION_FAILED'), 1);
      assert.equal(bed.b.counters.get('p1.failed'), 1, 'the responder gives up on the notify');
      assert.equal(bed.a.engine.phase1Sas().length + bed.b.engine.phase1Sas().length, 0);
    } finally {
      await bed.close();
    }
  });

  it('a responder with no key for the initiator\'s ID fails before answering', async () => {
    const bed = await makeBed({
      rulesA: [rule('to-b', [xform(AES, 'preshared')], { mode: 'aggressive', localId: { kind: 'fqdn', name: 'stranger.test' } })],
      rulesB: [rule('from-a', [xform(AES, 'preshared')], { aggressiveResponder: true })],
      credsA: pskById({}), credsB: pskById({ 'a.test': 'k' }),
    });
    try {
      await assert.rejects(bed.a.engine.initiate(A, B), /reported AUTHENTICATION_FAILED/);
      assert.ok(bed.b.logs.some((l) => /no pre-shared key for peer 192\.0\.2\.1 \(stranger\.test\)/.test(l)));
    } finally {
      await bed.close();
    }
  });

  it('refuses to initiate with transforms of several groups (KE goes in AM1)', async () => {
    const bed = await makeBed({
      rulesA: [rule('to-b', [xform(AES, 'preshared'), xform(SUITES[3][1], 'preshared')], { mode: 'aggressive' })],
      rulesB: [rule('from-a', [xform(AES, 'preshared')], { aggressiveResponder: true })],
      credsA: pskById({}), credsB: pskById({}),
    });
    try {
      await assert.rejects(bed.a.engine.initiate(A, B), /one group \(found 14, 19\)/);
      assert.equal(bed.net.log.length, 0, 'nothing sent');
    } finally {
      await bed.close();
    }
  });

  describe('with RSA signatures', () => {
    let pki: TestPki;
    let ca: Issued;
    let alice: Issued;
    let bob: Issued;
    before(function () {
      this.timeout(60_000);
      pki = new TestPki();
      ca = pki.ca('ca', 'Oakley Test CA');
      alice = pki.issue('ca', 'alice', 'alice', ['DNS:alice.test', 'IP:192.0.2.1']);
      bob = pki.issue('ca', 'bob', 'bob', ['DNS:bob.test', 'IP:192.0.2.2']);
    });
    after(() => pki.dispose());

    it('DN identities, certificates asked for with CR and sent in AM2 and AM3', async () => {
      const t = xform(AES, 'rsa_sig');
      const bed = await makeBed({
        rulesA: [rule('to-b', [t], { mode: 'aggressive', localId: dnOf(alice), remoteId: dnOf(bob) })],
        rulesB: [rule('from-a', [t], { localId: dnOf(bob), remoteId: dnOf(alice), aggressiveResponder: true })],
        credsA: rsaCredentials([ca], alice), credsB: rsaCredentials([ca], bob),
      });
      try {
        const ctx = await bed.a.engine.initiate(A, B);
        assertSameKeys(ctx, await settled(bed));
        assert.equal(bed.b.counters.get('p1.aggressive_psk_answered'), 0);
        assert.ok(!bed.b.logs.some((l) => /offline dictionary/.test(l)), 'no PSK warning with signatures');
      } finally {
        await bed.close();
      }
    });
  });
});

function flip(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[0] ^= 0x01;
  return c;
}
