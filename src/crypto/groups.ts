/**
 * IKE Diffie-Hellman groups (IANA "Transform Type 4"): the MODP groups of RFC 2409 §6 (1, 2),
 * RFC 3526 (5, 14-18), the RFC 5114 §2 MODP groups with prime-order subgroups (22-24) and the ECP
 * groups of RFC 5903 (19-21) and RFC 5114 §2.6-2.7 (25, 26).
 *
 * Shared by every path: group parameters, private-exponent policy, the KE payload encodings and
 * the validation of peer values, so that no backend can get them wrong on its own.
 */
import { CryptoErr, OakleyError } from '../util/errors';

/** RFC 2409 / RFC 3526 MODP primes, generator 2 (hex, big-endian). */
const MODP_PRIMES: Readonly<Record<number, string>> = {
  1: 'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a3620ffffffffffffffff',
  2: 'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffffffffff',
  5: 'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb9ed529077096966d670c354e4abc9804f1746c08ca237327ffffffffffffffff',
  14: 'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3be39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6955817183995497cea956ae515d2261898fa051015728e5a8aacaa68ffffffffffffffff',
  15: 'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3be39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6955817183995497cea956ae515d2261898fa051015728e5a8aaac42dad33170d04507a33a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e208e24fa074e5ab3143db5bfce0fd108e4b82d120a93ad2caffffffffffffffff',
  16: 'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3be39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6955817183995497cea956ae515d2261898fa051015728e5a8aaac42dad33170d04507a33a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e208e24fa074e5ab3143db5bfce0fd108e4b82d120a92108011a723c12a787e6d788719a10bdba5b2699c327186af4e23c1a946834b6150bda2583e9ca2ad44ce8dbbbc2db04de8ef92e8efc141fbecaa6287c59474e6bc05d99b2964fa090c3a2233ba186515be7ed1f612970cee2d7afb81bdd762170481cd0069127d5b05aa993b4ea988d8fddc186ffb7dc90a6c08f4df435c934063199ffffffffffffffff',
  17: 'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3be39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6955817183995497cea956ae515d2261898fa051015728e5a8aaac42dad33170d04507a33a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e208e24fa074e5ab3143db5bfce0fd108e4b82d120a92108011a723c12a787e6d788719a10bdba5b2699c327186af4e23c1a946834b6150bda2583e9ca2ad44ce8dbbbc2db04de8ef92e8efc141fbecaa6287c59474e6bc05d99b2964fa090c3a2233ba186515be7ed1f612970cee2d7afb81bdd762170481cd0069127d5b05aa993b4ea988d8fddc186ffb7dc90a6c08f4df435c93402849236c3fab4d27c7026c1d4dcb2602646dec9751e763dba37bdf8ff9406ad9e530ee5db382f413001aeb06a53ed9027d831179727b0865a8918da3edbebcf9b14ed44ce6cbaced4bb1bdb7f1447e6cc254b332051512bd7af426fb8f401378cd2bf5983ca01c64b92ecf032ea15d1721d03f482d7ce6e74fef6d55e702f46980c82b5a84031900b1c9e59e7c97fbec7e8f323a97a7e36cc88be0f1d45b7ff585ac54bd407b22b4154aacc8f6d7ebf48e1d814cc5ed20f8037e0a79715eef29be32806a1d58bb7c5da76f550aa3d8a1fbff0eb19ccb1a313d55cda56c9ec2ef29632387fe8d76e3c0468043e8f663f4860ee12bf2d5b0b7474d6e694f91e6dcc4024ffffffffffffffff',
  18: 'ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3be39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6955817183995497cea956ae515d2261898fa051015728e5a8aaac42dad33170d04507a33a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e208e24fa074e5ab3143db5bfce0fd108e4b82d120a92108011a723c12a787e6d788719a10bdba5b2699c327186af4e23c1a946834b6150bda2583e9ca2ad44ce8dbbbc2db04de8ef92e8efc141fbecaa6287c59474e6bc05d99b2964fa090c3a2233ba186515be7ed1f612970cee2d7afb81bdd762170481cd0069127d5b05aa993b4ea988d8fddc186ffb7dc90a6c08f4df435c93402849236c3fab4d27c7026c1d4dcb2602646dec9751e763dba37bdf8ff9406ad9e530ee5db382f413001aeb06a53ed9027d831179727b0865a8918da3edbebcf9b14ed44ce6cbaced4bb1bdb7f1447e6cc254b332051512bd7af426fb8f401378cd2bf5983ca01c64b92ecf032ea15d1721d03f482d7ce6e74fef6d55e702f46980c82b5a84031900b1c9e59e7c97fbec7e8f323a97a7e36cc88be0f1d45b7ff585ac54bd407b22b4154aacc8f6d7ebf48e1d814cc5ed20f8037e0a79715eef29be32806a1d58bb7c5da76f550aa3d8a1fbff0eb19ccb1a313d55cda56c9ec2ef29632387fe8d76e3c0468043e8f663f4860ee12bf2d5b0b7474d6e694f91e6dbe115974a3926f12fee5e438777cb6a932df8cd8bec4d073b931ba3bc832b68d9dd300741fa7bf8afc47ed2576f6936ba424663aab639c5ae4f5683423b4742bf1c978238f16cbe39d652de3fdb8befc848ad922222e04a4037c0713eb57a81a23f0c73473fc646cea306b4bcbc8862f8385ddfa9d4b7fa2c087e879683303ed5bdd3a062b3cf5b3a278a66d2a13f83f44f82ddf310ee074ab6a364597e899a0255dc164f31cc50846851df9ab48195ded7ea1b1d510bd7ee74d73faf36bc31ecfa268359046f4eb879f924009438b481c6cd7889a002ed5ee382bc9190da6fc026e479558e4475677e9aa9e3050e2765694dfc81f56e880b96e7160c980dd98edd3dfffffffffffffffff',
};

/** RFC 5114 §2.1-2.3 MODP groups with a prime-order subgroup q. */
const MODP_SUBGROUPS: Readonly<Record<number, { p: string; g: string; q: string }>> = {
  22: { p: 'b10b8f96a080e01dde92de5eae5d54ec52c99fbcfb06a3c69a6a9dca52d23b616073e28675a23d189838ef1e2ee652c013ecb4aea906112324975c3cd49b83bfaccbdd7d90c4bd7098488e9c219a73724effd6fae5644738faa31a4ff55bccc0a151af5f0dc8b4bd45bf37df365c1a65e68cfda76d4da708df1fb2bc2e4a4371', g: 'a4d1cbd5c3fd34126765a442efb99905f8104dd258ac507fd6406cff14266d31266fea1e5c41564b777e690f5504f213160217b4b01b886a5e91547f9e2749f4d7fbd7d3b9a92ee1909d0d2263f80a76a6a24c087a091f531dbf0a0169b6a28ad662a4d18e73afa32d779d5918d08bc8858f4dcef97c2a24855e6eeb22b3b2e5', q: 'f518aa8781a8df278aba4e7d64b7cb9d49462353' },
  23: { p: 'ad107e1e9123a9d0d660faa79559c51fa20d64e5683b9fd1b54b1597b61d0a75e6fa141df95a56dbaf9a3c407ba1df15eb3d688a309c180e1de6b85a1274a0a66d3f8152ad6ac2129037c9edefda4df8d91e8fef55b7394b7ad5b7d0b6c12207c9f98d11ed34dbf6c6ba0b2c8bbc27be6a00e0a0b9c49708b3bf8a317091883681286130bc8985db1602e714415d9330278273c7de31efdc7310f7121fd5a07415987d9adc0a486dcdf93acc44328387315d75e198c641a480cd86a1b9e587e8be60e69cc928b2b9c52172e413042e9b23f10b0e16e79763c9b53dcf4ba80a29e3fb73c16b8e75b97ef363e2ffa31f71cf9de5384e71b81c0ac4dffe0c10e64f', g: 'ac4032ef4f2d9ae39df30b5c8ffdac506cdebe7b89998caf74866a08cfe4ffe3a6824a4e10b9a6f0dd921f01a70c4afaab739d7700c29f52c57db17c620a8652be5e9001a8d66ad7c17669101999024af4d027275ac1348bb8a762d0521bc98ae247150422ea1ed409939d54da7460cdb5f6c6b250717cbef180eb34118e98d119529a45d6f834566e3025e316a330efbb77a86f0c1ab15b051ae3d428c8f8acb70a8137150b8eeb10e183edd19963ddd9e263e4770589ef6aa21e7f5f2ff381b539cce3409d13cd566afbb48d6c019181e1bcfe94b30269edfe72fe9b6aa4bd7b5a0f1c71cfff4c19c418e1f6ec017981bc087f2a7065b384b890d3191f2bfa', q: '801c0d34c58d93fe997177101f80535a4738cebcbf389a99b36371eb' },
  24: { p: '87a8e61db4b6663cffbbd19c651959998ceef608660dd0f25d2ceed4435e3b00e00df8f1d61957d4faf7df4561b2aa3016c3d91134096faa3bf4296d830e9a7c209e0c6497517abd5a8a9d306bcf67ed91f9e6725b4758c022e0b1ef4275bf7b6c5bfc11d45f9088b941f54eb1e59bb8bc39a0bf12307f5c4fdb70c581b23f76b63acae1caa6b7902d52526735488a0ef13c6d9a51bfa4ab3ad8347796524d8ef6a167b5a41825d967e144e5140564251ccacb83e6b486f6b3ca3f7971506026c0b857f689962856ded4010abd0be621c3a3960a54e710c375f26375d7014103a4b54330c198af126116d2276e11715f693877fad7ef09cadb094ae91e1a1597', g: '3fb32c9b73134d0b2e77506660edbd484ca7b18f21ef205407f4793a1a0ba12510dbc15077be463fff4fed4aac0bb555be3a6c1b0c6b47b1bc3773bf7e8c6f62901228f8c28cbb18a55ae31341000a650196f931c77a57f2ddf463e5e9ec144b777de62aaab8a8628ac376d282d6ed3864e67982428ebc831d14348f6f2f9193b5045af2767164e1dfc967c1fb3f2e55a4bd1bffe83b9c80d052b985d182ea0adb2a3b7313d3fe14c8484b1e052588b9b7d2bbd2df016199ecd06e1557cd0915b3353bbb64e0ec377fd028370df92b52c7891428cdc67eb6184b523d1db246c32f63078490f00ef8d647d148d47954515e2327cfef98c582664b4c0f6cc41659', q: '8cf83642a709a097b447997640129da299b1a47d1eb3750ba308b0fe64f5fbd3' },
};

/** NIST prime curves (a = -3 mod p); OpenSSL curve names as node:crypto spells them. */
const ECP_CURVES: Readonly<Record<number, { curve: string; p: string; a: string; b: string; order: string }>> = {
  19: { curve: 'prime256v1', p: 'ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', a: 'ffffffff00000001000000000000000000000000fffffffffffffffffffffffc', b: '5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b', order: 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551' },
  20: { curve: 'secp384r1', p: 'fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff', a: 'fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc', b: 'b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef', order: 'ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973' },
  21: { curve: 'secp521r1', p: '01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', a: '01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc', b: '51953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00', order: '01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409' },
  25: { curve: 'prime192v1', p: 'fffffffffffffffffffffffffffffffeffffffffffffffff', a: 'fffffffffffffffffffffffffffffffefffffffffffffffc', b: '64210519e59c80e70fa7e9ab72243049feb8deecc146b9b1', order: 'ffffffffffffffffffffffff99def836146bc9b1b4d22831' },
  26: { curve: 'secp224r1', p: 'ffffffffffffffffffffffffffffffff000000000000000000000001', a: 'fffffffffffffffffffffffffffffffefffffffffffffffffffffffe', b: 'b4050a850c04b3abf54132565044b0b7d7bfd8ba270b39432355ffb4', order: 'ffffffffffffffffffffffffffff16a2e0b8f03e13dd29455c5c2a3d' },
};

/**
 * Security strength in bits of each MODP group (NIST SP 800-57 Part 1 Table 2 for the modulus
 * size; RFC 3526 §8 gives ranges around these).
 */
const MODP_STRENGTH: Readonly<Record<number, number>> = { 1: 64, 2: 80, 5: 96, 14: 112, 15: 128, 16: 152, 17: 176, 18: 200 };

/**
 * The private-exponent length OpenSSL 3.0 (and so node:crypto) picks for the same group: 2x its
 * strength table for the RFC 3526 named groups, full length (p bits - 2) for groups 1 and 2, which
 * it does not know by name. Measured here (../shared/docs/perf-anchors.md §2.1).
 */
const OPENSSL_EXPONENT_BITS: Readonly<Record<number, number>> = { 1: 766, 2: 1022, 5: 200, 14: 225, 15: 275, 16: 325, 17: 375, 18: 400 };

export interface ModpGroup {
  readonly kind: 'modp';
  readonly id: number;
  readonly p: Buffer;
  readonly g: Buffer;
  /** Prime subgroup order (RFC 5114 groups only). */
  readonly q?: Buffer;
  readonly pBig: bigint;
  readonly qBig?: bigint;
  /** Size in bytes of p: the KE payload and g^xy length. */
  readonly size: number;
  readonly bits: number;
  /** Security strength in bits. */
  readonly strength: number;
}

export interface EcpGroup {
  readonly kind: 'ecp';
  readonly id: number;
  /** OpenSSL / node:crypto curve name. */
  readonly curve: string;
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  readonly order: bigint;
  /** Field element size in bytes: the KE payload is 2*size bytes, g^xy is size bytes. */
  readonly size: number;
  readonly strength: number;
  /** DER of the curve OID (PKCS#11 CKA_EC_PARAMS). */
  readonly oidDer: Buffer;
}

export type DhGroup = ModpGroup | EcpGroup;

const CURVE_OID_DER: Readonly<Record<string, string>> = {
  prime192v1: '06082a8648ce3d030101',
  secp224r1: '06052b81040021',
  prime256v1: '06082a8648ce3d030107',
  secp384r1: '06052b81040022',
  secp521r1: '06052b81040023',
};
const ECP_STRENGTH: Readonly<Record<number, number>> = { 25: 96, 26: 112, 19: 128, 20: 192, 21: 256 };

const big = (hex: string): bigint => BigInt('0x' + hex);

function buildGroups(): Map<number, DhGroup> {
  const groups = new Map<number, DhGroup>();
  for (const [id, hex] of Object.entries(MODP_PRIMES)) {
    const p = Buffer.from(hex, 'hex');
    groups.set(+id, Object.freeze({
      kind: 'modp', id: +id, p, g: Buffer.from([2]), pBig: big(hex),
      size: p.length, bits: p.length * 8, strength: MODP_STRENGTH[+id],
    }));
  }
  for (const [id, s] of Object.entries(MODP_SUBGROUPS)) {
    const p = Buffer.from(s.p, 'hex');
    const q = Buffer.from(s.q, 'hex');
    groups.set(+id, Object.freeze({
      kind: 'modp', id: +id, p, g: Buffer.from(s.g, 'hex'), q, pBig: big(s.p), qBig: big(s.q),
      size: p.length, bits: p.length * 8, strength: q.length * 4,
    }));
  }
  for (const [id, c] of Object.entries(ECP_CURVES)) {
    groups.set(+id, Object.freeze({
      kind: 'ecp', id: +id, curve: c.curve, p: big(c.p), a: big(c.a), b: big(c.b), order: big(c.order),
      size: Math.ceil(c.p.length / 2), strength: ECP_STRENGTH[+id], oidDer: Buffer.from(CURVE_OID_DER[c.curve], 'hex'),
    }));
  }
  return groups;
}

const GROUPS = buildGroups();

/** Every supported group number, ascending. */
export const SUPPORTED_GROUPS: readonly number[] = [...GROUPS.keys()].sort((a, b) => a - b);

/** The group descriptor, or an IKE_ERR_UNKNOWN_GROUP error naming the number. */
export function getGroup(id: number): DhGroup {
  const g = GROUPS.get(id);
  if (!g) {
    throw new OakleyError(CryptoErr.UNKNOWN_GROUP,
      `unknown or unsupported Diffie-Hellman group ${id} (supported: ${SUPPORTED_GROUPS.join(', ')})`, { group: id });
  }
  return g;
}

export function isSupportedGroup(id: number): boolean {
  return GROUPS.has(id);
}

/**
 * Default private-exponent length of a MODP group: at least twice the group's strength, rounded
 * up to whole 64-bit words, never shorter than OpenSSL's choice, never longer than p bits - 1.
 * RFC 5114 groups draw x below q, so their length is that of q.
 */
export function defaultExponentBits(group: ModpGroup): number {
  if (group.qBig !== undefined) return group.qBig.toString(2).length;
  const want = Math.max(2 * group.strength, OPENSSL_EXPONENT_BITS[group.id] ?? 0);
  return Math.min(Math.ceil(want / 64) * 64, group.bits - 1);
}

/** Exponent length for a request: a number of bits, 'full', or the default. Validated. */
export function exponentBitsFor(group: ModpGroup, requested?: number | 'full'): number {
  // x must lie in [1, q-1] for the RFC 5114 groups; any other length would weaken or break them.
  if (group.qBig !== undefined) return group.qBig.toString(2).length;
  if (requested === undefined) return defaultExponentBits(group);
  if (requested === 'full') return group.bits - 1;
  if (!Number.isInteger(requested) || requested < 2 * group.strength || requested > group.bits - 1) {
    throw new OakleyError(CryptoErr.BAD_ARGUMENT,
      `private exponent length ${requested} for group ${group.id} must be between ${2 * group.strength} ` +
      `(twice the group strength) and ${group.bits - 1} bits, or "full"`, { group: group.id });
  }
  return requested;
}

export function bigToBuf(n: bigint, size: number): Buffer {
  const hex = n.toString(16);
  if (hex.length > size * 2) throw new RangeError(`value does not fit in ${size} bytes`);
  return Buffer.from(hex.padStart(size * 2, '0'), 'hex');
}

export function bufToBig(b: Buffer): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + b.toString('hex'));
}

/** Left-pads a big-endian value to `size` bytes (g^xy and KE data are fixed-length in IKE). */
export function leftPad(b: Buffer, size: number): Buffer {
  if (b.length === size) return b;
  if (b.length > size) {
    let i = 0;
    while (i < b.length - size && b[i] === 0) i++;
    if (b.length - i > size) throw new RangeError(`value of ${b.length} bytes does not fit in ${size}`);
    return Buffer.from(b.subarray(b.length - size));
  }
  const out = Buffer.alloc(size);
  b.copy(out, size - b.length);
  return out;
}

function invalidKe(group: DhGroup, why: string): OakleyError {
  return new OakleyError(CryptoErr.INVALID_KE, `invalid peer public value for group ${group.id}: ${why}`, { group: group.id });
}

/**
 * Validates a peer's MODP KE payload data: exactly |p| bytes (RFC 2409 §5 and RFC 7296 §3.4 ask
 * for the value left-padded to the prime length) and 1 < y < p-1, which excludes the degenerate
 * values 0, 1 and p-1 (RFC 6989 §2.1). For the RFC 5114 groups, whose p-1 has small factors, y must
 * also lie in the order-q subgroup, y^q = 1 mod p (RFC 6989 §2.2). Returns y as a bigint.
 */
export function validateModpPublic(group: ModpGroup, y: Buffer): void {
  if (y.length !== group.size) throw invalidKe(group, `length ${y.length} bytes, expected ${group.size}`);
  // 1 < y < p-1 on the big-endian bytes (public values; no hex string and BigInt per negotiation).
  let high = 0;
  for (let i = 0; i < y.length - 1; i++) high |= y[i]!;
  if (high === 0 && y[y.length - 1]! <= 1) throw invalidKe(group, 'value is 0 or 1');
  if (y.compare(pMinusOne(group)) >= 0) throw invalidKe(group, 'value is p-1 or not below p');
  if (group.qBig !== undefined && modPow(bufToBig(y), group.qBig, group.pBig) !== 1n) {
    throw invalidKe(group, 'value is not in the prime-order subgroup (y^q != 1 mod p)');
  }
}

const P_MINUS_ONE = new Map<number, Buffer>();

/** p-1 as `size` big-endian bytes (p is an odd prime: its last byte less one). */
function pMinusOne(group: ModpGroup): Buffer {
  let b = P_MINUS_ONE.get(group.id);
  if (!b) {
    b = bigToBuf(group.pBig - 1n, group.size);
    P_MINUS_ONE.set(group.id, b);
  }
  return b;
}

/**
 * Square-and-multiply over bigints. Variable time: only for PUBLIC exponents (the subgroup
 * check above); secret exponents go through the constant-time code of each path.
 */
function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let r = 1n;
  let b = base % mod;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % mod;
    b = (b * b) % mod;
  }
  return r;
}

/**
 * Validates a peer's ECP KE payload data x|y (RFC 5903 §7): exactly 2*size bytes, both coordinates
 * below p, and y^2 = x^3 + ax + b (mod p). The point at infinity has no x|y encoding, so it cannot
 * pass. Returns the uncompressed SEC1 encoding 04|x|y that OpenSSL and PKCS#11 take.
 */
export function validateEcpPublic(group: EcpGroup, xy: Buffer): Buffer {
  if (xy.length !== 2 * group.size) throw invalidKe(group, `length ${xy.length} bytes, expected ${2 * group.size} (x|y)`);
  const x = bufToBig(xy.subarray(0, group.size));
  const y = bufToBig(xy.subarray(group.size));
  const { p, a, b } = group;
  if (x >= p || y >= p) throw invalidKe(group, 'coordinate not below the field prime');
  const lhs = (y * y) % p;
  const rhs = ((((x * x) % p) * x) % p + a * x + b) % p;
  if (lhs !== rhs) throw invalidKe(group, 'point is not on the curve');
  return Buffer.concat([Buffer.from([4]), xy]);
}

/** IKE KE encoding (x|y) of an uncompressed SEC1 point (04|x|y). */
export function ecPointToKe(group: EcpGroup, sec1: Buffer): Buffer {
  if (sec1.length !== 1 + 2 * group.size || sec1[0] !== 4) {
    throw new OakleyError(CryptoErr.BAD_KEY, `expected an uncompressed ${group.curve} point of ${1 + 2 * group.size} bytes`);
  }
  return Buffer.from(sec1.subarray(1));
}

/**
 * A random MODP private exponent of exactly `bits` bits (top bit set, so its length leaks nothing
 * beyond the policy), or for RFC 5114 groups a uniform value in [1, q-1].
 */
export function randomExponent(group: ModpGroup, bits: number, fill: (b: Buffer) => Buffer): Buffer {
  const bytes = Math.ceil(bits / 8);
  for (;;) {
    const x = fill(Buffer.alloc(bytes));
    const excess = bytes * 8 - bits;
    x[0] &= 0xff >> excess;
    if (group.qBig === undefined) {
      x[0] |= 0x80 >> excess;
      return x;
    }
    const v = bufToBig(x);
    if (v >= 1n && v < group.qBig) return x;
  }
}
