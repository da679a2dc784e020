/**
 * The crypto seam (STYLE A.5): one small interface per primitive. Every expensive IKE operation
 * goes through one of these, and each is implemented by three backends (paths):
 *
 *   node    node:crypto (OpenSSL bundled in the node binary)
 *   native  Oakley's C++ addon (native/), constant-time BN code, thread-pool async, batch entry
 *   pkcs11  a PKCS#11 token (crypto card, HSM; SoftHSM2 in tests) through pkcs11js
 *
 * Validation, defaults and encodings live in TypeScript (shared by all paths, src/crypto/*.ts);
 * the backends only compute. Expensive operations return Promises; cheap per-packet ones
 * (ciphers, random) are synchronous. There is never a sync and an async twin of one call.
 */

export const CRYPTO_PATHS = ['node', 'native', 'pkcs11'] as const;
export type CryptoPath = typeof CRYPTO_PATHS[number];

/**
 * Hash functions behind the IKE PRFs (HMAC-<hash>) and signatures. SHA-224 has no IKE transform
 * number; it is here for the NIST CAVP/ACVP key-derivation vectors (tools/ike-cavp).
 */
export const HASH_ALGS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
export type HashAlg = typeof HASH_ALGS[number];

// ---------------------------------------------------------------------------------------------
// Key exchange
// ---------------------------------------------------------------------------------------------

/**
 * A g^xy that is not in host memory: it lives on a token (pkcs11 path with the secret kept on the
 * token). Only the KeyDerivation of the same path can consume it.
 */
export interface OpaqueSecret {
  readonly kind: 'opaque';
  readonly path: CryptoPath;
  /** Length in bytes of the secret (the group size). */
  readonly length: number;
  /** Destroy the token object. Idempotent. */
  dispose(): void;
}

/** g^xy: bytes left-padded to the group size, or a handle to a token-held value. */
export type SharedSecret = Buffer | OpaqueSecret;

export function isOpaqueSecret(s: SharedSecret): s is OpaqueSecret {
  return !Buffer.isBuffer(s) && (s as OpaqueSecret).kind === 'opaque';
}

/** Options of KeyExchangeProvider.create. */
export interface KeOptions {
  /**
   * Private exponent length for MODP groups, in bits, or 'full' (p bits - 1). Default: the
   * group's policy (src/crypto/groups.ts defaultExponentBits). Ignored for ECP groups.
   */
  exponentBits?: number | 'full';
  /**
   * Deterministic private key (big-endian): the exponent x for MODP, the scalar for ECP.
   * For known-answer tests only.
   */
  privateKey?: Buffer;
}

/**
 * KEM-shaped key exchange: create (own key pair) -> publicKey (KE payload data) ->
 * computeSharedSecret(peer KE payload data). One instance serves one exchange.
 */
export interface KeyExchange {
  readonly path: CryptoPath;
  /** IANA IKE Diffie-Hellman group number. */
  readonly group: number;
  /**
   * Own public value in IKE KE payload encoding: MODP g^x big-endian left-padded to |p|;
   * ECP x|y, each coordinate left-padded to the field size (RFC 5903 §7).
   */
  readonly publicKey: Buffer;
  /**
   * Validates the peer's KE payload data (MODP: 1 < y < p-1 and length |p|; ECP: point on the
   * curve, length 2*|field|) and computes g^xy, left-padded to the group size (ECP: x only).
   * Rejects with OakleyError IKE_ERR_INVALID_KE_VALUE on a bad peer value.
   */
  computeSharedSecret(peerPublic: Buffer): Promise<SharedSecret>;
  /** Forget the private key (wipe it / destroy token objects). Idempotent. */
  dispose(): void;
}

export interface KeyExchangeProvider {
  readonly path: CryptoPath;
  supports(group: number): boolean;
  create(group: number, options?: KeOptions): Promise<KeyExchange>;
}

// ---------------------------------------------------------------------------------------------
// RSA
// ---------------------------------------------------------------------------------------------

/**
 * How data becomes an RSA signature.
 *  - 'pkcs1-raw': EMSA-PKCS1-v1_5 type-1 padding over `data` exactly as given, no DigestInfo.
 *    IKEv1 signature authentication signs HASH_I/HASH_R this way (RFC 2409 §5.1).
 *  - 'pkcs1': RSASSA-PKCS1-v1_5, hash(data) wrapped in DigestInfo.
 *  - 'pss': RSASSA-PSS with MGF1(hash); saltLength defaults to the hash length.
 */
export type RsaScheme =
  | { readonly padding: 'pkcs1-raw' }
  | { readonly padding: 'pkcs1'; readonly hash: HashAlg }
  | { readonly padding: 'pss'; readonly hash: HashAlg; readonly saltLength?: number };

/** Names a key object on the provider's token (PKCS#11 path). */
export interface TokenObjectRef {
  /** CKA_LABEL */
  readonly label?: string;
  /** CKA_ID */
  readonly id?: Buffer;
}

/** Where a private key comes from. PEM may be PKCS#1 or PKCS#8; DER likewise. */
export type RsaPrivateKeySource =
  | { readonly pem: string | Buffer }
  | { readonly der: Buffer }
  | { readonly token: TokenObjectRef };

/** Where a public key comes from: SPKI/PKCS#1 PEM or DER, an X.509 certificate, or a token object. */
export type RsaPublicKeySource =
  | { readonly pem: string | Buffer }
  | { readonly der: Buffer }
  | { readonly token: TokenObjectRef };

export interface RsaPublicKey {
  readonly path: CryptoPath;
  readonly bits: number;
  /** Resolves false for a wrong signature; rejects only for unusable arguments. */
  verify(data: Buffer, signature: Buffer, scheme: RsaScheme): Promise<boolean>;
}

export interface RsaPrivateKey {
  readonly path: CryptoPath;
  readonly bits: number;
  /** Signature of exactly ceil(bits/8) bytes. */
  sign(data: Buffer, scheme: RsaScheme): Promise<Buffer>;
  /** Release native/token resources. Idempotent. */
  dispose(): void;
}

export interface RsaProvider {
  readonly path: CryptoPath;
  loadPrivateKey(source: RsaPrivateKeySource): Promise<RsaPrivateKey>;
  loadPublicKey(source: RsaPublicKeySource): Promise<RsaPublicKey>;
}

// ---------------------------------------------------------------------------------------------
// PRF and key derivation
// ---------------------------------------------------------------------------------------------

/** RFC 2409 §5 authentication methods as far as SKEYID is concerned. */
export type Ikev1AuthKind = 'psk' | 'sig' | 'pke';

/** Inputs of the IKEv1 Phase 1 derivation chain (RFC 2409 §5, Appendix B). */
export interface Ikev1Phase1Input {
  readonly hash: HashAlg;
  readonly auth: Ikev1AuthKind;
  /** Pre-shared key (auth 'psk' only). */
  readonly psk?: Buffer;
  /** Nonce payload bodies Ni_b, Nr_b. */
  readonly ni: Buffer;
  readonly nr: Buffer;
  /** Cookies CKY-I, CKY-R (8 bytes each). */
  readonly ckyI: Buffer;
  readonly ckyR: Buffer;
  readonly gxy: SharedSecret;
  /**
   * Cipher key length in bytes; when given, SKEYID_e is expanded (Appendix B:
   * Ka = K1|K2|..., K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1)) and truncated.
   */
  readonly encKeyLength?: number;
  /** When both are given (with ivLength), the Phase 1 IV = hash(g^xi | g^xr) truncated. */
  readonly gxi?: Buffer;
  readonly gxr?: Buffer;
  /** Cipher block size in bytes (IV length). */
  readonly ivLength?: number;
}

export interface Ikev1Phase1Keys {
  readonly skeyid: Buffer;
  readonly skeyidD: Buffer;
  readonly skeyidA: Buffer;
  readonly skeyidE: Buffer;
  /** Present when encKeyLength was given. */
  readonly encKey?: Buffer;
  /** Present when gxi, gxr and ivLength were given. */
  readonly iv?: Buffer;
}

/** Quick Mode KEYMAT (RFC 2409 §5.5), one direction (one SPI). */
export interface Ikev1KeymatInput {
  readonly hash: HashAlg;
  readonly skeyidD: Buffer;
  /** g(qm)^xy with PFS; absent without PFS. */
  readonly gqmxy?: SharedSecret;
  /** IPsec protocol id (2 = AH, 3 = ESP, 4 = IPCOMP). */
  readonly protocol: number;
  readonly spi: Buffer;
  readonly ni: Buffer;
  readonly nr: Buffer;
  /** Bytes wanted; KEYMAT is expanded K1|K2|... (RFC 2409 §5.5) and truncated. */
  readonly length: number;
}

/** IKEv2 IKE SA keys (RFC 7296 §2.14). */
export interface Ikev2SaInput {
  readonly hash: HashAlg;
  readonly ni: Buffer;
  readonly nr: Buffer;
  readonly gir: SharedSecret;
  readonly spiI: Buffer;
  readonly spiR: Buffer;
  /** Bytes of DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr). */
  readonly length: number;
}

export interface Ikev2SaKeys {
  readonly skeyseed: Buffer;
  /** SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr, to be split by the caller. */
  readonly dkm: Buffer;
}

/** Child SA KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 §2.17). */
export interface Ikev2ChildInput {
  readonly hash: HashAlg;
  readonly skD: Buffer;
  readonly girNew?: SharedSecret;
  readonly ni: Buffer;
  readonly nr: Buffer;
  readonly length: number;
}

/** Rekeyed IKE SA: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) (RFC 7296 §2.18). */
export interface Ikev2RekeyInput {
  readonly hash: HashAlg;
  readonly skDOld: Buffer;
  readonly girNew: SharedSecret;
  readonly ni: Buffer;
  readonly nr: Buffer;
}

/**
 * PRF (HMAC-<hash>) and the IKE derivation chains. On the native path each chain is one call into
 * the addon; on the pkcs11 path an OpaqueSecret g^xy is fed through C_DigestKey.
 */
export interface KeyDerivation {
  readonly path: CryptoPath;
  prf(hash: HashAlg, key: Buffer, data: Buffer): Promise<Buffer>;
  /** prf+ (RFC 7296 §2.13), `length` bytes. */
  prfPlus(hash: HashAlg, key: Buffer, seed: Buffer, length: number): Promise<Buffer>;
  ikev1Phase1(input: Ikev1Phase1Input): Promise<Ikev1Phase1Keys>;
  ikev1Keymat(input: Ikev1KeymatInput): Promise<Buffer>;
  ikev2Sa(input: Ikev2SaInput): Promise<Ikev2SaKeys>;
  ikev2ChildKeymat(input: Ikev2ChildInput): Promise<Buffer>;
  ikev2RekeySkeyseed(input: Ikev2RekeyInput): Promise<Buffer>;
}

// ---------------------------------------------------------------------------------------------
// Ciphers for ISAKMP payloads, and random
// ---------------------------------------------------------------------------------------------

/** CBC ciphers for ISAKMP payload encryption. DES and Blowfish only when configured (legacy). */
export const CIPHER_ALGS = ['aes-cbc', '3des-cbc', 'des-cbc', 'blowfish-cbc'] as const;
export type CipherAlg = typeof CIPHER_ALGS[number];
export const LEGACY_CIPHERS: readonly CipherAlg[] = ['des-cbc', 'blowfish-cbc'];

/**
 * Raw CBC without padding (IKE pads itself, RFC 2409 Appendix B); data must be a multiple of
 * the block size. Cheap per-packet work: synchronous.
 */
export interface CipherProvider {
  readonly path: CryptoPath;
  supports(alg: CipherAlg, keyLength: number): boolean;
  encrypt(alg: CipherAlg, key: Buffer, iv: Buffer, data: Buffer): Buffer;
  decrypt(alg: CipherAlg, key: Buffer, iv: Buffer, data: Buffer): Buffer;
}

export interface RandomSource {
  readonly path: CryptoPath;
  /** Fills and returns `buf`. */
  fill(buf: Buffer): Buffer;
}

// ---------------------------------------------------------------------------------------------
// A backend: one path's implementations of every primitive class
// ---------------------------------------------------------------------------------------------

/**
 * A PKCS#11 token a backend holds open, as `ikeadm token login|logout` (solaris-ike.md §3.2
 * SET_PIN/DEL_PIN) drives it. Implementations never put the PIN in an error or log message.
 */
export interface TokenLogin {
  /** CKA label of the token (C_GetTokenInfo label, trailing spaces removed). */
  readonly label: string;
  /** The token's login state for this process, as the token reports it. */
  readonly loggedIn: boolean;
  /**
   * C_Login as the user. @returns 'already-logged-in' when a login was in force (the PIN was not
   * checked by the token). @throws OakleyError IKE_ERR_TOKEN_PIN for a wrong or unusable PIN
   */
  login(pin: string): Promise<'logged-in' | 'already-logged-in'>;
  /** C_Logout: private keys on the token are locked until the next login. */
  logout(): Promise<'logged-out' | 'not-logged-in'>;
}

export interface CryptoBackend {
  readonly path: CryptoPath;
  readonly ke: KeyExchangeProvider;
  readonly rsa: RsaProvider;
  readonly kdf: KeyDerivation;
  readonly cipher: CipherProvider;
  readonly random: RandomSource;
  /** The PKCS#11 tokens this backend opened (pkcs11 path); absent or empty for the others. */
  readonly tokens?: readonly TokenLogin[];
  /** Release sessions, threads, token handles. Idempotent. */
  close(): Promise<void>;
}
