/**
 * tools/iked with CRLs in ROOT/ike/crls (solaris-ike.md §1.4 cert_root/ignore_crls, §4.4, §4.5):
 * B's certificate is revoked by the CA that issued it. Three responders, all with A's certificate
 * and the CA as cert_root, differ only in their CRL handling:
 *
 *   A   crls/ holds the CA's CRL revoking B
 *   A2  the same CRL, and ignore_crls in ike/config
 *   A3  crls/ holds a CRL with the CA's name revoking B, signed by another key (bad signature)
 *
 *   B --MM5 IDii=DN(peer-b), CERT(B)--> A:  chain OK, B's serial in the CA's CRL
 *     A: "certificate of peer ... not accepted: certificate "...peer-b.test" (serial ..) was revoked
 *        by CA "..." on <date>, reason keyCompromise (.../crls/ca.crl)" -> INVALID-CERTIFICATE
 *   B --MM5--> A2: CRLs ignored -> established
 *   B --MM5--> A3: the CRL does not verify with the CA's key, so it is not trusted and not used;
 *     A3 warns once and treats the CA as having no CRL (Solaris does not insist on one) -> established
 *
 * Then A's CRL is removed and `ikeadm flush certcache` re-reads crls/: B is accepted.
 *
 * B runs once per responder (B, B2, B3: the same certificate), because `ikeadm initiate` reuses
 * an established ISAKMP SA with the peer's address, and all of them are 127.0.0.1.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { freeUdpPorts, runTool, startDaemon, stopDaemon, type Daemon } from '../../src/demo/iked-demo';
import { DnPki, type DnIssued } from '../unit/keystore/dn-pki';

const CA_DN = 'C=XX, O=CRL Lab, CN=CRL Test CA';
const dnOf = (cn: string): string => `C=XX, O=CRL Lab, CN=${cn}`;

interface Rule {
  readonly label: string;
  readonly remotePort: number;
}

/** ROOT/ike/config with one rsa_sig rule per entry of `rules`, publickeys/0 = CA, /1 = own, key 0, crls/. */
function writeRoot(root: string, ca: DnIssued, own: DnIssued, ownCn: string, peerCn: string, rules: readonly Rule[],
  opts: { globals?: string; crls?: Record<string, string> } = {}): void {
  const pub = path.join(root, 'ike', 'publickeys');
  const priv = path.join(root, 'secret', 'ike.privatekeys');
  const crls = path.join(root, 'ike', 'crls');
  for (const d of [pub, crls]) fs.mkdirSync(d, { recursive: true });
  fs.mkdirSync(priv, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(root, 'ike', 'config'), `cert_root "${CA_DN}"\n${opts.globals ?? ''}\n${rules.map((r) => `{
  label "${r.label}"
  local_addr 127.0.0.1
  remote_addr 127.0.0.1
  remote_port ${r.remotePort}
  local_id_type dn
  local_id "${dnOf(ownCn)}"
  remote_id "${dnOf(peerCn)}"
  p1_xform { auth_method rsa_sig oakley_group 14 encr_alg aes(128..128) auth_alg sha256 }
  p2_pfs 14
}
`).join('')}`);
  fs.writeFileSync(path.join(root, 'ipsecinit.conf'), '{laddr 127.0.0.1 raddr 127.0.0.1} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}\n');
  fs.writeFileSync(path.join(pub, '0'), ca.certPem);
  fs.writeFileSync(path.join(pub, '1'), own.certPem);
  fs.writeFileSync(path.join(priv, '0'), own.keyPem, { mode: 0o600 });
  for (const [name, text] of Object.entries(opts.crls ?? {})) fs.writeFileSync(path.join(crls, name), text);
}

describe('tools/iked with CRLs', function () {
  this.timeout(120_000);
  let pki: DnPki;
  let a: Daemon;
  let a2: Daemon;
  let a3: Daemon;
  let b: Daemon;
  let b2: Daemon;
  let b3: Daemon;
  let rootA: string;
  const daemons: Daemon[] = [];
  const logs = (): string => daemons.map((d, i) => `--- ${['A', 'A2', 'A3', 'B', 'B2', 'B3'][i]} ---\n${d.log}`).join('\n');
  const p1Count = async (d: Daemon): Promise<number> => {
    const r = await runTool('ikeadm', ['--control', d.control, '-j', 'dump', 'p1']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as unknown[]).length;
  };

  before(async () => {
    pki = new DnPki();
    const ca = pki.selfSigned('ca', '/C=XX/O=CRL Lab/CN=CRL Test CA');
    const certA = pki.issue('ca', 'a', '/C=XX/O=CRL Lab/CN=peer-a.test');
    const certB = pki.issue('ca', 'b', '/C=XX/O=CRL Lab/CN=peer-b.test');
    pki.revoke('ca', certB);
    const crl = pki.crl('ca').pem;
    pki.selfSigned('lookalike', '/C=XX/O=CRL Lab/CN=CRL Test CA');
    pki.revoke('lookalike', certB);
    const forged = pki.crl('lookalike').pem;

    const [pA, nA, pA2, nA2, pA3, nA3, pB, nB, pB2, nB2, pB3, nB3] = await freeUdpPorts(12);
    rootA = path.join(pki.dir, 'a');
    const toB = (port: number): Rule[] => [{ label: 'a-to-b', remotePort: port }];
    const toA = (label: string, port: number): Rule[] => [{ label, remotePort: port }];
    writeRoot(rootA, ca, certA, 'peer-a.test', 'peer-b.test', toB(pB!), { crls: { 'ca.crl': crl } });
    writeRoot(path.join(pki.dir, 'a2'), ca, certA, 'peer-a.test', 'peer-b.test', toB(pB2!), { crls: { 'ca.crl': crl }, globals: 'ignore_crls' });
    writeRoot(path.join(pki.dir, 'a3'), ca, certA, 'peer-a.test', 'peer-b.test', toB(pB3!), { crls: { 'forged.crl': forged } });
    writeRoot(path.join(pki.dir, 'b'), ca, certB, 'peer-b.test', 'peer-a.test', toA('b-to-a', pA!));
    writeRoot(path.join(pki.dir, 'b2'), ca, certB, 'peer-b.test', 'peer-a.test', toA('b-to-a2', pA2!));
    writeRoot(path.join(pki.dir, 'b3'), ca, certB, 'peer-b.test', 'peer-a.test', toA('b-to-a3', pA3!));
    for (const [dir, port, nat] of [['a', pA, nA], ['a2', pA2, nA2], ['a3', pA3, nA3], ['b', pB, nB], ['b2', pB2, nB2], ['b3', pB3, nB3]] as const) {
      daemons.push(await startDaemon(path.join(pki.dir, dir), port!, nat!));
    }
    [a, a2, a3, b, b2, b3] = daemons as [Daemon, Daemon, Daemon, Daemon, Daemon, Daemon];
  });

  after(async () => {
    for (const d of daemons) await stopDaemon(d, 2000);
    pki?.dispose();
  });

  it('A refuses B, whose certificate the CA revoked, naming the certificate and the date; INVALID-CERTIFICATE; all stay up', async () => {
    const init = await runTool('ikeadm', ['--control', b.control, 'initiate', 'b-to-a']);
    assert.notEqual(init.code, 0, init.stdout);
    assert.match(init.stderr, /INVALID_CERTIFICATE/, `${init.stderr}\n${logs()}`);
    assert.match(a.log, /certificate of peer .* not accepted: certificate "C=XX, O=CRL Lab, CN=peer-b\.test" \(serial [0-9A-F]+\) was revoked by CA "C=XX, O=CRL Lab, CN=CRL Test CA" on \d{4}-\d\d-\d\dT[\d:.]+Z, reason keyCompromise \(.*crls\/ca\.crl\)/, a.log);
    for (const d of daemons) assert.equal(d.proc.exitCode, null, 'a daemon exited');
    assert.equal(await p1Count(a), 0);
  });

  it('with ignore_crls (A2) the same CRL is not consulted and B negotiates', async () => {
    const init = await runTool('ikeadm', ['--control', b2.control, 'initiate', 'b-to-a2']);
    assert.equal(init.code, 0, `${init.stderr}\n${logs()}`);
    assert.match(init.stdout, /Phase 1 SA .* \(rule "b-to-a2"\): aes-128\/sha256\/group 14\/rsa_sig/);
    assert.equal(await p1Count(a2), 1);
  });

  it('a CRL with a bad signature (A3) is not trusted: A3 warns and B negotiates as with no CRL', async () => {
    const init = await runTool('ikeadm', ['--control', b3.control, 'initiate', 'b-to-a3']);
    assert.equal(init.code, 0, `${init.stderr}\n${logs()}`);
    assert.match(a3.log, /forged\.crl: CRL of "C=XX, O=CRL Lab, CN=CRL Test CA" is not trusted: its signature does not verify with the key of CA "C=XX, O=CRL Lab, CN=CRL Test CA"; it is not used/, a3.log);
    assert.equal(await p1Count(a3), 1);
  });

  it('flush certcache re-reads crls/: with the CRL removed, A accepts B', async () => {
    fs.rmSync(path.join(rootA, 'ike', 'crls', 'ca.crl'));
    const flush = await runTool('ikeadm', ['--control', a.control, 'flush', 'certcache']);
    assert.equal(flush.code, 0, flush.stderr);
    const init = await runTool('ikeadm', ['--control', b.control, 'initiate', 'b-to-a']);
    assert.equal(init.code, 0, `${init.stderr}\n${logs()}`);
    assert.equal(await p1Count(a), 1);
  });
});
