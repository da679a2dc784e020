/**
 * Key exchange on a PKCS#11 token: MODP (CKM_DH_PKCS_KEY_PAIR_GEN / CKM_DH_PKCS_DERIVE) and ECP
 * (CKM_EC_KEY_PAIR_GEN / CKM_ECDH1_DERIVE with CKD_NULL). The private value never leaves the
 * token; g^xy is read back (CKA_VALUE) or, with keepSecretOnToken, stays there as a sensitive,
 * non-extractable CKK_GENERIC_SECRET that only this path's KeyDerivation can use (OpaqueSecret).
 *
 * Peer values are validated in TypeScript (groups.validate*) before the token sees them: SoftHSM
 * reports bad values only as CKR_GENERAL_ERROR (pkcs11-softhsm.md §3, §4).
 *
 * RFC 5114 groups 22-24: x must be drawn from [1, q-1]. CKM_DH_PKCS_KEY_PAIR_GEN takes no q (only
 * CKA_PRIME/CKA_BASE; CKA_VALUE_BITS is a length). Measured here: SoftHSM 2.6.1 on OpenSSL 3
 * happens to recognise the RFC 5114 p/g as named groups and draws x < q (0 of 100 keys >= q per
 * group, with and without CKA_VALUE_BITS = |q|; without it group 24 gets OpenSSL's 224-bit x).
 * That is an OpenSSL property, not a PKCS#11 one, so this path does not rely on it: x is drawn
 * below q here (groups.randomExponent with the backend's RandomSource) and imported as a
 * sensitive CKK_DH private key; the public value g^x is computed with BigInt (~4 ms for group 24).
 */
import { createECDH } from 'node:crypto';
import * as P from 'pkcs11js';

import { CryptoErr, OakleyError } from '../../util/errors';
import {
  bigToBuf, bufToBig, ecPointToKe, exponentBitsFor, getGroup, isSupportedGroup, leftPad, randomExponent,
  validateEcpPublic, validateModpPublic, type EcpGroup, type ModpGroup,
} from '../groups';
import type { KeOptions, KeyExchange, KeyExchangeProvider, OpaqueSecret, SharedSecret } from '../types';
import { holding, type Pkcs11Token } from './token';

type Handle = Buffer;

/** g^xy held on the token (keepSecretOnToken). */
export class TokenSecret implements OpaqueSecret {
  readonly kind = 'opaque' as const;
  readonly path = 'pkcs11' as const;
  private disposed = false;

  constructor(readonly token: Pkcs11Token, readonly handle: Handle, readonly generation: number, readonly length: number) {
    token.retain();
  }

  get usable(): boolean {
    return !this.disposed && this.generation === this.token.generation;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.token.destroy(this.handle, this.generation);
    this.token.unretain();
  }
}

export function isTokenSecret(s: unknown): s is TokenSecret {
  return s instanceof TokenSecret;
}

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

/** Contents of the DER OCTET STRING around CKA_EC_POINT (04 len 04|x|y; len may be long-form). */
function unwrapOctetString(der: Buffer): Buffer {
  if (der[0] !== 0x04 || der.length < 2) return der;
  let len = der[1];
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | der[2 + i];
    off = 2 + n;
  }
  // A raw 04|x|y (some tokens return it unwrapped) does not parse as a fitting OCTET STRING.
  return off + len === der.length ? der.subarray(off) : der;
}

export interface Pkcs11KeOptions {
  keepSecretOnToken: boolean;
  exponentBits?: number | 'full';
  /** Random bytes for RFC 5114 exponents (the backend's RandomSource). */
  fill: (b: Buffer) => Buffer;
  /**
   * C_GenerateKeyPairAsync/C_DeriveKeyAsync (thread pool) when true; the synchronous calls when
   * false, which block the event loop for the token's time (group 14: ~1 ms per exchange) but
   * avoid pkcs11js #120 (async key calls never free their copied mechanism and templates).
   */
  asyncKeyOps: boolean;
}

/** Key-pair generation, sync or async (see Pkcs11KeOptions.asyncKeyOps). */
function generateKeyPair(token: Pkcs11Token, s: Handle, async: boolean, mech: P.Mechanism, pubT: P.Template, privT: P.Template): Promise<P.KeyPair> {
  if (!async) return Promise.resolve(token.p.C_GenerateKeyPair(s, mech, pubT, privT));
  return holding(token.p.C_GenerateKeyPairAsync(s, mech, pubT, privT), mech, pubT, privT);
}

function deriveKey(token: Pkcs11Token, s: Handle, async: boolean, mech: P.Mechanism, base: Handle, template: P.Template): Promise<Handle> {
  if (!async) return Promise.resolve(token.p.C_DeriveKey(s, mech, base, template));
  return holding(token.p.C_DeriveKeyAsync(s, mech, base, template), mech, base, template);
}

export class Pkcs11KeyExchangeProvider implements KeyExchangeProvider {
  readonly path = 'pkcs11' as const;

  constructor(private readonly token: Pkcs11Token, private readonly options: Pkcs11KeOptions) {}

  supports(group: number): boolean {
    return isSupportedGroup(group);
  }

  async create(groupId: number, options: KeOptions = {}): Promise<KeyExchange> {
    const group = getGroup(groupId);
    return group.kind === 'modp' ? this.createModp(group, options) : this.createEcp(group, options);
  }

  private privateAttrs(): P.Template {
    return [
      { type: P.CKA_TOKEN, value: false },
      // Public even when logged in: `ikeadm token logout` must not kill an exchange in progress (token.ts sessionKeyTemplate).
      { type: P.CKA_PRIVATE, value: false },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_EXTRACTABLE, value: false },
      { type: P.CKA_DERIVE, value: true },
    ];
  }

  private async createModp(group: ModpGroup, options: KeOptions): Promise<KeyExchange> {
    const token = this.token;
    const p = token.p;
    let x = options.privateKey;
    if (!x && group.qBig !== undefined) x = randomExponent(group, exponentBitsFor(group), this.options.fill);
    if (x) {
      const xv = bufToBig(x);
      const limit = group.qBig ?? group.pBig - 1n;
      if (xv < 1n || xv >= limit) {
        throw new OakleyError(CryptoErr.BAD_KEY, `private exponent for group ${group.id} must lie in [1, ${group.qBig ? 'q' : 'p-1'})`);
      }
      const value = bigToBuf(xv, Math.ceil(xv.toString(16).length / 2));
      const pub = bigToBuf(modPow(bufToBig(group.g), xv, group.pBig), group.size);
      const priv = token.runSync(`DH group ${group.id} private key import`, (s) => token.track(p.C_CreateObject(s, [
        { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_DH },
        ...this.privateAttrs(),
        { type: P.CKA_PRIME, value: group.p },
        { type: P.CKA_BASE, value: group.g },
        { type: P.CKA_VALUE, value },
      ])));
      value.fill(0);
      return new TokenKeyExchange(token, group, pub, priv, undefined, this.options);
    }
    const bits = exponentBitsFor(group, options.exponentBits ?? this.options.exponentBits);
    const mech = { mechanism: P.CKM_DH_PKCS_KEY_PAIR_GEN };
    const pubT: P.Template = [
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_PRIME, value: group.p },
      { type: P.CKA_BASE, value: group.g },
    ];
    // CKA_VALUE_BITS on the private template is what SoftHSM passes to DH_set_length.
    const privT: P.Template = [...this.privateAttrs(), { type: P.CKA_VALUE_BITS, value: bits }];
    return token.run(`DH group ${group.id} key pair generation`, async (s) => {
      const kp = await generateKeyPair(token, s, this.options.asyncKeyOps, mech, pubT, privT);
      token.track(kp.privateKey);
      token.track(kp.publicKey);
      try {
        const y = p.C_GetAttributeValue(s, kp.publicKey, [{ type: P.CKA_VALUE }])[0].value as Buffer;
        return new TokenKeyExchange(token, group, leftPad(y, group.size), kp.privateKey, kp.publicKey, this.options);
      } catch (e) {
        token.destroy(kp.privateKey, token.generation);
        token.destroy(kp.publicKey, token.generation);
        throw e;
      }
    });
  }

  private async createEcp(group: EcpGroup, options: KeOptions): Promise<KeyExchange> {
    const token = this.token;
    const p = token.p;
    if (options.privateKey) {
      const d = bufToBig(options.privateKey);
      if (d < 1n || d >= group.order) throw new OakleyError(CryptoErr.BAD_KEY, `private scalar for group ${group.id} must lie in [1, n-1]`);
      const scalar = bigToBuf(d, group.size);
      // The public point of a given scalar, for known-answer tests: computed by node's EC code,
      // the derivation itself still runs on the token.
      const ecdh = createECDH(group.curve);
      ecdh.setPrivateKey(scalar);
      const pub = ecPointToKe(group, ecdh.getPublicKey());
      const priv = token.runSync(`ECDH group ${group.id} private key import`, (s) => token.track(p.C_CreateObject(s, [
        { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
        { type: P.CKA_KEY_TYPE, value: P.CKK_EC },
        ...this.privateAttrs(),
        { type: P.CKA_EC_PARAMS, value: group.oidDer },
        { type: P.CKA_VALUE, value: scalar },
      ])));
      scalar.fill(0);
      return new TokenKeyExchange(token, group, pub, priv, undefined, this.options);
    }
    const mech = { mechanism: P.CKM_EC_KEY_PAIR_GEN };
    const pubT: P.Template = [{ type: P.CKA_TOKEN, value: false }, { type: P.CKA_EC_PARAMS, value: group.oidDer }];
    const privT = this.privateAttrs();
    return token.run(`ECDH group ${group.id} key pair generation`, async (s) => {
      const kp = await generateKeyPair(token, s, this.options.asyncKeyOps, mech, pubT, privT);
      token.track(kp.privateKey);
      token.track(kp.publicKey);
      try {
        const point = p.C_GetAttributeValue(s, kp.publicKey, [{ type: P.CKA_EC_POINT }])[0].value as Buffer;
        return new TokenKeyExchange(token, group, ecPointToKe(group, unwrapOctetString(point)), kp.privateKey, kp.publicKey, this.options);
      } catch (e) {
        token.destroy(kp.privateKey, token.generation);
        token.destroy(kp.publicKey, token.generation);
        throw e;
      }
    });
  }
}

class TokenKeyExchange implements KeyExchange {
  readonly path = 'pkcs11' as const;
  readonly group: number;
  private readonly generation: number;
  private disposed = false;

  constructor(
    private readonly token: Pkcs11Token,
    private readonly g: ModpGroup | EcpGroup,
    readonly publicKey: Buffer,
    private readonly priv: Handle,
    private readonly pub: Handle | undefined,
    private readonly options: Pkcs11KeOptions,
  ) {
    this.group = g.id;
    this.generation = token.generation;
    token.retain();
  }

  async computeSharedSecret(peerPublic: Buffer): Promise<SharedSecret> {
    if (this.disposed) throw new OakleyError(CryptoErr.BAD_ARGUMENT, 'key exchange already disposed');
    if (this.generation !== this.token.generation) {
      // The library was re-initialised for a lost token: the key pair died with its session (and
      // its handle may now name another object).
      throw new OakleyError(CryptoErr.NO_TOKEN, `the key pair of this exchange died with its session: the PKCS#11 library was re-initialised (token "${this.token.label}" recovery)`,
        { label: this.token.label });
    }
    const g = this.g;
    let mech: P.Mechanism;
    if (g.kind === 'modp') {
      validateModpPublic(g, peerPublic);
      mech = { mechanism: P.CKM_DH_PKCS_DERIVE, parameter: Buffer.from(peerPublic) };
    } else {
      // publicData as a DER OCTET STRING around 04|x|y, never the bare point: SoftHSM 2.6.1 guesses
      // whether the bytes are DER, and a bare point whose first x byte happens to equal the
      // remaining length was misread as DER (seen as CKR_GENERAL_ERROR about once in 250 P-192
      // exchanges).
      const sec1 = validateEcpPublic(g, peerPublic);
      mech = { mechanism: P.CKM_ECDH1_DERIVE, parameter: { type: P.CK_PARAMS_EC_DH, kdf: P.CKD_NULL, publicData: derOctetString(sec1) } as P.ECDH1 };
    }
    const keep = this.options.keepSecretOnToken;
    // CKA_VALUE_LEN = the full group size: shorter values keep the trailing bytes (§3, §4).
    const template: P.Template = [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET },
      { type: P.CKA_VALUE_LEN, value: g.size },
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_PRIVATE, value: false }, // survives a logout, as the key pair it comes from
      { type: P.CKA_SENSITIVE, value: keep },
      { type: P.CKA_EXTRACTABLE, value: !keep },
      { type: P.CKA_SIGN, value: true },
    ];
    const token = this.token;
    return token.run(`${g.kind === 'modp' ? 'DH' : 'ECDH'} derive group ${g.id}`, async (s) => {
      const h = await deriveKey(token, s, this.options.asyncKeyOps, mech, this.priv, template);
      token.track(h);
      const gen = token.generation;
      if (keep) return new TokenSecret(token, h, gen, g.size);
      try {
        const v = token.p.C_GetAttributeValue(s, h, [{ type: P.CKA_VALUE }])[0].value as Buffer;
        return leftPad(v, g.size);
      } finally {
        token.destroy(h, gen);
      }
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.token.destroy(this.priv, this.generation);
    this.token.destroy(this.pub, this.generation);
    this.token.countOperation();
    this.token.unretain();
  }
}

/** DER OCTET STRING encoding of `value` (short or long definite length). */
function derOctetString(value: Buffer): Buffer {
  const n = value.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([0x04]), len, value]);
}
