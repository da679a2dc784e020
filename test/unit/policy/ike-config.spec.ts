/** ike/config grammar, validation and inheritance (solaris-ike.md §1), and canonical serialization (§1.8). */
import assert from 'node:assert/strict';

import { parseIkeConfig } from '../../../src/policy/ike-config';
import { formatRange } from '../../../src/policy/addresses';
import { serializeRules } from '../../../src/policy/serialize';
import { OakleyError } from '../../../src/util/errors';

const F = '/etc/inet/ike/config';
const parse = (text: string) => parseIkeConfig(text, F);

export const EXAMPLE_A = `# globals first
p1_lifetime_secs 7200
p2_pfs 14
p1_xform { auth_method preshared oakley_group 14 auth_alg sha256 encr_alg aes(128..256) }
p1_xform { auth_method preshared oakley_group 5  auth_alg sha1   encr_alg 3des }

{
	label "gw-a to gw-b"
	local_addr 192.0.2.10
	remote_addr 198.51.100.20
}
{
	label "gw-a to gw-b v6"
	local_id_type ipv6
	local_addr 2001:db8::10
	remote_addr 2001:db8:1::20
	p2_lifetime_secs 3600        // hard 1 h; soft and idle are derived
}
`;

export const EXAMPLE_B = `cert_root "C=US, O=Example\\\\, Inc., CN=Example Root CA"
ldap_server "ldap1.example.com,ldap2.example.com:389"
retry_limit 4
retry_timer_init 1.0
expire_timer 120

{
	label "web to office LAN"
	local_id_type dn
	local_id "C=US, O=Example\\\\, Inc., CN=web1.example.com"
	remote_id "ISSUER=C=US, O=Example\\\\, Inc., CN=Example Root CA"
	remote_id "!DNS=revoked.example.com"
	local_addr 192.0.2.80
	remote_addr 10.1.0.0/16
	remote_addr 10.2.0.0 - 10.2.0.255
	p2_pfs 5
	p1_xform { auth_method rsa_sig oakley_group 14 auth_alg sha1 encr_alg aes(256..256) p1_lifetime_secs 28800 }
	p1_xform { auth_method rsa_sig oakley_group 5  auth_alg sha1 encr_alg 3des }
}
`;

export const EXAMPLE_C = `cert_trust "SLOT=0"               # our own self-signed cert (file publickeys/0)
cert_trust "IP=192.0.2.99"        # the peer's self-signed cert, by SubjectAltName
p2_lifetime_secs 1800
p2_softlife_secs 1500
p2_idletime_secs 600
p2_lifetime_kb 1048576

{
	label "lab"
	local_id_type ip
	local_id "IP=192.0.2.1"
	remote_id ""                  # any identity; remote_addr is the access control
	local_addr 192.0.2.1
	remote_addr 192.0.2.0/24
	p1_xform { auth_method rsa_sig oakley_group 2 auth_alg md5 encr_alg blowfish }
}
`;

/** Asserts an IKE_ERR_CONFIG at file:line:column whose message contains `text`. */
function fails(cfg: string, line: number, column: number, text: string): void {
  assert.throws(() => parse(cfg), (e: unknown) => {
    assert.ok(OakleyError.is(e, 'IKE_ERR_CONFIG'), String(e));
    assert.ok(e.message.startsWith(`${F}:${line}:${column}: `), e.message);
    assert.ok(e.message.includes(text), e.message);
    return true;
  });
}

const PSK = 'p1_xform { auth_method preshared oakley_group 14 auth_alg sha256 encr_alg aes }\n';

describe('ike/config: §1.9 examples', () => {
  it('A: preshared, v4 and v6, inherited transforms, p2_pfs and p1 lifetime', () => {
    const c = parse(EXAMPLE_A);
    assert.equal(c.rules.length, 2);
    const [a, b] = c.rules;
    assert.equal(a!.label, 'gw-a to gw-b');
    assert.equal(a!.localIdType, 'ip');
    assert.equal(a!.preshared, true);
    assert.equal(a!.pfsGroup, 14);
    assert.equal(a!.p1Mode, 'any');
    assert.deepEqual(a!.xforms.map((x) => [x.encr, x.keyLengths, x.hash, x.group, x.auth, x.lifetimeSecs]), [
      ['aes', { min: 128, max: 256 }, 'sha256', 14, 'preshared', 7200],
      ['3des', undefined, 'sha1', 5, 'preshared', 7200],
    ]);
    assert.deepEqual(a!.p2, { hardSecs: 28800, softSecs: 24000, idleSecs: 13333, hardKb: 29491200, softKb: 24576000 });
    assert.equal(formatRange(a!.localAddrs[0]!), '192.0.2.10');
    assert.equal(b!.localIdType, 'ipv6');
    assert.equal(formatRange(b!.remoteAddrs[0]!), '2001:db8:1::20');
    assert.equal(b!.p2.hardSecs, 3600);
    assert.equal(b!.p2.softSecs, 3240); // 24000 > hard: 90 % of hard
    assert.equal(b!.p2.idleSecs, 1800);
    assert.equal(c.globals.p1LifetimeSecs, 7200);
  });

  it('B: certificates, selectors with excludes, prefix and spaced range, global timers', () => {
    const c = parse(EXAMPLE_B);
    const r = c.rules[0]!;
    assert.deepEqual(c.globals.certRoot, ['C=US, O=Example\\, Inc., CN=Example Root CA']);
    assert.deepEqual(c.globals.ldapServers, [{ host: 'ldap1.example.com', port: 389 }, { host: 'ldap2.example.com', port: 389 }]);
    assert.equal(c.globals.retryLimit, 4);
    assert.equal(c.globals.retryTimerInitSecs, 1);
    assert.equal(c.globals.expireTimerSecs, 120);
    assert.equal(r.preshared, false);
    assert.equal(r.localIdType, 'dn');
    assert.deepEqual(r.remoteId, { includes: ['ISSUER=C=US, O=Example\\, Inc., CN=Example Root CA'], excludes: ['DNS=revoked.example.com'] });
    assert.deepEqual(r.remoteAddrs.map(formatRange), ['10.1.0.0 - 10.1.255.255', '10.2.0.0 - 10.2.0.255']);
    assert.equal(r.remoteAddrs[0]!.prefix, 16);
    assert.equal(r.pfsGroup, 5);
    assert.deepEqual(r.xforms.map((x) => [x.keyLengths, x.lifetimeSecs]), [[{ min: 256, max: 256 }, 28800], [undefined, 3600]]);
  });

  it('C: self-signed, any peer, short global lifetimes inherited', () => {
    const c = parse(EXAMPLE_C);
    const r = c.rules[0]!;
    assert.deepEqual(c.globals.certTrust, ['SLOT=0', 'IP=192.0.2.99']);
    assert.deepEqual(r.remoteId, { includes: [''], excludes: [] });
    assert.deepEqual(r.p2, { hardSecs: 1800, softSecs: 1500, idleSecs: 600, hardKb: 1048576, softKb: 943718 });
    assert.equal(r.xforms[0]!.encr, 'blowfish');
    assert.equal(r.xforms[0]!.hash, 'md5');
  });
});

describe('ike/config: syntax and values', () => {
  it('accepts the Oakley crypto keywords as globals and hands them to parseCryptoConfig', () => {
    const c = parse(`pkcs11_path "/lib/p11.so"\npkcs11_token "ike"\ncrypto_path prf pkcs11\ndh_exponent_bits full\npkcs11_reinit_after 10\n${PSK}{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.2 }`);
    assert.equal(c.globals.pkcs11Path, '/lib/p11.so');
    assert.equal(c.crypto.pkcs11.tokenLabel, 'ike');
    assert.equal(c.crypto.paths.prf, 'pkcs11');
    assert.equal(c.crypto.exponentBits, 'full');
  });

  it('reads the Oakley globals dpd_idle_secs, p1_half_open_max, p1_new_per_source, with defaults, and only as globals', () => {
    const rule = `${PSK}{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.2 }`;
    const d = parse(rule).globals;
    assert.deepEqual([d.dpdIdleSecs, d.halfOpenMax, d.newPerSource], [0, 4096, 500]);
    const c = parse(`dpd_idle_secs 30\np1_half_open_max 0\np1_new_per_source 20\n${rule}`).globals;
    assert.deepEqual([c.dpdIdleSecs, c.halfOpenMax, c.newPerSource], [30, 0, 20]);
    assert.throws(() => parse(`p1_new_per_source fast\n${rule}`), /p1_new_per_source/);
    assert.throws(() => parse(`${PSK}{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.2 dpd_idle_secs 5 }`), /dpd_idle_secs/);
  });

  it('reads octal numbers, floats, flags, aggressive_responder, p1_mode and dh_group', () => {
    const c = parse(`retry_limit 010\nretry_timer_max 2.5\nignore_crls\nignore_crls\nnat_t_port 4501\np1_nonce_len 32\n{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.0 - 10.0.0.9 p1_mode aggressive aggressive_responder yes
  p1_xform { auth_method preshared dh_group 2 auth_alg SHA-1 encr_alg AES(..192) } }`);
    assert.equal(c.globals.retryLimit, 8);
    assert.equal(c.globals.retryTimerMaxSecs, 2.5);
    assert.equal(c.globals.ignoreCrls, true);
    assert.equal(c.globals.natTPort, 4501);
    assert.equal(c.globals.p1NonceLen, 32);
    assert.match(c.warnings[0]!, /^\/etc\/inet\/ike\/config:4:1: Already specified ignore_crls/);
    const r = c.rules[0]!;
    assert.equal(r.p1Mode, 'aggressive');
    assert.equal(r.aggressiveResponder, true);
    assert.deepEqual(r.xforms[0]!.keyLengths, { min: 128, max: 192 });
    assert.equal(r.xforms[0]!.hash, 'sha1');
  });

  it('address forms: prefix with spaces, dotted mask, v6 prefix, ::/0', () => {
    const c = parse(`${PSK}{ label "x" local_addr 10.0.0.0 / 255.255.255.0 remote_addr 10.1.0.0 /24 }\n{ label "y" local_addr 2001:db8::/32 remote_addr ::/0 }`);
    assert.deepEqual(c.rules[0]!.localAddrs.map(formatRange), ['10.0.0.0 - 10.0.0.255']);
    assert.equal(c.rules[0]!.localAddrs[0]!.prefix, 24);
    assert.deepEqual(c.rules[1]!.remoteAddrs.map(formatRange), [':: - ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);
  });

  it('local_id_type twice in a rule is a warning, the last value kept', () => {
    const c = parse(`${PSK}{ label "x" local_id_type ip local_id_type ipv4_prefix local_addr 10.0.0.1 remote_addr 10.0.0.2 }`);
    assert.equal(c.rules[0]!.localIdType, 'ipv4_prefix');
    assert.match(c.warnings.join('\n'), /:2:30: rule already has a local id type/);
  });

  it('a rule p2_pfs 0 does not turn off the global one; p1_lifetime below 60 is raised', () => {
    const c = parse(`p2_pfs 2\np1_lifetime_secs 10\n${PSK}{ label "x" p2_pfs 0 local_addr 10.0.0.1 remote_addr 10.0.0.2 }`);
    assert.equal(c.rules[0]!.pfsGroup, 2);
    assert.equal(c.rules[0]!.xforms[0]!.lifetimeSecs, 60);
    assert.match(c.warnings[0]!, /:2:1: p1_lifetime_secs 10 raised to 60/);
  });

  it('global local/remote addresses and transforms are inherited; a rule with its own transforms keeps only them', () => {
    const c = parse(`local_addr 10.0.0.1\nremote_addr 10.0.0.2\n${PSK}{ label "x" }\n{ label "y" p1_xform { auth_method preshared oakley_group 2 auth_alg md5 encr_alg des } }`);
    assert.equal(formatRange(c.rules[0]!.localAddrs[0]!), '10.0.0.1');
    assert.equal(c.rules[0]!.xforms[0]!.group, 14);
    assert.deepEqual(c.rules[1]!.xforms.map((x) => x.encr), ['des']);
  });
});

describe('ike/config: errors name file:line:column', () => {
  const R = (body: string) => `${PSK}{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.2 ${body} }`;
  it('lexical: carriage return, unclosed string', () => {
    fails('retry_limit 4\r\n', 1, 14, 'carriage return');
    fails('proxy "http://x\n', 1, 7, 'newline in quoted string');
  });
  it('unknown keywords, label outside a rule, globals after rules, global-only in a rule', () => {
    fails('retry_limt 4', 1, 1, 'unknown global parameter "retry_limt"');
    fails('label "x"', 1, 1, 'cannot appear outside rule');
    fails(`${PSK}{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.2 }\nretry_limit 3`, 3, 1, 'after the first rule');
    fails(R('p1_nonce_len 32'), 2, 54, 'global parameter and cannot appear inside a rule');
    fails(R('bogus 1'), 2, 54, 'unknown rule parameter "bogus"');
    fails(`${PSK}{ label "x" { } }`, 2, 13, 'rules do not nest');
  });
  it('numbers: hex, out of range, bad float, octal with 8', () => {
    fails('retry_limit 0x10', 1, 13, 'expected a retransmission count');
    fails('expire_timer 4294967296', 1, 14, 'expected seconds');
    fails('retry_timer_init .5', 1, 18, 'decimal like 0.5');
    fails('max_certs 08', 1, 11, 'expected a certificate count');
    fails('nat_t_port 0', 1, 12, 'Port number must be in range (1 - 65535)');
    fails('p1_nonce_len 4', 1, 14, '(8..256)');
    fails('p2_pfs 6', 1, 8, 'expected 0 or a group number');
  });
  it('repeated keywords Solaris refuses', () => {
    fails('proxy "a"\nproxy "b"', 2, 1, 'proxy is already specified');
    fails('socks "a" socks "b"', 1, 11, 'socks is already specified');
    fails('pkcs11_path "a" pkcs11_path "b"', 1, 17, 'Already specified different PKCS#11 path');
    fails(R('label "y"'), 2, 54, 'multiple rule labels');
    fails(R('p2_pfs 2 p2_pfs 5'), 2, 63, 'Rule already has a PFS group');
    fails('p1_xform { auth_method preshared auth_method rsa_sig }', 1, 34, 'phase 1 transform already has an auth method');
    fails('p1_xform { encr_alg aes encr_alg des }', 1, 25, 'already has an encr algorithm');
  });
  it('p1_xform values and missing items', () => {
    fails('p1_xform { oakley_group 6 }', 1, 25, 'Unsupported Oakley group "6"');
    fails('p1_xform { encr_alg rc5 }', 1, 21, 'must specify an encr algorithm');
    fails('p1_xform { encr_alg 3des(128..256) }', 1, 21, 'Cannot specify key size on non-AES ciphers.');
    fails('p1_xform { encr_alg aes(128-256) }', 1, 21, 'malformed encryption key range');
    fails('p1_xform { encr_alg aes(100..256) }', 1, 21, 'Invalid key size for AES');
    fails('p1_xform { encr_alg aes(256..128) }', 1, 21, 'Invalid key size for AES');
    fails('p1_xform { auth_alg sha3 }', 1, 21, 'expected md5, sha1');
    fails('p1_xform { auth_method psk }', 1, 24, 'expected one of preshared');
    fails('p1_xform { auth_method preshared oakley_group 2 auth_alg md5 }', 1, 1, 'must specify an encr algorithm');
    fails('p1_xform { auth_method preshared oakley_group 2 encr_alg des }', 1, 1, 'must specify an auth algorithm');
    fails('p1_xform { auth_method preshared auth_alg md5 encr_alg des }', 1, 1, 'must specify a Oakley group');
    fails('p1_xform { oakley_group 2 auth_alg md5 encr_alg des }', 1, 1, 'must specify an auth method');
    fails('p1_xform auth_method', 1, 10, 'expected "{"');
    fails('p1_xform { auth_method preshared', 1, 1, 'but the file ends');
  });
  it('addresses', () => {
    fails(R('local_addr 10.0.0.256'), 2, 65, 'is not an IPv4 or IPv6 address');
    fails(R('local_addr host.example.com'), 2, 65, 'host names are not accepted');
    fails(R('local_addr 10.0.0.9-10.0.0.1'), 2, 65, 'invalid IPv4 range');
    fails(R('local_addr 10.0.0.0/33'), 2, 65, 'invalid IPv4 prefix length');
    fails(R('local_addr 10.0.0.1/24'), 2, 65, 'invalid IPv4 netmask');
    fails(R('local_addr 10.0.0.0/255.0.255.0'), 2, 65, 'invalid IPv4 mask');
    fails(R('local_addr 2001:db8::1/129'), 2, 65, 'invalid IPv6 prefix length');
    fails(R('remote_addr 224.0.0.1'), 2, 66, 'multicast IPv4');
    fails(R('remote_addr ff02::1'), 2, 66, 'multicast IPv6');
    fails(R('remote_addr ::ffff:10.0.0.1'), 2, 66, 'IPv4-mapped');
    fails(R('remote_addr ::10.0.0.1'), 2, 66, 'IPv4-compatible');
    fails(R('remote_addr 10.0.0.1 - 2001:db8::1'), 2, 66, 'Invalid combination of IPv4 and IPv6');
    fails(R('remote_addr 2001:db8::1'), 2, 78, 'Invalid combination of IPv4 and IPv6 addresses');
  });
  it('§1.7 rule validation at the closing brace', () => {
    fails(`${PSK}{ local_addr 10.0.0.1 remote_addr 10.0.0.2 }`, 2, 44, 'rule requires a label');
    fails(`${PSK}{ label "${'l'.repeat(246)}" }`, 2, 3, 'Label name too long');
    fails(`${PSK}{ label "x" remote_addr 10.0.0.2 }`, 2, 34, "doesn't specify local address");
    fails(`${PSK}{ label "x" local_addr 10.0.0.2 }`, 2, 33, "doesn't specify remote address");
    fails('{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.2 }', 1, 54, "doesn't specify any phase 1 transforms");
    fails(`${PSK}p1_xform { auth_method rsa_sig oakley_group 2 auth_alg md5 encr_alg des }\n{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.2 }`, 2, 1, 'all or no preshared phase 1 auth methods');
    fails(R('local_id_type dn'), 2, 71, 'requires identity type to be IP');
    fails(R('remote_id "x"'), 2, 68, "doesn't allow identity specification");
    const RSA = 'p1_xform { auth_method rsa_sig oakley_group 2 auth_alg md5 encr_alg des }\n';
    fails(`${RSA}{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.2 }`, 2, 54, "doesn't specify local id type");
    fails(`${RSA}{ label "x" local_id_type dn local_addr 10.0.0.1 remote_addr 10.0.0.2 }`, 2, 71, "doesn't specify local identity");
    fails(`${RSA}{ label "x" local_id_type dn local_id "a" local_addr 10.0.0.1 remote_addr 10.0.0.2 }`, 2, 84, "doesn't specify remote identity");
    fails(`${PSK}{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.2 }\n{ label "x" local_addr 10.0.0.1 remote_addr 10.0.0.3 }`, 3, 1, 'rule label not unique');
    fails(R('aggressive_responder maybe'), 2, 75, 'expected yes or no');
    fails('aggressive_responder yes', 1, 1, 'cannot appear outside rule');
  });
  it('crypto keyword values are checked by parseCryptoConfig', () => {
    fails('crypto_path ke gpu', 1, 16, 'expected a crypto path');
  });
});

describe('ike/config: canonical serialization (§1.8)', () => {
  for (const [name, text] of [['A', EXAMPLE_A], ['B', EXAMPLE_B], ['C', EXAMPLE_C]] as const) {
    it(`example ${name} round-trips (rules equal except AES ranges and positions)`, () => {
      const rules = parse(text).rules;
      const out = serializeRules(rules);
      const again = parseIkeConfig(out, 'written').rules;
      const strip = (rs: typeof rules) => rs.map((r) => ({
        ...r, pos: undefined, localAddrs: r.localAddrs.map(formatRange), remoteAddrs: r.remoteAddrs.map(formatRange),
        xforms: r.xforms.map((x) => ({ ...x, pos: undefined, keyLengths: undefined })),
      }));
      assert.deepEqual(strip(again), strip(rules));
      assert.equal(serializeRules(again), out, 'the written form is a fixed point');
    });
  }

  it('writes the §1.8 layout', () => {
    const out = serializeRules(parse(EXAMPLE_B).rules);
    assert.equal(out, [
      '{',
      '\tlabel\t"web to office LAN"',
      '\tlocal_id_type\tdn',
      '\tlocal_addr\t192.0.2.80',
      '\tremote_addr\t10.1.0.0 - 10.1.255.255',
      '\tremote_addr\t10.2.0.0 - 10.2.0.255',
      '\tlocal_id\t"C=US, O=Example\\\\, Inc., CN=web1.example.com"',
      '\tremote_id\t"ISSUER=C=US, O=Example\\\\, Inc., CN=Example Root CA"',
      '\tremote_id\t"!DNS=revoked.example.com"',
      '\tp2_lifetime_secs\t28800',
      '\tp2_softlife_secs\t24000',
      '\tp2_idletime_secs\t13333',
      '\tp2_lifetime_kb\t29491200',
      '\tp2_softlife_kb\t24576000',
      '\tp2_pfs\t5',
      '\tp1_xform { encr_alg aes-cbc auth_alg sha1 oakley_group 14 auth_method rsa_sig p1_lifetime_secs 28800 }',
      '\tp1_xform { encr_alg 3des-cbc auth_alg sha1 oakley_group 5 auth_method rsa_sig p1_lifetime_secs 3600 }',
      '}',
      '',
    ].join('\n'));
    assert.match(serializeRules(parse(`${PSK}{ label "q\\"x" p1_mode main local_addr 10.0.0.1 remote_addr 10.0.0.2 }`).rules), /label\t"q\\"x"\n\tlocal_id_type\tip\n\tp1_mode\tmain\n/);
  });
});
