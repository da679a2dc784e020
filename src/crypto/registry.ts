/**
 * Choosing crypto paths. A backend is one path's implementation of every primitive class; a suite
 * picks a backend per operation class (key exchange, RSA, PRF/derivation, payload cipher,
 * random), as the configuration says (src/policy/crypto-config.ts).
 *
 * Every backend that a suite is about to use first passes known-answer tests (src/crypto/self-test.ts);
 * one that fails is not used, the failure is logged, and the class falls back to the node path. A
 * native addon that cannot load falls back the same way, with one warning.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createNativeBackend } from './native';
import { createNodeBackend } from './node';
import { createSoftHsmToken, findSoftHsmModule, openPkcs11Backend } from './pkcs11';
import { selfTest } from './self-test';
import { CryptoErr, OakleyError } from '../util/errors';
import { OPERATION_CLASSES, type BackendOptions, type OperationClass, type PathChoice, type Pkcs11Settings } from './paths';
import type {
  CipherProvider, CryptoBackend, CryptoPath, KeyDerivation, KeyExchangeProvider, RandomSource, RsaProvider, TokenLogin,
} from './types';

export { OPERATION_CLASSES, type BackendOptions, type OperationClass, type PathChoice, type Pkcs11Settings } from './paths';

export interface CryptoSuite {
  readonly ke: KeyExchangeProvider;
  readonly rsa: RsaProvider;
  readonly kdf: KeyDerivation;
  readonly cipher: CipherProvider;
  readonly random: RandomSource;
  /** The path actually serving each class (after any fallback). */
  readonly paths: Readonly<PathChoice>;
  /** Why a class does not run on the path that was asked for. */
  readonly fallbacks: readonly string[];
  /**
   * The PKCS#11 tokens the suite's backends opened (none without the pkcs11 path), for `ikeadm
   * token login|logout`. A token opened without a PIN starts logged out: its private keys are
   * unusable until login, as with Solaris in.iked.
   */
  readonly tokens: readonly TokenLogin[];
  close(): Promise<void>;
}

export type Logger = (level: 'warning' | 'info', message: string) => void;

const defaultLogger: Logger = (level, message) => {
  if (level === 'warning') process.emitWarning(message, { code: 'OAKLEY_CRYPTO_PATH' });
};

/**
 * Opens one path's backend. `native` rejects with IKE_ERR_NATIVE_UNAVAILABLE when the addon does
 * not load (the suite turns that into a fallback). `pkcs11` without a token label makes a private
 * temporary SoftHSM2 token that close() deletes.
 */
export async function openBackend(path: CryptoPath, options: BackendOptions = {}): Promise<CryptoBackend> {
  switch (path) {
    case 'node':
      return createNodeBackend();
    case 'native': {
      const b = createNativeBackend();
      if (!b) throw new OakleyError(CryptoErr.NATIVE_UNAVAILABLE, 'the native addon (build/Release/oakley.node) could not be loaded');
      return b;
    }
    case 'pkcs11':
      return openPkcs11(options.pkcs11 ?? {});
  }
}

async function openPkcs11(settings: Pkcs11Settings): Promise<CryptoBackend> {
  if (settings.tokenLabel !== undefined) {
    return openPkcs11Backend({
      module: settings.module ?? findSoftHsmModule(), tokenLabel: settings.tokenLabel, pin: settings.pin,
      keepSecretOnToken: settings.keepSecretOnToken, tokenRandom: settings.tokenRandom, reinitializeAfter: settings.reinitializeAfter,
      asyncKeyOps: settings.asyncKeyOps,
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'oakley-token-'));
  try {
    const token = await createSoftHsmToken({ dir, label: 'oakley-scratch', soPin: '87654321', pin: '1234' });
    const backend = await openPkcs11Backend({
      module: token.module, tokenLabel: token.label, pin: token.pin,
      keepSecretOnToken: settings.keepSecretOnToken, tokenRandom: settings.tokenRandom, reinitializeAfter: settings.reinitializeAfter,
      asyncKeyOps: settings.asyncKeyOps,
    });
    return {
      ...backend,
      path: backend.path, ke: backend.ke, rsa: backend.rsa, kdf: backend.kdf, cipher: backend.cipher, random: backend.random,
      tokens: backend.tokens,
      async close() {
        try {
          await backend.close();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Opens the backends a path choice needs, self-tests each, and assembles a suite. A backend that
 * fails to open or fails its known-answer tests is replaced by node for the classes that wanted it.
 */
export async function openCryptoSuite(
  choice: PathChoice, options: BackendOptions = {}, log: Logger = defaultLogger,
  open: (path: CryptoPath, options: BackendOptions) => Promise<CryptoBackend> = openBackend,
): Promise<CryptoSuite> {
  const backends = new Map<CryptoPath, CryptoBackend>();
  const fallbacks: string[] = [];
  const node = createNodeBackend();
  backends.set('node', node);
  const wanted = new Set(Object.values(choice));
  for (const path of wanted) {
    if (path === 'node') continue;
    let backend: CryptoBackend | undefined;
    try {
      backend = await open(path, options);
      const failures = await selfTest(backend);
      if (failures.length > 0) {
        await backend.close();
        throw new OakleyError(CryptoErr.NATIVE, `known-answer tests failed: ${failures.join('; ')}`);
      }
      backends.set(path, backend);
    } catch (e) {
      const why = `the ${path} crypto path is not available (${(e as Error).message}); using node:crypto instead`;
      fallbacks.push(why);
      log('warning', why);
    }
  }
  const tokens = [...new Set([...backends.values()].flatMap((b) => b.tokens ?? []))];
  for (const t of tokens) {
    if (!t.loggedIn) {
      log('warning', `PKCS#11 token "${t.label}" is open without a login (no PIN given): private keys on it stay locked ` +
        `until 'ikeadm token login ${t.label}' (or until a PIN stored with 'ikecert certlocal -p' logs it in)`);
    }
  }
  const pick = (cls: OperationClass): CryptoBackend => backends.get(choice[cls]) ?? node;
  const paths = Object.fromEntries(OPERATION_CLASSES.map((c) => [c, pick(c).path])) as PathChoice;
  for (const cls of OPERATION_CLASSES) log('info', `crypto path for ${cls}: ${paths[cls]}`);
  const ke = pick('ke').ke;
  const exponentBits = options.exponentBits;
  const keWithPolicy: KeyExchangeProvider = exponentBits === undefined ? ke : {
    path: ke.path,
    supports: (g) => ke.supports(g),
    create: (g, o) => ke.create(g, { exponentBits, ...o }),
  };
  return {
    ke: keWithPolicy, rsa: pick('rsa').rsa, kdf: pick('prf').kdf, cipher: pick('cipher').cipher, random: pick('random').random,
    paths, fallbacks, tokens,
    async close() {
      for (const b of backends.values()) await b.close();
    },
  };
}
