/**
 * Command-line parsing for ikecert's subcommands (getopt style, as the Solaris tools use): flags
 * may be clustered (`-lv`), an option's value may be attached (`-ks`, `-m2048`) or the next
 * argument, `-A` may repeat, and what is left (slots, certspecs, patterns) is positional. The
 * long options `--root DIR` and `--pkcs11-module PATH` are Oakley's. There is no option that
 * takes a PIN: PINs are read from the terminal or standard input only (pin.ts).
 */
import { OakleyError } from '../../util/errors';

export const USAGE_ERR = 'IKE_ERR_USAGE';

export interface ParsedArgs {
  readonly flags: ReadonlySet<string>;
  /** Last value of each value option (`-A` keeps all of them in `altNames`). */
  readonly values: ReadonlyMap<string, string>;
  readonly altNames: readonly string[];
  readonly positional: readonly string[];
  readonly root: string;
  readonly pkcs11Module?: string;
}

/**
 * @param flagLetters the option letters that take no value
 * @param valueLetters the option letters that take one
 * @throws OakleyError IKE_ERR_USAGE naming the option
 */
export function parseArgs(argv: readonly string[], flagLetters: string, valueLetters: string): ParsedArgs {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const altNames: string[] = [];
  const positional: string[] = [];
  let root = '/etc/inet';
  let pkcs11Module: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const longValue = (name: string): string => {
      if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
      const v = argv[++i];
      if (v === undefined || v === '') throw new OakleyError(USAGE_ERR, `${name} needs a value`);
      return v;
    };
    if (a === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (a === '--root' || a.startsWith('--root=')) { root = longValue('--root'); continue; }
    if (a === '--pkcs11-module' || a.startsWith('--pkcs11-module=')) { pkcs11Module = longValue('--pkcs11-module'); continue; }
    if (/^--(pin|so-pin|user-pin)/.test(a)) throw new OakleyError(USAGE_ERR, `${a.split('=')[0]}: PINs are never taken from the command line; they are prompted for`);
    if (a.startsWith('--')) throw new OakleyError(USAGE_ERR, `unknown option '${a}'`);
    // A lone "-" and negative numbers are not options; "!DNS=x" and "SLOT=1" are certspecs.
    if (!a.startsWith('-') || a === '-') { positional.push(a); continue; }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (flagLetters.includes(c)) { flags.add(c); continue; }
      if (!valueLetters.includes(c)) throw new OakleyError(USAGE_ERR, `unknown option '-${c}'`);
      let v = a.slice(j + 1);
      if (v === '') {
        const next = argv[++i];
        if (next === undefined) throw new OakleyError(USAGE_ERR, `option '-${c}' needs a value`);
        v = next;
      }
      if (c === 'A') altNames.push(v);
      else values.set(c, v);
      break;
    }
  }
  return { flags, values, altNames, positional, root, ...(pkcs11Module ? { pkcs11Module } : {}) };
}
