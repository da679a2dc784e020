/**
 * Key exchange on node:crypto. MODP uses one cached DiffieHellman object per group (creating one
 * runs OpenSSL's DH_check, ~30-45 ms for groups 1 and 2) whose private key is set per call; every
 * call is synchronous, so the shared object is never seen half-updated. ECP uses createECDH.
 */
import { createDiffieHellman, createECDH, randomFillSync, type DiffieHellman } from 'node:crypto';

import {
  ecPointToKe, exponentBitsFor, getGroup, isSupportedGroup, leftPad, randomExponent, validateEcpPublic,
  validateModpPublic, type EcpGroup, type ModpGroup,
} from '../groups';
import { CryptoErr, OakleyError } from '../../util/errors';
import type { KeOptions, KeyExchange, KeyExchangeProvider, SharedSecret } from '../types';

const dhCache = new Map<number, DiffieHellman>();

function dhFor(group: ModpGroup): DiffieHellman {
  let dh = dhCache.get(group.id);
  if (!dh) {
    dh = createDiffieHellman(group.p, group.g);
    dhCache.set(group.id, dh);
  }
  return dh;
}

class NodeModpExchange implements KeyExchange {
  readonly path = 'node' as const;
  readonly publicKey: Buffer;
  private x: Buffer | null;

  constructor(private readonly grp: ModpGroup, x: Buffer) {
    this.x = x;
    const dh = dhFor(grp);
    dh.setPrivateKey(x);
    this.publicKey = leftPad(dh.generateKeys(), grp.size);
  }

  get group(): number { return this.grp.id; }

  async computeSharedSecret(peerPublic: Buffer): Promise<SharedSecret> {
    validateModpPublic(this.grp, peerPublic);
    if (!this.x) throw new OakleyError(CryptoErr.BAD_KEY, 'key exchange already disposed');
    const dh = dhFor(this.grp);
    dh.setPrivateKey(this.x);
    return leftPad(dh.computeSecret(peerPublic), this.grp.size);
  }

  dispose(): void {
    this.x?.fill(0);
    this.x = null;
  }
}

class NodeEcpExchange implements KeyExchange {
  readonly path = 'node' as const;
  readonly publicKey: Buffer;
  private ecdh: ReturnType<typeof createECDH> | null;

  constructor(private readonly grp: EcpGroup, privateKey?: Buffer) {
    this.ecdh = createECDH(grp.curve);
    if (privateKey) this.ecdh.setPrivateKey(leftPad(privateKey, grp.size));
    else this.ecdh.generateKeys();
    this.publicKey = ecPointToKe(grp, this.ecdh.getPublicKey(null, 'uncompressed'));
  }

  get group(): number { return this.grp.id; }

  async computeSharedSecret(peerPublic: Buffer): Promise<SharedSecret> {
    const point = validateEcpPublic(this.grp, peerPublic);
    if (!this.ecdh) throw new OakleyError(CryptoErr.BAD_KEY, 'key exchange already disposed');
    return leftPad(this.ecdh.computeSecret(point), this.grp.size);
  }

  dispose(): void {
    // node:crypto gives no way to wipe an ECDH object; dropping it is the best we can do.
    this.ecdh = null;
  }
}

export const nodeKeyExchange: KeyExchangeProvider = {
  path: 'node',
  supports: isSupportedGroup,
  async create(groupId: number, options: KeOptions = {}): Promise<KeyExchange> {
    const group = getGroup(groupId);
    if (group.kind === 'ecp') return new NodeEcpExchange(group, options.privateKey);
    const x = options.privateKey ?? randomExponent(group, exponentBitsFor(group, options.exponentBits), randomFillSync);
    return new NodeModpExchange(group, Buffer.from(x));
  },
};
