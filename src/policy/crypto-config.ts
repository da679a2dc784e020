/**
 * Crypto-path settings in /etc/inet/ike/config: Solaris `pkcs11_path` and Oakley's extensions.
 *
 *   pkcs11_path "/usr/lib/softhsm/libsofthsm2.so"   Solaris: the PKCS#11 library. On its own it
 *                                                   means what it means on Solaris: public-key
 *                                                   (RSA) and Diffie-Hellman operations on the token.
 *   pkcs11_token "ike-a"                            Oakley: the token, by label (never by slot).
 *   crypto_path ke|rsa|prf|cipher|random|all node|native|pkcs11
 *                                                   Oakley: the path of one operation class.
 *                                                   Later lines override earlier ones.
 *   dh_exponent_bits N | full                       Oakley: MODP private-exponent length.
 *   pkcs11_secret_on_token yes|no                   Oakley: keep g^xy on the token and derive
 *                                                   SKEYID* through C_DigestKey (needs prf pkcs11).
 *   pkcs11_token_random yes|no                      Oakley: random numbers from C_GenerateRandom.
 *   pkcs11_reinit_after N                           Oakley: re-initialise the PKCS#11 library
 *                                                   after N token operations (SoftHSM 2.6.1 keeps
 *                                                   destroyed objects in memory until then); 0 = never.
 *   pkcs11_async_keyops yes|no                      Oakley: token key generation and derivation
 *                                                   on the thread pool (default yes; "no" avoids
 *                                                   pkcs11js' template leak but blocks the loop).
 *
 * Without any of these: key exchange, RSA and derivation on the native path (falling back to node
 * when the addon is missing), ciphers and random on node.
 *
 * Only these keywords are read here; other global parameters and rule blocks ({ ... }) are skipped
 * and belong to the configuration grammar of the daemon.
 */
import { CRYPTO_PATHS, type CryptoPath } from '../crypto/types';
import { OPERATION_CLASSES, type OperationClass, type PathChoice, type Pkcs11Settings } from '../crypto/paths';
import { configError, tokenize, type Token } from './lexer';

export interface CryptoConfig {
  readonly paths: PathChoice;
  readonly pkcs11: Pkcs11Settings;
  readonly exponentBits?: number | 'full';
}

export const DEFAULT_PATHS: Readonly<PathChoice> = { ke: 'native', rsa: 'native', prf: 'native', cipher: 'node', random: 'node' };

const YES_NO: Readonly<Record<string, boolean>> = { yes: true, true: true, no: false, false: false };

export function parseCryptoConfig(text: string, file: string): CryptoConfig {
  const tokens = tokenize(text, file);
  const paths: PathChoice = { ...DEFAULT_PATHS };
  const explicit = new Set<OperationClass>();
  const pkcs11: { -readonly [K in keyof Pkcs11Settings]: Pkcs11Settings[K] } = {};
  let exponentBits: number | 'full' | undefined;
  let depth = 0;
  let i = 0;

  const next = (after: Token, what: string): Token => {
    const t = tokens[++i];
    if (!t) throw configError(after.pos, `${after.text} needs ${what}, but the file ends`);
    return t;
  };
  const word = (after: Token, what: string, allowed: readonly string[], context = after.text): string => {
    const t = next(after, what);
    if (t.kind !== 'atom' || !allowed.includes(t.text)) {
      throw configError(t.pos, `${context}: expected ${what} (${allowed.join(', ')}), found "${t.text}"`);
    }
    return t.text;
  };
  const str = (after: Token, what: string): string => {
    const t = next(after, what);
    if (t.kind !== 'string' || t.text === '') throw configError(t.pos, `${after.text}: expected ${what} as a non-empty quoted string, found "${t.text}"`);
    return t.text;
  };
  const uint = (after: Token, what: string, min: number, max: number): number => {
    const t = next(after, what);
    if (t.kind !== 'atom' || !/^[0-9]+$/.test(t.text) || +t.text < min || +t.text > max) {
      throw configError(t.pos, `${after.text}: expected ${what} (a number from ${min} to ${max}), found "${t.text}"`);
    }
    return +t.text;
  };

  for (; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === '{') { depth++; continue; }
    if (t.kind === '}') {
      if (depth === 0) throw configError(t.pos, '"}" without a matching "{"');
      depth--;
      continue;
    }
    if (depth > 0 || t.kind !== 'atom') continue;
    switch (t.text) {
      case 'pkcs11_path': {
        const module = str(t, 'the PKCS#11 library path');
        if (pkcs11.module !== undefined && pkcs11.module !== module) {
          throw configError(t.pos, `pkcs11_path is already set to "${pkcs11.module}"; a second, different library is not allowed`);
        }
        pkcs11.module = module;
        break;
      }
      case 'pkcs11_token': pkcs11.tokenLabel = str(t, 'the token label'); break;
      case 'crypto_path': {
        const cls = word(t, 'an operation class', [...OPERATION_CLASSES, 'all']) as OperationClass | 'all';
        const path = word(tokens[i], 'a crypto path', CRYPTO_PATHS, `crypto_path ${cls}`) as CryptoPath;
        for (const c of cls === 'all' ? OPERATION_CLASSES : [cls]) {
          paths[c] = path;
          explicit.add(c);
        }
        break;
      }
      case 'dh_exponent_bits': {
        const v = next(t, 'a bit count or "full"');
        if (v.kind === 'atom' && v.text === 'full') exponentBits = 'full';
        else { i--; exponentBits = uint(t, 'the private-exponent length in bits', 128, 8191); }
        break;
      }
      case 'pkcs11_secret_on_token': pkcs11.keepSecretOnToken = YES_NO[word(t, 'yes or no', Object.keys(YES_NO))]; break;
      case 'pkcs11_token_random': pkcs11.tokenRandom = YES_NO[word(t, 'yes or no', Object.keys(YES_NO))]; break;
      case 'pkcs11_reinit_after': pkcs11.reinitializeAfter = uint(t, 'a count of token operations', 0, 1_000_000_000); break;
      case 'pkcs11_async_keyops': pkcs11.asyncKeyOps = YES_NO[word(t, 'yes or no', Object.keys(YES_NO))]; break;
      default: break; // another global parameter: not ours to read here
    }
  }
  if (depth > 0) throw configError(tokens[tokens.length - 1].pos, 'a "{" is not closed before the end of the file');

  // Solaris: with pkcs11_path, public-key and Oakley DH operations are offloaded to the token.
  if (pkcs11.module !== undefined) {
    for (const c of ['ke', 'rsa'] as const) if (!explicit.has(c)) paths[c] = 'pkcs11';
  }
  if (pkcs11.keepSecretOnToken && (paths.ke !== 'pkcs11' || paths.prf !== 'pkcs11')) {
    const at = tokens.find((x) => x.text === 'pkcs11_secret_on_token');
    throw configError(at!.pos, 'pkcs11_secret_on_token needs both "crypto_path ke pkcs11" and "crypto_path prf pkcs11"');
  }
  return { paths, pkcs11, exponentBits };
}
