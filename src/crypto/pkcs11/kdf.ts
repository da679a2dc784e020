/**
 * PRF (HMAC) on the token and the IKE derivation chains of src/crypto/kdf.ts over it.
 *
 * Key as bytes, data as bytes: the key is imported as a sensitive session CKK_GENERIC_SECRET and
 * CKM_<hash>_HMAC signs the data. SoftHSM enforces minimum HMAC key lengths (MD5 16, SHA-1 20,
 * SHA-224 28, SHA-256 32, SHA-384 48, SHA-512 64 bytes, pkcs11-softhsm.md §5.1); HMAC pads every
 * key shorter than the block size with zeros (RFC 2104 §2), so a short key is zero-padded up to
 * the minimum and the MAC is unchanged. Keys longer than the block size are hashed by HMAC itself
 * and are passed as they are (padding those would change the result).
 *
 * A part that is a token-held g^xy (OpaqueSecret from keepSecretOnToken): C_Sign can only use a
 * key object as the HMAC key, but IKE uses g^xy as HMAC data. The construction of §5.3:
 *   HMAC(K, a|S|b) = H((K' ^ opad) | H((K' ^ ipad) | a | S | b)),  K' = K (or H(K) when longer than
 *   a block) zero-padded to the block size,
 * with the inner hash on the token and S fed in by C_DigestKey, so g^xy never leaves the token.
 * SoftHSM allows C_DigestKey for the SHA family only; MD5 gives CKR_KEY_INDIGESTIBLE, reported
 * here before the token is asked. The PRF key and the PRF outputs are in host memory (§5.3).
 */
import { createHash } from 'node:crypto';
import * as P from 'pkcs11js';

import { CryptoErr, OakleyError } from '../../util/errors';
import * as chains from '../kdf';
import { isOpaqueSecret, type HashAlg, type KeyDerivation, type Ikev1KeymatInput, type Ikev1Phase1Input,
  type Ikev1Phase1Keys, type Ikev2ChildInput, type Ikev2RekeyInput, type Ikev2SaInput, type Ikev2SaKeys } from '../types';
import { isTokenSecret, type TokenSecret } from './ke';
import { holding, sessionKeyTemplate, type Pkcs11Token } from './token';

interface HmacInfo { hmac: number; digest: number; minKey: number; block: number; out: number }

const HMAC: Readonly<Record<HashAlg, HmacInfo>> = {
  md5: { hmac: P.CKM_MD5_HMAC, digest: P.CKM_MD5, minKey: 16, block: 64, out: 16 },
  sha1: { hmac: P.CKM_SHA_1_HMAC, digest: P.CKM_SHA_1, minKey: 20, block: 64, out: 20 },
  sha224: { hmac: P.CKM_SHA224_HMAC, digest: P.CKM_SHA224, minKey: 28, block: 64, out: 28 },
  sha256: { hmac: P.CKM_SHA256_HMAC, digest: P.CKM_SHA256, minKey: 32, block: 64, out: 32 },
  sha384: { hmac: P.CKM_SHA384_HMAC, digest: P.CKM_SHA384, minKey: 48, block: 128, out: 48 },
  sha512: { hmac: P.CKM_SHA512_HMAC, digest: P.CKM_SHA512, minKey: 64, block: 128, out: 64 },
};

/** Hashes C_DigestKey accepts in SoftHSM 2.6.1 (whitelist in SoftHSM.cpp C_DigestKey). */
const DIGEST_KEY_HASHES: ReadonlySet<HashAlg> = new Set(['sha1', 'sha224', 'sha256', 'sha384', 'sha512']);

function hmacInfo(hash: HashAlg): HmacInfo {
  const h = HMAC[hash];
  if (!h) throw new OakleyError(CryptoErr.UNSUPPORTED, `no HMAC for hash ${String(hash)}`);
  return h;
}

export class Pkcs11KeyDerivation implements KeyDerivation {
  readonly path = 'pkcs11' as const;
  /** The PrfFn handed to the shared chains. */
  readonly prfFn: chains.PrfFn = (hash, key, parts) => this.prfParts(hash, key, parts);

  constructor(private readonly token: Pkcs11Token) {}

  prf(hash: HashAlg, key: Buffer, data: Buffer): Promise<Buffer> {
    return this.prfParts(hash, key, [data]);
  }

  prfPlus(hash: HashAlg, key: Buffer, seed: Buffer, length: number): Promise<Buffer> {
    return chains.prfPlus(this.prfFn, hash, key, [seed], length);
  }

  ikev1Phase1(input: Ikev1Phase1Input): Promise<Ikev1Phase1Keys> {
    return chains.ikev1Phase1(this.prfFn, input);
  }

  ikev1Keymat(input: Ikev1KeymatInput): Promise<Buffer> {
    return chains.ikev1Keymat(this.prfFn, input);
  }

  ikev2Sa(input: Ikev2SaInput): Promise<Ikev2SaKeys> {
    return chains.ikev2Sa(this.prfFn, input);
  }

  ikev2ChildKeymat(input: Ikev2ChildInput): Promise<Buffer> {
    return chains.ikev2ChildKeymat(this.prfFn, input);
  }

  ikev2RekeySkeyseed(input: Ikev2RekeyInput): Promise<Buffer> {
    return chains.ikev2RekeySkeyseed(this.prfFn, input);
  }

  private async prfParts(hash: HashAlg, key: Buffer, parts: readonly chains.PrfPart[]): Promise<Buffer> {
    const info = hmacInfo(hash);
    const secrets: TokenSecret[] = [];
    for (const part of parts) {
      if (Buffer.isBuffer(part)) continue;
      if (!isOpaqueSecret(part)) throw new OakleyError(CryptoErr.BAD_ARGUMENT, 'PRF part is neither bytes nor a shared secret');
      if (!isTokenSecret(part) || part.token !== this.token) {
        throw new OakleyError(CryptoErr.SECRET_ON_TOKEN,
          `g^xy held by the ${part.path} path (another token or backend) cannot be used by this token's PRF`);
      }
      if (!part.usable) throw new OakleyError(CryptoErr.SECRET_ON_TOKEN, 'token-held g^xy was disposed or lost (library re-initialised)');
      secrets.push(part);
    }
    if (secrets.length) return this.digestKeyHmac(hash, info, key, parts);
    return this.tokenHmac(hash, info, key, Buffer.concat(parts as Buffer[]));
  }

  /** CKM_<hash>_HMAC with the key imported as a sensitive session object. */
  private tokenHmac(hash: HashAlg, info: HmacInfo, key: Buffer, data: Buffer): Promise<Buffer> {
    const token = this.token;
    const value = key.length < info.minKey ? Buffer.concat([key, Buffer.alloc(info.minKey - key.length)]) : Buffer.from(key);
    return token.run(`HMAC-${hash}`, async (s) => {
      const gen = token.generation;
      const h = token.track(token.p.C_CreateObject(s, [
        ...sessionKeyTemplate(token, P.CKO_SECRET_KEY, P.CKK_GENERIC_SECRET),
        { type: P.CKA_SIGN, value: true },
        { type: P.CKA_VALUE, value },
      ]));
      value.fill(0);
      try {
        const mech = { mechanism: info.hmac };
        token.p.C_SignInit(s, mech, h);
        const out = Buffer.alloc(info.out);
        const mac = await holding(token.p.C_SignAsync(s, data, out), data, out, mech);
        return Buffer.from(mac);
      } finally {
        token.destroy(h, gen);
        token.countOperation();
      }
    });
  }

  /** HMAC with token-held parts fed by C_DigestKey (§5.3). Synchronous calls only (DigestKey has no async). */
  private digestKeyHmac(hash: HashAlg, info: HmacInfo, key: Buffer, parts: readonly chains.PrfPart[]): Promise<Buffer> {
    if (!DIGEST_KEY_HASHES.has(hash)) {
      return Promise.reject(new OakleyError(CryptoErr.TOKEN_MECHANISM,
        `PRF HMAC-${hash} cannot take a token-held g^xy: the token refuses C_DigestKey with ${hash} ` +
        '(CKR_KEY_INDIGESTIBLE); use a SHA-1/SHA-2 PRF or read g^xy from the token (keepSecretOnToken off)',
        { hash, ckr: 'CKR_KEY_INDIGESTIBLE' }));
    }
    const token = this.token;
    const p = token.p;
    const k = Buffer.alloc(info.block);
    (key.length > info.block ? createHash(hash).update(key).digest() : key).copy(k);
    const ipad = Buffer.from(k.map((b) => b ^ 0x36));
    const opad = Buffer.from(k.map((b) => b ^ 0x5c));
    k.fill(0);
    return token.run(`HMAC-${hash} over a token-held g^xy (C_DigestKey)`, (s) => {
      try {
        p.C_DigestInit(s, { mechanism: info.digest });
        p.C_DigestUpdate(s, ipad);
        for (const part of parts) {
          if (Buffer.isBuffer(part)) {
            if (part.length) p.C_DigestUpdate(s, part);
          } else {
            p.C_DigestKey(s, (part as TokenSecret).handle);
          }
        }
        const inner = Buffer.from(p.C_DigestFinal(s, Buffer.alloc(info.out)));
        p.C_DigestInit(s, { mechanism: info.digest });
        p.C_DigestUpdate(s, opad);
        p.C_DigestUpdate(s, inner);
        return Buffer.from(p.C_DigestFinal(s, Buffer.alloc(info.out)));
      } finally {
        ipad.fill(0);
        opad.fill(0);
      }
    });
  }
}
