/**
 * Helpers shared by the Quick Mode / Informational / DPD specs: rules with a given Phase 2 policy,
 * waiting for the responder, reading packets off the memory network, driving a ManualClock.
 */
import assert from 'node:assert/strict';

import type { Ikev1Rule } from '../../../src/exchange/ikev1/config';
import type { Ikev1Engine } from '../../../src/exchange/ikev1/engine';
import type { Phase1Context } from '../../../src/exchange/ikev1/phase1-context';
import { pairsWith, type ChildSaPair, type InstalledSa } from '../../../src/exchange/ikev1/phase2-state';
import type { MemoryKernel } from '../../../src/kernel/memory';
import type { P1Transform, P2Policy } from '../../../src/exchange/ikev1/proposals';
import type { Packet } from '../../../src/net/memory-transport';
import type { ManualClock } from '../../../src/util/clock';
import { decryptBody, encryptBody, phase2Iv } from '../../../src/wire/ikev1/encryption';
import { ExchangeType } from '../../../src/wire/ikev1/types';
import { A, B, type Bed } from './harness';

export const P1_AES128: P1Transform = { encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', auth: 'preshared', group: 14, lifetimeSeconds: 3600 };

/**
 * The keys a side's kernel holds for one SA of a pair, in hex: the cipher key (AES-GCM: with its
 * salt) and the integrity key. The pair itself keeps none (the daemon wipes its copies).
 */
export function installedKeys(side: { readonly kernel: MemoryKernel }, sa: InstalledSa): { encryption?: string; integrity?: string } {
  assert.ok(!('encryption' in sa) && !('integrity' in sa), 'the pair kept key material');
  const k = side.kernel.keysOf({ dst: sa.dst, spi: sa.spi, protocol: sa.protocol });
  assert.ok(k, `no SA ${sa.spi.toString(16)} in the kernel`);
  return k;
}

export function p2(extra: Partial<P2Policy> = {}): P2Policy {
  return { esp: [{ encr: 'aes', keyLengths: { min: 128, max: 128 }, auth: 'hmac-sha256' }], lifetimeSeconds: 3600, mode: 'tunnel', ...extra };
}

export function qmRule(label: string, policy: P2Policy, p1: P1Transform = P1_AES128, extra: Partial<Ikev1Rule> = {}): Ikev1Rule {
  return { label, mode: 'main', p1: [p1], p2: policy, ...extra };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` (real time) until true; fails after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** The live pairs an engine holds with the other side. */
export function pairsOf(engine: Ikev1Engine, peer = B.address): ChildSaPair[] {
  return pairsWith(engine, peer);
}

export function bPairs(bed: Bed): ChildSaPair[] {
  return pairsWith(bed.b.engine, A.address);
}

/** The responder's Phase 1 context once it is established. */
export async function responderCtx(bed: Bed): Promise<Phase1Context> {
  await waitFor(() => bed.b.engine.phase1Sas().some((c) => c.sa.state === 'ESTABLISHED'), 'responder Phase 1');
  return bed.b.engine.phase1Sas().find((c) => c.sa.state === 'ESTABLISHED')!;
}

export function isExchange(p: Packet, type: number): boolean {
  return p.data.length >= 28 && p.data[18] === type;
}

export function quickModePackets(bed: Bed, from = A.address): Packet[] {
  return bed.net.log.filter((p) => p.from.address === from && isExchange(p, ExchangeType.QUICK_MODE));
}

/**
 * Decrypts the first message of a Quick Mode / Informational exchange with the keys of `ctx`,
 * lets `mutate` change the plaintext, and encrypts it again with the same IV.
 */
export function rewriteFirstMessage(ctx: Phase1Context, datagram: Buffer, mutate: (plain: Buffer) => void, cipher: import('../../../src/crypto/types').CipherProvider): Buffer {
  const sa = ctx.sa;
  const mid = datagram.readUInt32BE(20);
  const alg = sa.negotiated!.encr === 'aes' ? 'aes-cbc' : '3des-cbc';
  const bs = alg === 'aes-cbc' ? 16 : 8;
  const iv = phase2Iv(sa.negotiated!.hash, sa.keys.iv!, mid, bs);
  const plain = decryptBody(cipher, alg, sa.keys.encKey!, iv, datagram.subarray(28)).plaintext;
  mutate(plain);
  const ct = cipher.encrypt(alg, sa.keys.encKey!, iv, plain);
  void encryptBody;
  return Buffer.concat([datagram.subarray(0, 28), ct]);
}

/**
 * Runs everything that is due on a ManualClock, letting promises (and thread-pool crypto) settle
 * between rounds, without moving time. Deliveries on the memory network are due "now".
 */
export async function drain(clock: ManualClock, rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    clock.flush();
    await new Promise((r) => setImmediate(r));
    if (i % 10 === 9) await sleep(1);
  }
}

/** Waits for a promise while draining the ManualClock (time does not move). */
export async function settle<T>(clock: ManualClock, p: Promise<T>, maxRounds = 3000): Promise<T> {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  for (let i = 0; i < maxRounds && !done; i++) {
    clock.flush();
    await new Promise((r) => setImmediate(r));
    if (i % 5 === 4) await sleep(1);
  }
  return p;
}

/** Moves a ManualClock forward in steps, draining after each. */
export async function pump(clock: ManualClock, ms: number, stepMs = 250, each?: () => void): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    clock.advance(Math.min(stepMs, end - clock.now()));
    await drain(clock);
    each?.();
  }
}
