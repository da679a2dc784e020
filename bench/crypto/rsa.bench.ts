/**
 * RSA-2048/3072/4096 sign and verify, RSASSA-PKCS1-v1_5 with SHA-256, over a 32-byte message.
 * Keys are generated once with node:crypto and cached under the results directory (they are
 * benchmark fixtures, never used for anything else); every path loads the same PEM.
 */
import { generateKeyPair, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { CryptoBackend, RsaScheme } from '../../src/crypto/types';
import type { OpensslAlg } from '../lib/openssl';
import type { OpDef } from './op';

const generateKeyPairAsync = promisify(generateKeyPair);
const SCHEME: RsaScheme = { padding: 'pkcs1', hash: 'sha256' };
const MESSAGE = randomBytes(32);

interface RsaFixture {
  readonly privatePem: string;
  readonly publicPem: string;
  readonly signature: Buffer;
}

let keyDir = '';
const fixtures = new Map<number, Promise<RsaFixture>>();

/** Where generated keys are cached (the results directory, which git ignores). */
export function setRsaKeyDir(dir: string): void {
  keyDir = dir;
}

async function makeFixture(bits: number): Promise<RsaFixture> {
  const file = keyDir ? join(keyDir, `rsa${bits}.pem`) : '';
  let privatePem: string;
  let publicPem: string;
  if (file && existsSync(file) && existsSync(file + '.pub')) {
    privatePem = readFileSync(file, 'utf8');
    publicPem = readFileSync(file + '.pub', 'utf8');
  } else {
    const kp = await generateKeyPairAsync('rsa', {
      modulusLength: bits, publicExponent: 65537,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    privatePem = kp.privateKey;
    publicPem = kp.publicKey;
    if (file) {
      mkdirSync(keyDir, { recursive: true, mode: 0o700 });
      writeFileSync(file, privatePem, { mode: 0o600 });
      writeFileSync(file + '.pub', publicPem);
    }
  }
  return { privatePem, publicPem, signature: nodeSign('sha256', MESSAGE, privatePem) };
}

export function rsaFixture(bits: number): Promise<RsaFixture> {
  let f = fixtures.get(bits);
  if (!f) fixtures.set(bits, f = makeFixture(bits));
  return f;
}

function signOp(bits: number): OpDef {
  return {
    id: `rsa${bits}-sign`,
    label: `RSA-${bits} sign`,
    what: `RSASSA-PKCS1-v1_5 SHA-256 signature of 32 bytes, ${bits}-bit key (CRT)`,
    micro: false,
    openssl: { alg: `rsa${bits}` as OpensslAlg, op: 'sign', factor: 1, note: `openssl rsa${bits} sign` },
    async prepare(backend: CryptoBackend) {
      const fx = await rsaFixture(bits);
      const key = await backend.rsa.loadPrivateKey({ pem: fx.privatePem });
      return {
        run: () => key.sign(MESSAGE, SCHEME),
        async check() {
          const sig = await key.sign(MESSAGE, SCHEME);
          return nodeVerify('sha256', MESSAGE, fx.publicPem, sig) ? null : 'signature does not verify with node:crypto';
        },
        close: () => key.dispose(),
      };
    },
  };
}

function verifyOp(bits: number): OpDef {
  return {
    id: `rsa${bits}-verify`,
    label: `RSA-${bits} verify`,
    what: `RSASSA-PKCS1-v1_5 SHA-256 verification, ${bits}-bit key, e = 65537`,
    micro: true,
    openssl: { alg: `rsa${bits}` as OpensslAlg, op: 'verify', factor: 1, note: `openssl rsa${bits} verify` },
    async prepare(backend: CryptoBackend) {
      const fx = await rsaFixture(bits);
      const key = await backend.rsa.loadPublicKey({ pem: fx.publicPem });
      const bad = Buffer.from(fx.signature);
      bad[bad.length - 1] ^= 1;
      return {
        run: () => key.verify(MESSAGE, fx.signature, SCHEME),
        async check() {
          if (!(await key.verify(MESSAGE, fx.signature, SCHEME))) return 'a good signature did not verify';
          if (await key.verify(MESSAGE, bad, SCHEME)) return 'a corrupted signature verified';
          return null;
        },
        close() {},
      };
    },
  };
}

export const RSA_OPS: readonly OpDef[] = [2048, 3072, 4096].flatMap((b) => [signOp(b), verifyOp(b)]);
