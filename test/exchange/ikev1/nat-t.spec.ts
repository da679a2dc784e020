/**
 * NAT traversal (RFC 3947) in Phase 1, with the initiator behind a simulated NAPT:
 *
 *   A 192.0.2.1 --[NAT 198.51.100.1]-- B 192.0.2.2
 *   MM1..MM4 on 500 (A's 500 -> 198.51.100.1:40000); NAT-D in MM3/MM4 shows the NAT
 *   MM5, MM6 on 4500 with the non-ESP marker (A's 4500 -> 198.51.100.1:40001)
 */
import assert from 'node:assert/strict';

import { MemoryNetwork, type Packet } from '../../../src/net/memory-transport';
import { SystemClock } from '../../../src/util/clock';
import { decodeHeader, decodePayloadChain } from '../../../src/wire/ikev1/message';
import { ExchangeType, HeaderFlag, PayloadType } from '../../../src/wire/ikev1/types';
import { A, B, makeBed, pskCredentials, type Bed } from './harness';
import { assertSameKeys, rule, settled, SUITES, xform } from './fixtures';

const PUBLIC = '198.51.100.1';
const T = xform(SUITES[1][1], 'preshared');

function natBed(mode: 'main' | 'aggressive', nat = true, natTA = true, keepaliveMs?: number): Promise<Bed> {
  const clock = new SystemClock();
  const net = new MemoryNetwork({ clock });
  if (nat) net.addNat({ inside: [A.address], publicAddress: PUBLIC });
  const aId = { kind: 'fqdn' as const, name: 'a.test' };
  return makeBed({
    clock, net,
    rulesA: [rule('to-b', [T], { mode, localId: aId })],
    rulesB: [rule('from-a', [T], { aggressiveResponder: true })],
    credsA: pskCredentials({ [B.address]: 'nat secret' }),
    credsB: { presharedKey: () => Buffer.from('nat secret') },
    settingsA: { natT: natTA, ...(keepaliveMs !== undefined ? { natKeepaliveMs: keepaliveMs } : {}) },
    ...(keepaliveMs !== undefined ? { settingsB: { natKeepaliveMs: keepaliveMs } } : {}),
  });
}

/** Payload types of a Phase 1 packet, when it is in the clear. */
/** The ISAKMP message of a packet: after the non-ESP marker on the NAT-T port (no cookie is all zero). */
function isakmpOf(p: Packet): Buffer {
  return p.data.length >= 4 && p.data.readUInt32BE(0) === 0 ? p.data.subarray(4) : p.data;
}

function payloadTypes(p: Packet): number[] | undefined {
  const isakmp = isakmpOf(p);
  const { header } = decodeHeader(isakmp);
  if (header.flags & HeaderFlag.ENCRYPTION) return undefined;
  return decodePayloadChain(header.nextPayload, isakmp.subarray(28, header.length), 28).map((x) => x.type as number);
}

function isPhase1(p: Packet): boolean {
  const isakmp = isakmpOf(p);
  if (isakmp.length < 28) return false;
  const t = decodeHeader(isakmp).header.exchangeType;
  return t === ExchangeType.IDENTITY_PROTECTION || t === ExchangeType.AGGRESSIVE;
}

describe('IKEv1 NAT-T (RFC 3947)', function () {
  this.timeout(30_000);

  it('Main Mode behind a NAPT: NAT-D detects it, MM5/MM6 float to 4500 with the marker, replies go to the mapped port', async () => {
    const bed = await natBed('main');
    try {
      const ctx = await bed.a.engine.initiate(A, B);
      const peer = await settled(bed);
      assertSameKeys(ctx, peer);
      assert.deepEqual(ctx.sa.natT, { peerSupports: true, localBehindNat: true, peerBehindNat: false, floated: true });
      assert.deepEqual(peer!.sa.natT, { peerSupports: true, localBehindNat: false, peerBehindNat: true, floated: true });
      const mapped = bed.net.natMapping({ address: A.address, port: 4500 });
      assert.deepEqual(peer!.sa.peer, mapped, 'the responder answers to the mapped NAT-T port');
      const p1 = bed.net.log.filter(isPhase1);
      assert.equal(p1.length, 6);
      for (const [i, p] of p1.entries()) {
        const floated = i >= 4;
        assert.equal(p.to.port === 4500 || p.to.port === mapped!.port, floated, `MM${i + 1} port`);
        if (floated) assert.ok(p.data.subarray(0, 4).equals(Buffer.alloc(4)), `MM${i + 1} has the non-ESP marker`);
      }
      assert.deepEqual(payloadTypes(p1[2])!.filter((t) => t === PayloadType.NAT_D).length, 2, 'NAT-D x2 in MM3');
      assert.deepEqual(payloadTypes(p1[3])!.filter((t) => t === PayloadType.NAT_D).length, 2, 'NAT-D x2 in MM4');
      assert.equal(p1[0].from.address, PUBLIC);
    } finally {
      await bed.close();
    }
  });

  it('NAT keepalives (0xff) on the NAT-T port are counted and ignored', async () => {
    const bed = await natBed('main');
    try {
      await bed.a.engine.initiate(A, B);
      const peer = await settled(bed);
      const prober = bed.net.attach([{ address: '192.0.2.9', port: 4500 }]);
      prober.send(Buffer.from([0xff]), { address: B.address, port: 4500 }, { address: '192.0.2.9', port: 4500 });
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(bed.b.counters.get('rx.natt_keepalive'), 1);
      assert.equal(bed.b.counters.get('rx.malformed'), 0);
      assert.equal(peer!.sa.state, 'ESTABLISHED');
      prober.close();
    } finally {
      await bed.close();
    }
  });

  it('the side behind the NAT sends keepalives (one 0xff, no marker) to the mapped NAT-T port; the other side does not', async () => {
    const bed = await natBed('main', true, true, 30);
    try {
      await bed.a.engine.initiate(A, B);
      await settled(bed);
      await new Promise((r) => setTimeout(r, 200));
      const kas = bed.net.log.filter((p) => p.data.length === 1 && p.data[0] === 0xff);
      assert.ok(kas.length >= 3, `keepalives seen: ${kas.length}`);
      assert.ok(kas.every((p) => p.to.address === B.address && p.to.port === 4500 && p.from.address === PUBLIC), 'through the NAT to B:4500');
      assert.equal(bed.a.counters.get('tx.natt_keepalive'), kas.length);
      assert.equal(bed.b.counters.get('tx.natt_keepalive'), 0, 'B is not behind a NAT');
      assert.equal(bed.b.counters.get('rx.natt_keepalive'), kas.length);
    } finally {
      await bed.close();
    }
  });

  it('without a NAT nothing floats and both sides record no NAT', async () => {
    const bed = await natBed('main', false);
    try {
      const ctx = await bed.a.engine.initiate(A, B);
      const peer = await settled(bed);
      assertSameKeys(ctx, peer);
      assert.deepEqual(ctx.sa.natT, { peerSupports: true, localBehindNat: false, peerBehindNat: false, floated: false });
      assert.deepEqual(peer!.sa.natT, { peerSupports: true, localBehindNat: false, peerBehindNat: false, floated: false });
      assert.ok(bed.net.log.every((p) => p.to.port === 500));
    } finally {
      await bed.close();
    }
  });

  it('a peer without NAT-T vendor IDs gets no NAT-D payloads (and sends none)', async () => {
    const bed = await natBed('main', false, false);
    try {
      const ctx = await bed.a.engine.initiate(A, B);
      const peer = await settled(bed);
      assertSameKeys(ctx, peer);
      assert.equal(peer!.sa.natT.peerSupports, false);
      for (const p of bed.net.log.filter(isPhase1)) {
        const types = payloadTypes(p);
        if (types) assert.ok(!types.includes(PayloadType.NAT_D) && !types.includes(PayloadType.NAT_D_DRAFT), `NAT-D in ${types}`);
      }
    } finally {
      await bed.close();
    }
  });

  it('Aggressive Mode behind a NAPT: NAT-D in AM2/AM3, AM3 already on 4500', async () => {
    const bed = await natBed('aggressive');
    try {
      const ctx = await bed.a.engine.initiate(A, B);
      const peer = await settled(bed);
      assertSameKeys(ctx, peer);
      assert.deepEqual(ctx.sa.natT, { peerSupports: true, localBehindNat: true, peerBehindNat: false, floated: true });
      assert.deepEqual(peer!.sa.natT, { peerSupports: true, localBehindNat: false, peerBehindNat: true, floated: true });
      const p1 = bed.net.log.filter(isPhase1);
      assert.equal(p1.length, 3);
      assert.deepEqual(p1.map((p) => p.to.port === 500 || p.to.port === 40000), [true, true, false]);
      assert.equal(payloadTypes(p1[1])!.filter((t) => t === PayloadType.NAT_D).length, 2, 'NAT-D x2 in AM2');
    } finally {
      await bed.close();
    }
  });

  it('Quick Mode behind the NAPT negotiates UDP-encapsulated tunnel mode; the SAs carry the NAT-T ports', async () => {
    const bed = await natBed('main');
    try {
      const ctx = await bed.a.engine.initiate(A, B);
      const pair = await bed.a.engine.quickMode(ctx);
      assert.equal(pair.negotiated.udpEncapsulated, true);
      assert.equal(pair.negotiated.mode, 'tunnel');
      assert.equal(pair.outbound.encapsulation.type, 'udp');
      // The responder installs when QM3 arrives, just after our quickMode() resolved.
      const mature = () => bed.b.kernel.dump().find((d) => d.key.spi === pair.outbound.spi && d.state === 'mature');
      for (let i = 0; i < 100 && !mature(); i++) await new Promise((r) => setTimeout(r, 10));
      const peerSide = mature();
      assert.ok(peerSide, 'the responder installed our outbound SA');
      assert.match(JSON.stringify(peerSide), /udp/, JSON.stringify(bed.b.kernel.dump()));
      if (pair.outbound.encapsulation.type === 'udp') assert.equal(pair.outbound.encapsulation.dstPort, 4500);
      // On the wire the Quick Mode went over 4500 with the non-ESP marker.
      const qm = bed.net.log.filter((p) => (p.to.port === 4500 || p.from.port === 4500) && p.data.readUInt32BE(0) === 0 &&
        decodeHeader(p.data.subarray(4)).header.exchangeType === ExchangeType.QUICK_MODE);
      assert.ok(qm.length >= 3, `${qm.length} Quick Mode packets on 4500`);
    } finally {
      await bed.close();
    }
  });
});
