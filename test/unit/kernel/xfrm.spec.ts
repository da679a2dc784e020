/**
 * The XFRM codec and XfrmKernel without a kernel: struct sizes, bounded decoders (every malformed
 * or truncated message is an XfrmWireError naming an offset), errno mapping, and events injected
 * as kernel messages built with the codec. The last group runs two IKEv1 engines over XfrmKernels
 * whose channel is a scripted kernel (it acks what a kernel with ESP would), so soft and hard
 * EXPIRE messages drive a real rekey and delete, and an ACQUIRE starts a negotiation.
 */
import assert from 'node:assert/strict';

import { attachAcquire } from '../../../src/exchange/ikev1/acquire';
import { Ikev1Engine } from '../../../src/exchange/ikev1/engine';
import { pairsWith } from '../../../src/exchange/ikev1/phase2-state';
import { openCryptoSuite } from '../../../src/crypto/registry';
import type { AcquireEvent, ExpireEvent } from '../../../src/kernel/types';
import type { XfrmChannel } from '../../../src/kernel/xfrm/channel';
import { XfrmKernel } from '../../../src/kernel/xfrm/kernel';
import { saRequest, usersaInfoOf } from '../../../src/kernel/xfrm/messages';
import { decodeAttrs, encodeMessage, NlFlag, splitMessages, XfrmWireError } from '../../../src/kernel/xfrm/netlink';
import {
  decodeUserAcquire, decodeUsersaInfo, encodeAddress, encodeSelector, encodeUserExpire, encodeUsersaId, encodeUsersaInfo, SIZE, XfrmMsg,
} from '../../../src/kernel/xfrm/structs';
import { MemoryNetwork } from '../../../src/net/memory-transport';
import { SystemClock } from '../../../src/util/clock';
import { Counters } from '../../../src/util/counters';
import { OakleyError } from '../../../src/util/errors';
import { A, B, pskCredentials } from '../../exchange/ikev1/harness';
import { p2, qmRule, waitFor } from '../../exchange/ikev1/phase2-helpers';

const clock = new SystemClock();

/** A scripted NETLINK_XFRM kernel: ALLOCSPI → NEWSA with a fresh SPI, GETSA → the SA, the rest ack 0. */
class FakeKernel implements XfrmChannel {
  readonly portId = 4242;
  readonly sent: Buffer[] = [];
  private spi = 0x1000;
  private readonly sas = new Map<string, Buffer>();
  refuse?: { type: number; errno: number; text?: string };

  request(msg: Buffer): Buffer[] {
    this.sent.push(msg);
    const [m] = splitMessages(msg);
    const { type, seq } = m!.header;
    if (this.refuse?.type === type) return [this.ack(msg, seq, this.refuse.errno, this.refuse.text)];
    if (type === XfrmMsg.ALLOCSPI) {
      const info = decodeUsersaInfo(m!.payload);
      const body = encodeUsersaInfo({ ...info, spi: this.spi++ });
      return [encodeMessage(XfrmMsg.NEWSA, 0, seq, body)];
    }
    if (type === XfrmMsg.NEWSA || type === XfrmMsg.UPDSA) {
      const info = decodeUsersaInfo(m!.payload);
      this.sas.set(`${info.daddr}/${info.spi}`, msg.subarray(16, 16 + SIZE.usersaInfo));
    }
    if (type === XfrmMsg.GETSA) {
      const id = m!.payload;
      const daddr = id.bytes(16, 'daddr');
      const spi = id.u32be('spi');
      const key = `${daddr[0]}.${daddr[1]}.${daddr[2]}.${daddr[3]}/${spi}`;
      const body = this.sas.get(key);
      return [body ? encodeMessage(XfrmMsg.NEWSA, 0, seq, Buffer.from(body)) : this.ack(msg, seq, 3)];
    }
    return [this.ack(msg, seq, 0)];
  }

  private ack(req: Buffer, seq: number, errno: number, text?: string): Buffer {
    const head = Buffer.alloc(4);
    head.writeInt32LE(-errno, 0);
    const attrs = text ? [Buffer.concat([Buffer.from([text.length + 5, 0, 1, 0]), Buffer.from(text + '\0'), Buffer.alloc(3)]).subarray(0, (text.length + 5 + 3) & ~3)] : [];
    return encodeMessage(2, NlFlag.CAPPED | (text ? NlFlag.ACK_TLVS : 0), seq, Buffer.concat([head, req.subarray(0, 16)]), attrs);
  }

  close(): void {}
}

function xfrmKernel(fake = new FakeKernel(), counters = new Counters()): { kernel: XfrmKernel; fake: FakeKernel } {
  return { kernel: new XfrmKernel({ clock, counters, channel: () => fake }), fake };
}

const SPEC = {
  src: '192.0.2.1', dst: '192.0.2.2', spi: 0x4000, protocol: 'esp' as const, direction: 'outbound' as const, mode: 'transport' as const,
  encapsulation: { type: 'none' as const }, encryption: { alg: 'aes-cbc' as const, key: Buffer.alloc(16, 7) },
  integrity: { alg: 'hmac-sha1' as const, key: Buffer.alloc(20, 9) }, replayWindow: 32,
  lifetimes: { soft: { seconds: 5, bytes: 0 }, hard: { seconds: 10, bytes: 4096 } },
};

function expireDatagram(spec: typeof SPEC, hard: boolean, pid = 0): Buffer {
  return encodeMessage(XfrmMsg.EXPIRE, 0, 0, encodeUserExpire(usersaInfoOf(spec), hard)).fill(pid, 12, 13);
}

describe('XFRM codec', () => {
  it('struct sizes are those of /usr/include/linux/xfrm.h on x86-64', () => {
    assert.deepEqual([SIZE.selector, SIZE.usersaInfo, SIZE.userspiInfo, SIZE.usersaId, SIZE.userpolicyInfo, SIZE.userTmpl, SIZE.userAcquire, SIZE.userExpire],
      [56, 224, 232, 24, 168, 64, 280, 232]);
    assert.equal(encodeUsersaInfo(usersaInfoOf(SPEC)).length, 224);
    assert.equal(encodeUsersaId({ daddr: '2001:db8::1', spi: 1, family: 10, proto: 50 }).subarray(0, 16).toString('hex'), '20010db8000000000000000000000001');
    assert.equal(encodeAddress('::ffff:192.0.2.1').toString('hex'), '00000000000000000000ffffc0000201');
  });

  it('every truncation and length corruption of a NEWSA is an XfrmWireError with an offset, never a crash', () => {
    const good = saRequest('add', SPEC, 1);
    for (let n = 0; n < good.length; n++) {
      for (const d of [good.subarray(0, n), Buffer.concat([good.subarray(0, 4), good.subarray(4, n)])]) {
        try {
          const msgs = splitMessages(d);
          for (const m of msgs) decodeUsersaInfo(m.payload);
        } catch (e) {
          assert.ok(e instanceof XfrmWireError, `length ${n}: ${(e as Error).stack}`);
          assert.ok(e.offset >= 0);
        }
      }
    }
    const bad = Buffer.from(good);
    bad.writeUInt32LE(9999, 0);
    assert.throws(() => splitMessages(bad), (e: unknown) => e instanceof XfrmWireError && /offset 0/.test(e.message));
    const badAttr = Buffer.from(good);
    badAttr.writeUInt16LE(2, 16 + 224); // nla_len below the attribute header
    const m = splitMessages(badAttr)[0]!;
    decodeUsersaInfo(m.payload);
    assert.throws(() => decodeAttrs(m.payload), (e: unknown) => e instanceof XfrmWireError && e.offset === 16 + 224);
    const c = new Counters();
    const k2 = new XfrmKernel({ clock, counters: c, channel: () => new FakeKernel() });
    k2.onDatagram(null, encodeMessage(XfrmMsg.ACQUIRE, 0, 0, Buffer.alloc(100)));
    assert.equal(c.get('kernel.xfrm_malformed'), 1);
    void k2.close();
  });

  it('decodes an ACQUIRE into the addresses and the packet flow', () => {
    const body = Buffer.alloc(SIZE.userAcquire);
    encodeAddress('192.0.2.2').copy(body, 0);
    body[20] = 50;
    encodeAddress('192.0.2.1').copy(body, 24);
    encodeSelector({ family: 2, daddr: '192.0.2.2', saddr: '192.0.2.1', prefixlenD: 32, prefixlenS: 32, proto: 17, dport: 9, sport: 5555 }, body, 40);
    body.writeUInt32LE(77, 276);
    const a = decodeUserAcquire(splitMessages(encodeMessage(XfrmMsg.ACQUIRE, 0, 0, body))[0]!.payload);
    assert.deepEqual([a.saddr, a.daddr, a.proto, a.seq, a.sel.dport, a.sel.sport], ['192.0.2.1', '192.0.2.2', 50, 77, 9, 5555]);
  });
});

describe('XfrmKernel (scripted kernel)', () => {
  it('EPROTONOSUPPORT on NEWSA is KernelErr.UNSUPPORTED with errno, extack and a counter', async () => {
    const counters = new Counters();
    const { kernel, fake } = xfrmKernel(new FakeKernel(), counters);
    fake.refuse = { type: XfrmMsg.NEWSA, errno: 93, text: 'Requested type not found' };
    await assert.rejects(kernel.addSa(SPEC), (e: unknown) => OakleyError.is(e, 'IKE_ERR_KERNEL_UNSUPPORTED') &&
      e.detail?.errno === 93 && e.detail?.extack === 'Requested type not found');
    assert.equal(counters.get('kernel.sa_unsupported'), 1);
    fake.refuse = { type: XfrmMsg.DELSA, errno: 3 };
    await assert.rejects(kernel.delSa(SPEC), (e: unknown) => OakleyError.is(e, 'IKE_ERR_KERNEL_NO_SUCH_SA'));
    await kernel.close();
  });

  it('EXPIRE soft/hard become expire events (seconds vs bytes); DELSA by others is `deleted`, our own is not', async () => {
    const { kernel, fake } = xfrmKernel();
    await kernel.addSa(SPEC);
    const seen: (ExpireEvent | string)[] = [];
    kernel.events.on('expire', (e) => seen.push(e));
    kernel.events.on('deleted', (d) => seen.push(`deleted ${d.sa.spi}`));
    kernel.onDatagram(null, expireDatagram(SPEC, false));
    const hard = Buffer.from(expireDatagram(SPEC, true));
    hard.writeBigUInt64LE(4096n, 16 + 160); // curlft.bytes reached the hard byte limit
    kernel.onDatagram(null, hard);
    assert.deepEqual(seen.map((e) => (typeof e === 'string' ? e : `${e.kind} ${e.by} ${e.direction} ${e.sa.spi}`)), [
      'soft seconds outbound 16384', 'hard bytes outbound 16384']);
    await kernel.addSa(SPEC);
    const del = (pid: number) => {
      const m = encodeMessage(XfrmMsg.DELSA, 0, 0, encodeUsersaId({ daddr: SPEC.dst, spi: SPEC.spi, family: 2, proto: 50 }));
      m.writeUInt32LE(pid, 12);
      return m;
    };
    kernel.onDatagram(null, del(fake.portId));
    assert.equal(seen.length, 2);
    kernel.onDatagram(null, del(1));
    assert.deepEqual(seen.slice(2), ['deleted 16384']);
    await kernel.close();
  });
});

describe('ACQUIRE and EXPIRE through XfrmKernel drive the IKEv1 engine', function () {
  this.timeout(30_000);

  async function bed() {
    const net = new MemoryNetwork({ clock });
    const side = async (at: typeof A, peer: typeof B) => {
      const crypto = await openCryptoSuite({ ke: 'node', rsa: 'node', prf: 'node', cipher: 'node', random: 'node' }, {}, () => {});
      const counters = new Counters();
      const fake = new FakeKernel();
      const kernel = new XfrmKernel({ clock, counters, channel: () => fake });
      const engine = new Ikev1Engine({
        transport: net.attach([at, { address: at.address, port: 4500 }]), crypto, kernel, clock, counters,
        rules: [qmRule('r', p2({ mode: 'transport' }), undefined, { localAddresses: [at.address], remoteAddresses: [peer.address] })],
        credentials: pskCredentials({ [peer.address]: 'xfrm secret' }),
      });
      attachAcquire(engine, { localPort: 500 });
      return { engine, kernel, fake, counters, crypto };
    };
    const a = await side(A, B), b = await side(B, A);
    return { a, b, async close() { for (const s of [a, b]) { s.engine.close(); await s.kernel.close(); await s.crypto.close(); } } };
  }

  const acquire = (seq: number): Buffer => {
    const body = Buffer.alloc(SIZE.userAcquire);
    encodeAddress(B.address).copy(body, 0);
    body[20] = 50;
    encodeAddress(A.address).copy(body, 24);
    encodeSelector({ family: 2, daddr: B.address, saddr: A.address, prefixlenD: 32, prefixlenS: 32, proto: 0, dport: 0, sport: 0 }, body, 40);
    body.writeUInt32LE(seq, 276);
    return encodeMessage(XfrmMsg.ACQUIRE, 0, 0, body);
  };

  it('an ACQUIRE starts Phase 1 + Quick Mode (duplicates merged); soft EXPIRE rekeys; hard EXPIRE deletes and tells the peer', async () => {
    const t = await bed();
    try {
      const got: AcquireEvent[] = [];
      t.a.kernel.events.on('acquire', (e) => got.push(e));
      t.a.kernel.onDatagram(null, Buffer.concat([acquire(1), acquire(2)]));
      await waitFor(() => t.a.counters.get('acquire.negotiated') === 1, 'negotiation from ACQUIRE');
      assert.equal(got.length, 2);
      assert.equal(t.a.counters.get('acquire.merged'), 1);
      const [pair] = pairsWith(t.a.engine, B.address);
      assert.ok(pair);
      assert.equal(t.a.fake.sent.filter((m) => m.readUInt16LE(4) === XfrmMsg.NEWSA).length, 1);
      assert.equal(t.a.fake.sent.filter((m) => m.readUInt16LE(4) === XfrmMsg.UPDSA).length, 1);
      // Soft EXPIRE of our inbound SA (the kernel's message, built with the codec): a rekey.
      t.a.kernel.onDatagram(null, encodeMessage(XfrmMsg.EXPIRE, 0, 0, encodeUserExpire(usersaInfoOf(pair.inbound), false)));
      await waitFor(() => t.a.counters.get('p2.rekey.done') === 1, 'rekey after soft EXPIRE');
      const fresh = pairsWith(t.a.engine, B.address).find((p) => p.state === 'installed' && p !== pair)!;
      assert.ok(fresh);
      // Hard EXPIRE: the pair goes, with a Delete to the peer, which removes its pair (DELSA).
      const bDelsBefore = t.b.fake.sent.filter((m) => m.readUInt16LE(4) === XfrmMsg.DELSA).length;
      t.a.kernel.onDatagram(null, encodeMessage(XfrmMsg.EXPIRE, 0, 0, encodeUserExpire(usersaInfoOf(fresh.inbound), true)));
      await waitFor(() => t.a.counters.get('p2.hard_expired') === 1, 'delete after hard EXPIRE');
      await waitFor(() => t.b.fake.sent.filter((m) => m.readUInt16LE(4) === XfrmMsg.DELSA).length > bDelsBefore, 'peer DELSA');
    } finally {
      await t.close();
    }
  });

  it('when the kernel refuses ESP, both sides fail the Quick Mode cleanly and the peer gets a Delete', async () => {
    const t = await bed();
    try {
      t.a.fake.refuse = { type: XfrmMsg.NEWSA, errno: 93, text: 'Requested type not found' };
      t.b.fake.refuse = { type: XfrmMsg.NEWSA, errno: 93, text: 'Requested type not found' };
      t.a.kernel.onDatagram(null, acquire(1));
      await waitFor(() => t.a.counters.get('acquire.failed') === 1 && t.b.counters.get('p2.install_failed') === 1, 'both installs refused');
      assert.equal(t.a.counters.get('kernel.sa_unsupported'), 1);
      assert.equal(t.b.counters.get('kernel.sa_unsupported'), 1);
      assert.equal(t.a.counters.get('p2.install_failed'), 1);
      await waitFor(() => t.b.counters.get('tx.delete.IPSEC_ESP') + t.a.counters.get('tx.delete.IPSEC_ESP') >= 2, 'Deletes sent');
      assert.equal(pairsWith(t.a.engine, B.address).length, 0);
      assert.equal(pairsWith(t.b.engine, A.address).length, 0);
      // The Phase 1 SA stays usable: the next ACQUIRE goes straight to Quick Mode.
      assert.ok(t.a.engine.established(B));
    } finally {
      await t.close();
    }
  });
});
