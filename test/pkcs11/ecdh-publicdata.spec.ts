/**
 * Regression: SoftHSM 2.6.1 guesses whether ECDH publicData is DER. A bare 04|x|y point whose first
 * x byte equals the remaining length (0x2f for P-192, 0x3f for P-256) was read as an OCTET STRING
 * and the derive failed with CKR_GENERAL_ERROR, about once in 250 exchanges. The path now always
 * sends the DER form.
 */
import assert from 'node:assert/strict';
import { createECDH } from 'node:crypto';

import { openBackend } from '../../src/crypto/registry';
import type { CryptoBackend } from '../../src/crypto/types';

/** A node ECDH key whose public x starts with `firstByte`. */
function peerWithFirstX(curve: string, firstByte: number) {
  for (;;) {
    const e = createECDH(curve);
    const pub = e.generateKeys();
    if (pub[1] === firstByte) return e;
  }
}

describe('pkcs11 ECDH with points that look like DER', function () {
  this.timeout(60_000);
  let b: CryptoBackend;
  before(async () => { b = await openBackend('pkcs11'); });
  after(async () => b?.close());

  for (const [group, curve, size] of [[25, 'prime192v1', 24], [19, 'prime256v1', 32], [20, 'secp384r1', 48]] as const) {
    it(`group ${group}: a peer x starting with 0x${(2 * size - 1).toString(16)} derives like node`, async () => {
      const peer = peerWithFirstX(curve, 2 * size - 1);
      const ke = await b.ke.create(group);
      const secret = await ke.computeSharedSecret(peer.getPublicKey().subarray(1));
      assert.ok(Buffer.isBuffer(secret));
      assert.equal(secret.toString('hex'), peer.computeSecret(Buffer.concat([Buffer.from([4]), ke.publicKey])).toString('hex'));
      ke.dispose();
    });
  }
});
