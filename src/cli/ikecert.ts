/**
 * ikecert: the certificate and key store CLI (solaris-ike.md §4), over the directories in.iked
 * reads under --root (default /etc/inet).
 *
 *   tools/ikecert certlocal|certdb|certrldb <options>   (src/keystore/ikecert/*.ts)
 *   tools/ikecert tokens                                 (certlocal -X)
 *
 * Common Oakley options: --root DIR, --pkcs11-module PATH (else ike/config's pkcs11_path, else
 * SoftHSM2). PINs are prompted for (no echo) on a terminal and read one line per prompt from
 * standard input otherwise; never from the command line.
 *
 * Output: data (certificates, requests, listings) on stdout; progress and errors on stderr,
 * prefixed `ikecert <subcommand>: `. Exit status 0 on success, 1 on any error or bad usage.
 */
import { runCertdb } from '../keystore/ikecert/certdb';
import { runCertlocal } from '../keystore/ikecert/certlocal';
import { runCertrldb } from '../keystore/ikecert/certrldb';
import { IkecertContext, type Output } from '../keystore/ikecert/context';
import { StdinSource } from '../keystore/ikecert/input';
import { parseArgs } from '../keystore/ikecert/options';
import { runTokens } from '../keystore/ikecert/tokens';
import { OakleyError } from '../util/errors';


export const USAGE = 'Usage: ikecert { certdb | certrldb | certlocal | tokens } <options>';

const HELP: Readonly<Record<string, string>> = {
  certlocal: `Usage: ikecert certlocal
  -ks|-kc -m keysize -t keytype -D dname [-A altname]... [-S startdate] [-F finishdate] [-f pem|der] [-o file] [[-p] -T token]
  -l [-v] [slot]          -a [-i file] [[-p] -T token]     -e [-f pkcs8|pem] [-o file] slot     -r slot
  -T token -U slot        -T token [-p] -C certspec        -T token [-p] -L pattern|pkcs11:URI  -X
  keysize 1024..4096 (multiple of 512); keytype rsa-sha1|rsa-sha256|rsa-md5 (MD5: legacy peers only);
  altname IP=|DNS=|EMAIL=|URI=|DN=|RID=; dates: -1d, +2y, +1y6M, YYYY-MM-DD[ HH:MM[:SS]] (UTC)`,
  certdb: `Usage: ikecert certdb
  -l [-v] [certspec...]   -a [-i file] [[-p] -T token]   -e [-f pem|ber] [-o file] certspec...   -r [-T token] certspec...
  -T token -U certspec... -T token [-p] -C certspec...   -T token [-p] -L pattern|pkcs11:URI`,
  certrldb: `Usage: ikecert certrldb
  -l [-v] [pattern...]    -a [-i file]    -e [-f pem|ber] [-o file] pattern...    -r pattern...
  pattern: ISSUER=dn, SLOT=n, or an issuer DN (all patterns must match)`,
  tokens: 'Usage: ikecert tokens [--pkcs11-module PATH]',
};

const SPEC: Readonly<Record<string, { flags: string; values: string; run: (ctx: IkecertContext) => Promise<void> }>> = {
  certlocal: { flags: 'lvaerUCLXphdE', values: 'kmtDASFfToiK', run: runCertlocal },
  certdb: { flags: 'lvaerUCLphdE', values: 'fToi', run: runCertdb },
  certrldb: { flags: 'lvaerhdE', values: 'foi', run: runCertrldb },
  tokens: { flags: 'h', values: '', run: runTokens },
};

export interface IkecertIo extends Output {
  readonly stdin?: NodeJS.ReadStream;
}

/**
 * Runs one ikecert command line.
 * @returns the exit status (0 success, 1 error)
 */
export async function main(argv: readonly string[], io: IkecertIo): Promise<number> {
  const [sub, ...rest] = argv;
  const spec = sub !== undefined ? SPEC[sub] : undefined;
  if (!spec) {
    io.note(USAGE);
    return 1;
  }
  let ctx: IkecertContext | undefined;
  try {
    const args = parseArgs(rest, spec.flags, spec.values);
    if (args.flags.has('h')) {
      io.out(`${HELP[sub!]}\n`);
      return 0;
    }
    ctx = new IkecertContext(args, new StdinSource(io.stdin), io);
    await spec.run(ctx);
    return 0;
  } catch (e) {
    const msg = OakleyError.is(e) ? e.message : (e as Error).message ?? String(e);
    io.note(`ikecert ${sub}: ${msg}`);
    if (OakleyError.is(e) && e.code === 'IKE_ERR_USAGE') io.note(HELP[sub!]!);
    return 1;
  } finally {
    ctx?.close();
  }
}

export function run(): void {
  const io: IkecertIo = {
    out: (d) => process.stdout.write(d),
    note: (l) => process.stderr.write(`${l}\n`),
    stdin: process.stdin,
  };
  main(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  }, (e: unknown) => {
    process.stderr.write(`ikecert: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
