/**
 * cert-sel names (solaris-ike.md §1.2): DN rendering with escaped commas, subjectAltNames tagged
 * and bare, SLOT=/SUBJECT=/ISSUER=, and the include/exclude match.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';

import { altNames, certificateDns, certificateNames, matchesSelector, renderDn, sameDn, selectorOf } from '../../../src/keystore/cert-names';
import { subjectDer } from '../../../src/keystore/minimal';
import { DnPki, type DnIssued } from './dn-pki';

describe('keystore/cert-names', function () {
  this.timeout(60_000);
  let pki: DnPki;
  let ca: DnIssued;
  let peer: DnIssued;
  let comma: DnIssued;

  before(() => {
    pki = new DnPki();
    ca = pki.selfSigned('ca', '/C=XX/O=Interop Lab/CN=Interop Test CA');
    peer = pki.issue('ca', 'peer', '/C=XX/O=Interop Lab/CN=peer-a.test',
      ['DNS:peer-a.test', 'IP:192.0.2.1', 'IP:2001:db8::1', 'email:ops@peer-a.test', 'URI:https://peer-a.test/', 'RID:1.2.3.4']);
    comma = pki.issue('ca', 'comma', '/C=XX/O=Interop Lab\\, Inc./OU=R&D/CN=comma.test');
  });
  after(() => pki.dispose());

  it('renders the subject and issuer comma-space separated in certificate order', () => {
    const dns = certificateDns(peer.certDer);
    assert.equal(dns.subject, 'C=XX, O=Interop Lab, CN=peer-a.test');
    assert.equal(dns.issuer, 'C=XX, O=Interop Lab, CN=Interop Test CA');
    assert.equal(renderDn(subjectDer(ca.certPem)), 'C=XX, O=Interop Lab, CN=Interop Test CA');
    // The same RDNs as node sees them, whatever its separator.
    const nodeRdns = new X509Certificate(peer.certPem).subject.split('\n');
    assert.deepEqual(dns.subject.split(', '), nodeRdns);
  });

  it('sameDn: equal names in other string types or case are the same name; other names and bad DER are not', () => {
    const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag, body.length]), body]);
    const atv = (oidLast: number, tag: number, text: string): Buffer =>
      tlv(0x31, tlv(0x30, Buffer.concat([tlv(0x06, Buffer.from([0x55, 0x04, oidLast])), tlv(tag, Buffer.from(text, 'latin1'))])));
    const name = (...rdns: Buffer[]): Buffer => tlv(0x30, Buffer.concat(rdns));
    // openssl's default (UTF8String) and strongSwan's ID encoding (PrintableString for C, O, CN).
    const utf8 = name(atv(6, 0x0c, 'XX'), atv(10, 0x0c, 'Interop Lab'), atv(3, 0x0c, 'strongswan.test'));
    const printable = name(atv(6, 0x13, 'XX'), atv(10, 0x13, 'Interop Lab'), atv(3, 0x13, 'strongswan.test'));
    assert.notDeepEqual(utf8, printable);
    assert.equal(renderDn(printable), 'C=XX, O=Interop Lab, CN=strongswan.test');
    assert.ok(sameDn(utf8, printable));
    assert.ok(sameDn(utf8, name(atv(6, 0x13, 'xx'), atv(10, 0x0c, 'Interop  Lab'), atv(3, 0x13, 'STRONGSWAN.test'))));
    assert.ok(!sameDn(utf8, name(atv(6, 0x13, 'XX'), atv(10, 0x13, 'Interop Lab'), atv(3, 0x13, 'oakley.test'))));
    assert.ok(!sameDn(utf8, name(atv(10, 0x13, 'Interop Lab'), atv(6, 0x13, 'XX'), atv(3, 0x13, 'strongswan.test'))), 'RDN order matters');
    assert.ok(!sameDn(utf8, Buffer.from([0x30, 0x05, 0x31])), 'malformed DER');
  });

  it('renders NumericString and VisibleString as text, other value types as #hex (RFC 4514 §2.4)', () => {
    const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag, body.length]), body]);
    const atv = (oidLast: number, value: Buffer): Buffer => tlv(0x31, tlv(0x30, Buffer.concat([tlv(0x06, Buffer.from([0x55, 0x04, oidLast])), value])));
    const dn = tlv(0x30, Buffer.concat([atv(5, tlv(0x12, Buffer.from('0042'))), atv(3, tlv(0x1a, Buffer.from('vis,ible'))), atv(10, tlv(0x04, Buffer.from([1, 2])))]));
    assert.equal(renderDn(dn), 'SERIALNUMBER=0042, CN=vis\\,ible, O=#04020102');
  });

  it('subjectDer is the subject Name exactly as the certificate encodes it', () => {
    for (const c of [ca, peer, comma]) assert.ok(c.certDer.includes(subjectDer(c.certPem)), c.name);
  });

  it('escapes commas inside a value as \\,', () => {
    assert.equal(certificateDns(comma.certDer).subject, 'C=XX, O=Interop Lab\\, Inc., OU=R&D, CN=comma.test');
  });

  it('reads every subjectAltName form with its cert-sel tag', () => {
    assert.deepEqual(altNames(peer.certDer), [
      { tag: 'DNS', value: 'peer-a.test' }, { tag: 'IP', value: '192.0.2.1' }, { tag: 'IP', value: '2001:db8::1' },
      { tag: 'EMAIL', value: 'ops@peer-a.test' }, { tag: 'URI', value: 'https://peer-a.test/' }, { tag: 'RID', value: '1.2.3.4' },
    ]);
    assert.deepEqual(altNames(ca.certDer), []);
  });

  it('a certificate answers to its DN bare and tagged, ISSUER=, SLOT=, SANs tagged and bare, and its serial', () => {
    const names = certificateNames(new X509Certificate(peer.certPem), '7');
    for (const n of ['C=XX, O=Interop Lab, CN=peer-a.test', 'SUBJECT=C=XX, O=Interop Lab, CN=peer-a.test',
      'ISSUER=C=XX, O=Interop Lab, CN=Interop Test CA', 'SLOT=7', 'DNS=peer-a.test', 'peer-a.test', 'IP=192.0.2.1', '192.0.2.1',
      'IP=2001:db8::1', 'EMAIL=ops@peer-a.test', 'ops@peer-a.test', 'URI=https://peer-a.test/', 'RID=1.2.3.4',
      new X509Certificate(peer.certPem).serialNumber]) {
      assert.ok(names.has(n), `missing ${n}`);
    }
    // Exact, case-sensitive string equality: no other spelling of the DN matches.
    assert.ok(!names.has('C=XX,O=Interop Lab,CN=peer-a.test'));
    assert.ok(!names.has('CN=peer-a.test, O=Interop Lab, C=XX'));
    assert.ok(!names.has('dns=peer-a.test'));
    assert.ok(!certificateNames(new X509Certificate(peer.certPem)).has('SLOT=7'));
  });

  it('matches: excludes first, then any include; "" matches anything only where allowed', () => {
    const names = certificateNames(new X509Certificate(peer.certPem), '1');
    const sel = (includes: string[], excludes: string[] = []) => ({ includes, excludes });
    assert.ok(matchesSelector(names, sel(['DNS=other.test', 'SLOT=1'])));
    assert.ok(!matchesSelector(names, sel(['DNS=other.test', 'SLOT=2'])));
    assert.ok(!matchesSelector(names, sel(['SLOT=1'], ['IP=192.0.2.1'])), 'an exclude wins over an include');
    assert.ok(matchesSelector(names, sel(['SLOT=1'], ['IP=192.0.2.99'])));
    assert.ok(!matchesSelector(names, sel([''])));
    assert.ok(matchesSelector(names, sel(['']), { emptyMatchesAny: true }));
    assert.ok(!matchesSelector(names, sel([''], ['peer-a.test']), { emptyMatchesAny: true }));
    assert.ok(!matchesSelector(names, sel(['', 'DNS=x']), { emptyMatchesAny: true }), 'only a single "" include is "any"');
    assert.deepEqual(selectorOf(['SLOT=1', '!DNS=x']), sel(['SLOT=1'], ['DNS=x']));
  });
});
