/**
 * Builds ikeadm result objects (commands.ts shapes) from the daemon's own state, so control
 * handlers stay one-liners: `get stats` from the engine's counters (§7.1, counter names set by
 * IkeSa.setState), `dump p2` from the kernel's SA dump, `set debug` on the logger.
 */
import { isAbsolute } from 'node:path';

import { findSoftHsmModule } from '../crypto/pkcs11';
import type { CryptoSuite } from '../crypto/registry';
import type { MemorySaDump } from '../kernel/memory';
import type { Counters } from '../util/counters';
import { OakleyError } from '../util/errors';
import type { LogDestination, Logger } from '../util/log';
import type { P2Info, StatsResult } from './commands';
import { ControlErr } from './frame';

/** Solaris IKE_ERR_NO_DESC: `set debug` would turn debugging on with nowhere to write it. */
export const NoDestination = 'IKE_ERR_NO_DESC';

/**
 * The PKCS#11 library `get stats` names (§7.1 st_pkcs11_libname): set only when some operation
 * class runs on a token. The library is the crypto settings' module, else the `pkcs11_path`
 * global, else SoftHSM2's module (what openCryptoSuite loads when neither is set).
 */
export function pkcs11Library(crypto: Pick<CryptoSuite, 'paths'>, module?: string, configuredPath?: string): string | undefined {
  if (!Object.values(crypto.paths).includes('pkcs11')) return undefined;
  return module ?? configuredPath ?? findSoftHsmModule();
}

/**
 * `set debug LEVEL [FILE]` (§3.2 SET_DBG). Solaris's ikeadm opens FILE with the user's rights and
 * passes the descriptor over the door; a unix socket from Node cannot pass descriptors, so here
 * the DAEMON opens FILE (O_RDWR|O_CREAT|O_APPEND, 0600, no symlinks, regular files only; see
 * LogDestination.switchTo). Only the socket's owner can ask (mode 0600), and the path must be
 * absolute because the daemon does not know ikeadm's working directory. From then on every log
 * line (debug lines of the categories in LEVEL, and info/warn/error) goes to FILE.
 *
 * As on Solaris, turning debugging on from 0 with no FILE is refused when the daemon has no
 * destination (stderr closed or /dev/null). @returns { old, level } for the formatter
 */
export function setDebug(log: Logger, dest: LogDestination, args: Readonly<Record<string, unknown>>): { old: number; level: number; file?: string } {
  const level = args.level;
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level > 0xffffffff) {
    throw new OakleyError(ControlErr.BAD_ARGS, `set debug needs a level from 0 to 0xffffffff, not ${JSON.stringify(level)}`);
  }
  const old = log.debugMask;
  const file = args.file;
  if (file !== undefined) {
    if (typeof file !== 'string' || !isAbsolute(file)) {
      throw new OakleyError(ControlErr.BAD_ARGS, `the daemon opens the debug file itself, so give an absolute path (not ${JSON.stringify(file)})`);
    }
    try {
      dest.switchTo(file);
    } catch (e) {
      throw new OakleyError(ControlErr.BAD_ARGS, `cannot open debug file ${file}: ${(e as Error).message}`);
    }
    log.setSink(dest.sink);
  } else if (old === 0 && level !== 0 && !dest.hasDestination()) {
    throw new OakleyError(NoDestination, 'No destination for debug output: the daemon has no log file and its stderr is discarded; name a file');
  }
  log.debugMask = level;
  log.info(`debug level changed from 0x${old.toString(16)} to 0x${(level >>> 0).toString(16)}${file ? ` (log now in ${String(file)})` : ''}`);
  return { old, level: level >>> 0, ...(typeof file === 'string' ? { file } : {}) };
}

/** `get stats` from the `p1.<role>.*` counters. */
export function statsFromCounters(c: Counters, pkcs11Library?: string): StatsResult {
  return {
    initP1Current: c.get('p1.initiator.current'),
    respP1Current: c.get('p1.responder.current'),
    initP1Total: c.get('p1.initiator.total'),
    respP1Total: c.get('p1.responder.total'),
    initP1Attempts: c.get('p1.initiator.attempts'),
    respP1Attempts: c.get('p1.responder.attempts'),
    initP1NoResp: c.get('p1.initiator.noresp'),
    initP1RespFail: c.get('p1.initiator.respfail'),
    respP1Fail: c.get('p1.responder.failed'),
    ...(pkcs11Library ? { pkcs11Library } : {}),
  };
}

/** `dump p2` from a kernel dump (never contains key bytes). */
export function p2FromKernelDump(dump: readonly MemorySaDump[]): P2Info[] {
  return dump.map((d) => ({
    protocol: d.key.protocol,
    spi: d.key.spi >>> 0,
    src: d.src,
    dst: d.key.dst,
    state: d.state,
    bytes: d.bytes,
    ...(d.direction ? { direction: d.direction } : {}),
    ...(d.mode ? { mode: d.mode } : {}),
    ...(d.encapsulation ? { encapsulation: d.encapsulation } : {}),
    ...(d.encryption ? { encryption: { alg: d.encryption.alg, keyBits: d.encryption.keyBits } } : {}),
    ...(d.integrity ? { integrity: { alg: d.integrity.alg, keyBits: d.integrity.keyBits } } : {}),
    ...(d.softRemaining !== undefined ? { softRemaining: d.softRemaining } : {}),
    ...(d.hardRemaining !== undefined ? { hardRemaining: d.hardRemaining } : {}),
  }));
}
