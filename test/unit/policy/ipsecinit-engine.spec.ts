/** ipsecinit.conf subset (solaris-ike.md §5.8) and the mapping to engine rules. */
import assert from 'node:assert/strict';

import { Ikev1Engine } from '../../../src/exchange/ikev1/engine';

import { parseIpsecInit, parseIpsecInitFile } from '../../../src/policy/ipsecinit';
import { buildEngineRules } from '../../../src/policy/engine-rules';
import { parseIkeConfig } from '../../../src/policy/ike-config';
import { OakleyError } from '../../../src/util/errors';
import { EXAMPLE_A, EXAMPLE_B, EXAMPLE_C } from './ike-config.spec';

const F = '/etc/inet/ipsecinit.conf';
function fails(text: string, line: number, column: number, msg: string): void {
  assert.throws(() => parseIpsecInit(text, F), (e: unknown) => {
    assert.ok(OakleyError.is(e, 'IKE_ERR_CONFIG'), String(e));
    assert.ok(e.message.startsWith(`${F}:${line}:${column}: `) && e.message.includes(msg), e.message);
    return true;
  });
}

describe('ipsecinit.conf subset', () => {
  it('parses transport and tunnel entries', () => {
    const e = parseIpsecInit(`# doc example
{laddr 10.0.0.1 raddr 10.0.0.2} ipsec {encr_algs aes encr_auth_algs sha256 sa shared}
{laddr 10.1.0.0/16 raddr 10.2.0.0/16 ulp tcp lport 80 rport 1024 dir out tunnel ip.tun0 negotiate tunnel} ipsec {encr_algs aes-gcm encr_algs 3des encr_auth_algs sha1 sa unique}
`, F);
    assert.deepEqual(e[0]!.esp, [{ encr: 'aes', auth: 'hmac-sha256' }]);
    assert.equal(e[0]!.mode, 'transport');
    assert.equal(e[1]!.mode, 'tunnel');
    assert.equal(e[1]!.tunnel, 'ip.tun0');
    assert.equal(e[1]!.ulp, 6);
    assert.equal(e[1]!.sa, 'unique');
    assert.equal(e[1]!.dir, 'out');
    assert.equal(e[1]!.laddr.prefix, 16);
    assert.deepEqual(parseIpsecInit('{laddr 10.0.0.1 raddr 10.0.0.2} ipsec {encr_algs aes(256..) encr_auth_algs sha512}', F)[0]!.esp,
      [{ encr: 'aes', keyLengths: { min: 256, max: 256 }, auth: 'hmac-sha512' }]);
  });

  it('refuses everything outside the subset with file:line:column', () => {
    fails('{laddr 10.0.0.1 raddr 10.0.0.2} pass {}', 1, 33, 'not supported');
    fails('{laddr 10.0.0.1 raddr 10.0.0.2} ipsec {auth_algs sha1}', 1, 40, 'not supported');
    fails('{laddr 10.0.0.1 raddr 10.0.0.2} ipsec {encr_algs blowfish encr_auth_algs sha1}', 1, 50, 'is not supported');
    fails('{laddr 10.0.0.1 raddr 10.0.0.2} ipsec {encr_algs aes encr_auth_algs md5}', 1, 69, 'is not supported');
    fails('{laddr 10.0.0.1 raddr 10.0.0.2} ipsec {encr_algs aes sa weird}', 1, 57, 'expected shared or unique');
    fails('{laddr host.example raddr 10.0.0.2} ipsec {encr_algs aes-gcm}', 1, 8, 'not an IPv4 or IPv6 address');
    fails('{laddr 10.0.0.1 raddr 10.0.0.2 smask 255.0.0.0} ipsec {encr_algs aes-gcm}', 1, 32, 'in a policy selector is not supported');
    fails('{laddr 10.0.0.1 raddr 10.0.0.2} ipsec {encr_algs aes}', 1, 53, 'needs encr_auth_algs');
    fails('{raddr 10.0.0.2} ipsec {encr_algs aes-gcm}', 1, 16, 'needs laddr');
    fails('{laddr 10.0.0.1 raddr 10.0.0.2 negotiate tunnel} ipsec {encr_algs aes-gcm}', 1, 48, 'needs "tunnel NAME"');
    fails('{laddr 10.0.0.1 raddr 10.0.0.2} ipsec {encr_algs 3des(128..256) encr_auth_algs sha1}', 1, 50, 'non-AES');
  });
});

describe('engine rules', () => {
  it('maps example A with matching transport policies', () => {
    const ike = parseIkeConfig(EXAMPLE_A, 'ike/config');
    const ipsec = parseIpsecInit(`{laddr 192.0.2.10 raddr 198.51.100.20} ipsec {encr_algs aes encr_auth_algs sha256}
{laddr 2001:db8::10 raddr 2001:db8:1::20} ipsec {encr_algs aes-gcm}`, F);
    const [a, b] = buildEngineRules(ike, ipsec);
    assert.equal(a!.mode, 'main');
    assert.deepEqual(a!.localAddresses, ['192.0.2.10']);
    assert.deepEqual(a!.p1[0], { encr: 'aes', keyLengths: { min: 128, max: 256 }, hash: 'sha256', auth: 'preshared', group: 14, lifetimeSeconds: 7200 });
    assert.deepEqual(a!.p2, { esp: [{ encr: 'aes', auth: 'hmac-sha256' }], pfsGroup: 14, lifetimeSeconds: 28800, lifetimeKilobytes: 29491200, mode: 'transport' });
    assert.deepEqual(a!.p2Selectors, [{ local: { id: { kind: 'ipv4', address: '192.0.2.10' } }, remote: { id: { kind: 'ipv4', address: '198.51.100.20' } } }]);
    assert.equal(a!.aggressiveResponder, false);
    assert.equal(b!.p2.lifetimeSeconds, 3600);
    assert.deepEqual(b!.p2.esp, [{ encr: 'aes-gcm' }]);
  });

  it('maps a tunnel entry through its endpoints; certificate ids from selectors', () => {
    const ike = parseIkeConfig(EXAMPLE_C, 'ike/config');
    const ipsec = parseIpsecInit('{tunnel ip.tun0 negotiate tunnel laddr 10.1.0.0/16 raddr 10.2.0.0/16} ipsec {encr_algs aes encr_auth_algs sha1}', F);
    const [r] = buildEngineRules(ike, ipsec, new Map([['ip.tun0', { local: '192.0.2.1', remote: '192.0.2.77' }]]));
    assert.equal(r!.p2.mode, 'tunnel');
    assert.deepEqual(r!.remoteAddresses, []);
    const [range] = r!.remoteRanges!;
    assert.equal(range!.end - range!.start + 1n, 256n, 'the remote_addr range is kept as a range');
    assert.deepEqual(r!.localId, { kind: 'ipv4', address: '192.0.2.1' });
    assert.equal(r!.remoteId, undefined);
    assert.deepEqual(r!.p2Selectors![0]!.remote.id, { kind: 'ipv4-subnet', address: '10.2.0.0', prefix: 16 });
  });

  it('takes tunnel endpoints declared in the file (tunnel NAME tsrc A tdst B), and says when they are missing', () => {
    const ike = parseIkeConfig(EXAMPLE_C, 'ike/config');
    const entry = '{tunnel ip.tun0 negotiate tunnel laddr 10.1.0.0/16 raddr 10.2.0.0/16} ipsec {encr_algs aes encr_auth_algs sha1}';
    const parsed = parseIpsecInitFile(`tunnel ip.tun0 tsrc 192.0.2.1 tdst 192.0.2.77\n${entry}\n`, F);
    assert.deepEqual(parsed.tunnels.get('ip.tun0'), { local: '192.0.2.1', remote: '192.0.2.77' });
    const [r] = buildEngineRules(ike, parsed.entries);
    assert.equal(r!.p2.mode, 'tunnel');
    assert.deepEqual(r!.p2Selectors![0]!.local.id, { kind: 'ipv4-subnet', address: '10.1.0.0', prefix: 16 });
    assert.throws(() => buildEngineRules(ike, parseIpsecInit(entry, F)), /tunnel ip\.tun0 has no endpoints: declare them with "tunnel ip\.tun0 tsrc LOCAL tdst REMOTE"/);
    fails('tunnel ip.tun0 tsrc 192.0.2.1 tdest 192.0.2.2', 1, 31, 'expected "tdst"');
    fails('tunnel ip.tun0 tsrc 192.0.2.0/24 tdst 192.0.2.2', 1, 21, 'expected a single address');
    fails('tunnel t tsrc 192.0.2.1 tdst 192.0.2.2\ntunnel t tsrc 192.0.2.1 tdst 192.0.2.3', 2, 8, 'declared twice');
  });

  it('a rule without a matching IPsec policy is a clear error', () => {
    const ike = parseIkeConfig(EXAMPLE_A, 'ike/config');
    assert.throws(() => buildEngineRules(ike, parseIpsecInit('{laddr 192.0.2.10 raddr 198.51.100.21} ipsec {encr_algs aes-gcm}', F)),
      /^OakleyError: ike\/config:7:1: rule "gw-a to gw-b": no matching IPsec policy/);
  });

  it('keeps a /16 and an explicit range as ranges, and the engine matches addresses inside them', () => {
    const ike = parseIkeConfig(EXAMPLE_B, 'ike/config');
    const ipsec = parseIpsecInit('{laddr 192.0.2.80 raddr 10.1.2.3} ipsec {encr_algs aes encr_auth_algs sha256}', F);
    const [r] = buildEngineRules(ike, ipsec);
    assert.deepEqual(r!.localAddresses, ['192.0.2.80']);
    assert.equal(r!.remoteRanges!.length, 2);
    const engine = Object.create(Ikev1Engine.prototype) as Ikev1Engine;
    Object.defineProperty(engine, 'rules', { value: [r] });
    const at = (address: string) => ({ address, port: 500 });
    assert.equal(engine.findRule(at('192.0.2.80'), at('10.1.255.254'))?.label, r!.label);
    assert.equal(engine.findRule(at('192.0.2.80'), at('10.2.0.255'))?.label, r!.label);
    assert.equal(engine.findRule(at('192.0.2.80'), at('10.2.1.0')), undefined);
    assert.equal(engine.findRule(at('192.0.2.81'), at('10.1.0.1')), undefined);
    assert.equal(engine.findRule(at('192.0.2.80'), at('::1')), undefined);
  });
});
