/**
 * The Phase 1 test matrix: auth method x suite x crypto path, Main Mode, both sides deriving the
 * same SKEYID, SKEYID_d/a/e, cipher key and IV; then Aggressive Mode per path and the failure
 * cases (refused Aggressive Mode, no common proposal, unknown CA, tampered HASH_I).
 *
 * Each Main Mode cell then runs Quick Mode twice on the ISAKMP SA: with PFS in the suite's group
 * and without PFS (the responder's policy has no pfsGroup and accepts either), and checks that
 * the pairs mirror each other (A's inbound keys are B's outbound keys and the other way round).
 */
import assert from 'node:assert/strict';

import type { Ikev1Credentials } from '../../../src/exchange/ikev1/config';
import type { P1Auth } from '../../../src/exchange/ikev1/proposals';
import type { CryptoPath } from '../../../src/crypto/types';
import { PayloadType } from '../../../src/wire/ikev1/types';
import { A, B, makeBed, pskCredentials, type CredentialsSource } from './harness';
import { assertSameKeys, dnOf, rsaCredentials, rule, settled, SUITES, xform } from './fixtures';
import { TestPki, type Issued } from './pki';
import { bPairs, installedKeys, p2, waitFor } from './phase2-helpers';

const NO_PFS = p2();

const PATHS: CryptoPath[] = ['node', 'native', 'pkcs11'];
const AUTHS: P1Auth[] = ['preshared', 'rsa_sig'];

describe('IKEv1 Phase 1 matrix', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let ca: Issued;
  let alice: Issued;
  let bob: Issued;
  let mallory: Issued;
  const results: Record<string, Record<string, string>> = {};

  before(function () {
    this.timeout(120_000);
    pki = new TestPki();
    ca = pki.ca('ca', 'Oakley Test CA');
    pki.ca('rogue-ca', 'Oakley Test CA');
    alice = pki.issue('ca', 'alice', 'alice', ['DNS:alice.test', 'IP:192.0.2.1']);
    bob = pki.issue('ca', 'bob', 'bob', ['DNS:bob.test', 'IP:192.0.2.2']);
    // Same subject as alice, issued by a CA with the same name that B does not trust.
    mallory = pki.issue('rogue-ca', 'mallory', 'alice', ['DNS:alice.test', 'IP:192.0.2.1']);
  });
  after(() => {
    pki.dispose();
    const cols = PATHS.flatMap((p) => AUTHS.map((a) => `${a}/${p}`));
    const lines = [`| suite | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
    for (const [suite] of SUITES) lines.push(`| ${suite} | ${cols.map((c) => results[suite]?.[c] ?? 'not run').join(' | ')} |`);
    if (process.env.OAKLEY_MATRIX_TABLE) console.log(lines.join('\n'));
  });

  function creds(auth: P1Auth, own: Issued, peerAddress: string): CredentialsSource {
    return auth === 'preshared' ? pskCredentials({ [peerAddress]: 'matrix secret' }) : rsaCredentials([ca], own);
  }

  function ids(auth: P1Auth, side: 'a' | 'b') {
    if (auth === 'preshared') return {};
    const [me, them] = side === 'a' ? [alice, bob] : [bob, alice];
    return { localId: dnOf(me), remoteId: dnOf(them) };
  }

  for (const path of PATHS) {
    describe(`crypto path ${path}`, () => {
      for (const auth of AUTHS) {
        for (const [name, suite] of SUITES) {
          it(`Main Mode ${auth} ${name}: identical SKEYID* and keys on both sides; Quick Mode with and without PFS`, async () => {
            const t = xform(suite, auth);
            const bed = await makeBed({
              path,
              rulesA: [rule('to-b', [t], { ...ids(auth, 'a'), p2: NO_PFS })], rulesB: [rule('from-a', [t], { ...ids(auth, 'b'), p2: NO_PFS })],
              credsA: creds(auth, alice, B.address), credsB: creds(auth, bob, A.address),
            });
            const started = Date.now();
            try {
              assert.equal(bed.a.crypto.paths.ke, path, `no fallback (${bed.a.crypto.fallbacks.join('; ')})`);
              assert.equal(bed.a.crypto.paths.rsa, path);
              const ctx = await bed.a.engine.initiate(A, B);
              assertSameKeys(ctx, await settled(bed));
              assert.equal(ctx.sa.negotiated!.group, suite.group);
              assert.equal(ctx.sa.negotiated!.auth, auth);
              for (const pfsGroup of [suite.group, 0]) {
                const pair = await bed.a.engine.quickMode(ctx, { policy: { ...NO_PFS, ...(pfsGroup ? { pfsGroup } : {}) } });
                assert.equal(pair.negotiated.pfsGroup, pfsGroup || undefined);
                await waitFor(() => bPairs(bed).some((p) => p.inbound.spi === pair.outbound.spi), 'B to install the pair');
                const peer = bPairs(bed).find((p) => p.inbound.spi === pair.outbound.spi)!;
                const [aIn, aOut] = [installedKeys(bed.a, pair.inbound), installedKeys(bed.a, pair.outbound)];
                const [bIn, bOut] = [installedKeys(bed.b, peer.inbound), installedKeys(bed.b, peer.outbound)];
                assert.ok(aIn.encryption && aIn.encryption === bOut.encryption, `QM (PFS ${pfsGroup || 'off'}) keys differ`);
                assert.equal(aOut.encryption, bIn.encryption);
                assert.equal(aOut.integrity, bIn.integrity);
              }
              (results[name] ??= {})[`${auth}/${path}`] = `ok ${Date.now() - started} ms`;
            } catch (e) {
              (results[name] ??= {})[`${auth}/${path}`] = 'FAIL';
              throw e;
            } finally {
              await bed.close();
            }
          });
        }
      }

      for (const auth of AUTHS) {
        it(`Aggressive Mode ${auth} AES-128/SHA-256/MODP-2048`, async () => {
          const t = xform(SUITES[1][1], auth);
          const fq = (n: string) => ({ localId: { kind: 'fqdn' as const, name: n } });
          const bed = await makeBed({
            path,
            rulesA: [rule('to-b', [t], { mode: 'aggressive', ...(auth === 'preshared' ? fq('alice.test') : ids(auth, 'a')) })],
            rulesB: [rule('from-a', [t], { aggressiveResponder: true, ...(auth === 'preshared' ? fq('bob.test') : ids(auth, 'b')) })],
            credsA: creds(auth, alice, B.address), credsB: creds(auth, bob, A.address),
          });
          try {
            const ctx = await bed.a.engine.initiate(A, B);
            assertSameKeys(ctx, await settled(bed));
            assert.equal(ctx.sa.mode, 'aggressive');
          } finally {
            await bed.close();
          }
        });
      }
    });
  }

  describe('failures', () => {
    const aes = xform(SUITES[1][1], 'preshared');

    it('the responder refuses Aggressive Mode without aggressiveResponder', async () => {
      const bed = await makeBed({
        rulesA: [rule('to-b', [aes], { mode: 'aggressive' })], rulesB: [rule('from-a', [aes])],
        credsA: pskCredentials({ [B.address]: 'k' }), credsB: pskCredentials({ [A.address]: 'k' }),
      });
      try {
        await assert.rejects(bed.a.engine.initiate(A, B), /NO_PROPOSAL_CHOSEN/);
        assert.equal(bed.b.counters.get('p1.aggressive_refused'), 1);
        assert.equal(bed.a.engine.phase1Sas().length + bed.b.engine.phase1Sas().length, 0);
      } finally {
        await bed.close();
      }
    });

    it('no common proposal: NO-PROPOSAL-CHOSEN on both sides', async () => {
      const bed = await makeBed({
        rulesA: [rule('to-b', [xform(SUITES[0][1], 'preshared')])], rulesB: [rule('from-a', [aes])],
        credsA: pskCredentials({ [B.address]: 'k' }), credsB: pskCredentials({ [A.address]: 'k' }),
      });
      try {
        await assert.rejects(bed.a.engine.initiate(A, B), /reported NO_PROPOSAL_CHOSEN/);
        assert.equal(bed.b.counters.get('p1.failed'), 1);
        assert.equal(bed.b.counters.get('tx.notify.NO_PROPOSAL_CHOSEN'), 1);
        assert.equal(bed.a.engine.phase1Sas().length + bed.b.engine.phase1Sas().length, 0);
      } finally {
        await bed.close();
      }
    });

    it('RSA with a certificate from an unknown CA fails cleanly on both sides', async () => {
      const t = xform(SUITES[1][1], 'rsa_sig');
      const bed = await makeBed({
        rulesA: [rule('to-b', [t], { localId: dnOf(mallory), remoteId: dnOf(bob) })],
        rulesB: [rule('from-a', [t], { localId: dnOf(bob), remoteId: dnOf(alice) })],
        credsA: rsaCredentials([ca], mallory), credsB: rsaCredentials([ca], bob),
      });
      try {
        await assert.rejects(bed.a.engine.initiate(A, B), /reported INVALID_CERT_AUTHORITY/);
        assert.equal(bed.b.counters.get('p1.failed'), 1);
        assert.ok(bed.b.logs.some((l) => /does not chain to a trusted CA/.test(l)));
        assert.equal(bed.a.engine.phase1Sas().length + bed.b.engine.phase1Sas().length, 0);
      } finally {
        await bed.close();
      }
    });

    it('a tampered HASH_I (MM5) fails both sides with AUTHENTICATION-FAILED', async () => {
      const bed = await makeBed({
        rulesA: [rule('to-b', [aes])], rulesB: [rule('from-a', [aes])],
        credsA: pskCredentials({ [B.address]: 'k' }), credsB: pskCredentials({ [A.address]: 'k' }) as Ikev1Credentials,
      });
      const orig = bed.a.engine.sendPhase1.bind(bed.a.engine);
      bed.a.engine.sendPhase1 = (ctx, payloads, o) => orig(ctx, payloads.map((p) => {
        if (p.type !== PayloadType.HASH) return p;
        const data = Buffer.from(p.data);
        data[data.length - 1] ^= 0x80;
        return { ...p, data };
      }), o);
      try {
        await assert.rejects(bed.a.engine.initiate(A, B), /reported AUTHENTICATION_FAILED/);
        assert.equal(bed.b.counters.get('p1.failed'), 1);
        assert.ok(bed.b.logs.some((l) => /HASH_I .* does not verify/.test(l)));
        assert.equal(bed.a.engine.phase1Sas().length + bed.b.engine.phase1Sas().length, 0);
      } finally {
        await bed.close();
      }
    });
  });
});
