/**
 * RSA signatures on a PKCS#11 token. Private keys are token objects found by CKA_LABEL/CKA_ID, or
 * PEM/DER keys imported as sensitive, non-extractable session objects. Public keys are imported
 * as session objects (or found on the token) and verified there.
 *
 * Mechanisms (pkcs11-softhsm.md §2):
 *   pkcs1-raw  CKM_RSA_PKCS over the data as given (IKEv1 HASH_I/HASH_R, RFC 2409 §5.1). Input
 *              longer than k-11 gives SoftHSM's CKR_GENERAL_ERROR, so it is checked here first.
 *   pkcs1      CKM_{MD5,SHA1,SHA224,SHA256,SHA384,SHA512}_RSA_PKCS
 *   pss        CKM_SHA*_RSA_PKCS_PSS with {hashAlg, MGF1 of the same hash, saltLen (default hLen)}
 * The signature length is k = the byte length of CKA_MODULUS, read from the key, never guessed
 * (STYLE PK-4).
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import * as P from 'pkcs11js';

import { CryptoErr, OakleyError } from '../../util/errors';
import { bufToBig } from '../groups';
import { HASH_LENGTH } from '../kdf';
import type {
  HashAlg, RsaPrivateKey, RsaPrivateKeySource, RsaProvider, RsaPublicKey, RsaPublicKeySource, RsaScheme, TokenObjectRef,
} from '../types';
import { isCkr } from './errors';
import { holding, sessionKeyTemplate, type Pkcs11Token } from './token';

type Handle = Buffer;

const MIN_BITS = 1024;
const MAX_BITS = 4096;

const PKCS1_MECH: Readonly<Record<HashAlg, number>> = {
  md5: P.CKM_MD5_RSA_PKCS, sha1: P.CKM_SHA1_RSA_PKCS, sha224: P.CKM_SHA224_RSA_PKCS,
  sha256: P.CKM_SHA256_RSA_PKCS, sha384: P.CKM_SHA384_RSA_PKCS, sha512: P.CKM_SHA512_RSA_PKCS,
};
const PSS: Readonly<Partial<Record<HashAlg, { mech: number; hash: number; mgf: number }>>> = {
  sha1: { mech: P.CKM_SHA1_RSA_PKCS_PSS, hash: P.CKM_SHA_1, mgf: P.CKG_MGF1_SHA1 },
  sha224: { mech: P.CKM_SHA224_RSA_PKCS_PSS, hash: P.CKM_SHA224, mgf: P.CKG_MGF1_SHA224 },
  sha256: { mech: P.CKM_SHA256_RSA_PKCS_PSS, hash: P.CKM_SHA256, mgf: P.CKG_MGF1_SHA256 },
  sha384: { mech: P.CKM_SHA384_RSA_PKCS_PSS, hash: P.CKM_SHA384, mgf: P.CKG_MGF1_SHA384 },
  sha512: { mech: P.CKM_SHA512_RSA_PKCS_PSS, hash: P.CKM_SHA512, mgf: P.CKG_MGF1_SHA512 },
};

/** The mechanism of a scheme for a k-byte modulus; checks what SoftHSM would only report as CKR_GENERAL_ERROR. */
function mechanismFor(scheme: RsaScheme, k: number, dataLength: number): P.Mechanism {
  switch (scheme.padding) {
    case 'pkcs1-raw':
      if (dataLength > k - 11) {
        throw new OakleyError(CryptoErr.BAD_ARGUMENT,
          `pkcs1-raw input of ${dataLength} bytes exceeds ${k - 11} (modulus of ${k} bytes minus 11)`);
      }
      return { mechanism: P.CKM_RSA_PKCS };
    case 'pkcs1': {
      const m = PKCS1_MECH[scheme.hash];
      if (m === undefined) throw new OakleyError(CryptoErr.UNSUPPORTED, `no PKCS#1 v1.5 mechanism for hash ${scheme.hash}`);
      return { mechanism: m };
    }
    case 'pss': {
      const m = PSS[scheme.hash];
      if (!m) throw new OakleyError(CryptoErr.UNSUPPORTED, `RSA-PSS with ${scheme.hash} is not supported (PKCS#11 has no such mechanism)`);
      const hLen = HASH_LENGTH[scheme.hash];
      const saltLen = scheme.saltLength ?? hLen;
      if (!Number.isInteger(saltLen) || saltLen < 0 || saltLen > k - hLen - 2) {
        throw new OakleyError(CryptoErr.BAD_ARGUMENT, `PSS salt length ${saltLen} does not fit a ${k}-byte modulus with ${scheme.hash}`);
      }
      return { mechanism: m.mech, parameter: { type: P.CK_PARAMS_RSA_PSS, hashAlg: m.hash, mgf: m.mgf, saltLen } as P.RsaPSS };
    }
    default:
      throw new OakleyError(CryptoErr.BAD_ARGUMENT, `unknown RSA scheme ${String((scheme as { padding?: unknown }).padding)}`);
  }
}

function refTemplate(cls: number, ref: TokenObjectRef): P.Template {
  if (ref.label === undefined && ref.id === undefined) {
    throw new OakleyError(CryptoErr.BAD_ARGUMENT, 'a token key reference needs a label, an id or both');
  }
  const t: P.Template = [{ type: P.CKA_CLASS, value: cls }, { type: P.CKA_KEY_TYPE, value: P.CKK_RSA }];
  if (ref.label !== undefined) t.push({ type: P.CKA_LABEL, value: ref.label });
  if (ref.id !== undefined) t.push({ type: P.CKA_ID, value: ref.id });
  return t;
}

function describe(ref: TokenObjectRef): string {
  return [ref.label !== undefined ? `label "${ref.label}"` : '', ref.id !== undefined ? `id ${ref.id.toString('hex')}` : '']
    .filter(Boolean).join(' and ');
}

function findOne(token: Pkcs11Token, cls: number, ref: TokenObjectRef): Handle {
  const what = cls === P.CKO_PRIVATE_KEY ? 'RSA private key' : 'RSA public key';
  const found = token.find(refTemplate(cls, ref), 2);
  if (found.length === 0) {
    token.ensurePresent(`looking up the ${what}`);
    throw new OakleyError(CryptoErr.TOKEN_OBJECT,
      `no ${what} with ${describe(ref)} on token "${token.label}"${token.loggedIn ? '' : ' (not logged in: private objects are invisible without a PIN)'}`,
      { label: ref.label, id: ref.id?.toString('hex') });
  }
  if (found.length > 1) {
    throw new OakleyError(CryptoErr.TOKEN_OBJECT, `more than one ${what} with ${describe(ref)} on token "${token.label}"`,
      { label: ref.label, id: ref.id?.toString('hex') });
  }
  return found[0];
}

function bitLength(modulus: Buffer): number {
  return bufToBig(modulus).toString(2).length;
}

function checkBits(bits: number): void {
  if (bits < MIN_BITS || bits > MAX_BITS) {
    throw new OakleyError(CryptoErr.BAD_KEY, `RSA key of ${bits} bits is outside ${MIN_BITS}-${MAX_BITS}`);
  }
}

const b64u = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'base64url');

function rsaKeyObject(k: KeyObject, what: string): KeyObject {
  if (k.asymmetricKeyType !== 'rsa') {
    throw new OakleyError(CryptoErr.BAD_KEY, `${what} is a ${k.asymmetricKeyType} key, not RSA`);
  }
  return k;
}

/**
 * Resolves a key handle for the library's current generation: token objects are found again by
 * label/id, imported keys are imported again after a re-initialise (token.ts).
 *
 * Login state (`ikeadm token logout|login`): a slot whose object was resolved while the token was
 * logged in and that is a private key (a private token object, or an imported key created
 * CKA_PRIVATE) needs the login. While the token is logged out, get() refuses with TOKEN_PIN
 * instead of handing out a handle that C_SignInit would reject with CKR_OBJECT_HANDLE_INVALID
 * (SoftHSM), and an imported key is not imported again as a public object. After the next login
 * the handle is resolved again (loginEpoch): SoftHSM gives private objects new handles.
 */
class KeySlot {
  private handle?: Handle;
  private generation = -1;
  private loginEpoch = -1;
  /** Resolved while logged in and private: unusable while the token is logged out. */
  private needsLogin = false;

  constructor(private readonly token: Pkcs11Token, private readonly load: () => Handle, private readonly imported: boolean,
    private readonly privateKey = false) {}

  get(): Handle {
    const token = this.token;
    if (this.needsLogin && !token.loggedIn) throw token.lostReason !== undefined ? token.lostError() : this.locked();
    const stale = this.generation !== token.generation || (this.needsLogin && this.loginEpoch !== token.loginEpoch);
    if (!this.handle || stale) {
      // An imported key whose login ended: its old handle is dead already; destroy() ignores that.
      if (this.imported && this.handle) token.destroy(this.handle, this.generation);
      this.handle = undefined;
      if (this.generation === -1) this.needsLogin = this.privateKey && token.loggedIn;
      this.handle = this.load();
      if (this.imported) token.track(this.handle);
      this.generation = token.generation;
      this.loginEpoch = token.loginEpoch;
    }
    return this.handle;
  }

  /** The error for a key whose token is logged out (the label only, never a PIN). */
  locked(): OakleyError {
    return new OakleyError(CryptoErr.TOKEN_PIN,
      `token "${this.token.label}" is logged out: its private keys are locked until 'ikeadm token login ${this.token.label}'`,
      { label: this.token.label, locked: true });
  }

  /** After a failed operation: the token was logged out meanwhile (the failure is the lock). */
  lockedNow(): boolean {
    return this.needsLogin && !this.token.loggedIn;
  }

  release(): void {
    if (this.imported && this.handle) this.token.destroy(this.handle, this.generation);
    this.handle = undefined;
  }

  /**
   * The token refused the handle (the object was deleted on the token, by another process or
   * `ikecert certlocal -r -T`): the next get() looks the object up again, and says so if it is gone.
   */
  forget(): void {
    if (!this.imported) this.handle = undefined;
  }
}

class TokenRsaPrivateKey implements RsaPrivateKey {
  readonly path = 'pkcs11' as const;
  private disposed = false;

  constructor(private readonly token: Pkcs11Token, private readonly slot: KeySlot, readonly bits: number) {}

  async sign(data: Buffer, scheme: RsaScheme): Promise<Buffer> {
    if (this.disposed) throw new OakleyError(CryptoErr.BAD_KEY, 'RSA private key already disposed');
    const k = Math.ceil(this.bits / 8);
    const mech = mechanismFor(scheme, k, data.length);
    const input = Buffer.from(data);
    const token = this.token;
    return token.run(`RSA sign (${scheme.padding})`, async (s) => {
      try {
        token.p.C_SignInit(s, mech, this.slot.get());
        const out = Buffer.alloc(k);
        const sig = await holding(token.p.C_SignAsync(s, input, out), input, out, mech);
        if (sig.length !== k) throw new OakleyError(CryptoErr.SIGNATURE, `token returned a ${sig.length}-byte signature, expected ${k}`);
        return Buffer.from(sig);
      } catch (e) {
        // `ikeadm token logout` while this sign was on its way: say so, not CKR_OBJECT_HANDLE_INVALID.
        if (!OakleyError.is(e) && this.slot.lockedNow()) throw this.slot.locked();
        if (isCkr(e, 'CKR_OBJECT_HANDLE_INVALID', 'CKR_KEY_HANDLE_INVALID')) this.slot.forget();
        throw e;
      }
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.slot.release();
  }
}

class TokenRsaPublicKey implements RsaPublicKey {
  readonly path = 'pkcs11' as const;

  constructor(private readonly token: Pkcs11Token, private readonly slot: KeySlot, readonly bits: number) {}

  async verify(data: Buffer, signature: Buffer, scheme: RsaScheme): Promise<boolean> {
    const k = Math.ceil(this.bits / 8);
    const mech = mechanismFor(scheme, k, data.length);
    if (signature.length !== k) return false;
    const input = Buffer.from(data);
    const sig = Buffer.from(signature);
    const token = this.token;
    return token.run(`RSA verify (${scheme.padding})`, async (s) => {
      token.p.C_VerifyInit(s, mech, this.slot.get());
      try {
        return await holding(token.p.C_VerifyAsync(s, input, sig), input, sig, mech);
      } catch (e) {
        if (isCkr(e, 'CKR_SIGNATURE_INVALID', 'CKR_SIGNATURE_LEN_RANGE')) return false;
        throw e;
      }
    });
  }
}

export class Pkcs11RsaProvider implements RsaProvider {
  readonly path = 'pkcs11' as const;

  constructor(private readonly token: Pkcs11Token) {}

  async loadPrivateKey(source: RsaPrivateKeySource): Promise<RsaPrivateKey> {
    const token = this.token;
    if ('token' in source) {
      const ref = source.token;
      const slot = new KeySlot(token, () => findOne(token, P.CKO_PRIVATE_KEY, ref), false, true);
      const modulus = token.attribute(slot.get(), P.CKA_MODULUS);
      const bits = bitLength(modulus);
      checkBits(bits);
      return new TokenRsaPrivateKey(token, slot, bits);
    }
    let key: KeyObject;
    try {
      key = 'pem' in source ? createPrivateKey(source.pem)
        : (() => {
          try { return createPrivateKey({ key: source.der, format: 'der', type: 'pkcs8' }); }
          catch { return createPrivateKey({ key: source.der, format: 'der', type: 'pkcs1' }); }
        })();
    } catch (e) {
      throw new OakleyError(CryptoErr.BAD_KEY, `cannot parse the RSA private key: ${(e as Error).message}`, undefined, { cause: e });
    }
    rsaKeyObject(key, 'the private key');
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    checkBits(bits);
    // The KeyObject stays referenced so the key can be imported again after a re-initialise.
    // Private (locked by `ikeadm token logout`) when imported while logged in; see KeySlot.
    const slot = new KeySlot(token, () => token.runSync('RSA private key import', (s) => {
      const jwk = key.export({ format: 'jwk' });
      const t: P.Template = [
        ...sessionKeyTemplate(token, P.CKO_PRIVATE_KEY, P.CKK_RSA, token.loggedIn),
        { type: P.CKA_SIGN, value: true },
        { type: P.CKA_MODULUS, value: b64u(jwk.n) },
        { type: P.CKA_PUBLIC_EXPONENT, value: b64u(jwk.e) },
        { type: P.CKA_PRIVATE_EXPONENT, value: b64u(jwk.d) },
        { type: P.CKA_PRIME_1, value: b64u(jwk.p) },
        { type: P.CKA_PRIME_2, value: b64u(jwk.q) },
        { type: P.CKA_EXPONENT_1, value: b64u(jwk.dp) },
        { type: P.CKA_EXPONENT_2, value: b64u(jwk.dq) },
        { type: P.CKA_COEFFICIENT, value: b64u(jwk.qi) },
      ];
      try {
        return token.p.C_CreateObject(s, t);
      } finally {
        for (const a of t) if (Buffer.isBuffer(a.value)) a.value.fill(0);
      }
    }), true, true);
    slot.get();
    return new TokenRsaPrivateKey(token, slot, bits);
  }

  async loadPublicKey(source: RsaPublicKeySource): Promise<RsaPublicKey> {
    const token = this.token;
    if ('token' in source) {
      const ref = source.token;
      const slot = new KeySlot(token, () => findOne(token, P.CKO_PUBLIC_KEY, ref), false);
      const bits = bitLength(token.attribute(slot.get(), P.CKA_MODULUS));
      checkBits(bits);
      return new TokenRsaPublicKey(token, slot, bits);
    }
    const key = rsaKeyObject(parsePublic(source), 'the public key');
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    checkBits(bits);
    const jwk = key.export({ format: 'jwk' });
    const slot = new KeySlot(token, () => token.runSync('RSA public key import', (s) => token.p.C_CreateObject(s, [
      { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_PRIVATE, value: false },
      { type: P.CKA_VERIFY, value: true },
      { type: P.CKA_MODULUS, value: b64u(jwk.n) },
      { type: P.CKA_PUBLIC_EXPONENT, value: b64u(jwk.e) },
    ])), true);
    slot.get();
    return new TokenRsaPublicKey(token, slot, bits);
  }
}

/** SPKI or PKCS#1 public key, or an X.509 certificate, as PEM or DER. */
function parsePublic(source: { pem: string | Buffer } | { der: Buffer }): KeyObject {
  try {
    if ('pem' in source) {
      const text = source.pem.toString();
      if (text.includes('-----BEGIN CERTIFICATE-----')) return new X509Certificate(text).publicKey;
      return createPublicKey(text);
    }
    const der = source.der;
    for (const type of ['spki', 'pkcs1'] as const) {
      try { return createPublicKey({ key: der, format: 'der', type }); } catch { /* next */ }
    }
    return new X509Certificate(der).publicKey;
  } catch (e) {
    throw new OakleyError(CryptoErr.BAD_KEY, `cannot parse the RSA public key or certificate: ${(e as Error).message}`, undefined, { cause: e });
  }
}

export interface TokenRsaKeyPairOptions {
  label: string;
  id: Buffer;
  /** Default 2048. */
  bits?: number;
}

/**
 * Generates an RSA key pair as TOKEN objects (persistent), private key sensitive and
 * non-extractable, both with the given CKA_LABEL and CKA_ID. Needs a logged-in backend.
 * @returns the reference to load it with ({ token: ref })
 */
export async function generateTokenRsaKeyPair(token: Pkcs11Token, options: TokenRsaKeyPairOptions): Promise<TokenObjectRef> {
  const bits = options.bits ?? 2048;
  checkBits(bits);
  if (!token.loggedIn) throw new OakleyError(CryptoErr.TOKEN_PIN, 'generating a token key needs a user PIN');
  const mech = { mechanism: P.CKM_RSA_PKCS_KEY_PAIR_GEN };
  const common = [
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_LABEL, value: options.label },
    { type: P.CKA_ID, value: options.id },
  ];
  const pubT: P.Template = [...common, { type: P.CKA_VERIFY, value: true }, { type: P.CKA_MODULUS_BITS, value: bits },
    { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) }, { type: P.CKA_PRIVATE, value: false }];
  const privT: P.Template = [...common, { type: P.CKA_SIGN, value: true }, { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: true }, { type: P.CKA_EXTRACTABLE, value: false }];
  await token.run('RSA token key pair generation', (s) =>
    holding(token.p.C_GenerateKeyPairAsync(s, mech, pubT, privT), mech, pubT, privT));
  return { label: options.label, id: options.id };
}
