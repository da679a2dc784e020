/**
 * The pkcs11 crypto path: every primitive class of the seam (types.ts) on a PKCS#11 token.
 *
 *   const b = await openPkcs11Backend({ module, tokenLabel: 'ike-a', pin });
 *   const ke = await b.ke.create(14); ... await ke.computeSharedSecret(peer); ke.dispose();
 *   await b.close();
 *
 * The token is chosen by label, never by slot index (slot IDs are hashes of the serial and the
 * free slot's index moves). Without a PIN the token opens logged out: only public sessions exist
 * and private token objects (long-term keys) are invisible until `token.login(pin)` (`ikeadm
 * token login`). Ephemeral session objects are CKA_PRIVATE=false either way (token.ts).
 */
import * as P from 'pkcs11js';

import { CryptoErr, OakleyError } from '../../util/errors';
import type { CryptoBackend, OpaqueSecret, TokenLogin, TokenObjectRef } from '../types';
import { Pkcs11CipherProvider, Pkcs11RandomSource } from './cipher';
import { Pkcs11KeyDerivation } from './kdf';
import { Pkcs11KeyExchangeProvider, TokenSecret } from './ke';
import { generateTokenRsaKeyPair, Pkcs11RsaProvider, type TokenRsaKeyPairOptions } from './rsa';
import { findSoftHsmModule } from './softhsm';
import { Pkcs11Token, sessionKeyTemplate } from './token';

export interface Pkcs11BackendOptions {
  /** PKCS#11 module path (Solaris: pkcs11_path). Default: the SoftHSM2 module, if installed. */
  module?: string;
  /** CKA label of the token (C_GetTokenInfo label). */
  tokenLabel: string;
  /** User PIN. Absent: public session only. Never logged, never in an error message. */
  pin?: string;
  /** g^xy stays on the token (sensitive, non-extractable); the KDF uses C_DigestKey. */
  keepSecretOnToken?: boolean;
  /** RandomSource uses C_GenerateRandom (default: node's CSPRNG). */
  tokenRandom?: boolean;
  /** Default private-exponent length for MODP groups (groups.exponentBitsFor policy). */
  exponentBits?: number | 'full';
  /**
   * Re-initialise the library (C_Finalize + C_Initialize + login) when idle after this many
   * operations that destroy session objects, to give back SoftHSM 2.6.1's retained memory
   * (see token.ts). 0 or absent: never.
   */
  reinitializeAfter?: number;
  /**
   * Run KE key generation and derivation on the thread pool (default true). false uses the
   * synchronous calls: the event loop waits for the token, but pkcs11js #120 (async key calls
   * leak their copied templates, never given back even by a re-initialise) is avoided.
   */
  asyncKeyOps?: boolean;
}

export class Pkcs11Backend implements CryptoBackend {
  readonly path = 'pkcs11' as const;
  readonly ke: Pkcs11KeyExchangeProvider;
  readonly rsa: Pkcs11RsaProvider;
  readonly kdf: Pkcs11KeyDerivation;
  readonly cipher: Pkcs11CipherProvider;
  readonly random: Pkcs11RandomSource;
  private closed = false;

  /** @internal use openPkcs11Backend */
  constructor(readonly token: Pkcs11Token, options: Pkcs11BackendOptions) {
    this.random = new Pkcs11RandomSource(token, options.tokenRandom ?? false);
    this.ke = new Pkcs11KeyExchangeProvider(token, {
      keepSecretOnToken: options.keepSecretOnToken ?? false,
      exponentBits: options.exponentBits,
      fill: (b) => this.random.fill(b),
      asyncKeyOps: options.asyncKeyOps ?? true,
    });
    this.rsa = new Pkcs11RsaProvider(token);
    this.kdf = new Pkcs11KeyDerivation(token);
    this.cipher = new Pkcs11CipherProvider(token);
  }

  get tokenLabel(): string {
    return this.token.label;
  }

  /** The token, for `ikeadm token login|logout` (Pkcs11Token.login/logout). */
  get tokens(): readonly TokenLogin[] {
    return [this.token];
  }

  /** Labels of all initialised tokens visible through the module. */
  tokenLabels(): string[] {
    return this.token.tokenLabels();
  }

  /** Generates a persistent, non-extractable RSA key pair on the token (needs the PIN). */
  generateRsaKeyPair(options: TokenRsaKeyPairOptions): Promise<TokenObjectRef> {
    return generateTokenRsaKeyPair(this.token, options);
  }

  /**
   * Imports bytes as a token-held g^xy (sensitive, non-extractable generic secret), as
   * computeSharedSecret returns with keepSecretOnToken. For known-answer tests and for secrets
   * computed elsewhere. The caller should wipe its copy.
   */
  importSharedSecret(value: Buffer): OpaqueSecret {
    const token = this.token;
    return token.runSync('shared secret import', (s) => {
      const h = token.track(token.p.C_CreateObject(s, [
        ...sessionKeyTemplate(token, P.CKO_SECRET_KEY, P.CKK_GENERIC_SECRET),
        { type: P.CKA_SIGN, value: true },
        { type: P.CKA_VALUE, value: Buffer.from(value) },
      ]));
      return new TokenSecret(token, h, token.generation, value.length);
    });
  }

  /** Counters for monitoring the SoftHSM retention mitigation. */
  stats(): { reinitializations: number; operationsSinceInit: number; generation: number; sessions: number } {
    return { reinitializations: this.token.reinitializations, operationsSinceInit: this.token.operationsSinceInit,
      generation: this.token.generation, sessions: this.token.sessionCount };
  }

  /** Destroys session objects, closes the sessions, C_Finalize when the last user of the module closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.token.drain();
    this.token.close();
  }
}

/**
 * Opens the token named by `tokenLabel` on `module`, logs in with `pin` (when given) on an anchor
 * session kept until close().
 *
 * @throws OakleyError NO_TOKEN (module missing, no token with that label: the message lists the
 *         labels present), TOKEN_PIN (wrong PIN; the PIN is never in the message), TOKEN (others)
 */
export async function openPkcs11Backend(options: Pkcs11BackendOptions): Promise<Pkcs11Backend> {
  const module = options.module ?? findSoftHsmModule();
  if (!module) throw new OakleyError(CryptoErr.NO_TOKEN, 'no PKCS#11 module given and SoftHSM2 is not installed');
  if (!options.tokenLabel) throw new OakleyError(CryptoErr.CONFIG, 'the pkcs11 path needs a token label');
  if (options.reinitializeAfter !== undefined && (!Number.isInteger(options.reinitializeAfter) || options.reinitializeAfter < 0)) {
    throw new OakleyError(CryptoErr.CONFIG, `reinitializeAfter must be a non-negative integer, got ${options.reinitializeAfter}`);
  }
  const token = new Pkcs11Token({ module, tokenLabel: options.tokenLabel, pin: options.pin, reinitializeAfter: options.reinitializeAfter });
  return new Pkcs11Backend(token, options);
}
