/**
 * ike-cavp: run key-derivation and DH known-answer cases on a chosen crypto path, like
 * Libreswan's `ipsec cavp`. Reads a JSON array of cases (a file argument or standard input),
 * computes every output field on --path node|native|pkcs11 and prints the same array with the
 * outputs filled in, lower-case hex.
 *
 *   tools/ike-cavp [--path node|native|pkcs11] [--pkcs11-module LIB --token LABEL] [--pin-file FILE] [FILE]
 *
 * The pkcs11 path makes its own temporary SoftHSM2 token unless --token names one; the PIN of a
 * named token is read from the OAKLEY_TOKEN_PIN environment variable or a file given with
 * --pin-file (never from the command line).
 */
import { readFileSync } from 'node:fs';

import { parseCases, runCase, type CavpCase } from '../crypto/cavp';
import { openBackend, type BackendOptions } from '../crypto/registry';
import { CRYPTO_PATHS, type CryptoPath } from '../crypto/types';
import { OakleyError } from '../util/errors';

const USAGE = 'usage: ike-cavp [--path node|native|pkcs11] [--pkcs11-module LIB] [--token LABEL] [--pin-file FILE] [FILE]\n' +
  '  Reads a JSON array of test cases from FILE or standard input and prints it with every output computed.\n';

interface Args { path: CryptoPath; file?: string; module?: string; token?: string; pinFile?: string }

function parseArgs(argv: string[]): Args {
  const a: Args = { path: 'node' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--path': {
        const p = value();
        if (!(CRYPTO_PATHS as readonly string[]).includes(p)) throw new UsageError(`unknown path "${p}" (node, native or pkcs11)`);
        a.path = p as CryptoPath;
        break;
      }
      case '--pkcs11-module': a.module = value(); break;
      case '--token': a.token = value(); break;
      case '--pin-file': a.pinFile = value(); break;
      case '-h': case '--help': process.stdout.write(USAGE); process.exit(0);
      // falls through (never reached: exit above)
      default:
        if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
        if (a.file !== undefined) throw new UsageError('only one input file may be given');
        a.file = arg;
    }
  }
  return a;
}

class UsageError extends Error {}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`ike-cavp: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const text = args.file === undefined || args.file === '-' ? readFileSync(0, 'utf8') : readFileSync(args.file, 'utf8');
  const cases = parseCases(text);
  const options: BackendOptions = { pkcs11: { module: args.module, tokenLabel: args.token } };
  if (args.token) {
    const pin = args.pinFile ? readFileSync(args.pinFile, 'utf8').split('\n')[0] : process.env.OAKLEY_TOKEN_PIN;
    options.pkcs11 = { ...options.pkcs11, pin };
  }
  const backend = await openBackend(args.path, options);
  try {
    const out: CavpCase[] = [];
    for (let i = 0; i < cases.length; i++) out.push(await runCase(backend, cases[i], i));
    process.stdout.write(JSON.stringify(out, null, 1) + '\n');
    return 0;
  } finally {
    await backend.close();
  }
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`ike-cavp: ${OakleyError.is(e) ? e.message : (e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
