/**
 * Known-answer self-test of a backend (STYLE A.5: an implementation that fails is not used).
 * Cheap enough to run whenever a suite is opened: two IKEv1 chains, one IKEv2 chain, an ECP and a
 * MODP exchange, an RSA signature and one AES-CBC block.
 */
import { runCase } from './cavp';
import { AES_CBC_KAT, DH_CASES, KDF_CASES, RSA_KAT } from './vectors/kat';
import { OUTPUT_FIELDS, classify, type CavpCase } from './cavp';
import type { CryptoBackend } from './types';
import { sameBytes } from '../util/constant-time';

function differences(expected: CavpCase, got: CavpCase, index: number): string[] {
  const kind = classify(expected, index);
  return OUTPUT_FIELDS[kind]
    .filter((f) => typeof expected[f] === 'string' && String(expected[f]).toLowerCase() !== got[f])
    .map((f) => `${kind} case ${index}: ${f} differs`);
}

/** Runs the known-answer tests; resolves with the list of failures (empty when all pass). */
export async function selfTest(backend: CryptoBackend): Promise<string[]> {
  const failures: string[] = [];
  const cases = [...KDF_CASES, ...DH_CASES];
  for (let i = 0; i < cases.length; i++) {
    try {
      failures.push(...differences(cases[i], await runCase(backend, cases[i], i), i));
    } catch (e) {
      failures.push(`case ${i}: ${(e as Error).message}`);
    }
  }
  try {
    const key = await backend.rsa.loadPrivateKey({ pem: RSA_KAT.privateKeyPem });
    try {
      const sig = await key.sign(Buffer.from(RSA_KAT.message), { padding: 'pkcs1', hash: 'sha256' });
      if (!sameBytes(sig, Buffer.from(RSA_KAT.pkcs1Sha256, 'hex'))) failures.push('RSA PKCS#1 v1.5 SHA-256 signature differs');
    } finally {
      key.dispose();
    }
  } catch (e) {
    failures.push(`RSA: ${(e as Error).message}`);
  }
  try {
    const k = AES_CBC_KAT;
    const ct = backend.cipher.encrypt('aes-cbc', Buffer.from(k.key, 'hex'), Buffer.from(k.iv, 'hex'), Buffer.from(k.plaintext, 'hex'));
    if (ct.toString('hex') !== k.ciphertext) failures.push('AES-128-CBC ciphertext differs');
  } catch (e) {
    failures.push(`AES-CBC: ${(e as Error).message}`);
  }
  return failures;
}
