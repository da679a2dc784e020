/**
 * `npm run demo` (until the daemon lands, issues 3-4): the crypto half of an IKEv1 Main Mode +
 * Quick Mode negotiation, with the initiator's key exchange and RSA signature on a fresh SoftHSM2
 * token and the responder on the native addon (node:crypto when the addon is missing). Both sides
 * derive SKEYID* and the Quick Mode KEYMAT independently; the demo shows they agree.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';

import { openCryptoSuite, type CryptoSuite } from '../crypto/registry';

const hex = (b: Buffer, n = 16): string => b.toString('hex').slice(0, 2 * n) + (b.length > n ? '…' : '');

async function side(name: string, suite: CryptoSuite) {
  console.log(`${name}: key exchange on ${suite.paths.ke}, RSA on ${suite.paths.rsa}, derivation on ${suite.paths.prf}`);
}

async function main(): Promise<void> {
  const initiator = await openCryptoSuite({ ke: 'pkcs11', rsa: 'pkcs11', prf: 'pkcs11', cipher: 'pkcs11', random: 'node' });
  const responder = await openCryptoSuite({ ke: 'native', rsa: 'native', prf: 'native', cipher: 'native', random: 'node' });
  try {
    await side('initiator', initiator);
    await side('responder', responder);
    const group = 14;
    const hash = 'sha256' as const;
    const ckyI = randomBytes(8);
    const ckyR = randomBytes(8);
    const ni = randomBytes(32);
    const nr = randomBytes(32);
    // MM3/MM4: KE and nonces.
    const keI = await initiator.ke.create(group);
    const keR = await responder.ke.create(group);
    console.log(`MM3 KEi (group ${group}, ${keI.publicKey.length} bytes): ${hex(keI.publicKey)}`);
    console.log(`MM4 KEr: ${hex(keR.publicKey)}`);
    const gxyI = await keI.computeSharedSecret(keR.publicKey);
    const gxyR = await keR.computeSharedSecret(keI.publicKey);
    // SKEYID family for signature authentication, with the Appendix B key and the Phase 1 IV.
    const input = { hash, auth: 'sig' as const, ni, nr, ckyI, ckyR, encKeyLength: 16, gxi: keI.publicKey, gxr: keR.publicKey, ivLength: 16 };
    const kI = await initiator.kdf.ikev1Phase1({ ...input, gxy: gxyI });
    const kR = await responder.kdf.ikev1Phase1({ ...input, gxy: gxyR });
    for (const f of ['skeyid', 'skeyidD', 'skeyidA', 'skeyidE', 'encKey', 'iv'] as const) {
      const same = kI[f]!.equals(kR[f]!);
      console.log(`${f.padEnd(8)} ${same ? 'equal' : 'DIFFERENT'}: ${hex(kI[f]!)}`);
      if (!same) process.exitCode = 1;
    }
    // MM5/MM6: the initiator signs HASH_I (RFC 2409 §5.1: PKCS#1 type 1, no DigestInfo) on the token.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signer = await initiator.rsa.loadPrivateKey({ pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) });
    const hashI = createHash(hash).update(kI.skeyid).update('HASH_I octets').digest();
    const sig = await signer.sign(hashI, { padding: 'pkcs1-raw' });
    const verifier = await responder.rsa.loadPublicKey({ pem: publicKey.export({ type: 'spki', format: 'pem' }) });
    const ok = await verifier.verify(hashI, sig, { padding: 'pkcs1-raw' });
    console.log(`SIG_I made on ${suite(initiator.paths.rsa)}, verified on ${suite(responder.paths.rsa)}: ${ok ? 'valid' : 'INVALID'}`);
    if (!ok) process.exitCode = 1;
    // Quick Mode with PFS, ESP, one SPI per direction.
    const qmI = await initiator.ke.create(group);
    const qmR = await responder.ke.create(group);
    const g2I = await qmI.computeSharedSecret(qmR.publicKey);
    const g2R = await qmR.computeSharedSecret(qmI.publicKey);
    for (const spi of [randomBytes(4), randomBytes(4)]) {
      const km = { hash, protocol: 3, spi, ni, nr, length: 36 };
      const a = await initiator.kdf.ikev1Keymat({ ...km, skeyidD: kI.skeyidD, gqmxy: g2I });
      const b = await responder.kdf.ikev1Keymat({ ...km, skeyidD: kR.skeyidD, gqmxy: g2R });
      console.log(`KEYMAT SPI ${spi.toString('hex')} ${a.equals(b) ? 'equal' : 'DIFFERENT'}: ${hex(a)}`);
      if (!a.equals(b)) process.exitCode = 1;
    }
    for (const k of [keI, keR, qmI, qmR]) k.dispose();
    signer.dispose();
  } finally {
    await initiator.close();
    await responder.close();
  }
  console.log(process.exitCode ? 'demo FAILED' : 'demo passed: both paths derived the same keys');
}

const suite = (p: string): string => (p === 'pkcs11' ? 'the SoftHSM2 token' : `the ${p} path`);

main().catch((e: unknown) => {
  console.error(`demo: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
});
