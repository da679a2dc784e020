/** ikeadm command-line grammar (§3.2/3.3/3.5) and output formatting (§3.6, §7.1). */
import assert from 'node:assert/strict';

import {
  builtinDefaults, formatDefaults, formatP1, formatP2, formatResult, formatRule, formatStats, parseCommand, parseDebugLevel, splitLine,
  type P1Info, type RuleInfo,
} from '../../../src/control/commands';

const usageErr = (re: RegExp) => (e: Error & { code?: string }) => e.code === 'IKE_ERR_USAGE' && re.test(e.message);

describe('ikeadm command parsing', () => {
  it('maps commands and objects to requests', () => {
    assert.deepEqual(parseCommand(['get', 'stats']), { kind: 'request', command: 'get stats', args: {} });
    assert.deepEqual(parseCommand(['dump', 'p2']), { kind: 'request', command: 'dump p2', args: {} });
    assert.deepEqual(parseCommand(['get', 'p1', '192.0.2.1', '198.51.100.2']).kind, 'request');
    assert.deepEqual(parseCommand(['del', 'p1', '0x1', '0xABCDEF0123456789']), {
      kind: 'request', command: 'del p1', args: { initiatorCookie: '0000000000000001', responderCookie: 'abcdef0123456789' },
    });
    const ps = parseCommand(['get', 'preshared', 'FQDN', 'a.example', 'mbox', 'b@example']);
    assert.deepEqual(ps.kind === 'request' && ps.args, { localIdType: 'fqdn', localId: 'a.example', remoteIdType: 'user_fqdn', remoteId: 'b@example' });
    assert.deepEqual(parseCommand(['set', 'priv', 'ModKeys']), { kind: 'request', command: 'set priv', args: { level: 'modkeys' } });
    assert.deepEqual(parseCommand(['set', 'debug', 'all-op', '/tmp/x']), { kind: 'request', command: 'set debug', args: { level: 0x7fb, file: '/tmp/x' } });
    assert.deepEqual(parseCommand(['initiate', 'my rule']), { kind: 'request', command: 'initiate', args: { label: 'my rule' } });
    assert.deepEqual(parseCommand(['initiate', 'my rule', 'new']), { kind: 'request', command: 'initiate', args: { label: 'my rule', fresh: true } });
    assert.deepEqual(parseCommand(['read', 'rule']), { kind: 'request', command: 'read rule', args: {} });
    assert.deepEqual(parseCommand(['write', 'rule', 'f']), { kind: 'request', command: 'write rule', args: { file: 'f' } });
    assert.deepEqual(parseCommand(['help']), { kind: 'help' });
    assert.deepEqual(parseCommand(['help', 'dump']), { kind: 'help', topic: 'dump' });
    assert.deepEqual(parseCommand(['quit'], { interactive: true }), { kind: 'exit' });
  });

  it('re-quotes label/local_id/remote_id in inline rules', () => {
    const p = parseCommand(['add', 'rule', '{', 'label', 'a "b"', 'local_addr', '10.0.0.1', '}']);
    assert.deepEqual(p, { kind: 'request', command: 'add rule', args: { text: '{ label "a \\"b\\"" local_addr 10.0.0.1 }' } });
  });

  it('parses inline preshared entries only in interactive mode', () => {
    const words = splitLine('add preshared { localidtype ip localid 10.0.0.1 remoteid 10.0.0.2 ike_mode main key 0x0123abcd/32 }');
    assert.throws(() => parseCommand(words), usageErr(/Must be in interactive mode/));
    const p = parseCommand(words, { interactive: true });
    assert.deepEqual(p.kind === 'request' && p.args.entry, { localIdType: 'ip', localId: '10.0.0.1', remoteIdType: 'ip', remoteId: '10.0.0.2', ikeMode: 'main', key: '0123abcd/32' });
    assert.throws(() => parseCommand(splitLine('add preshared { localid a remoteid b ike_mode main key zz }'), { interactive: true }), usageErr(/Only hex keys/));
  });

  it('gives usage errors naming what was expected', () => {
    assert.throws(() => parseCommand(['frob']), usageErr(/Unrecognized command 'frob'/));
    assert.throws(() => parseCommand(['read', 'rules']), usageErr(/Unrecognized object 'rules' \(expected one of: rule preshared\)/));
    assert.throws(() => parseCommand(['get']), usageErr(/needs an object: one of debug priv stats/));
    assert.throws(() => parseCommand(['get', 'stats', 'x']), usageErr(/'get stats' takes no arguments/));
    assert.throws(() => parseCommand(['get', 'p1', '1.2.3.4']), usageErr(/expects local-ip remote-ip, or 0xINITCOOKIE/));
    assert.throws(() => parseCommand(['get', 'p1', 'host', '1.2.3.4'], { numeric: true }), usageErr(/not a literal address \(-n given\)/));
    assert.throws(() => parseCommand(['get', 'p1', '0xzz', '0x1']), usageErr(/not a 64-bit cookie/));
    assert.throws(() => parseCommand(['set', 'priv', 'root']), usageErr(/Invalid privilege level 'root'/));
    assert.throws(() => parseCommand(['set', 'debug', 'all+bogus']), usageErr(/Bad debug flag: bogus/));
    assert.throws(() => parseCommand(['write', 'rule']), usageErr(/expects one file name/));
    assert.throws(() => parseCommand(['exit']), usageErr(/Unrecognized command 'exit'/));
    assert.throws(() => parseCommand(['Get', 'stats']), usageErr(/Unrecognized command 'Get'/));
    assert.throws(() => parseCommand(['get', 'preshared', 'bogus', 'a', 'ip', 'b']), usageErr(/Unknown identity type 'bogus'/));
    assert.throws(() => parseCommand(['initiate']), usageErr(/expects one rule label/));
    assert.throws(() => parseCommand(['initiate', 'r', 'old']), usageErr(/expects one rule label/));
  });

  it('parses debug levels like Solaris', () => {
    assert.equal(parseDebugLevel('0'), 0);
    assert.equal(parseDebugLevel('0x10'), 0x10);
    assert.equal(parseDebugLevel('010'), 8);
    assert.equal(parseDebugLevel('12'), 12);
    assert.equal(parseDebugLevel('all-op'), 0x7fb);
    assert.equal(parseDebugLevel('p1+phase2+CERT'), 0x19);
    assert.equal(parseDebugLevel('-op'), 0);
  });

  it('splits interactive lines with quotes', () => {
    assert.deepEqual(splitLine(' get rule "my rule"  \'x y\' a\\b '), ['get', 'rule', 'my rule', 'x y', 'a\\b']);
  });
});

const SA: P1Info = {
  initiatorCookie: '0102030405060708', responderCookie: 'a1a2a3a4a5a6a7a8', localIsInitiator: true, mode: 'main', state: 'ACTIVE',
  authMethod: 'pre-shared key', encryption: 'AES', encryptionBits: 256, hash: 'SHA256', prf: 'HMAC SHA256', group: 14,
  local: { address: '192.0.2.1', port: 500 }, remote: { address: '198.51.100.2', port: 500 },
  limits: { seconds: 3600, kbytes: 0, keyUses: 0 }, createdAt: Date.now(), kbytes: 5, keyUses: 2, expiresAt: Date.now() + 3600_000,
  qmCreated: 4, qmDeleted: 2, errors: { decrypt: 1, hash: 2, otherRx: 3, tx: 4 },
  localId: { type: 'IPv4', value: '192.0.2.1' }, remoteId: { type: 'IPv4', value: '198.51.100.2' },
  keys: [{ name: 'SKEYID_e', hex: '00112233' }],
};

const RULE: RuleInfo = {
  label: 'r1', cookie: 1, localIdType: 'IP', ikeMode: 'main mode', p1NonceLen: 20, p2NonceLen: 20, p2Pfs: 0,
  p2Lifetime: 28800, p2Softlife: 24000, p2Idletime: 13333, p2LifetimeKb: 29491200, p2SoftlifeKb: 24576000,
  localAddrs: ['192.0.2.1'], remoteAddrs: ['198.51.100.0 - 198.51.100.255'], localIds: { include: [], exclude: [] }, remoteIds: { include: ['IP=*'], exclude: [] },
  xforms: [{ authMethod: 'pre-shared key', encryption: 'AES', encryptionBits: 128, hash: 'SHA1', group: 2 }],
};

describe('ikeadm output formatting', () => {
  it('get stats (§7.1)', () => {
    const out = formatStats({ initP1Current: 1, respP1Current: 2, initP1Total: 3, respP1Total: 4, initP1Attempts: 5, respP1Attempts: 6, initP1NoResp: 1, initP1RespFail: 1, respP1Fail: 2, pkcs11Library: '/usr/lib/libpkcs11.so' });
    assert.equal(out.split('\n')[0], 'Phase 1 SA counts:');
    assert.match(out, /^Current:   initiator:          1   responder:          2$/m);
    assert.match(out, /^Failed:    initiator:          2   responder:          2$/m);
    assert.match(out, /^ {11}initiator fails include 1 time-out\(s\)$/m);
    assert.match(out, /^PKCS#11 library linked in from \/usr\/lib\/libpkcs11.so$/m);
  });

  it('get defaults uses the %-18s%-10s%11u %-10s%-26s layout', () => {
    const out = formatDefaults(builtinDefaults());
    assert.match(out, /^Global defaults\. Some values can be over-ridden on a per rule basis\.$/m);
    assert.match(out, /^p1_lifetime_secs  default          3600 seconds   phase 1 lifetime$/m);
    assert.match(out, /^-                 default          4500 port      NAT-T port$/m);
  });

  it('dump p1: line prefixes, keys only as given, X with -p', () => {
    const out = formatP1(SA);
    assert.match(out, /^IKESA: Cookies: Initiator 0x0102030405060708  Responder 0xa1a2a3a4a5a6a7a8$/m);
    assert.match(out, /^IKESA: ISAKMP version 1\.0; main mode \(identity protect\) exchange$/m);
    assert.match(out, /^XFORM: Encryption alg: AES\(256\); Authentication alg: SHA256$/m);
    assert.match(out, /^XFORM: PRF: HMAC SHA256 ; Oakley Group: 2048-bit MODP \(group 14\)$/m);
    assert.match(out, /^LOCIP: Address \(Initiator\):$/m);
    assert.match(out, /^REMIP: 198\.51\.100\.2 port 500$/m);
    assert.match(out, /^ERRS:  6 RX errors: 1 decryption, 2 hash, 3 other$/m);
    assert.match(out, /^KEY:   SKEYID_e \(4 bytes\): 00112233$/m);
    assert.match(formatP1(SA, { paranoid: true }), /^KEY:   SKEYID_e \(4 bytes\): XXXXXXXX$/m);
    const all = formatResult('dump p1', [SA, SA]).stdout;
    assert.equal(all.match(/IKESA: Cookies/g)?.length, 2);
    assert.match(all, /Completed dump of phase 1 SA info\n$/);
    assert.equal(formatResult('dump p1', []).stdout, '\nCompleted dump of phase 1 SA info\n');
  });

  it('dump rule and dump p2', () => {
    const out = formatRule(RULE);
    assert.match(out, /^GLOBL: Label 'r1', key manager cookie 1$/m);
    assert.match(out, /^GLOBL: p2_lifetime=28800 seconds \(8 hours\)$/m);
    assert.match(out, /^REMID:    IP=\*$/m);
    assert.match(out, /^XF  0: Oakley Group: 1024-bit MODP \(group 2\)$/m);
    assert.match(formatResult('dump rule', [RULE]).stdout, /Completed dump of policy rules\n$/);
    const p2 = formatP2({ protocol: 'esp', spi: 0x1234, src: '192.0.2.1', dst: '198.51.100.2', direction: 'outbound', state: 'mature', bytes: 10, hardRemaining: 60, encryption: { alg: 'aes-cbc', keyBits: 128 } });
    assert.match(p2, /^P2SA:  ESP SPI 0x00001234 192\.0\.2\.1 -> 198\.51\.100\.2 \(outbound\)$/m);
    assert.match(p2, /^LIFTM: Hard expiry in 60 seconds \(1 minute\)$/m);
  });

  it('-j prints JSON; status messages go to stderr', () => {
    assert.deepEqual(JSON.parse(formatResult('dump p1', [SA], { json: true }).stdout), [SA]);
    assert.equal(formatResult('flush p1', null).stderr, 'Successfully flushed P1 SAs.\n');
    assert.match(formatResult('get priv', { level: 'modkeys' }).stdout, /Current privilege level is 0x1, access to preshared key information enabled/);
    assert.match(formatResult('get debug', { level: 0x18 }).stdout, /^Current debug level is 0x18\nDebug categories enabled:\n\tPhase 1 SA creation\n\tPhase 2 SA creation\n$/);
  });
});
