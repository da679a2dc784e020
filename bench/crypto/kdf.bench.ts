/**
 * Key derivation: the IKEv1 Phase 1 + Quick Mode KEYMAT chain (RFC 2409 §5, §5.5, Appendix B) and
 * one HMAC-SHA256 over 64 bytes (kdf.prf), both on the path's KeyDerivation.
 */
import { randomBytes } from 'node:crypto';

import type { CryptoBackend, Ikev1Phase1Input } from '../../src/crypto/types';
import type { OpDef } from './op';

const psk = randomBytes(32);
const ni = randomBytes(32);
const nr = randomBytes(32);
const ckyI = randomBytes(8);
const ckyR = randomBytes(8);
/** g^xy of Phase 1 and of the Quick Mode PFS exchange: 256 bytes (MODP-2048). */
const gxy = randomBytes(256);
const gqmxy = randomBytes(256);
const gxi = randomBytes(256);
const gxr = randomBytes(256);
const spiIn = randomBytes(4);
const spiOut = randomBytes(4);
const qmNi = randomBytes(32);
const qmNr = randomBytes(32);
const hmacKey = randomBytes(32);
const hmacData = randomBytes(64);

const PHASE1: Ikev1Phase1Input = {
  hash: 'sha256', auth: 'psk', psk, ni, nr, ckyI, ckyR, gxy, encKeyLength: 16, gxi, gxr, ivLength: 16,
};

const keymatOp: OpDef = {
  id: 'ikev1-keymat',
  label: 'IKEv1 P1+QM KEYMAT',
  what: 'ikev1Phase1 (PSK, SHA-256, 256-byte g^xy, 16-byte key and IV) + 2 x ikev1Keymat (PFS g^xy 256 bytes, 36 bytes each)',
  micro: true,
  openssl: { none: 'no openssl speed equivalent (a chain of ~10 HMACs and a hash over IKE-sized inputs)' },
  async prepare(backend: CryptoBackend) {
    const chain = async (): Promise<Buffer[]> => {
      const p1 = await backend.kdf.ikev1Phase1(PHASE1);
      const km = (spi: Buffer) => backend.kdf.ikev1Keymat({
        hash: 'sha256', skeyidD: p1.skeyidD, gqmxy, protocol: 3, spi, ni: qmNi, nr: qmNr, length: 36,
      });
      return [p1.encKey ?? Buffer.alloc(0), p1.iv ?? Buffer.alloc(0), await km(spiIn), await km(spiOut)];
    };
    return {
      run: chain,
      async check() {
        const [enc, iv, a, b] = await chain();
        if (enc.length !== 16 || iv.length !== 16) return `encKey/iv of ${enc.length}/${iv.length} bytes, expected 16/16`;
        if (a.length !== 36 || b.length !== 36) return `KEYMAT of ${a.length}/${b.length} bytes, expected 36`;
        return null;
      },
      close() {},
    };
  },
};

const hmacOp: OpDef = {
  id: 'hmac-sha256-64',
  label: 'HMAC-SHA256 64 B',
  what: 'kdf.prf(sha256, 32-byte key, 64 bytes)',
  micro: true,
  openssl: { alg: 'hmac-sha256-64', op: 'hmac', factor: 1, note: 'openssl speed -hmac sha256 -bytes 64 (pre-keyed context reused, the C floor)' },
  async prepare(backend: CryptoBackend) {
    return {
      run: () => backend.kdf.prf('sha256', hmacKey, hmacData),
      async check() {
        const out = await backend.kdf.prf('sha256', hmacKey, hmacData);
        return out.length === 32 ? null : `HMAC of ${out.length} bytes`;
      },
      close() {},
    };
  },
};

export const KDF_OPS: readonly OpDef[] = [keymatOp, hmacOp];
