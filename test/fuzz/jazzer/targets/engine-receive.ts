/**
 * The engine's receive path with realistic state. Two Ikev1Engines over the in-memory network
 * (test/exchange/ikev1/harness.ts) are driven to a stage, then the network is cut and the fuzzer's
 * bytes are delivered to one of them as datagrams.
 *
 * Input: byte 0 is a control byte, the rest the datagram.
 *   bits 0-1  stage: 0 after MM2 (MM3 lost), 1 after MM4 (MM5 lost), 2 Phase 1 established,
 *             3 mid Quick Mode (QM1 delivered, QM2 lost)
 *   bit 2     deliver to the initiator A (clear: to the responder B)
 *   bit 3     overwrite the cookies with the live SA's (seeds recorded in another run, or by
 *             strongSwan, then reach the SA instead of bouncing off the cookie lookup)
 *   bit 4     re-encrypt: the datagram is [header][plaintext chain]; the chain is encrypted with the
 *             SA's current key and IV (Phase 1 IV for M-ID 0, else the Quick Mode/Informational IV of
 *             that M-ID), so the fuzzer steers what the handlers see behind the cipher
 *   bit 5     deliver on port 4500 with the non-ESP marker
 *   bit 6     deliver twice (retransmission / duplicate cache)
 *
 * Invariants: receive() never throws; no rx.internal_error and no unhandled rejection; rx.packets
 * grows by exactly the datagrams delivered; no counter goes negative; the Phase 1 table stays
 * within the half-open cap plus the live SAs; each input finishes within SLOW_MS.
 * A world whose SAs were changed by an input (state moved, SA deleted, pair added) is rebuilt, so
 * every input meets the stage its control byte names.
 */
import type { Packet } from '../../../../src/net/memory-transport';
import type { Endpoint } from '../../../../src/net/transport';
import type { Ikev1Rule } from '../../../../src/exchange/ikev1/config';
import type { Phase1Context } from '../../../../src/exchange/ikev1/phase1-context';
import { CIPHER_OF } from '../../../../src/exchange/ikev1/phase1-context';
import { blockSizeOf, encryptBody, phase2Iv } from '../../../../src/wire/ikev1/encryption';
import { A, B, makeBed, pskCredentials, type Bed, type Side } from '../../../exchange/ikev1/harness';
import { FuzzFinding, MAX_INPUT, SLOW_MS } from '../common';

export const STAGES = ['mm2', 'mm4', 'established', 'qm'] as const;
export type Stage = typeof STAGES[number];
const PASS: Record<Stage, number> = { mm2: 2, mm4: 4, established: 6, qm: 7 };
const HALF_OPEN_MAX = 64;

const RULE: Ikev1Rule = {
  label: 'fuzz', mode: 'main',
  p1: [{ encr: 'aes', keyLengths: { min: 128, max: 128 }, hash: 'sha256', auth: 'preshared', group: 19, lifetimeSeconds: 3600 }],
  p2: { esp: [{ encr: 'aes', auth: 'hmac-sha256' }], lifetimeSeconds: 3600, mode: 'tunnel' },
};

export interface World {
  readonly stage: Stage;
  readonly bed: Bed;
  /** Every packet the two engines sent while getting to the stage (the real messages). */
  readonly packets: Packet[];
  readonly icookie: Buffer;
  readonly fingerprint: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settle = async () => { for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r)); };

function ctxOf(s: Side, icookie: Buffer): Phase1Context | undefined {
  return s.engine.phase1Sas().find((c) => c.sa.icookie.equals(icookie));
}

function fingerprint(w: { bed: Bed; icookie: Buffer }): string {
  return [w.bed.a, w.bed.b].map((s) => {
    const c = ctxOf(s, w.icookie);
    return c ? `${c.sa.state}/${c.step}/${c.sa.keys.phase2Iv.size}/${s.kernel.size}` : 'gone';
  }).join('|') + `|${w.bed.b.engine.phase1Sas().length}`;
}

export async function buildWorld(stage: Stage): Promise<World> {
  // The engines' timers are unref'd: hold the event loop open while the negotiation runs.
  const keep = setInterval(() => undefined, 1000);
  try {
    return await build(stage);
  } finally {
    clearInterval(keep);
  }
}

async function build(stage: Stage): Promise<World> {
  const bed = await makeBed({
    rulesA: [RULE], rulesB: [RULE],
    credsA: pskCredentials({ [B.address]: 'fuzz key' }), credsB: pskCredentials({ [A.address]: 'fuzz key' }),
    settings: { retransmit: { initMs: 3_600_000, maxMs: 3_600_000, limit: 1 }, admission: { maxHalfOpen: HALF_OPEN_MAX, perSourceRate: 1e9, perSourceBurst: 1e9 } },
  });
  const packets: Packet[] = [];
  bed.net.dropIf((p) => { packets.push(p); return packets.length > PASS[stage]; });
  const p1 = bed.a.engine.initiate(A, B).catch(() => undefined);
  const deadline = Date.now() + 10_000;
  const want = stage === 'qm' ? PASS.qm + 1 : stage === 'established' ? PASS.established : PASS[stage] + 1;
  if (stage === 'established' || stage === 'qm') {
    const ctx = await p1;
    if (!ctx) throw new Error(`could not reach ${stage}: Phase 1 failed`);
    while (ctxOf(bed.b, ctx.sa.icookie)?.sa.state !== 'ESTABLISHED') { if (Date.now() > deadline) throw new Error('B never established'); await sleep(1); }
    if (stage === 'qm') bed.a.engine.quickMode(ctx).catch(() => undefined);
  }
  while (packets.length < want) { if (Date.now() > deadline) throw new Error(`could not reach ${stage} (${packets.length} packets)`); await sleep(1); }
  await sleep(5);
  bed.net.clearImpairments();
  bed.net.dropIf(() => true); // from here on, nothing the engines send is delivered
  const icookie = packets[0]!.data.subarray(0, 8);
  const w = { stage, bed, packets, icookie: Buffer.from(icookie) };
  return { ...w, fingerprint: fingerprint(w) };
}

/** Builds the datagram an input describes, against a world. */
export function datagramFor(w: World, control: number, body: Buffer): { data: Buffer; side: Side; to: Endpoint; from: Endpoint } {
  const toA = (control & 4) !== 0;
  const side = toA ? w.bed.a : w.bed.b;
  let data = Buffer.from(body);
  const ctx = ctxOf(side, w.icookie);
  if (control & 8 && data.length >= 16 && ctx) {
    ctx.sa.icookie.copy(data, 0);
    ctx.sa.rcookie.copy(data, 8);
  }
  if (control & 16 && data.length >= 28 && ctx?.sa.keys.encKey && ctx.sa.negotiated) {
    const neg = ctx.sa.negotiated;
    const alg = CIPHER_OF[neg.encr];
    const mid = data.readUInt32BE(20);
    const iv = mid === 0 ? ctx.sa.keys.iv! : ctx.sa.keys.phase2Iv.get(mid) ?? phase2Iv(neg.hash, ctx.sa.keys.iv!, mid, blockSizeOf(alg));
    const enc = encryptBody(side.crypto.cipher, alg, ctx.sa.keys.encKey, iv, data.subarray(28));
    data = Buffer.concat([data.subarray(0, 28), enc.ciphertext]);
    data[19] = data[19]! | 1;
    data.writeUInt32BE(data.length, 24);
  }
  const peer = toA ? B : A;
  const local = toA ? A : B;
  if (control & 32) return { data: Buffer.concat([Buffer.alloc(4), data]), side, to: { ...local, port: 4500 }, from: { ...peer, port: 4500 } };
  return { data, side, to: local, from: peer };
}

const worlds = new Map<Stage, World>();
let rejection: unknown;
let hooked = false;

async function worldFor(stage: Stage): Promise<World> {
  let w = worlds.get(stage);
  if (w && fingerprint(w) === w.fingerprint) return w;
  if (w) await w.bed.close();
  w = await buildWorld(stage);
  worlds.set(stage, w);
  return w;
}

function check(s: Side, before: number, delivered: number, who: string): void {
  const internal = s.counters.get('rx.internal_error');
  if (internal > 0) throw new FuzzFinding(`${who}: rx.internal_error=${internal}: ${s.logs.filter((l) => /internal error/.test(l)).slice(-1)[0]}`);
  const packets = s.counters.get('rx.packets');
  if (packets - before !== delivered) throw new FuzzFinding(`${who}: rx.packets grew by ${packets - before}, ${delivered} delivered`);
  for (const [k, v] of Object.entries(s.counters.snapshot())) {
    if (!Number.isSafeInteger(v) || v < 0) throw new FuzzFinding(`${who}: counter ${k}=${v}`);
  }
  const n = s.engine.phase1Sas().length;
  if (n > HALF_OPEN_MAX + 2) throw new FuzzFinding(`${who}: ${n} Phase 1 SAs with a half-open cap of ${HALF_OPEN_MAX}`);
  if (s.logs.length > 10_000) s.logs.splice(0, s.logs.length - 1000);
}

export async function deliver(data: Buffer): Promise<void> {
  if (!hooked) {
    hooked = true;
    process.on('unhandledRejection', (e) => { rejection = e; });
  }
  if (data.length < 1 || data.length > MAX_INPUT) return;
  const control = data[0]!;
  const stage = STAGES[control & 3]!;
  const w = await worldFor(stage);
  const t0 = performance.now();
  const d = datagramFor(w, control, data.subarray(1));
  const times = control & 64 ? 2 : 1;
  const before = d.side.counters.get('rx.packets');
  for (let i = 0; i < times; i++) {
    try {
      d.side.engine.receive({ data: d.data, from: d.from, to: d.to });
    } catch (e) {
      throw new FuzzFinding(`receive() threw: ${(e as Error).stack ?? String(e)}`, { cause: e });
    }
  }
  await settle();
  const ms = performance.now() - t0;
  if (ms > 5 * SLOW_MS) throw new FuzzFinding(`one datagram took ${ms.toFixed(0)} ms`);
  if (rejection) { const e = rejection; rejection = undefined; throw new FuzzFinding(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`); }
  check(d.side, before, times, d.side === w.bed.a ? 'A' : 'B');
}

export const fuzz = deliver;

/** For the mocha spec and the corpus recorder: close every world. */
export async function closeWorlds(): Promise<void> {
  for (const w of worlds.values()) await w.bed.close();
  worlds.clear();
}
