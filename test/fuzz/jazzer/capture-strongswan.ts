/**
 * Records real strongSwan 5.9 IKEv1 datagrams for the seed corpora (needs root, strongSwan and
 * tcpdump; the interop namespaces of test/interop/lib):
 *   node dist/test/fuzz/jazzer/capture-strongswan.js
 * Runs Main Mode and Aggressive Mode (PSK, with Quick Mode + PFS) between charon and iked in both
 * directions with tcpdump in Oakley's namespace, and writes every UDP payload:
 *   test/fuzz/corpus/strongswan/       ISAKMP messages (the non-ESP marker of port 4500 removed)
 *   test/fuzz/corpus/strongswan-4500/  the port-4500 datagrams as received (marker included)
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Scenario, type ScenarioSpec } from '../../interop/lib/scenario';

const CORPUS = path.resolve(__dirname, '../../../../test/fuzz/corpus');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** UDP payloads of a pcap file (Ethernet, Linux cooked v1/v2, raw IPv4 link types). */
export function udpPayloads(pcap: Buffer): { sport: number; dport: number; data: Buffer }[] {
  const out: { sport: number; dport: number; data: Buffer }[] = [];
  const le = pcap.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (at: number) => (le ? pcap.readUInt32LE(at) : pcap.readUInt32BE(at));
  const link = u32(20);
  const l2 = link === 1 ? 14 : link === 113 ? 16 : link === 276 ? 20 : link === 101 ? 0 : -1;
  if (l2 < 0) throw new Error(`link type ${link}`);
  for (let at = 24; at + 16 <= pcap.length;) {
    const caplen = u32(at + 8);
    const frame = pcap.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    const ip = frame.subarray(l2);
    if (ip.length < 20 || ip[0]! >> 4 !== 4 || ip[9] !== 17) continue;
    const udp = ip.subarray((ip[0]! & 15) * 4);
    out.push({ sport: udp.readUInt16BE(0), dport: udp.readUInt16BE(2), data: Buffer.from(udp.subarray(8, udp.readUInt16BE(4))) });
  }
  return out;
}

function put(dir: string, b: Buffer): void {
  const d = path.join(CORPUS, dir);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, createHash('sha1').update(b).digest('hex').slice(0, 16)), b);
}

const SPECS: ScenarioSpec[] = [
  { name: 'MM', ike: 'aes128-sha256-modp2048', esp: 'aes128-sha256-modp2048' },
  { name: 'MM 3des', ike: '3des-sha1-modp1024', esp: '3des-sha1' },
  { name: 'AM', ike: 'aes128-sha256-modp2048', esp: 'aes128-sha256-modp2048', aggressive: true },
];

async function main(): Promise<void> {
  let n = 0;
  for (const spec of SPECS) {
    for (const role of ['initiator', 'responder'] as const) {
      const s = new Scenario(spec);
      const file = path.join(os.tmpdir(), `oakley-swan-${process.pid}-${n++}.pcap`);
      try {
        await s.start();
        const dump = spawn('ip', ['netns', 'exec', s.net!.a, 'tcpdump', '-i', 'any', '-U', '-s', '0', '-w', file, 'udp'], { stdio: 'ignore' });
        await sleep(800);
        if (role === 'initiator') await s.oakleyInitiates(); else await s.strongswanInitiates();
        await sleep(500);
        dump.kill('SIGINT');
        await new Promise((r) => dump.on('close', r));
        const pkts = udpPayloads(fs.readFileSync(file));
        let kept = 0;
        for (const p of pkts) {
          if (p.sport !== 500 && p.sport !== 4500) continue;
          if (p.dport === 4500 || p.sport === 4500) {
            put('strongswan-4500', p.data);
            if (p.data.length > 4 && p.data.readUInt32BE(0) === 0) put('strongswan', p.data.subarray(4));
          } else put('strongswan', p.data);
          kept++;
        }
        console.log(`${spec.name}, Oakley ${role}: ${kept} datagrams`);
      } finally {
        await s.stop();
        fs.rmSync(file, { force: true });
      }
    }
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
