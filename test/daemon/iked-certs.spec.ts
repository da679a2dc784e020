/**
 * tools/iked with RSA signatures from its files: two daemons on 127.0.0.1 with DN identities
 * (certificates from one CA in ike/publickeys, keys in secret/ike.privatekeys) negotiate with
 * `ikeadm initiate`; a third whose certificate comes from an unknown CA is refused with a clear
 * error while both daemons stay up. Also `iked -c` warnings for an rsa_sig rule without a key.
 *
 *   C (rogue cert) --MM5 IDii=DN, CERT--> A: chain check fails -> INVALID-CERT-AUTHORITY
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { freeUdpPorts, runTool, startDaemon, stopDaemon, type Daemon } from '../../src/demo/iked-demo';
import { DnPki, type DnIssued } from '../unit/keystore/dn-pki';

const CA_DN = 'C=XX, O=Interop Lab, CN=Interop Test CA';
const dnOf = (cn: string): string => `C=XX, O=Interop Lab, CN=${cn}`;

interface CertRoot {
  readonly label: string;
  readonly own: DnIssued;
  readonly ownCn: string;
  readonly peerCn: string;
  readonly remotePort: number;
  /** Leave the private key out (for -c). */
  readonly noKey?: boolean;
}

/** ROOT/ike/config (the interop shape, on 127.0.0.1), publickeys/0 = CA, /1 = own, ike.privatekeys/0 = key. */
function writeCertRoot(root: string, ca: DnIssued, s: CertRoot): void {
  const pub = path.join(root, 'ike', 'publickeys');
  const priv = path.join(root, 'secret', 'ike.privatekeys');
  fs.mkdirSync(pub, { recursive: true });
  fs.mkdirSync(priv, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(root, 'ike', 'config'), `cert_root "${CA_DN}"
{
  label "${s.label}"
  local_addr 127.0.0.1
  remote_addr 127.0.0.1
  remote_port ${s.remotePort}
  local_id_type dn
  local_id "${dnOf(s.ownCn)}"
  remote_id "${dnOf(s.peerCn)}"
  p1_xform { auth_method rsa_sig oakley_group 14 encr_alg aes(128..128) auth_alg sha256 }
  p2_pfs 14
}
`);
  fs.writeFileSync(path.join(root, 'ipsecinit.conf'), '{laddr 127.0.0.1 raddr 127.0.0.1} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}\n');
  fs.writeFileSync(path.join(pub, '0'), ca.certPem);
  fs.writeFileSync(path.join(pub, '1'), s.own.certPem);
  if (!s.noKey) fs.writeFileSync(path.join(priv, '0'), s.own.keyPem, { mode: 0o600 });
}

describe('tools/iked with RSA certificates', function () {
  this.timeout(90_000);
  let pki: DnPki;
  let ca: DnIssued;
  let certA: DnIssued;
  let certB: DnIssued;
  let certC: DnIssued;
  const daemons: Daemon[] = [];

  before(() => {
    pki = new DnPki();
    ca = pki.selfSigned('ca', '/C=XX/O=Interop Lab/CN=Interop Test CA');
    certA = pki.issue('ca', 'a', '/C=XX/O=Interop Lab/CN=peer-a.test', ['DNS:peer-a.test']);
    certB = pki.issue('ca', 'b', '/C=XX/O=Interop Lab/CN=peer-b.test', ['DNS:peer-b.test']);
    // Same CA name, different key: C's certificate looks right but chains to nothing A trusts.
    pki.selfSigned('rogue', '/C=XX/O=Interop Lab/CN=Interop Test CA');
    certC = pki.issue('rogue', 'c', '/C=XX/O=Interop Lab/CN=peer-b.test', ['DNS:peer-b.test']);
  });

  after(async () => {
    for (const d of daemons) await stopDaemon(d, 2000);
    pki.dispose();
  });

  it('-c checks out an rsa_sig rule without its key, with a warning naming what is missing', async () => {
    const root = path.join(pki.dir, 'check');
    writeCertRoot(root, ca, { label: 'no-key', own: certA, ownCn: 'peer-a.test', peerCn: 'peer-b.test', remotePort: 500, noKey: true });
    const r = await runTool('iked', ['-c', '--root', root]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /syntactically checks out/);
    assert.match(r.stderr, /warning: rule "no-key": certificate .*publickeys\/1 \(C=XX, O=Interop Lab, CN=peer-a\.test\) matches local_id but no private key in .*ike\.privatekeys pairs with it/);
  });

  describe('daemons A and B (one CA), and C (certificate from an unknown CA)', () => {
    let a: Daemon;
    let b: Daemon;
    let c: Daemon;

    before(async () => {
      const [portA, natA, portB, natB, portC, natC] = await freeUdpPorts(6);
      const rootA = path.join(pki.dir, 'a');
      const rootB = path.join(pki.dir, 'b');
      const rootC = path.join(pki.dir, 'c');
      writeCertRoot(rootA, ca, { label: 'a-to-b', own: certA, ownCn: 'peer-a.test', peerCn: 'peer-b.test', remotePort: portB! });
      writeCertRoot(rootB, ca, { label: 'b-to-a', own: certB, ownCn: 'peer-b.test', peerCn: 'peer-a.test', remotePort: portA! });
      writeCertRoot(rootC, ca, { label: 'c-to-a', own: certC, ownCn: 'peer-b.test', peerCn: 'peer-a.test', remotePort: portA! });
      a = await startDaemon(rootA, portA!, natA!);
      daemons.push(a);
      b = await startDaemon(rootB, portB!, natB!);
      daemons.push(b);
      c = await startDaemon(rootC, portC!, natC!);
      daemons.push(c);
    });

    it('A and B negotiate Main Mode with rsa_sig under their DNs and install an IPsec SA pair', async () => {
      const init = await runTool('ikeadm', ['--control', a.control, 'initiate', 'a-to-b']);
      assert.equal(init.code, 0, `${init.stderr}\n--- A ---\n${a.log}\n--- B ---\n${b.log}`);
      assert.match(init.stdout, /Phase 1 SA .* \(rule "a-to-b"\): aes-128\/sha256\/group 14\/rsa_sig/);
      assert.match(init.stdout, /IPsec SA pair: inbound ESP SPI 0x[0-9a-f]{8}, outbound ESP SPI 0x[0-9a-f]{8}/);
      for (const d of [a, b]) {
        const p1 = await runTool('ikeadm', ['--control', d.control, '-j', 'dump', 'p1']);
        assert.equal(p1.code, 0, p1.stderr);
        const sas = JSON.parse(p1.stdout) as { authMethod: string; state: string; localId?: { type: string }; remoteId?: { type: string } }[];
        assert.equal(sas.length, 1);
        assert.equal(sas[0]!.authMethod, 'rsa_sig');
        assert.equal(sas[0]!.localId?.type, 'ASN.1 DN');
        assert.equal(sas[0]!.remoteId?.type, 'ASN.1 DN');
      }
      // B holds A's certificate, obtained from its CERT payload, beside its own slots.
      const cache = await runTool('ikeadm', ['--control', b.control, 'dump', 'certcache']);
      assert.equal(cache.code, 0, cache.stderr);
      assert.match(cache.stdout, /Subject Name: C=XX, O=Interop Lab, CN=Interop Test CA\n\t Issuer Name: C=XX, O=Interop Lab, CN=Interop Test CA\n\t\t\[trusted certificate\]/);
      assert.match(cache.stdout, /Subject Name: C=XX, O=Interop Lab, CN=peer-b\.test\n.*\n\t\t\[Private key available\]/);
      assert.match(cache.stdout, /Subject Name: C=XX, O=Interop Lab, CN=peer-a\.test\n.*\n\t\t\[Public certificate only\] \[Obtained via certificate payload\]/);
    });

    it('C, whose certificate comes from an unknown CA, is refused with a clear error; A and B stay up', async () => {
      const init = await runTool('ikeadm', ['--control', c.control, 'initiate', 'c-to-a']);
      assert.notEqual(init.code, 0, init.stdout);
      assert.match(init.stderr, /INVALID_CERT_AUTHORITY/, `${init.stderr}\n--- C ---\n${c.log}`);
      assert.match(a.log, /certificate of peer .* not accepted: certificate "C=XX, O=Interop Lab, CN=peer-b\.test" .*does not chain to a trusted CA/, a.log);
      for (const d of [a, b, c]) assert.equal(d.proc.exitCode, null, 'a daemon exited');
      const p1 = await runTool('ikeadm', ['--control', a.control, '-j', 'dump', 'p1']);
      assert.equal(p1.code, 0, p1.stderr);
      assert.equal((JSON.parse(p1.stdout) as unknown[]).length, 1, 'A keeps its SA with B and gains none with C');
      const again = await runTool('ikeadm', ['--control', b.control, 'initiate', 'b-to-a']);
      assert.equal(again.code, 0, again.stderr);
    });

    it('flush certcache drops peer certificates and re-reads the stores', async () => {
      const flush = await runTool('ikeadm', ['--control', b.control, 'flush', 'certcache']);
      assert.equal(flush.code, 0, flush.stderr);
      const cache = await runTool('ikeadm', ['--control', b.control, 'dump', 'certcache']);
      assert.doesNotMatch(cache.stdout, /Obtained via certificate payload/);
      assert.match(cache.stdout, /CN=peer-b\.test/);
    });

    it('a private key file with group/other access or another owner is refused (not only warned about), naming it; the daemon keeps serving', async () => {
      const keyFile = path.join(pki.dir, 'a', 'secret', 'ike.privatekeys', '0');
      const refused = async (why: RegExp): Promise<void> => {
        const flush = await runTool('ikeadm', ['--control', a.control, 'flush', 'certcache']);
        assert.equal(flush.code, 0, flush.stderr);
        const esc = keyFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        assert.match(a.log, new RegExp(`${esc}: skipped, not a usable RSA private key: Insecure permissions, skipped untrusted private key 0: ${why.source}`));
        const cache = await runTool('ikeadm', ['--control', a.control, 'dump', 'certcache']);
        assert.match(cache.stdout, /Subject Name: C=XX, O=Interop Lab, CN=peer-a\.test\n.*\n\t\t\[Public certificate only\]/);
        const init = await runTool('ikeadm', ['--control', a.control, 'initiate', 'a-to-b', 'new']);
        assert.notEqual(init.code, 0, init.stdout);
        assert.match(init.stderr, /rule "a-to-b": no certificate in .*publickeys matches local_id "C=XX, O=Interop Lab, CN=peer-a\.test" and has its private key in .*ike\.privatekeys/);
        assert.equal(a.proc.exitCode, null, a.log);
      };
      fs.chmodSync(keyFile, 0o640);
      await refused(/mode 0640 lets group or others access it \(chmod 0600 .*\)/);
      fs.chmodSync(keyFile, 0o600);
      if (process.getuid?.() === 0) {
        fs.chownSync(keyFile, 65534, 65534);
        await refused(/owned by uid 65534, not by uid 0/);
        fs.chownSync(keyFile, 0, 0);
      }
      const flush = await runTool('ikeadm', ['--control', a.control, 'flush', 'certcache']);
      assert.equal(flush.code, 0, flush.stderr);
      const init = await runTool('ikeadm', ['--control', a.control, 'initiate', 'a-to-b', 'new']);
      assert.equal(init.code, 0, `${init.stderr}\n${a.log}`);
    });
  });
});
