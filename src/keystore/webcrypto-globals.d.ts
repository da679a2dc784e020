/**
 * The Web Crypto type names that @peculiar/x509's declarations use as globals (they come from
 * TypeScript's DOM lib, which this daemon does not load). Each is node's own webcrypto type, so
 * the library's signatures line up with `crypto.webcrypto` without pulling in window/document.
 */
import type { webcrypto } from 'node:crypto';

declare global {
  type BufferSource = webcrypto.BufferSource;
  type KeyUsage = webcrypto.KeyUsage;
  type Algorithm = webcrypto.Algorithm;
  type AlgorithmIdentifier = webcrypto.AlgorithmIdentifier;
  type Crypto = webcrypto.Crypto;
  type CryptoKey = webcrypto.CryptoKey;
  type CryptoKeyPair = webcrypto.CryptoKeyPair;
  type EcKeyGenParams = webcrypto.EcKeyGenParams;
  type EcKeyImportParams = webcrypto.EcKeyImportParams;
  type EcdsaParams = webcrypto.EcdsaParams;
  type RsaHashedImportParams = webcrypto.RsaHashedImportParams;
}
