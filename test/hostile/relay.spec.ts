/**
 * The impairment relay's stale-copy rule (relay.ts `dropStaleToTarget`), on loopback with real
 * sockets: a held-back copy of an IKE SA's datagram that a later, different datagram of the same
 * IKE SA overtook is dropped towards the target and counted, while a held-back datagram of another
 * IKE SA, repeats of the latest datagram and the way back are delivered as before.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';

import { ImpairmentRelay, NO_IMPAIRMENT, initiatorCookie, type ImpairmentProfile } from './relay';

const HOLD: ImpairmentProfile = { ...NO_IMPAIRMENT, reorder: 1, reorderMs: [150, 150] };

/** A 28-byte ISAKMP header with the given cookie byte and message ID (content differs per msgid). */
function isakmp(cookie: number, msgid: number): Buffer {
  const b = Buffer.alloc(28);
  b.fill(cookie, 0, 8);
  b[16] = 0;
  b[17] = 0x10;
  b[18] = 2;
  b.writeUInt32BE(msgid, 20);
  b.writeUInt32BE(28, 24);
  return b;
}

function bind(address: string): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, address, () => resolve(s));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('impairment relay: stale copies towards the target', () => {
  for (const dropStale of [true, false]) {
    it(dropStale ? 'dropStaleToTarget: an overtaken copy is dropped and counted, everything else arrives' : 'without the option every copy arrives', async () => {
      const target = await bind('127.0.0.1');
      const client = await bind('127.0.0.1');
      const relay = await ImpairmentRelay.open({
        seed: 1, profile: HOLD, dropStaleToTarget: dropStale,
        forwards: [{ name: 'ike', listen: { address: '127.0.0.1', port: 0 }, target: { address: '127.0.0.1', port: target.address().port }, upstreamAddress: '127.0.0.1' }],
      });
      const got: string[] = [];
      const back: string[] = [];
      target.on('message', (m, r) => {
        got.push(`${initiatorCookie(m).slice(0, 2)}/${m.readUInt32BE(20)}`);
        if (m.readUInt32BE(20) === 9) target.send(m, r.port, r.address); // echo one: the way back
      });
      client.on('message', (m) => back.push(`${initiatorCookie(m).slice(0, 2)}/${m.readUInt32BE(20)}`));
      const to = relay.listenEndpoints().ike!;
      const send = async (b: Buffer): Promise<void> => {
        client.send(b, to.port, to.address);
        await sleep(20);
      };
      try {
        await send(isakmp(0xaa, 1)); // held back 150 ms
        await send(isakmp(0xbb, 1)); // another IKE SA, held back too
        relay.setProfile(NO_IMPAIRMENT);
        await send(isakmp(0xaa, 2)); // overtakes aa/1
        await send(isakmp(0xaa, 2)); // a repeat of the latest: fine
        relay.setProfile(HOLD);
        await send(isakmp(0xaa, 9)); // held back, newest of aa when it leaves: delivered, echoed
        await sleep(400);
        const st = relay.stats();
        if (dropStale) {
          assert.deepEqual(got, ['aa/2', 'aa/2', 'bb/1', 'aa/9']);
          assert.equal(st.out.stale, 1);
          assert.equal(st.out.delivered, 4);
        } else {
          assert.deepEqual(got, ['aa/2', 'aa/2', 'aa/1', 'bb/1', 'aa/9']);
          assert.equal(st.out.stale, 0);
          assert.equal(st.out.delivered, 5);
        }
        assert.deepEqual(back, ['aa/9']);
        assert.equal(st.back.stale, 0);
      } finally {
        relay.close();
        target.close();
        client.close();
      }
    });
  }
});
