/**
 * A small structured logger. Every line has a level, a message and flat fields; output is either
 * text (`2024-01-01T00:00:00.000Z info  ike_sa: CREATED -> CONNECTING (initiate) sa=1`, debug lines
 * `... debug phase1 ...`) or one JSON object per line, serialised by pino.
 *
 * Debug lines are filtered by the Solaris debug categories (§3.5): each logger has a category and
 * the root holds the mask; error/warn/info are always written.
 *
 * Key material is wrapped in `KeyMaterial` (see `keymat()`), which renders as bytes only when the
 * logger's privilege is `keymat` (Solaris `in.iked -p keymat`, solaris-ike.md §3.4). At `base` and
 * `modkeys` only the length is shown. A KeyMaterial also redacts itself in `String()`, `JSON` and
 * `util.inspect`, so an accidental `console.log` does not leak it either. Fields named like a PIN or
 * password are never rendered, at any privilege.
 */
import fs from 'node:fs';
import { inspect } from 'node:util';

import pino from 'pino';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** Solaris privilege levels (solaris-ike.md §3.4): 0 base, 1 modkeys, 2 keymat. */
export const PRIVILEGES = ['base', 'modkeys', 'keymat'] as const;
export type Privilege = typeof PRIVILEGES[number];

/**
 * Parses a privilege as Solaris does: nickname (case-insensitive) or a number read like
 * `strtol(…, 0)` (0, 1, 2; hex 0x.. and octal 0.. accepted). @returns undefined when invalid
 */
export function parsePrivilege(text: string): Privilege | undefined {
  const t = text.trim().toLowerCase();
  const byName = (PRIVILEGES as readonly string[]).indexOf(t);
  if (byName >= 0) return PRIVILEGES[byName];
  let n: number;
  if (/^0x[0-9a-f]+$/.test(t)) n = parseInt(t.slice(2), 16);
  else if (/^0[0-7]+$/.test(t)) n = parseInt(t.slice(1), 8);
  else if (/^[0-9]+$/.test(t)) n = parseInt(t, 10);
  else return undefined;
  return PRIVILEGES[n];
}

const REDACTED_KIND = Symbol.for('oakley.KeyMaterial');

/** Bytes that are keying material (SKEYID*, encryption keys, IVs, preshared keys, g^xy). */
export class KeyMaterial {
  readonly [REDACTED_KIND] = true;
  constructor(readonly bytes: Buffer, readonly label?: string) {}

  /** Hex when `privilege` is keymat, otherwise `<redacted N bytes>`. */
  render(privilege: Privilege): string {
    return privilege === 'keymat' ? this.bytes.toString('hex') : `<redacted ${this.bytes.length} bytes>`;
  }

  toString(): string {
    return this.render('base');
  }

  toJSON(): string {
    return this.render('base');
  }

  [inspect.custom](): string {
    return this.render('base');
  }

  static is(v: unknown): v is KeyMaterial {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[REDACTED_KIND] === true;
  }
}

/** Marks bytes as key material for logging. */
export function keymat(bytes: Buffer, label?: string): KeyMaterial {
  return new KeyMaterial(bytes, label);
}

/**
 * Renders key bytes for a privilege: hex only at `keymat`, never otherwise. For `ikeadm dump`
 * style output that is not a log line.
 */
export function renderKey(bytes: Buffer | undefined, privilege: Privilege): string {
  if (!bytes) return '-';
  return new KeyMaterial(bytes).render(privilege);
}

export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Solaris debug categories (solaris-ike.md §3.5) and their bits in the debug mask. A logger has
 * one category; its debug() lines are written only when that bit is in the mask. The bit values
 * are Solaris's, so `ikeadm set debug 0x18` and `set debug phase1+phase2` mean the same thing
 * (src/control/commands.ts holds the nicknames and descriptions; a unit test checks they agree).
 */
export const LOG_CATEGORIES = {
  cert: 0x0001, key: 0x0002, op: 0x0004, phase1: 0x0008, phase2: 0x0010, pfkey: 0x0020,
  policy: 0x0040, prop: 0x0080, door: 0x0100, config: 0x0200, label: 0x0400,
} as const;
export type LogCategory = keyof typeof LOG_CATEGORIES;
/** Every category (Solaris `all`). */
export const DEBUG_MASK_ALL = 0x07ff;

export interface LogRecord {
  readonly time: Date;
  readonly level: LogLevel;
  /** The logger's category (for debug lines, the reason it was written). */
  readonly category: LogCategory;
  readonly msg: string;
  readonly fields: Readonly<Record<string, string | number | boolean | null>>;
}

export type LogSink = (line: string, record: LogRecord) => void;

export interface LoggerOptions {
  /** Lowest of error/warn/info written (default info). `debug` means every debug category too. */
  level?: LogLevel;
  /** Debug category bits (LOG_CATEGORIES); default all when level is debug, else 0. */
  debugMask?: number;
  /** One JSON object per line (via pino) instead of text. */
  json?: boolean;
  /** Privilege for rendering KeyMaterial (default base: keys never rendered). */
  privilege?: Privilege;
  /** Line sink (default: process.stderr). */
  sink?: LogSink;
  /** Time source for the timestamps (default: now). */
  time?: () => Date;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Field names whose values are secrets that no privilege level shows (a token PIN, a password). */
const SECRET_FIELD = /^(pin|so_?pin|user_?pin|password|passphrase)$/i;
/** A plain-text field value quoted (JSON string syntax) when it holds these. */
const NEEDS_QUOTES = /[\s"=]/;

interface LoggerCore {
  level: LogLevel;
  debugMask: number;
  privilege: Privilege;
  sink: LogSink;
  time: () => Date;
  /** Set with json: pino serialises the line and hands it to `sink`. */
  pino?: pino.Logger;
  /** The record pino is serialising (pino's stream sees only the finished line). */
  pending?: LogRecord;
}

/** pino writing one line at a time into the core's sink (synchronously: nothing is buffered). */
function jsonWriter(core: LoggerCore): pino.Logger {
  const stream = {
    write(line: string): void {
      core.sink(line.endsWith('\n') ? line.slice(0, -1) : line, core.pending!);
    },
  };
  return pino({
    level: 'debug', base: null, timestamp: false,
    formatters: { level: (label) => ({ level: label }) },
  }, stream);
}

/**
 * A logger: error/warn/info lines are written at or above `level`; debug lines when the logger's
 * category is in the debug mask. Children share level, mask, sink and privilege with their root,
 * so `ikeadm set debug` and `set priv` act on every component at once.
 */
export class Logger {
  private readonly core: LoggerCore;
  private readonly context: LogFields;
  /** This logger's debug category (default op, Solaris's operational category). */
  readonly category: LogCategory;

  constructor(opts: LoggerOptions = {}, context: LogFields = {}, core?: LoggerCore, category: LogCategory = 'op') {
    if (core) {
      this.core = core;
    } else {
      const level = opts.level ?? 'info';
      this.core = {
        level: level === 'debug' ? 'info' : level,
        debugMask: (opts.debugMask ?? (level === 'debug' ? DEBUG_MASK_ALL : 0)) >>> 0,
        privilege: opts.privilege ?? 'base',
        sink: opts.sink ?? ((line) => process.stderr.write(line + '\n')),
        time: opts.time ?? (() => new Date()),
      };
      if (opts.json) this.core.pino = jsonWriter(this.core);
    }
    this.context = context;
    this.category = category;
  }

  /**
   * A logger that adds `fields` to every line; shares level, mask, sink and privilege with its
   * parent. @param category its debug category (default: the parent's)
   */
  child(fields: LogFields, category?: LogCategory): Logger {
    return new Logger({}, { ...this.context, ...fields }, this.core, category ?? this.category);
  }

  /** The same logger in another debug category: `engine.log.cat('phase2').debug(...)`. */
  cat(category: LogCategory): Logger {
    return category === this.category ? this : new Logger({}, this.context, this.core, category);
  }

  /** `debug` when any debug category is on, else the threshold for error/warn/info. */
  get level(): LogLevel {
    return this.core.debugMask !== 0 ? 'debug' : this.core.level;
  }

  /** `debug` turns every category on; anything else turns them all off and sets the threshold. */
  set level(l: LogLevel) {
    if (l === 'debug') {
      this.core.debugMask = DEBUG_MASK_ALL;
      this.core.level = 'info';
    } else {
      this.core.debugMask = 0;
      this.core.level = l;
    }
  }

  /** The debug mask (Solaris debug level, §3.5). Bits outside LOG_CATEGORIES are kept but unused. */
  get debugMask(): number {
    return this.core.debugMask;
  }

  set debugMask(mask: number) {
    this.core.debugMask = mask >>> 0;
  }

  /** Replaces where lines go (for every logger sharing this root), e.g. `ikeadm set debug N FILE`. */
  setSink(sink: LogSink): void {
    this.core.sink = sink;
  }

  get privilege(): Privilege {
    return this.core.privilege;
  }

  /** Solaris allows lowering the privilege at run time only (§3.4); raising is refused. */
  lowerPrivilege(p: Privilege): boolean {
    if (PRIVILEGES.indexOf(p) > PRIVILEGES.indexOf(this.core.privilege)) return false;
    this.core.privilege = p;
    return true;
  }

  /** Whether a line at `level` would be written (debug: in this logger's category, or `category`). */
  enabled(level: LogLevel, category: LogCategory = this.category): boolean {
    if (level === 'debug') return (this.core.debugMask & LOG_CATEGORIES[category]) !== 0;
    return RANK[level] <= RANK[this.core.level];
  }

  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }

  /** Renders key bytes under this logger's privilege (see renderKey). */
  key(bytes: Buffer | undefined): string {
    return renderKey(bytes, this.core.privilege);
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    // Context first, then the line's fields (a field of the same name replaces the context's value).
    const flat: Record<string, string | number | boolean | null> = {};
    for (const k in this.context) flat[k] = SECRET_FIELD.test(k) ? '<redacted>' : this.renderValue(this.context[k]);
    if (fields) for (const k in fields) flat[k] = SECRET_FIELD.test(k) ? '<redacted>' : this.renderValue(fields[k]);
    const record: LogRecord = { time: this.core.time(), level, category: this.category, msg, fields: flat };
    const p = this.core.pino;
    if (p) {
      // Only debug lines carry `cat`: they are the ones the category let through.
      this.core.pending = record;
      try {
        p[level]({ time: record.time.toISOString(), ...(level === 'debug' ? { cat: this.category } : {}), ...flat }, msg);
      } finally {
        this.core.pending = undefined;
      }
      return;
    }
    let line = `${record.time.toISOString()} ${level === 'debug' ? `debug ${this.category}` : level.padEnd(5)} ${msg}`;
    for (const k in flat) {
      const v = flat[k];
      line += ` ${k}=${typeof v === 'string' && NEEDS_QUOTES.test(v) ? JSON.stringify(v) : String(v)}`;
    }
    this.core.sink(line, record);
  }

  private renderValue(v: unknown): string | number | boolean | null {
    if (v === null || v === undefined) return null;
    if (KeyMaterial.is(v)) return v.render(this.core.privilege);
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'bigint') return v.toString();
    // Plain buffers are protocol data (cookies, SPIs, hashes of messages), never keys: keys are
    // passed as KeyMaterial.
    if (Buffer.isBuffer(v)) return v.toString('hex');
    if (v instanceof Error) return `${(v as { code?: string }).code ?? v.name}: ${v.message}`;
    return inspect(withoutSecrets(v, 3), { depth: 3, breakLength: Infinity });
  }
}

/** A copy of plain objects/arrays with SECRET_FIELD values replaced (settings objects carry PINs). */
function withoutSecrets(v: unknown, depth: number): unknown {
  if (depth < 0 || typeof v !== 'object' || v === null || Buffer.isBuffer(v) || KeyMaterial.is(v)) return v;
  if (Array.isArray(v)) return v.map((x) => withoutSecrets(x, depth - 1));
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_FIELD.test(k) ? '<redacted>' : withoutSecrets(x, depth - 1)]));
}

/**
 * Where the daemon's lines go: stderr (the default, and `iked -d`), `--log FILE`, or the file named
 * by `ikeadm set debug LEVEL FILE` from then on. Writes are synchronous, so a line is on disk (or
 * in the pipe) before the next packet is handled and nothing is lost on a crash.
 */
export class LogDestination {
  private fd: number | undefined;
  private path: string | undefined;

  /** @param fd an open file (we close it on switch/close) or undefined for stderr */
  constructor(fd?: number, path?: string) {
    this.fd = fd;
    this.path = path;
  }

  /** The sink to give a Logger; follows switchTo(). */
  readonly sink: LogSink = (line) => {
    if (this.fd === undefined) process.stderr.write(line + '\n');
    else fs.writeSync(this.fd, line + '\n');
  };

  /** The file being written, or undefined for stderr. */
  get file(): string | undefined {
    return this.path;
  }

  /**
   * Whether lines reach anything: a file, or a stderr that is open and is not /dev/null (a service
   * started with its stderr discarded has, in Solaris's words, no destination).
   */
  hasDestination(): boolean {
    if (this.fd !== undefined) return true;
    try {
      const err = fs.fstatSync(2);
      const devNull = fs.statSync('/dev/null');
      return !(err.isCharacterDevice() && err.rdev === devNull.rdev);
    } catch {
      return false;
    }
  }

  /**
   * Opens `path` as Solaris opens a debug log (O_RDWR|O_CREAT|O_APPEND, mode 0600) and sends every
   * later line there, closing the file written before (not stderr). The daemon opens it on behalf
   * of a control-socket client, so a symbolic link at `path` and anything but a regular file are
   * refused: a request cannot make it append to a device or follow a link planted in /tmp.
   * @throws the open error (ENOENT, EACCES, ELOOP for a link, EINVAL for a non-regular file)
   */
  switchTo(path: string): void {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW, 0o600);
    try {
      if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    const old = this.fd;
    this.fd = fd;
    this.path = path;
    if (old !== undefined) fs.closeSync(old);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.path = undefined;
  }
}

/** A logger that writes nothing (default for components built without one). */
export function nullLogger(): Logger {
  return new Logger({ level: 'error', sink: () => undefined });
}

/** A logger that collects lines in memory, for tests. */
export function memoryLogger(opts: Omit<LoggerOptions, 'sink'> = {}): { log: Logger; lines: string[]; records: LogRecord[] } {
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const log = new Logger({
    level: 'debug',
    time: () => new Date(0),
    ...opts,
    sink: (line, rec) => {
      lines.push(line);
      records.push(rec);
    },
  });
  return { log, lines, records };
}
