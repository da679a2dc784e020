/**
 * A private SoftHSM2 set-up for tests and tools: its own softhsm2.conf and token directory inside
 * a caller-chosen directory, never the system token store (/var/lib/softhsm/tokens).
 *
 * When SoftHSM reads its configuration: SoftHSM 2.6.1 reads SOFTHSM2_CONF (or the compiled-in
 * /etc/softhsm/softhsm2.conf) at C_Initialize and builds its slot list there. So:
 *  - SOFTHSM2_CONF must point at our file BEFORE the library is initialised (createSoftHsmToken
 *    sets process.env.SOFTHSM2_CONF, which the library reads through getenv at C_Initialize);
 *  - a token created with softhsm2-util AFTER C_Initialize in this process is invisible until
 *    C_Finalize + C_Initialize (pkcs11-softhsm.md §8). Create every token first, then open the
 *    backend. openPkcs11Backend's "token not found" error says so when the library was already
 *    initialised by another backend.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { CryptoErr, OakleyError } from '../../util/errors';

/** Where distributions install libsofthsm2.so: Debian/Ubuntu first, then multiarch and others. */
const SOFTHSM_MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/arm-linux-gnueabihf/softhsm/libsofthsm2.so',
  '/usr/lib/i386-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/lib/pkcs11/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

/**
 * Path of the SoftHSM2 PKCS#11 module, or undefined when it is not installed. The environment
 * variable SOFTHSM2_MODULE, when set to an existing file, wins.
 */
export function findSoftHsmModule(): string | undefined {
  const fromEnv = process.env.SOFTHSM2_MODULE;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  return SOFTHSM_MODULE_CANDIDATES.find((p) => existsSync(p));
}

export interface SoftHsmTokenOptions {
  /** Directory that will hold softhsm2.conf and tokens/ (created if missing). */
  readonly dir: string;
  readonly label: string;
  readonly soPin: string;
  readonly pin: string;
  /** Module path; default findSoftHsmModule(). */
  readonly module?: string;
}

export interface SoftHsmToken {
  /** PKCS#11 module (library) path, for openPkcs11Backend({ module }). */
  readonly module: string;
  readonly confPath: string;
  readonly tokenDir: string;
  readonly label: string;
  readonly pin: string;
}

/**
 * Writes `<dir>/softhsm2.conf` (token directory `<dir>/tokens/`, file object store,
 * slots.removable=false) unless it exists, points SOFTHSM2_CONF at it, and initialises a token in
 * the free slot with `softhsm2-util --init-token --free`. Several tokens can share one directory.
 *
 * @returns module path, config path and the token's label and user PIN
 * @throws OakleyError NO_TOKEN when SoftHSM2 is not installed, TOKEN when softhsm2-util fails
 *         (the PINs are never part of the message)
 */
export function createSoftHsmToken(options: SoftHsmTokenOptions): SoftHsmToken {
  const module = options.module ?? findSoftHsmModule();
  if (!module) throw new OakleyError(CryptoErr.NO_TOKEN, 'SoftHSM2 module libsofthsm2.so not found (install softhsm2)');
  const dir = resolve(options.dir);
  const tokenDir = join(dir, 'tokens');
  const confPath = join(dir, 'softhsm2.conf');
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  if (!existsSync(confPath)) {
    writeFileSync(confPath, [
      `directories.tokendir = ${tokenDir}/`,
      'objectstore.backend = file',
      // SoftHSM logs only through syslog(3); nothing is lost by keeping it quiet.
      'log.level = ERROR',
      'slots.removable = false',
      'slots.mechanisms = ALL',
      'library.reset_on_fork = false',
      '',
    ].join('\n'), { mode: 0o600 });
  }
  // Read by the library at C_Initialize (and by softhsm2-util below).
  process.env.SOFTHSM2_CONF = confPath;
  try {
    execFileSync('softhsm2-util', [
      '--init-token', '--free', '--label', options.label, '--so-pin', options.soPin, '--pin', options.pin,
      '--module', module,
    ], { env: { ...process.env, SOFTHSM2_CONF: confPath }, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; status?: number };
    let text = (err.stderr?.toString() ?? '').trim();
    for (const secret of [options.pin, options.soPin]) if (secret) text = text.split(secret).join('***');
    throw new OakleyError(CryptoErr.TOKEN, `softhsm2-util --init-token failed for "${options.label}" (status ${err.status}): ${text}`,
      { label: options.label });
  }
  return { module, confPath, tokenDir, label: options.label, pin: options.pin };
}
