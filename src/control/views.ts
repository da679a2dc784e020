/**
 * Builds ikeadm result objects (commands.ts shapes) from the daemon's own state, so control
 * handlers stay one-liners: `get stats` from the engine's counters (§7.1, counter names set by
 * IkeSa.setState), `dump p2` from the kernel's SA dump.
 */
import type { MemorySaDump } from '../kernel/memory';
import type { Counters } from '../util/counters';
import type { P2Info, StatsResult } from './commands';

/** `get stats` from the `p1.<role>.*` counters. */
export function statsFromCounters(c: Counters, pkcs11Library?: string): StatsResult {
  return {
    initP1Current: c.get('p1.initiator.current'),
    respP1Current: c.get('p1.responder.current'),
    initP1Total: c.get('p1.initiator.total'),
    respP1Total: c.get('p1.responder.total'),
    initP1Attempts: c.get('p1.initiator.attempts'),
    respP1Attempts: c.get('p1.responder.attempts'),
    initP1NoResp: c.get('p1.initiator.noresp'),
    initP1RespFail: c.get('p1.initiator.respfail'),
    respP1Fail: c.get('p1.responder.failed'),
    ...(pkcs11Library ? { pkcs11Library } : {}),
  };
}

/** `dump p2` from a kernel dump (never contains key bytes). */
export function p2FromKernelDump(dump: readonly MemorySaDump[]): P2Info[] {
  return dump.map((d) => ({
    protocol: d.key.protocol,
    spi: d.key.spi >>> 0,
    src: d.src,
    dst: d.key.dst,
    state: d.state,
    bytes: d.bytes,
    ...(d.direction ? { direction: d.direction } : {}),
    ...(d.mode ? { mode: d.mode } : {}),
    ...(d.encapsulation ? { encapsulation: d.encapsulation } : {}),
    ...(d.encryption ? { encryption: { alg: d.encryption.alg, keyBits: d.encryption.keyBits } } : {}),
    ...(d.integrity ? { integrity: { alg: d.integrity.alg, keyBits: d.integrity.keyBits } } : {}),
    ...(d.softRemaining !== undefined ? { softRemaining: d.softRemaining } : {}),
    ...(d.hardRemaining !== undefined ? { hardRemaining: d.hardRemaining } : {}),
  }));
}
