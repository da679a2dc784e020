/** PRF and the IKE derivation chains (src/crypto/kdf.ts) on node:crypto HMACs. */
import { createHmac } from 'node:crypto';

import * as chains from '../kdf';
import { CryptoErr, OakleyError } from '../../util/errors';
import { isOpaqueSecret, type HashAlg, type KeyDerivation } from '../types';

/** HMAC over parts; the parts must be bytes (a token-held g^xy cannot be fed to node:crypto). */
export function hmacParts(hash: HashAlg, key: Buffer, parts: readonly chains.PrfPart[]): Buffer {
  const h = createHmac(hash, key);
  for (const part of parts) {
    if (!Buffer.isBuffer(part) && isOpaqueSecret(part)) {
      throw new OakleyError(CryptoErr.SECRET_ON_TOKEN,
        `the shared secret is held on the ${part.path} token; derive keys on the pkcs11 path (prf path pkcs11)`);
    }
    h.update(part as Buffer);
  }
  return h.digest();
}

const prf: chains.PrfFn = async (hash, key, parts) => hmacParts(hash, key, parts);

export const nodeKdf: KeyDerivation = {
  path: 'node',
  prf: (hash, key, data) => prf(hash, key, [data]),
  prfPlus: (hash, key, seed, length) => chains.prfPlus(prf, hash, key, [seed], length),
  ikev1Phase1: (input) => chains.ikev1Phase1(prf, input),
  ikev1Keymat: (input) => chains.ikev1Keymat(prf, input),
  ikev2Sa: (input) => chains.ikev2Sa(prf, input),
  ikev2ChildKeymat: (input) => chains.ikev2ChildKeymat(prf, input),
  ikev2RekeySkeyseed: (input) => chains.ikev2RekeySkeyseed(prf, input),
};
