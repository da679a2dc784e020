/**
 * Writes the seed corpora under test/fuzz/corpus/ (committed; re-run after a wire change):
 *   node dist/test/fuzz/jazzer/record-corpus.js
 *
 *  - oakley/            real Oakley<->Oakley datagrams (MM1-6, QM1-2 of a PSK negotiation, AES/SHA-256/
 *                       ecp256) recorded on the in-memory network
 *  - engine-receive/    those datagrams and the strongSwan ones (strongswan/, capture-strongswan.ts)
 *                       behind control bytes (stage, side, cookie rewrite), plus plaintext chains
 *                       for the re-encrypt mode (QM HASH+SA+NONCE, Informational HASH+N / HASH+D)
 *  - wire-payloads/, wire-attributes/, wire-id/, wire-encrypted/: bodies cut from the real messages
 *  - policy-*, control-frame, xfrm-netlink: valid documents and frames in the shipped formats
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { encodeFrame } from '../../../src/control/frame';
import { saRequest, policyRequests } from '../../../src/kernel/xfrm/messages';
import { encodeMessage, decodeMessage } from '../../../src/wire/ikev1/message';
import { PayloadType, type Payload } from '../../../src/wire/ikev1/types';
import { STAGES, buildWorld } from './targets/engine-receive';

const CORPUS = path.resolve(__dirname, '../../../../test/fuzz/corpus');

function put(dir: string, data: Buffer | string): void {
  const d = path.join(CORPUS, dir);
  fs.mkdirSync(d, { recursive: true });
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
  fs.writeFileSync(path.join(d, createHash('sha1').update(b).digest('hex').slice(0, 16)), b);
}

const PAYLOAD_TYPES: number[] = [...new Set<number>(Object.values(PayloadType) as number[]), 200];

async function main(): Promise<void> {
  // Real Oakley datagrams: the qm world saw MM1..MM6 and QM1 (QM2 was sent and cut).
  const w = await buildWorld('qm');
  const real = w.packets.map((p) => ({ data: Buffer.from(p.data), toA: p.to.address === '192.0.2.1' }));
  await w.bed.close();
  for (const p of real) put('oakley', p.data);
  const swan = fs.existsSync(path.join(CORPUS, 'strongswan'))
    ? fs.readdirSync(path.join(CORPUS, 'strongswan')).map((f) => fs.readFileSync(path.join(CORPUS, 'strongswan', f))) : [];
  // Engine: each real message at each stage, to the side that receives it, cookies rewritten.
  for (let s = 0; s < STAGES.length; s++) {
    for (const p of real) put('engine-receive', Buffer.concat([Buffer.from([s | (p.toA ? 4 : 0) | 8]), p.data]));
    for (const d of swan) put('engine-receive', Buffer.concat([Buffer.from([s | 8]), d]));
  }
  const header = (exchangeType: number, messageId: number) => ({ icookie: Buffer.alloc(8, 1), rcookie: Buffer.alloc(8, 2), nextPayload: 0, version: 0x10, exchangeType, flags: 0, messageId });
  const hash: Payload = { type: PayloadType.HASH, data: Buffer.alloc(32, 0xaa) };
  const chains: [number, Payload[]][] = [
    [5, [hash, { type: PayloadType.N, doi: 1, protocol: 1, spi: Buffer.alloc(16, 3), notifyType: 24578, data: Buffer.alloc(0) }]],
    [5, [hash, { type: PayloadType.D, doi: 1, protocol: 3, spiSize: 4, spis: [Buffer.from([1, 2, 3, 4])] }]],
    [5, [hash, { type: PayloadType.N, doi: 1, protocol: 1, spi: Buffer.alloc(16, 3), notifyType: 36136, data: Buffer.alloc(4, 0) }]],
    [32, [hash, { type: PayloadType.SA, doi: 1, situation: 1, situationData: Buffer.alloc(0), proposals: [{ number: 1, protocol: 3, spi: Buffer.from([9, 9, 9, 9]), transforms: [{ number: 1, id: 12, attributes: [{ type: 1, value: 1 }, { type: 2, value: 3600 }, { type: 4, value: 1 }, { type: 5, value: 5 }, { type: 6, value: 128 }] }] }] }, { type: PayloadType.NONCE, data: Buffer.alloc(32, 5) }]],
  ];
  for (const [exch, payloads] of chains) {
    const plain = encodeMessage(header(exch, 0x11223344), payloads).datagram;
    for (const s of [2, 3]) for (const side of [0, 4]) put('engine-receive', Buffer.concat([Buffer.from([s | side | 8 | 16]), plain]));
    put('wire-encrypted', Buffer.concat([Buffer.from([1]), plain]));
    put('wire-encrypted', Buffer.concat([Buffer.from([5]), plain]));
    put('wire-message', plain);
  }
  // Payload, attribute and ID bodies cut from the plaintext real messages.
  for (const p of real) {
    if (p.data[19]! & 1) continue;
    const spans: { start: number; end: number }[] = [];
    let m;
    try { m = decodeMessage(p.data, { spans }); } catch { continue; }
    m.payloads.forEach((pl, i) => {
      const type = pl.type === 'unknown' ? 200 : pl.type;
      const body = p.data.subarray(28 + spans[i]!.start + 4, 28 + spans[i]!.end);
      put('wire-payloads', Buffer.concat([Buffer.from([PAYLOAD_TYPES.indexOf(type)]), body]));
      if (pl.type === PayloadType.ID) put('wire-id', Buffer.concat([Buffer.from([pl.idType]), pl.data]));
    });
  }
  const attrs = Buffer.from('800100078002000480030001800400138005000e800b0001000c000400000e10', 'hex');
  put('wire-attributes', Buffer.concat([Buffer.from([1, 1]), attrs]));
  put('wire-attributes', Buffer.concat([Buffer.from([2, 12]), Buffer.from('80010001000200040000708080040001800500058006008000', 'hex')]));
  put('wire-id', Buffer.concat([Buffer.from([1]), Buffer.from([192, 0, 2, 1])]));
  put('wire-id', Buffer.concat([Buffer.from([4]), Buffer.from([192, 0, 2, 0, 255, 255, 255, 0])]));
  put('wire-id', Buffer.concat([Buffer.from([2]), Buffer.from('gw.example.org')]));
  put('wire-id', Buffer.concat([Buffer.from([9]), Buffer.from('301a311830160603550403130f67772e6578616d706c652e6f7267', 'hex')]));

  // Policy documents in the shipped grammars.
  put('policy-ike-config', `# ike/config
cert_root "C=US, O=Example, CN=Root"
p1_lifetime_secs 7200
retry_limit 3
retry_timer_init 1
{
  label "to-b"
  local_addr 192.0.2.1
  remote_addr 192.0.2.2
  local_id_type ip
  p1_mode main
  p1_xform { auth_method preshared oakley_group 14 encr_alg aes(128..256) auth_alg sha256 }
  p1_xform { auth_method rsa_sig oakley_group 19 encr_alg 3des auth_alg sha1 }
  p2_pfs 14
}
{ label "any" local_addr 192.0.2.0/24 remote_addr 0.0.0.0-255.255.255.255 p1_mode aggressive aggressive_responder yes
  remote_id "CN=peer" p1_xform { auth_method rsa_sig oakley_group 2 encr_alg aes auth_alg sha512 } }
`);
  put('policy-preshared', `# ike.preshared
{
	localidtype IP
	localid 192.0.2.1
	remoteidtype IP
	remoteid 192.0.2.2
	key 6f2a91c0d3e84b7a5c1e9f0b2d4c6a8e
}
{ localidtype IPv6 localid 2001:db8::1 remoteidtype IPv6 remoteid 2001:db8::/64 ike_mode main key "correct horse \\"battery\\" staple" }
`);
  put('policy-ipsecinit', `# ipsecinit.conf
{laddr 192.0.2.1 raddr 192.0.2.2 ulp tcp dport 22} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}
{raddr 198.51.100.0/24} bypass {}
tunnel ip.tun0 tsrc 192.0.2.1 tdst 192.0.2.2
{tunnel ip.tun0 negotiate tunnel laddr 198.51.100.1 raddr 203.0.113.1} ipsec {encr_algs aes(256) encr_auth_algs sha512 sa unique}
{laddr 2001:db8::1 dir in} drop {}
`);
  // Control frames: a pipelined request pair, a response, an event.
  put('control-frame', Buffer.concat([Buffer.from([7]), encodeFrame({ id: 1, cmd: 'dump', args: { what: 'p1' } } as never), encodeFrame({ id: 'x', cmd: 'get', args: { what: 'stats' } } as never)]));
  put('control-frame', Buffer.concat([Buffer.from([0x83]), encodeFrame({ id: 2, ok: false, error: { code: 'IKE_ERR_X', message: 'no' } } as never), encodeFrame({ event: 'sa-up', data: { label: 'a' } })]));
  // XFRM: a NEWSA (as the kernel echoes it in dumps) and policy messages.
  const spec = {
    src: '192.0.2.1', dst: '192.0.2.2', spi: 0x4000, protocol: 'esp' as const, direction: 'outbound' as const, mode: 'tunnel' as const,
    encapsulation: { type: 'espinudp' as const, sport: 4500, dport: 4500 }, encryption: { alg: 'aes-cbc' as const, key: Buffer.alloc(16, 7) },
    integrity: { alg: 'hmac-sha256' as const, key: Buffer.alloc(32, 9) }, replayWindow: 32,
    lifetimes: { soft: { seconds: 5, bytes: 0 }, hard: { seconds: 10, bytes: 4096 } },
    selectors: { src: { address: '198.51.100.1', prefix: 32 }, dst: { address: '203.0.113.1', prefix: 32 } },
  };
  try {
    put('xfrm-netlink', Buffer.concat([Buffer.from([0]), saRequest('add', spec as never, 1)]));
    put('xfrm-netlink', Buffer.concat([Buffer.from([0x80 | 5]), saRequest('add', spec as never, 1)]));
    put('xfrm-netlink', Buffer.concat([Buffer.from([0x80 | 6]), saRequest('add', spec as never, 1)]));
    let seq = 1;
    for (const m of policyRequests('add', { src: spec.selectors.src, dst: spec.selectors.dst, direction: 'outbound', action: 'ipsec', protocol: 'esp', mode: 'tunnel', tunnel: { src: spec.src, dst: spec.dst } } as never, () => seq++)) {
      put('xfrm-netlink', Buffer.concat([Buffer.from([0]), m]));
    }
  } catch (e) {
    console.error(`xfrm seeds: ${(e as Error).message}`);
  }
  for (const d of fs.readdirSync(CORPUS)) console.log(`${d}: ${fs.readdirSync(path.join(CORPUS, d)).length} files`);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
