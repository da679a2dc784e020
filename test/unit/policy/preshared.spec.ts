/** ike.preshared (solaris-ike.md §2): forms, key formats, errors with file:line:column, lookup, file mode. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { checkSecretFileMode, parsePreshared, presharedLookup } from '../../../src/policy/preshared';
import { OakleyError } from '../../../src/util/errors';

const F = '/etc/inet/secret/ike.preshared';
const parse = (t: string) => parsePreshared(t, F);
function fails(text: string, line: number, column: number, msg: string): void {
  assert.throws(() => parse(text), (e: unknown) => {
    assert.ok(OakleyError.is(e, 'IKE_ERR_CONFIG'), String(e));
    assert.ok(e.message.startsWith(`${F}:${line}:${column}: `) && e.message.includes(msg), e.message);
    return true;
  });
}

const DOC_EXAMPLE = `# ike.preshared — main mode, address identities only
{
	localidtype IP
	localid 192.0.2.10
	remoteidtype IP
	remoteid 198.51.100.20
	key 6f2a91c0d3e84b7a5c1e9f0b2d4c6a8e
}
{
	localid 2001:db8::10
	remoteid 2001:db8:1::/64
	key "correct horse \\"battery\\" staple"
}
`;

describe('ike.preshared', () => {
  it('parses the §2.3 example: hex and ASCII keys, v4 and v6, default id types', () => {
    const [a, b] = parse(DOC_EXAMPLE);
    assert.equal(a!.key.toString('hex'), '6f2a91c0d3e84b7a5c1e9f0b2d4c6a8e');
    assert.equal(a!.keyBits, 128);
    assert.equal(a!.pos.line, 2);
    assert.equal(b!.localIdType, 'IP');
    assert.equal(b!.key.toString(), 'correct horse "battery" staple');
    assert.equal(b!.remote.prefix, 64);
  });

  it('accepts aliases, case-insensitive names, "{" touching a field, comments, odd nibbles and /bits', () => {
    const [e] = parse('{LOCAL_ID_TYPE ipv4_subnet local_addr 10.0.0.0/8 Remote_Addr 10.1.2.3 MODE main key abc/10 # comment\n}');
    assert.equal(e!.localIdType, 'IPv4');
    assert.equal(e!.key.toString('hex'), 'abc0');
    assert.equal(e!.keyBits, 10);
    assert.match(e!.warnings[0]!, /:1:85: Lower bits will be truncated/);
    assert.equal(parse('{ localid 10.0.0.1 remoteid 10.0.0.2 key abc }')[0]!.key.toString('hex'), 'abc0');
  });

  it('refuses with file:line:column', () => {
    fails('localid 10.0.0.1', 1, 1, 'Entry does not start with an open brace');
    fails('{ localid 10.0.0.1 remoteid 10.0.0.2 key 0x1234 }', 1, 42, 'hex string expected');
    fails('{ localid 10.0.0.1 remoteid 10.0.0.2 key 12/9 }', 1, 42, 'Bit length too large');
    fails('{ localid 10.0.0.1 remoteid 10.0.0.2 key xyz }', 1, 42, 'hex string expected');
    fails('{ localid 10.0.0.1 remoteid 10.0.0.2 key "a"b" }', 1, 45, 'Syntax error in ASCII string or quotes');
    fails('{ localid 10.0.0.1 remoteid 10.0.0.2 key 12}', 1, 44, '"}" must be preceded by whitespace');
    fails('{\n  localid 10.0.0.1\n  localid 10.0.0.3\n}', 3, 3, 'Field in an entry is repeated');
    fails('{ localid 10.0.0.1 remoteid 10.0.0.2 secret 12 }', 1, 38, 'Invalid attribute field name');
    fails('{ localidtype FQDN localid 10.0.0.1 remoteid 10.0.0.2 key 12 }', 1, 15, 'Invalid Local Id type');
    fails('{ remoteidtype dn localid 10.0.0.1 remoteid 10.0.0.2 key 12 }', 1, 16, 'Invalid Remote Id type');
    fails('{ localid 10.0.0.1 remoteid 10.0.0.2 ike_mode aggressive key 12 }', 1, 47, 'Invalid Ike Mode');
    fails('{ remoteid 10.0.0.2 key 12 }', 1, 28, 'localid not defined');
    fails('{ localid 10.0.0.1 key 12 }', 1, 27, 'remotedid not defined');
    fails('{ localid host.example remoteid 10.0.0.2 key 12 }', 1, 11, 'Local Id can only be an IP address');
    fails('{ localid 10.0.0.1 remoteid 2001:db8::1 key 12 }', 1, 29, 'Address versions do not match');
    fails('{ localid 10.0.0.1 remoteid 10.0.0.0/x key 12 }', 1, 29, 'Invalid prefix length format');
    fails('{ localid 10.0.0.1 remoteid 224.0.0.5 key 12 }', 1, 29, 'multicast');
    fails('{ localid ::ffff:10.0.0.1 remoteid ::ffff:10.0.0.2 key 12 }', 1, 11, 'IPv4-mapped');
    fails('{ localidtype IPv6 localid 10.0.0.1 remoteid 10.0.0.2 key 12 }', 1, 28, 'is not an IPv6 address');
    fails('{ localid 10.0.0.1 remoteid 10.0.0.2 key 12', 1, 1, 'not closed');
  });

  it('lookup: first match by addresses (Main Mode), by address ID (Aggressive Mode), v4-mapped peers', () => {
    const look = presharedLookup(parse(`${DOC_EXAMPLE}{ localid 192.0.2.0/24 remoteid 0.0.0.0/0 key "any" }`));
    const ep = (address: string) => ({ address, port: 500 });
    assert.equal(look(ep('192.0.2.10'), ep('198.51.100.20'))!.toString('hex'), '6f2a91c0d3e84b7a5c1e9f0b2d4c6a8e');
    assert.equal(look(ep('192.0.2.10'), ep('203.0.113.1'))!.toString(), 'any');
    assert.equal(look(ep('2001:db8::10'), ep('2001:db8:1::99'))!.toString(), 'correct horse "battery" staple');
    assert.equal(look(ep('2001:db8::11'), ep('2001:db8:1::99')), undefined);
    assert.equal(look(ep('192.0.2.10'), ep('10.9.9.9'), { kind: 'ipv4', address: '198.51.100.20' })!.length, 16);
    assert.equal(look(ep('::ffff:192.0.2.10'), ep('::ffff:198.51.100.20'))!.length, 16);
  });

  it('checkSecretFileMode warns about group/other bits', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oakley-psk-'));
    try {
      const p = join(dir, 'ike.preshared');
      writeFileSync(p, '');
      chmodSync(p, 0o600);
      assert.equal(checkSecretFileMode(p), undefined);
      chmodSync(p, 0o644);
      assert.match(checkSecretFileMode(p)!, /mode 0644 lets group or others read/);
      assert.equal(checkSecretFileMode(join(dir, 'missing')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
