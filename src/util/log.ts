/**
 * A small structured logger. Every line has a level, a message and flat fields; output is either
 * text (`2024-01-01T00:00:00.000Z info  ike_sa: CREATED -> CONNECTING (initiate) sa=1`) or one JSON
 * object per line.
 *
 * Key material is wrapped in `KeyMaterial` (see `keymat()`), which renders as bytes only when the
 * logger's privilege is `keymat` (Solaris `in.iked -p keymat`, solaris-ike.md §3.4). At `base` and
 * `modkeys` only the length is shown. A KeyMaterial also redacts itself in `String()`, `JSON` and
 * `util.inspect`, so an accidental `console.log` does not leak it either.
 */
import { inspect } from 'node:util';

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

export interface LogRecord {
  readonly time: Date;
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: Readonly<Record<string, string | number | boolean | null>>;
}

export interface LoggerOptions {
  /** Lowest level written (default info). */
  level?: LogLevel;
  /** One JSON object per line instead of text. */
  json?: boolean;
  /** Privilege for rendering KeyMaterial (default base: keys never rendered). */
  privilege?: Privilege;
  /** Line sink (default: process.stderr). */
  sink?: (line: string, record: LogRecord) => void;
  /** Time source for the timestamps (default: now). */
  time?: () => Date;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

interface LoggerCore {
  level: LogLevel;
  json: boolean;
  privilege: Privilege;
  sink: (line: string, record: LogRecord) => void;
  time: () => Date;
}

export class Logger {
  private readonly core: LoggerCore;
  private readonly context: LogFields;

  constructor(opts: LoggerOptions = {}, context: LogFields = {}, core?: LoggerCore) {
    this.core = core ?? {
      level: opts.level ?? 'info',
      json: opts.json ?? false,
      privilege: opts.privilege ?? 'base',
      sink: opts.sink ?? ((line) => process.stderr.write(line + '\n')),
      time: opts.time ?? (() => new Date()),
    };
    this.context = context;
  }

  /** A logger that adds `fields` to every line; shares level, sink and privilege with its parent. */
  child(fields: LogFields): Logger {
    return new Logger({}, { ...this.context, ...fields }, this.core);
  }

  get level(): LogLevel {
    return this.core.level;
  }

  set level(l: LogLevel) {
    this.core.level = l;
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

  enabled(level: LogLevel): boolean {
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
    const flat: Record<string, string | number | boolean | null> = {};
    for (const [k, v] of Object.entries({ ...this.context, ...fields })) flat[k] = this.renderValue(v);
    const record: LogRecord = { time: this.core.time(), level, msg, fields: flat };
    let line: string;
    if (this.core.json) {
      line = JSON.stringify({ time: record.time.toISOString(), level, msg, ...flat });
    } else {
      const parts = Object.entries(flat).map(([k, v]) => `${k}=${typeof v === 'string' && /[\s"=]/.test(v) ? JSON.stringify(v) : String(v)}`);
      line = `${record.time.toISOString()} ${level.padEnd(5)} ${msg}${parts.length ? ' ' + parts.join(' ') : ''}`;
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
    return inspect(v, { depth: 3, breakLength: Infinity });
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
