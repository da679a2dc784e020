/** The crypto-path settings of ike/config: Solaris pkcs11_path and the Oakley extensions. */
import assert from 'node:assert/strict';

import { DEFAULT_PATHS, parseCryptoConfig } from '../../../src/policy/crypto-config';
import { OakleyError } from '../../../src/util/errors';

const parse = (text: string) => parseCryptoConfig(text, '/etc/inet/ike/config');

describe('ike/config crypto paths', () => {
  it('defaults to native for the expensive classes', () => {
    assert.deepEqual(parse('').paths, DEFAULT_PATHS);
  });

  it('pkcs11_path alone offloads public-key and DH operations to the token (Solaris)', () => {
    const c = parse('pkcs11_path "/usr/lib/softhsm/libsofthsm2.so"\npkcs11_token "ike-a"\n');
    assert.deepEqual(c.paths, { ...DEFAULT_PATHS, ke: 'pkcs11', rsa: 'pkcs11' });
    assert.equal(c.pkcs11.module, '/usr/lib/softhsm/libsofthsm2.so');
    assert.equal(c.pkcs11.tokenLabel, 'ike-a');
  });

  it('crypto_path sets one class or all; explicit lines beat the pkcs11_path default', () => {
    const c = parse([
      '# comment', 'crypto_path all node', 'pkcs11_path "/lib/p11.so" // trailing comment',
      'crypto_path ke native', 'crypto_path prf pkcs11', 'dh_exponent_bits full',
      'pkcs11_token_random yes', 'pkcs11_reinit_after 5000', 'pkcs11_async_keyops no',
    ].join('\n'));
    assert.deepEqual(c.paths, { ke: 'native', rsa: 'node', prf: 'pkcs11', cipher: 'node', random: 'node' });
    assert.equal(c.exponentBits, 'full');
    assert.equal(c.pkcs11.tokenRandom, true);
    assert.equal(c.pkcs11.reinitializeAfter, 5000);
    assert.equal(c.pkcs11.asyncKeyOps, false);
  });

  it('skips other parameters and rule blocks, even when they mention our keywords in strings', () => {
    const c = parse([
      'cert_trust "crypto_path"', 'p1_xform { auth_method preshared oakley_group 14 encr_alg aes auth_alg sha256 }',
      '{', '  label "crypto_path ke pkcs11"', '  local_addr 192.0.2.1', '  remote_addr 192.0.2.2',
      '  p1_xform { auth_method preshared oakley_group 2 encr_alg 3des auth_alg sha1 }', '}',
      'dh_exponent_bits 512',
    ].join('\n'));
    assert.deepEqual(c.paths, DEFAULT_PATHS);
    assert.equal(c.exponentBits, 512);
  });

  const errors: [string, RegExp][] = [
    ['crypto_path ke gpu', /config:1:16: crypto_path ke: expected a crypto path \(node, native, pkcs11\), found "gpu"/],
    ['crypto_path foo node', /config:1:13: crypto_path: expected an operation class/],
    ['\n\n  crypto_path', /config:3:3: crypto_path needs an operation class, but the file ends/],
    ['pkcs11_path /usr/lib/x.so', /config:1:13: pkcs11_path: expected the PKCS#11 library path as a non-empty quoted string/],
    ['pkcs11_path "/a.so"\npkcs11_path "/b.so"', /config:2:1: pkcs11_path is already set to "\/a.so"/],
    ['dh_exponent_bits 99', /expected the private-exponent length in bits \(a number from 128 to 8191\), found "99"/],
    ['pkcs11_token "unterminated', /config:1:14: quoted string is not closed/],
    ['pkcs11_token "a\nb"', /config:1:14: newline in quoted string/],
    ['crypto_path ke node\r\n', /config:1:20: unexpected carriage return/],
    ['{ label "x"', /a "\{" is not closed/],
    ['}', /config:1:1: "\}" without a matching "\{"/],
    ['pkcs11_secret_on_token yes', /needs both "crypto_path ke pkcs11" and "crypto_path prf pkcs11"/],
  ];
  for (const [text, re] of errors) {
    it(`reports ${JSON.stringify(text)} with file:line:column`, () => {
      assert.throws(() => parse(text), (e: unknown) => OakleyError.is(e, 'IKE_ERR_CONFIG') && re.test(e.message));
    });
  }

  it('accepts secret-on-token when key exchange and derivation are both on the token', () => {
    const c = parse('crypto_path ke pkcs11\ncrypto_path prf pkcs11\npkcs11_secret_on_token yes');
    assert.equal(c.pkcs11.keepSecretOnToken, true);
  });
});
