/** ikeadm output for the administration results: preshared keys, algorithm lists, certcache, status lines. */
import assert from 'node:assert/strict';

import {
  formatAuthAlgs, formatCertCache, formatEncrAlgs, formatGroups, formatPreshared, formatResult,
  type CertCacheEntry, type PresharedInfo,
} from '../../../src/control/commands';

const entry: PresharedInfo = { localIdType: 'IP', local: '192.0.2.10', remoteIdType: 'IP', remote: '198.51.100.0/24', ikeMode: 'main', source: 'ps:1:1' };

describe('ikeadm admin formatters', () => {
  it('prints a preshared entry with the key only when the result carries it (keymat), X with -p', () => {
    const noKey = formatPreshared(entry);
    assert.equal(noKey, '\nPSKEY: For main mode (identity protect) exchanges\nLOCIP: Address:\nLOCIP: 192.0.2.10\nREMIP: Address:\nREMIP: 198.51.100.0/24\nPSKEY: Defined at ps:1:1\n');
    const withKey = formatPreshared({ ...entry, key: 'abc/12', keyBits: 12 });
    assert.match(withKey, /^PSKEY: Pre-shared key \(2 bytes\): abc\/12$/m);
    const paranoid = formatPreshared({ ...entry, key: '0011aabb', keyBits: 32 }, { paranoid: true });
    assert.match(paranoid, /^PSKEY: Pre-shared key \(4 bytes\): XXXXXXXX$/m);
    assert.ok(!paranoid.includes('0011aabb'));
    const dump = formatResult('dump preshared', [entry, entry]);
    assert.equal(dump.stdout.split('PSKEY: For main').length - 1, 2);
    assert.match(dump.stdout, /\nCompleted dump of preshared keys\n$/);
  });

  it('lays out groups, encralgs and authalgs in the Solaris columns', () => {
    const g = formatGroups([{ value: 14, strength: 112, kind: 'modp', bits: 2048 }, { value: 19, strength: 128, kind: 'ecp', bits: 256 }]);
    assert.match(g, /^Value Strength Description$/m);
    assert.match(g, /^14    112      2048-bit MODP \(group 14\)$/m);
    assert.match(g, /^19    128      256-bit ECP \(group 19\)$/m);
    const e = formatEncrAlgs([{ value: 5, name: '3des-cbc', keyBits: 192 }, { value: 7, name: 'aes-cbc', keyLengths: { min: 128, max: 256 } }]);
    assert.match(e, /^Value Name {16}Keylen range$/m);
    assert.match(e, /^5 {5}3des-cbc {12}N\/A \(192 bits\)$/m);
    assert.match(e, /^7 {5}aes-cbc {13}128-256$/m);
    const a = formatAuthAlgs([{ value: 4, name: 'sha256' }]);
    assert.match(a, /^4 {5}sha256$/m);
    for (const [cmd, what] of [['dump groups', 'groups'], ['dump encralgs', 'encralgs'], ['dump authalgs', 'authalgs']]) {
      assert.match(formatResult(cmd!, []).stdout, new RegExp(`\\nCompleted dump of ${what}\\n$`));
    }
  });

  it('prints certcache entries, and only the completion line for an empty cache', () => {
    const c: CertCacheEntry = { id: 3, subject: 'CN=a', issuer: 'CN=ca', trusted: true, key: 'available' };
    assert.equal(formatCertCache(c), '\nCERTIFICATE CACHE ID: 3\n\tSubject Name: CN=a\n\t Issuer Name: CN=ca\n\t\t[trusted certificate]\n\t\t[Private key available]\n');
    assert.match(formatCertCache({ ...c, trusted: false, key: 'public-only', fromPayload: true }), /\t\t\[Public certificate only\] \[Obtained via certificate payload\]\n$/);
    assert.equal(formatResult('dump certcache', []).stdout, '\nCompleted dump of certcache\n');
  });

  it('says what changed in the status lines', () => {
    assert.equal(formatResult('add rule', { labels: ['x'], warnings: [] }).stderr, "Successfully created new policy rule 'x'.\n");
    assert.equal(formatResult('add rule', { labels: ['x', 'y'], warnings: ['f:1:1: w'] }).stderr, "warning: f:1:1: w\nSuccessfully created new policy rules 'x', 'y'.\n");
    assert.equal(formatResult('del rule', { label: 'x' }).stderr, "Successfully deleted selected policy rule 'x'.\n");
    assert.equal(formatResult('add preshared', { added: 2, warnings: [] }).stderr, 'Successfully created new preshared keys (2).\n');
    assert.equal(formatResult('del preshared', { local: '10.0.0.1', remote: '10.0.0.2' }).stderr, 'Successfully deleted selected preshared key (local 10.0.0.1, remote 10.0.0.2).\n');
    assert.equal(formatResult('flush certcache', { flushed: 1 }).stderr, 'Successfully flushed cert cache (1 certificate removed).\n');
    assert.equal(formatResult('write rule', { file: '/tmp/r' }).stderr, 'Completed write of policy rule configuration information to /tmp/r.\n');
    assert.equal(formatResult('token login', { label: 'tok' }).stderr, "PKCS#11 operation successful: logged in to token 'tok'\n");
    assert.equal(formatResult('token logout', { label: 'tok' }).stderr, "PKCS#11 operation successful: logged out of token 'tok'\n");
  });

  it('-j prints every get/dump result as JSON', () => {
    for (const cmd of ['dump preshared', 'get preshared', 'dump groups', 'dump encralgs', 'dump authalgs', 'dump certcache']) {
      const out = formatResult(cmd, [entry], { json: true });
      assert.deepEqual(JSON.parse(out.stdout), [entry]);
      assert.equal(out.stderr, '');
    }
  });
});
