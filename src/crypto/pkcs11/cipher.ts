/**
 * CBC ciphers for ISAKMP payloads on the token (CKM_AES_CBC, CKM_DES3_CBC, CKM_DES_CBC, no
 * padding: IKE pads itself). The key is a sensitive session object for the duration of one call.
 * Blowfish has no PKCS#11 mechanism in SoftHSM: supports() is false.
 *
 * Single DES: SoftHSM 2.6.1 on OpenSSL 3 lists CKM_DES_CBC but refuses it at C_EncryptInit with
 * CKR_MECHANISM_INVALID (DES lives in OpenSSL's legacy provider, which SoftHSM does not load;
 * measured here). DES-EDE3 with K1 = K2 = K3 = K is exactly single DES (E_K(D_K(E_K(x))) =
 * E_K(x)), so after the first CKR_MECHANISM_INVALID des-cbc runs as CKM_DES3_CBC over K|K|K.
 * Synchronous: cheap per-packet work (types.ts CipherProvider).
 */
import { randomFillSync } from 'node:crypto';
import * as P from 'pkcs11js';

import { CryptoErr, OakleyError } from '../../util/errors';
import type { CipherAlg, CipherProvider, RandomSource } from '../types';
import { sessionKeyTemplate, type Pkcs11Token } from './token';

const CIPHERS: Readonly<Partial<Record<CipherAlg, { mech: number; keyType: number; block: number; keyLengths: readonly number[] }>>> = {
  'aes-cbc': { mech: P.CKM_AES_CBC, keyType: P.CKK_AES, block: 16, keyLengths: [16, 24, 32] },
  '3des-cbc': { mech: P.CKM_DES3_CBC, keyType: P.CKK_DES3, block: 8, keyLengths: [24] },
  'des-cbc': { mech: P.CKM_DES_CBC, keyType: P.CKK_DES, block: 8, keyLengths: [8] },
};

const DES_AS_EDE3 = { mech: P.CKM_DES3_CBC, keyType: P.CKK_DES3, block: 8, keyLengths: [8] };

export class Pkcs11CipherProvider implements CipherProvider {
  readonly path = 'pkcs11' as const;
  /** Set after the token refused CKM_DES_CBC (see above). */
  private desViaEde3 = false;

  constructor(private readonly token: Pkcs11Token) {}

  supports(alg: CipherAlg, keyLength: number): boolean {
    return CIPHERS[alg]?.keyLengths.includes(keyLength) ?? false;
  }

  encrypt(alg: CipherAlg, key: Buffer, iv: Buffer, data: Buffer): Buffer {
    return this.crypt(true, alg, key, iv, data);
  }

  decrypt(alg: CipherAlg, key: Buffer, iv: Buffer, data: Buffer): Buffer {
    return this.crypt(false, alg, key, iv, data);
  }

  private crypt(encrypt: boolean, alg: CipherAlg, key: Buffer, iv: Buffer, data: Buffer): Buffer {
    if (alg === 'des-cbc' && !this.desViaEde3) {
      try {
        return this.cryptWith(encrypt, alg, key, iv, data);
      } catch (e) {
        if (!OakleyError.is(e, CryptoErr.TOKEN_MECHANISM)) throw e;
        this.desViaEde3 = true;
      }
    }
    return this.cryptWith(encrypt, alg, key, iv, data);
  }

  private cryptWith(encrypt: boolean, alg: CipherAlg, key: Buffer, iv: Buffer, data: Buffer): Buffer {
    const c = alg === 'des-cbc' && this.desViaEde3 ? DES_AS_EDE3 : CIPHERS[alg];
    if (!c) throw new OakleyError(CryptoErr.UNSUPPORTED, `cipher ${alg} is not available on the pkcs11 path (no PKCS#11 mechanism)`, { alg });
    if (!c.keyLengths.includes(key.length)) {
      throw new OakleyError(CryptoErr.BAD_ARGUMENT, `${alg} key of ${key.length} bytes (allowed: ${c.keyLengths.join(', ')})`);
    }
    if (iv.length !== c.block) throw new OakleyError(CryptoErr.BAD_ARGUMENT, `${alg} IV must be ${c.block} bytes, got ${iv.length}`);
    if (data.length % c.block !== 0) {
      throw new OakleyError(CryptoErr.BAD_ARGUMENT, `${alg} data of ${data.length} bytes is not a multiple of the block size ${c.block}`);
    }
    if (data.length === 0) return Buffer.alloc(0);
    const token = this.token;
    const p = token.p;
    return token.runSync(`${alg} ${encrypt ? 'encrypt' : 'decrypt'}`, (s) => {
      const gen = token.generation;
      const h = token.track(p.C_CreateObject(s, [
        ...sessionKeyTemplate(token, P.CKO_SECRET_KEY, c.keyType),
        { type: encrypt ? P.CKA_ENCRYPT : P.CKA_DECRYPT, value: true },
        { type: P.CKA_VALUE, value: c === DES_AS_EDE3 ? Buffer.concat([key, key, key]) : Buffer.from(key) },
      ]));
      try {
        const mech = { mechanism: c.mech, parameter: Buffer.from(iv) };
        const out = Buffer.alloc(data.length);
        if (encrypt) {
          p.C_EncryptInit(s, mech, h);
          return Buffer.from(p.C_Encrypt(s, data, out));
        }
        p.C_DecryptInit(s, mech, h);
        return Buffer.from(p.C_Decrypt(s, data, out));
      } finally {
        token.destroy(h, gen);
        token.countOperation();
      }
    });
  }
}

/** C_GenerateRandom when tokenRandom, else node's CSPRNG. */
export class Pkcs11RandomSource implements RandomSource {
  readonly path = 'pkcs11' as const;

  constructor(private readonly token: Pkcs11Token, private readonly onToken: boolean) {}

  fill(buf: Buffer): Buffer {
    if (!this.onToken) return randomFillSync(buf);
    if (buf.length === 0) return buf;
    const r = this.token.random(buf);
    if (r !== buf) r.copy(buf);
    return buf;
  }
}
