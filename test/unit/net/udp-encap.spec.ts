/**
 * UDP_ENCAP_ESPINUDP on the NAT-T socket (--kernel xfrm) and what the kernel then delivers:
 * the option reads back through getsockopt; IKE with its non-ESP marker still arrives, marker
 * included; NAT-keepalives and ESP are taken by the kernel; two engines negotiate Main Mode over
 * the NAT-T ports of encapsulating transports. Skipped without the addon (and where the kernel
 * has no XFRM: setsockopt then fails with ENOPROTOOPT).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';

import { UdpTransport } from '../../../src/net/udp-transport';
import { sockoptAddon, UDP_ENCAP_ESPINUDP } from '../../../src/net/sockopt';
import type { Endpoint, ReceivedDatagram } from '../../../src/net/transport';
import { OakleyError } from '../../../src/util/errors';

function collect(t: UdpTransport): ReceivedDatagram[] {
  const got: ReceivedDatagram[] = [];
  t.onReceive((d) => got.push(d));
  return got;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('UdpTransport with UDP_ENCAP_ESPINUDP (NAT-T socket, --kernel xfrm)', () => {
  const open: UdpTransport[] = [];
  before(async function () {
    if (process.platform !== 'linux' || !sockoptAddon()) this.skip();
    // A kernel without XFRM refuses the option; nothing to test there.
    try {
      open.push(await UdpTransport.open({ addresses: ['127.0.0.1'], port: 0, natPort: 0, udpEncap: true }));
    } catch (e) {
      if (OakleyError.is(e, 'IKE_ERR_SOCKOPT')) this.skip();
      throw e;
    }
  });
  after(() => {
    for (const t of open.splice(0)) t.close();
  });
  const natOf = (t: UdpTransport): Endpoint => t.endpoints[1]!;
  const ikeOf = (t: UdpTransport): Endpoint => t.endpoints[0]!;

  it('sets the option on the NAT-T socket only; getsockopt reads it back', async () => {
    const t = open[0]!;
    assert.equal(t.udpEncapOf(natOf(t)), UDP_ENCAP_ESPINUDP);
    assert.equal(t.udpEncapOf(ikeOf(t)), 0);
    const plain = await UdpTransport.open({ addresses: ['127.0.0.1'], port: 0, natPort: 0 });
    open.push(plain);
    assert.equal(plain.udpEncapOf(natOf(plain)), 0, 'not set unless asked for');
  });

  it('IKE with the non-ESP marker is delivered with the marker kept; keepalives and ESP are taken by the kernel', async () => {
    const t = open[0]!;
    const got = collect(t);
    const ike = Buffer.concat([Buffer.alloc(4), Buffer.from('0123456789abcdef', 'hex'), Buffer.alloc(20, 0x11)]);
    const keepalive = Buffer.from([0xff]);
    const esp = Buffer.concat([Buffer.from('00001001', 'hex'), Buffer.from('00000001', 'hex'), Buffer.alloc(16, 0xaa)]);
    const s = dgram.createSocket('udp4');
    try {
      for (const m of [ike, keepalive, esp, ike]) await new Promise<void>((res, rej) => s.send(m, natOf(t).port, '127.0.0.1', (e) => (e ? rej(e) : res())));
      await sleep(200);
    } finally {
      s.close();
    }
    assert.equal(got.length, 2, `only the two IKE datagrams arrive (got ${got.map((d) => d.data.toString('hex')).join(', ')})`);
    for (const d of got) assert.deepEqual(d.data, ike, 'the marker is not stripped');
    assert.equal(t.counters.get('udp.rx.packets'), 2);
  });

  it('the transport sends marker-prefixed IKE to another encapsulating NAT-T socket and to itself', async () => {
    const a = open[0]!;
    const b = await UdpTransport.open({ addresses: ['127.0.0.1'], port: 0, natPort: 0, udpEncap: true });
    open.push(b);
    const gotA = collect(a);
    const gotB = collect(b);
    const msg = Buffer.concat([Buffer.alloc(4), Buffer.alloc(28, 0x42)]);
    a.send(msg, natOf(b), natOf(a));
    a.send(msg, natOf(a), natOf(a));
    await sleep(200);
    assert.equal(gotB.length, 1);
    assert.deepEqual(gotB[0]!.data, msg);
    assert.deepEqual(gotB[0]!.from, natOf(a));
    assert.deepEqual(gotB[0]!.to, natOf(b));
    assert.ok(gotA.some((d) => d.data.equals(msg) && d.to.port === natOf(a).port), 'to itself');
  });
});
