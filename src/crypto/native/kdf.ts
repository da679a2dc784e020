/**
 * PRF and the IKE derivation chains on the native path: each method is ONE addon call running the
 * whole chain in C++ (HMAC via node's OpenSSL). The formulas are those of ../kdf.ts (the shared
 * reference); the argument rules are checked here first, so the addon's own checks never fire on
 * valid use.
 */
import { CryptoErr, OakleyError } from '../../util/errors';
import { HASH_LENGTH } from '../kdf';
import { HASH_ALGS, isOpaqueSecret, type HashAlg, type KeyDerivation, type SharedSecret } from '../types';
import { fromNative, requireAddon } from './addon';

/** Largest byte string the addon takes per argument. */
const MAX_INPUT = 64 * 1024;
const MAX_KEYMAT = 255 * 64;

function bad(message: string): OakleyError {
  return new OakleyError(CryptoErr.BAD_ARGUMENT, message);
}

function hashOf(hash: HashAlg): HashAlg {
  if (!HASH_ALGS.includes(hash)) throw bad(`unknown hash ${String(hash)}`);
  return hash;
}

function bytes(what: string, b: unknown, min = 0, max = MAX_INPUT): Buffer {
  if (!Buffer.isBuffer(b)) throw bad(`${what} must be a Buffer`);
  if (b.length < min || b.length > max) {
    throw bad(min === max ? `${what} must be ${min} bytes, got ${b.length}` : `${what} must be ${min}..${max} bytes, got ${b.length}`);
  }
  return b;
}

/** g^xy as bytes; a token-held secret cannot leave its token. */
function secret(what: string, s: SharedSecret | undefined): Buffer {
  if (s !== undefined && !Buffer.isBuffer(s) && isOpaqueSecret(s)) {
    throw new OakleyError(CryptoErr.SECRET_ON_TOKEN,
      `${what} is held on the ${s.path} token; derive keys on the pkcs11 path (prf path pkcs11)`);
  }
  return bytes(what, s, 1);
}

function length(what: string, n: unknown, max: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) throw bad(`${what} length ${String(n)} is out of range (0..${max} bytes)`);
  return n;
}

/** Runs one addon call; its coded errors become OakleyErrors. */
function call<T>(what: string, f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(fromNative(e, what));
  }
}

const EMPTY = Buffer.alloc(0);

export const nativeKdf: KeyDerivation = {
  path: 'native',

  async prf(hash, key, data) {
    const h = hashOf(hash);
    bytes('PRF key', key);
    bytes('PRF data', data);
    return call('prf', () => requireAddon().prf(h, key, data));
  },

  async prfPlus(hash, key, seed, len) {
    const h = hashOf(hash);
    bytes('prf+ key', key);
    bytes('prf+ seed', seed);
    if (length('prf+ output', len, 255 * HASH_LENGTH[h]) === 0) return EMPTY;
    return call('prf+', () => requireAddon().prfPlus(h, key, seed, len));
  },

  async ikev1Phase1(input) {
    const h = hashOf(input.hash);
    const { auth } = input;
    if (auth !== 'psk' && auth !== 'sig' && auth !== 'pke') throw bad(`unknown IKEv1 authentication kind ${String(auth)}`);
    if (auth === 'psk' && !input.psk) throw bad('pre-shared-key authentication needs a pre-shared key');
    const psk = auth === 'psk' ? bytes('pre-shared key', input.psk, 1) : null;
    const ni = bytes('Ni_b', input.ni, 1), nr = bytes('Nr_b', input.nr, 1);
    const ckyI = bytes('CKY-I', input.ckyI, 8, 8), ckyR = bytes('CKY-R', input.ckyR, 8, 8);
    const gxy = secret('g^xy', input.gxy);
    const encKeyLength = input.encKeyLength === undefined ? undefined : length('encryption key', input.encKeyLength, 512);
    const wantIv = input.gxi !== undefined && input.gxr !== undefined && input.ivLength !== undefined;
    if (wantIv && (!Number.isInteger(input.ivLength) || input.ivLength! < 1 || input.ivLength! > HASH_LENGTH[h])) {
      throw bad(`IV length ${input.ivLength} does not fit a ${h} output of ${HASH_LENGTH[h]} bytes`);
    }
    const gxi = wantIv ? bytes('g^xi', input.gxi, 1) : null;
    const gxr = wantIv ? bytes('g^xr', input.gxr, 1) : null;
    const keys = await call('IKEv1 Phase 1 derivation', () => requireAddon().ikev1Phase1(
      h, auth, psk, ni, nr, ckyI, ckyR, gxy, encKeyLength ?? 0, gxi, gxr, wantIv ? input.ivLength! : 0));
    if (encKeyLength === 0) keys.encKey = Buffer.alloc(0);
    return keys;
  },

  async ikev1Keymat(input) {
    const h = hashOf(input.hash);
    const skeyidD = bytes('SKEYID_d', input.skeyidD, 1);
    const gqm = input.gqmxy === undefined ? null : secret('g(qm)^xy', input.gqmxy);
    const { protocol } = input;
    if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) throw bad(`protocol id ${protocol} is not an octet`);
    const spi = bytes('SPI', input.spi, 1), ni = bytes('Ni_b', input.ni, 1), nr = bytes('Nr_b', input.nr, 1);
    if (length('KEYMAT', input.length, MAX_KEYMAT) === 0) return EMPTY;
    return call('IKEv1 KEYMAT derivation', () => requireAddon().ikev1Keymat(h, skeyidD, gqm, protocol, spi, ni, nr, input.length));
  },

  async ikev2Sa(input) {
    const h = hashOf(input.hash);
    const ni = bytes('Ni', input.ni, 1), nr = bytes('Nr', input.nr, 1);
    const gir = secret('g^ir', input.gir);
    const spiI = bytes('SPIi', input.spiI, 8, 8), spiR = bytes('SPIr', input.spiR, 8, 8);
    const len = length('DKM', input.length, 255 * HASH_LENGTH[h]);
    if (len === 0) {
      const { skeyseed } = await call('IKEv2 SKEYSEED', () => requireAddon().ikev2Sa(h, ni, nr, gir, spiI, spiR, 1));
      return { skeyseed, dkm: EMPTY };
    }
    return call('IKEv2 SA derivation', () => requireAddon().ikev2Sa(h, ni, nr, gir, spiI, spiR, len));
  },

  async ikev2ChildKeymat(input) {
    const h = hashOf(input.hash);
    const skD = bytes('SK_d', input.skD, 1);
    const gir = input.girNew === undefined ? null : secret('g^ir (new)', input.girNew);
    const ni = bytes('Ni', input.ni, 1), nr = bytes('Nr', input.nr, 1);
    if (length('child KEYMAT', input.length, 255 * HASH_LENGTH[h]) === 0) return EMPTY;
    return call('IKEv2 child KEYMAT derivation', () => requireAddon().ikev2Child(h, skD, gir, ni, nr, input.length));
  },

  async ikev2RekeySkeyseed(input) {
    const h = hashOf(input.hash);
    const skD = bytes('SK_d (old)', input.skDOld, 1);
    const gir = secret('g^ir (new)', input.girNew);
    const ni = bytes('Ni', input.ni, 1), nr = bytes('Nr', input.nr, 1);
    return call('IKEv2 rekey SKEYSEED', () => requireAddon().ikev2Rekey(h, skD, gir, ni, nr));
  },
};
