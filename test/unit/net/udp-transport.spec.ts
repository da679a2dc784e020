/** UdpTransport on loopback: ephemeral ports, from/to reporting, oversize drop, send errors. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';

import { UdpTransport } from '../../../src/net/udp-transport';
import type { ReceivedDatagram } from '../../../src/net/transport';

function next(t: UdpTransport): Promise<ReceivedDatagram> {
  return new Promise((resolve) => {
    const off = t.onReceive((d) => {
      off();
      resolve(d);
    });
  });
}

async function ipv6Available(): Promise<boolean> {
  const s = dgram.createSocket({ type: 'udp6', ipv6Only: true });
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ address: '::1', port: 0 }, () => {
      s.close();
      resolve(true);
    });
  });
}

describe('UdpTransport', () => {
  const open: UdpTransport[] = [];
  afterEach(() => {
    for (const t of open.splice(0)) t.close();
  });
  async function mk(addresses: string[], extra: Partial<Parameters<typeof UdpTransport.open>[0]> = {}): Promise<UdpTransport> {
    const t = await UdpTransport.open({ addresses, port: 0, natPort: 0, ...extra });
    open.push(t);
    return t;
  }

  it('binds the IKE and NAT-T sockets on ephemeral ports and reports them', async () => {
    const a = await mk(['127.0.0.1']);
    assert.equal(a.endpoints.length, 2);
    for (const e of a.endpoints) {
      assert.equal(e.address, '127.0.0.1');
      assert.ok(e.port > 0);
    }
    assert.notEqual(a.endpoints[0].port, a.endpoints[1].port);
  });

  it('exchanges datagrams between two transports on 127.0.0.1 with from/to', async () => {
    const a = await mk(['127.0.0.1']);
    const b = await mk(['127.0.0.1']);
    const [a500, a4500] = a.endpoints;
    const [b500, b4500] = b.endpoints;
    let got = next(b);
    a.send(Buffer.from('hello'), b500, a500);
    let d = await got;
    assert.equal(d.data.toString(), 'hello');
    assert.deepEqual(d.from, a500);
    assert.deepEqual(d.to, b500);
    got = next(a);
    b.send(Buffer.from('natt'), a4500, b4500);
    d = await got;
    assert.equal(d.data.toString(), 'natt');
    assert.deepEqual(d.from, b4500);
    assert.deepEqual(d.to, a4500);
    assert.equal(a.counters.get('udp.rx.packets'), 1);
  });

  it('exchanges datagrams on ::1 (skipped when IPv6 loopback is unavailable)', async function () {
    if (!(await ipv6Available())) {
      console.log('      (skipped: no IPv6 loopback)');
      this.skip();
    }
    const a = await mk(['::1'], { natPort: null });
    const b = await mk(['::1'], { natPort: null });
    const got = next(b);
    a.send(Buffer.from('v6'), b.endpoints[0], a.endpoints[0]);
    const d = await got;
    assert.equal(d.data.toString(), 'v6');
    assert.deepEqual(d.from, a.endpoints[0]);
    assert.deepEqual(d.to, b.endpoints[0]);
  });

  it('drops and counts datagrams above maxDatagram', async () => {
    const a = await mk(['127.0.0.1']);
    const b = await mk(['127.0.0.1'], { maxDatagram: 10 });
    const got = next(b);
    a.send(Buffer.alloc(11), b.endpoints[0], a.endpoints[0]);
    a.send(Buffer.from('small'), b.endpoints[0], a.endpoints[0]);
    const d = await got;
    assert.equal(d.data.toString(), 'small');
    assert.equal(b.counters.get('udp.rx.oversize'), 1);
  });

  it('never throws on send errors, counts them; throws only for an unbound source', async () => {
    const a = await mk(['127.0.0.1'], { natPort: null });
    a.send(Buffer.from('x'), { address: '127.0.0.1', port: 70000 }, a.endpoints[0]);
    a.send(Buffer.from('x'), { address: '::1', port: 500 }, a.endpoints[0]);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(a.counters.get('udp.tx.error') >= 2);
    assert.throws(() => a.send(Buffer.from('x'), a.endpoints[0], { address: '127.0.0.1', port: 1 }), /not bound/);
  });

  it('refuses non-literal addresses and reports a bind conflict as IKE_ERR_BIND', async () => {
    await assert.rejects(UdpTransport.open({ addresses: ['localhost'], port: 0 }), /not a literal/);
    const a = await mk(['127.0.0.1'], { natPort: null });
    await assert.rejects(UdpTransport.open({ addresses: ['127.0.0.1'], port: a.endpoints[0].port, natPort: null }), (e: Error & { code?: string }) => e.code === 'IKE_ERR_BIND');
  });

  it('close() stops delivery and later sends are ignored', async () => {
    const a = await mk(['127.0.0.1'], { natPort: null });
    a.close();
    a.close();
    a.send(Buffer.from('x'), { address: '127.0.0.1', port: 9 }, a.endpoints[0]);
  });
});
