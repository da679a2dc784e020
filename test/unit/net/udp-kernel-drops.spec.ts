/**
 * Kernel-level receive drops of the IKE sockets (issue 9, floods): UdpTransport reads the `drops`
 * column of /proc/self/net/udp{,6} for its own sockets and counts the increase as
 * `udp.rx.kernel_drops`. Live check: another process floods the socket while this event loop is
 * blocked, so the receive buffer overflows.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';

import { Counters } from '../../../src/util/counters';
import { procNetLocal, procNetUdpDrops, RECV_BUFFER_BYTES, UdpTransport } from '../../../src/net/udp-transport';

const SAMPLE = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  101: 0100007F:1F4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 518564 2 00000000cd8836f6 7
  102: 0100007F:01F4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 518564 2 00000000cd8836f6 40
  103: 0100007F:1194 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 518564 2 00000000cd8836f6 2
  104: 0200007F:01F4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 518564 2 00000000cd8836f6 900
`;

describe('UdpTransport: kernel receive drops', () => {
  it('names endpoints the way /proc/net/udp and udp6 print them', () => {
    assert.equal(procNetLocal({ address: '127.0.0.1', port: 500 }), '0100007F:01F4');
    assert.equal(procNetLocal({ address: '192.0.2.1', port: 4500 }), '010200C0:1194');
    assert.equal(procNetLocal({ address: '::1', port: 500 }), '00000000000000000000000001000000:01F4');
    assert.equal(procNetLocal({ address: '2001:db8::1', port: 4500 }), 'B80D0120000000000000000001000000:1194');
  });

  it('sums the drops column of our rows only', () => {
    const r = procNetUdpDrops(SAMPLE, new Set(['0100007F:01F4', '0100007F:1194']));
    assert.deepEqual(r, { drops: 42, matched: 2 });
    assert.deepEqual(procNetUdpDrops(SAMPLE, new Set(['0300007F:01F4'])), { drops: 0, matched: 0 });
  });

  it('a receive buffer overflow shows up as udp.rx.kernel_drops', async function () {
    if (!fs.existsSync('/proc/self/net/udp')) this.skip();
    this.timeout(20_000);
    const counters = new Counters();
    // The system's default receive buffer (~208 KB): 4 MB of datagrams overflow it.
    const t = await UdpTransport.open({ addresses: ['127.0.0.1'], port: 0, natPort: null, counters, recvBufferSize: 0 });
    try {
      assert.equal(t.kernelDrops(), 0, 'our socket is found and has dropped nothing yet');
      let received = 0;
      t.onReceive(() => received++);
      const port = t.endpoints[0]!.port;
      // 4000 datagrams of 1000 bytes (~4 MB, far beyond the default receive buffer) while this
      // event loop is blocked; the sender exits after its last send completes.
      const sender = spawn(process.execPath, ['-e', `
        const s = require('dgram').createSocket('udp4'); const b = Buffer.alloc(1000, 1); let n = 0;
        const go = () => { if (n === 4000) return s.close(); n++; s.send(b, ${port}, '127.0.0.1', go); };
        s.bind(0, '127.0.0.1', go);`], { stdio: 'ignore' });
      const exited = new Promise<number | null>((r) => sender.on('exit', r));
      const until = Date.now() + 1500;
      while (Date.now() < until) { /* the event loop is busy: nothing is read */ }
      assert.equal(await exited, 0);
      await new Promise((r) => setTimeout(r, 200));
      t.sampleKernelDrops();
      const drops = counters.snapshot()['udp.rx.kernel_drops'] ?? 0;
      assert.ok(drops > 0, `the kernel dropped datagrams (${received} read)`);
      assert.equal(drops, t.kernelDrops());
      assert.ok(received + drops <= 4000 && received + drops >= 3900, `${received} read + ${drops} dropped account for the 4000 sent`);
    } finally {
      t.close();
    }
  });

  it('asks for a 4 MB receive buffer by default (capped by net.core.rmem_max), the system default with 0', async function () {
    if (!fs.existsSync('/proc/sys/net/core/rmem_max')) this.skip();
    const max = Number(fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const dflt = Number(fs.readFileSync('/proc/sys/net/core/rmem_default', 'utf8'));
    const big = await UdpTransport.open({ addresses: ['127.0.0.1'], port: 0, natPort: 0 });
    const small = await UdpTransport.open({ addresses: ['127.0.0.1'], port: 0, natPort: null, recvBufferSize: 0 });
    try {
      for (const e of big.endpoints) assert.equal(big.recvBufferOf(e), 2 * Math.min(RECV_BUFFER_BYTES, max), 'Linux reports twice what it granted');
      assert.equal(small.recvBufferOf(small.endpoints[0]!), dflt);
    } finally {
      big.close();
      small.close();
    }
  });
});
