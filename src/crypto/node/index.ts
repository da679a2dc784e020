/** The `node` path: everything on node:crypto. Always available; the fallback of the others. */
import { randomFillSync } from 'node:crypto';

import type { CryptoBackend, RandomSource } from '../types';
import { nodeCipher } from './cipher';
import { nodeKdf } from './kdf';
import { nodeKeyExchange } from './ke';
import { nodeRsa } from './rsa';

export const nodeRandom: RandomSource = { path: 'node', fill: (buf) => randomFillSync(buf) };

export function createNodeBackend(): CryptoBackend {
  return {
    path: 'node', ke: nodeKeyExchange, rsa: nodeRsa, kdf: nodeKdf, cipher: nodeCipher, random: nodeRandom,
    close: async () => {},
  };
}
