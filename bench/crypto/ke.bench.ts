/**
 * Key exchange: one KE create (own key pair, g^x) + computeSharedSecret against a fixed peer value
 * (g^xy): two modexps for MODP, a fixed-base and a variable-base scalar multiplication for ECP.
 * The exponent length is the group policy (src/crypto/groups.ts defaultExponentBits), the same
 * for every path that honours KeOptions.exponentBits.
 */
import { createDiffieHellman, createECDH, randomFillSync } from 'node:crypto';

import {
  defaultExponentBits, ecPointToKe, getGroup, leftPad, randomExponent, type EcpGroup, type ModpGroup,
} from '../../src/crypto/groups';
import { isOpaqueSecret, type CryptoBackend } from '../../src/crypto/types';
import type { OpensslAlg } from '../lib/openssl';
import { SkipOp, type OpDef, type PreparedOp } from './op';

const peers = new Map<number, Buffer>();

/** A fixed, valid peer KE payload for the group (made once with node:crypto). */
export function peerValue(groupId: number): Buffer {
  let v = peers.get(groupId);
  if (v) return v;
  const g = getGroup(groupId);
  if (g.kind === 'modp') {
    const dh = createDiffieHellman(g.p, g.g);
    dh.setPrivateKey(randomExponent(g, defaultExponentBits(g), randomFillSync));
    v = leftPad(dh.generateKeys(), g.size);
  } else {
    const ecdh = createECDH(g.curve);
    v = ecPointToKe(g, ecdh.generateKeys());
  }
  peers.set(groupId, v);
  return v;
}

async function prepareKe(backend: CryptoBackend, groupId: number): Promise<PreparedOp> {
  if (!backend.ke.supports(groupId)) throw new SkipOp(`group ${groupId} not supported by the ${backend.path} path`);
  const g = getGroup(groupId);
  const peer = peerValue(groupId);
  const once = async (): Promise<number> => {
    const ke = await backend.ke.create(groupId);
    try {
      const s = await ke.computeSharedSecret(peer);
      if (isOpaqueSecret(s)) s.dispose();
      return s.length;
    } finally {
      ke.dispose();
    }
  };
  return {
    run: once,
    async check() {
      const len = await once();
      return len === g.size ? null : `g^xy has ${len} bytes, expected ${g.size}`;
    },
    close() {},
  };
}

const MODP_OPENSSL: Readonly<Record<number, OpensslAlg | undefined>> = { 14: 'ffdh2048', 15: 'ffdh3072', 16: 'ffdh4096', 18: 'ffdh8192' };
const ECP_OPENSSL: Readonly<Record<number, OpensslAlg>> = { 19: 'ecdhp256', 20: 'ecdhp384', 21: 'ecdhp521' };
const CURVE_NAME: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function modpOp(id: number): OpDef {
  const g = getGroup(id) as ModpGroup;
  const alg = MODP_OPENSSL[id];
  return {
    id: `modp${id}`,
    label: `MODP-${id} (${g.bits}) KE`,
    what: `group ${id}: KE create (g^x) + computeSharedSecret (g^xy), x of ${defaultExponentBits(g)} bits`,
    micro: false,
    openssl: alg
      ? { alg, op: 'derive', factor: 2, note: `2 x openssl ${alg} derive (RFC 7919 group of the same size, OpenSSL's short exponent; one derive = one modexp)` }
      : { none: `openssl speed has no ${g.bits}-bit ffdh group` },
    prepare: (b) => prepareKe(b, id),
  };
}

function ecpOp(id: number): OpDef {
  const g = getGroup(id) as EcpGroup;
  const alg = ECP_OPENSSL[id];
  return {
    id: `ecp${id}`,
    label: `ECP-${id} (${CURVE_NAME[g.curve] ?? g.curve}) KE`,
    what: `group ${id}: KE create (key pair) + computeSharedSecret (x of the shared point)`,
    micro: false,
    openssl: { alg, op: 'derive', factor: 1, note: `openssl ${alg} derive only (openssl makes the keys outside its loop, so this under-counts our key generation)` },
    prepare: (b) => prepareKe(b, id),
  };
}

export const KE_OPS: readonly OpDef[] = [2, 14, 15, 16, 18].map(modpOp).concat([19, 20, 21].map(ecpOp));
