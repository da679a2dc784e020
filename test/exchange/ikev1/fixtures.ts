/**
 * Rules, transforms and credentials shared by the Phase 1 specs (Aggressive Mode, NAT-T, matrix).
 */
import assert from 'node:assert/strict';

import type { CryptoSuite } from '../../../src/crypto/registry';
import type { Ikev1Credentials, Ikev1Rule } from '../../../src/exchange/ikev1/config';
import type { Phase1Context } from '../../../src/exchange/ikev1/phase1-context';
import type { P1Auth, P1Transform } from '../../../src/exchange/ikev1/proposals';
import { MinimalKeystore, subjectDer } from '../../../src/keystore/minimal';
import type { IdValue } from '../../../src/wire/ikev1/id';
import type { Bed } from './harness';
import type { Issued } from './pki';

export const P2 = { esp: [{ encr: 'aes' as const, keyLengths: { min: 128, max: 128 }, auth: 'hmac-sha256' as const }], pfsGroup: 14, lifetimeSeconds: 3600, mode: 'tunnel' as const };

export function rule(label: string, p1: P1Transform[], extra: Partial<Ikev1Rule> = {}): Ikev1Rule {
  return { label, mode: 'main', p1, p2: P2, ...extra };
}

/** The five suites of the matrix, without the auth method. */
export const SUITES: [string, Omit<P1Transform, 'auth'>][] = [
  ['3DES/SHA1/MODP-1024', { encr: '3des', hash: 'sha1', group: 2, lifetimeSeconds: 3600 }],
  ['AES-128/SHA-256/MODP-2048', { encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', group: 14, lifetimeSeconds: 3600 }],
  ['AES-256/SHA-512/MODP-4096', { encr: 'aes', keyLengths: { min: 256, max: 256 }, hash: 'sha512', group: 16, lifetimeSeconds: 3600 }],
  ['AES-128/SHA-256/ECP-256', { encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', group: 19, lifetimeSeconds: 3600 }],
  ['AES-256/SHA-384/ECP-384', { encr: 'aes', keyLengths: { min: 256, max: 256 }, hash: 'sha384', group: 20, lifetimeSeconds: 3600 }],
];

export function xform(suite: Omit<P1Transform, 'auth'>, auth: P1Auth): P1Transform {
  return { ...suite, auth };
}

/** Credentials from a keystore opened on the side's crypto suite (the key goes through its RSA path). */
export function rsaCredentials(anchors: readonly Issued[], own: Issued, opened?: MinimalKeystore[]): (crypto: CryptoSuite) => Promise<Ikev1Credentials> {
  return async (crypto) => {
    const ks = await MinimalKeystore.open({
      rsa: crypto.rsa, trustAnchors: anchors.map((a) => a.certPem), certificate: own.certPem, privateKey: { pem: own.keyPem },
    });
    opened?.push(ks);
    return ks.credentials();
  };
}

/** The DN identity of a certificate. */
export function dnOf(issued: Issued): IdValue {
  return { kind: 'der-dn', der: subjectDer(issued.certPem) };
}

export const KEY_NAMES = ['SKEYID', 'SKEYID_d', 'SKEYID_a', 'SKEYID_e', 'encKey', 'iv'] as const;

/** Waits until the responder's SA is settled (its last message may still be in flight). */
export async function settled(bed: Bed, side: 'a' | 'b' = 'b'): Promise<Phase1Context | undefined> {
  for (let i = 0; i < 50; i++) {
    const sas = bed[side].engine.phase1Sas();
    if (sas.length > 0 && sas[0].sa.state === 'ESTABLISHED') return sas[0];
    await new Promise((r) => setTimeout(r, 5));
  }
  return bed[side].engine.phase1Sas()[0];
}

/** Both ends hold the ISAKMP SA with identical SKEYID*, cipher key and IV. */
export function assertSameKeys(a: Phase1Context, b: Phase1Context | undefined): void {
  assert.ok(b, 'the responder has no SA');
  assert.equal(a.sa.state, 'ESTABLISHED');
  assert.equal(b.sa.state, 'ESTABLISHED');
  for (const k of KEY_NAMES) {
    assert.ok(a.sa.keys[k], `${k} missing`);
    assert.ok(a.sa.keys[k]!.equals(b.sa.keys[k]!), `${k} differs`);
  }
}
