/**
 * A flood of spoofed first Main Mode messages from loopback, for test/daemon/flood.spec.ts:
 * `node flood-generator.js PORT RATE SECONDS SOURCES` sends MM1 (a fresh initiator cookie each,
 * one AES-256/SHA-256/group 14 PSK proposal, as the target's rule wants) to 127.0.0.1:PORT from SOURCES sockets bound to
 * 127.0.1.1, 127.0.1.2, … at about RATE packets per second for SECONDS, then prints the count.
 */
import dgram from 'node:dgram';
import { randomFillSync } from 'node:crypto';

import { buildP1SaPayload } from '../../src/exchange/ikev1/proposals';
import { encodeMessage } from '../../src/wire/ikev1/message';
import { ExchangeType } from '../../src/wire/ikev1/types';

async function main(): Promise<void> {
  const [port, rate, seconds, sources] = process.argv.slice(2).map(Number);
  const template = encodeMessage({
    icookie: Buffer.alloc(8, 1), rcookie: Buffer.alloc(8), nextPayload: 0, version: 0x10, exchangeType: ExchangeType.IDENTITY_PROTECTION, flags: 0, messageId: 0,
  }, [buildP1SaPayload([{ encr: 'aes', keyLengths: { min: 256, max: 256 }, hash: 'sha256', auth: 'preshared', group: 14, lifetimeSeconds: 3600 }])]).datagram;
  const sockets = await Promise.all(Array.from({ length: sources! }, (_, i) => new Promise<dgram.Socket>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind({ address: `127.0.1.${i + 1}`, port: 0 }, () => resolve(s));
  })));
  let sent = 0;
  const end = Date.now() + seconds! * 1000;
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((rate! * tickMs) / 1000));
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() >= end) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (let i = 0; i < perTick; i++) {
        const pkt = Buffer.from(template);
        randomFillSync(pkt, 0, 8);
        sockets[sent % sockets.length]!.send(pkt, port!, '127.0.0.1');
        sent++;
      }
    }, tickMs);
  });
  await new Promise((r) => setTimeout(r, 100));
  for (const s of sockets) s.close();
  process.stdout.write(`${sent}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
