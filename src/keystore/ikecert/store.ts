/**
 * The on-disk stores ikecert manages under --root (default /etc/inet), laid out as in.iked reads
 * them (solaris-ike.md §0, §4.5; src/daemon/options.ts):
 *
 *   ROOT/ike/publickeys/<N>         certificates, DER, mode 0644
 *   ROOT/secret/ike.privatekeys/<N> private keys (PKCS#8 DER) or PKCS#11 hint files, mode 0600,
 *                                   directory 0700
 *   ROOT/ike/crls/<N>               CRLs, DER, mode 0644
 *
 * <N> is the lowest free slot number, claimed with open(O_CREAT|O_EXCL) from 0 upwards so two
 * ikecert runs cannot take the same slot. A private key file that group or others can access, or
 * that another user owns, is refused ("Insecure permissions"), as Solaris skips such keys.
 */
import fs from 'node:fs';
import path from 'node:path';

import { OakleyError } from '../../util/errors';

export const STORE_ERR = 'IKE_ERR_STORE';
/** Solaris ignores certificate and key files above this size and empty ones (§4.5). */
export const MAX_FILE = 100_000;

export interface StoreDirs {
  readonly root: string;
  readonly publicKeys: string;
  readonly privateKeys: string;
  readonly crls: string;
  readonly config: string;
}

export function storeDirs(root: string): StoreDirs {
  return {
    root,
    publicKeys: path.join(root, 'ike', 'publickeys'),
    privateKeys: path.join(root, 'secret', 'ike.privatekeys'),
    crls: path.join(root, 'ike', 'crls'),
    config: path.join(root, 'ike', 'config'),
  };
}

/** Creates a store directory if missing: secret ones 0700 (with their parent), public 0755. */
export function ensureDir(dir: string, secret: boolean): void {
  if (secret) fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  fs.mkdirSync(dir, { recursive: true, mode: secret ? 0o700 : 0o755 });
}

/** Slot names in order: numeric ones by value, then the rest by name (dot files ignored). */
export function listSlots(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new OakleyError(STORE_ERR, `cannot list ${dir}: ${(e as Error).message}`);
  }
  const num = (s: string): number => (/^\d+$/.test(s) ? Number(s) : Infinity);
  return names.filter((n) => !n.startsWith('.')).sort((a, b) => num(a) - num(b) || a.localeCompare(b));
}

/**
 * Writes `data` into the lowest free slot of `dir` (created if needed) with `mode`.
 * @returns the slot name
 */
export function writeNewSlot(dir: string, data: Buffer | string, mode: number, secret: boolean): string {
  ensureDir(dir, secret);
  for (let n = 0; n < 100_000; n++) {
    const file = path.join(dir, String(n));
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new OakleyError(STORE_ERR, `cannot create ${file}: ${(e as Error).message}`);
    }
    try {
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      // The umask may have narrowed the mode; certificates must stay world-readable (0644).
      fs.fchmodSync(fd, mode);
    } finally {
      fs.closeSync(fd);
    }
    return String(n);
  }
  throw new OakleyError(STORE_ERR, `no free slot in ${dir}`);
}

/** A slot's file name, refusing names that would leave the directory. */
export function slotPath(dir: string, slot: string): string {
  if (!/^[^/\\]+$/.test(slot) || slot === '.' || slot === '..') throw new OakleyError(STORE_ERR, `"${slot}" is not a slot name`);
  return path.join(dir, slot);
}

/** Reads a slot, refusing non-files, empty files and (unless `noLimit`, for CRLs) files over MAX_FILE. */
export function readSlot(dir: string, slot: string, noLimit = false): Buffer {
  const file = slotPath(dir, slot);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OakleyError(STORE_ERR, `no slot ${slot} in ${dir}`);
    throw new OakleyError(STORE_ERR, `cannot read ${file}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new OakleyError(STORE_ERR, `${file} is not a regular file`);
  if (st.size === 0 || (!noLimit && st.size > MAX_FILE)) throw new OakleyError(STORE_ERR, `${file}: size ${st.size} is outside 1..${MAX_FILE} bytes`);
  return fs.readFileSync(file);
}

/**
 * Why a private key file may not be trusted: group/other permission bits, or an owner other
 * than the user running the tool (root on a production system). Undefined when it is fine.
 */
export function insecurity(file: string): string | undefined {
  const st = fs.statSync(file);
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (st.mode & 0o077) return `mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} lets group or others access it (chmod 0600 ${file})`;
  if (st.uid !== uid) return `owned by uid ${st.uid}, not by uid ${uid}`;
  return undefined;
}

/** Reads a private key slot, refusing insecure files with Solaris's wording plus the reason. */
export function readPrivateSlot(dir: string, slot: string): Buffer {
  const file = slotPath(dir, slot);
  const raw = readSlot(dir, slot);
  const why = insecurity(file);
  if (why) throw new OakleyError(STORE_ERR, `Insecure permissions, skipped untrusted private key ${slot}: ${why}`);
  return raw;
}

export function removeSlot(dir: string, slot: string): void {
  try {
    fs.unlinkSync(slotPath(dir, slot));
  } catch (e) {
    throw new OakleyError(STORE_ERR, `cannot remove slot ${slot} of ${dir}: ${(e as Error).message}`);
  }
}

/**
 * The PKCS#11 library ike/config names: its first `pkcs11_path "…"` outside p1_xform blocks
 * (solaris-ike.md §4.1). Undefined when there is none or the file is missing.
 */
export function configuredPkcs11Path(configFile: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(configFile, 'utf8');
  } catch {
    return undefined;
  }
  const noXforms = text.replace(/#[^\n]*/g, '').replace(/p1_xform\s*\{[^}]*\}/g, '');
  return /(?:^|\s)pkcs11_path\s+"([^"]+)"/.exec(noXforms)?.[1];
}
