/**
 * Which crypto path serves which operation class, and the settings of the token path. Plain data,
 * so configuration code can use it without loading any backend.
 */
import type { CryptoPath } from './types';

/** Token settings of the pkcs11 path. */
export interface Pkcs11Settings {
  /** PKCS#11 library (Solaris pkcs11_path). Default: SoftHSM2's module when a token is made here. */
  module?: string;
  /** Label of the token to use. Absent: a private temporary SoftHSM2 token is created (tools, tests). */
  tokenLabel?: string;
  /** User PIN of the token. Never logged. */
  pin?: string;
  /** Keep g^xy on the token and derive through C_DigestKey. */
  keepSecretOnToken?: boolean;
  /** Random numbers from C_GenerateRandom. */
  tokenRandom?: boolean;
  /** Re-initialise the library after this many token operations (SoftHSM 2.6.1 memory retention). */
  reinitializeAfter?: number;
  /**
   * Key generation and derivation through pkcs11js' async calls (default true: the event loop is
   * not blocked). pkcs11js 2.1.7 leaks the copied templates of those calls (its issue #120,
   * 2-3 KB per DH exchange measured here), so a long-running daemon on SoftHSM may prefer false.
   */
  asyncKeyOps?: boolean;
}

export interface BackendOptions {
  pkcs11?: Pkcs11Settings;
  /** MODP private-exponent length applied to every key exchange of a suite (KeOptions.exponentBits). */
  exponentBits?: number | 'full';
}

/** Operation classes that take a path each. */
export const OPERATION_CLASSES = ['ke', 'rsa', 'prf', 'cipher', 'random'] as const;
export type OperationClass = typeof OPERATION_CLASSES[number];

export type PathChoice = Record<OperationClass, CryptoPath>;

