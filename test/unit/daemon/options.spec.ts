/** tools/iked command line: Solaris options and Oakley's. */
import assert from 'node:assert/strict';

import { parseDebugFlags, parseIkedOptions, parseMetricsAddress, UsageError } from '../../../src/daemon/options';

describe('iked options', () => {
  it('defaults to the Solaris layout under /etc/inet', () => {
    const o = parseIkedOptions([]);
    assert.equal(o.configFile, '/etc/inet/ike/config');
    assert.equal(o.presharedFile, '/etc/inet/secret/ike.preshared');
    assert.equal(o.privateKeysDir, '/etc/inet/secret/ike.privatekeys');
    assert.equal(o.publicKeysDir, '/etc/inet/ike/publickeys');
    assert.equal(o.crlsDir, '/etc/inet/ike/crls');
    assert.equal(o.ipsecInitFile, '/etc/inet/ipsecinit.conf');
    assert.deepEqual([o.port, o.natPort, o.privilege, o.kernel, o.check, o.debug], [500, 4500, 'base', 'memory', false, false]);
  });

  it('takes --root, -f, --listen (v4 and v6, repeatable), ports, control, -p, -D, -d, -c, -N', () => {
    const o = parseIkedOptions(['--root', '/tmp/r', '-f', '/tmp/cfg', '--listen', '127.0.0.1', '--listen', '::1', '--port', '5500',
      '--nat-port', '5501', '--control', '/tmp/r/s', '-p', 'keymat', '-D', 'p1+p2', '-N', '--json-logs', '--log', '/tmp/l']);
    assert.equal(o.configFile, '/tmp/cfg');
    assert.equal(o.presharedFile, '/tmp/r/secret/ike.preshared');
    assert.deepEqual(o.listen, ['127.0.0.1', '::1']);
    assert.deepEqual([o.port, o.natPort, o.control, o.privilege, o.debugFlags, o.noNatT, o.jsonLogs, o.logFile],
      [5500, 5501, '/tmp/r/s', 'keymat', 0x18, true, true, '/tmp/l']);
    assert.equal(parseIkedOptions(['-d']).debugFlags, 0x7ff);
    assert.equal(parseIkedOptions(['-c']).check, true);
    assert.equal(parseIkedOptions(['-p', '1']).privilege, 'modkeys');
  });

  it('reads debug levels like Solaris: numbers in any C base, nicknames with + and -', () => {
    assert.equal(parseDebugFlags('0x18'), 0x18);
    assert.equal(parseDebugFlags('010'), 8);
    assert.equal(parseDebugFlags('24'), 24);
    assert.equal(parseDebugFlags('all-op'), 0x7fb);
    assert.equal(parseDebugFlags('-op'), 0);
    assert.equal(parseDebugFlags('phase1+cert'), 0x9);
    assert.throws(() => parseDebugFlags('p1+frob'), (e: unknown) => e instanceof UsageError && /Bad debug flag: frob/.test(e.message));
    assert.equal(parseDebugFlags('all'), 0x7ff);
  });

  it('takes --metrics on loopback addresses only (v4 ADDR:PORT, v6 [ADDR]:PORT)', () => {
    assert.equal(parseIkedOptions([]).metrics, undefined);
    assert.deepEqual(parseIkedOptions(['--metrics', '127.0.0.1:9464']).metrics, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseMetricsAddress('127.0.0.2:0'), { host: '127.0.0.2', port: 0 });
    assert.deepEqual(parseMetricsAddress('[::1]:9464'), { host: '::1', port: 9464 });
  });

  const bad: [string[], RegExp][] = [
    [['--metrics', '0.0.0.0:9464'], /--metrics must be a loopback address .* not 0\.0\.0\.0/],
    [['--metrics', '[::]:9464'], /--metrics must be a loopback address/],
    [['--metrics', '192.168.1.1:80'], /--metrics must be a loopback address/],
    [['--metrics', 'localhost:9464'], /--metrics needs ADDR:PORT/],
    [['--metrics', '127.0.0.1'], /--metrics needs ADDR:PORT/],
    [['--metrics', '127.0.0.1:65536'], /--metrics needs a port number/],
    [['--metrics'], /--metrics needs a value/],
    [['-x'], /unknown option "-x"/],
    [['-f'], /-f needs a value/],
    [['-p', 'root'], /bad privilege level "root"/],
    [['--listen', 'localhost'], /--listen needs an IPv4 or IPv6 address, not "localhost"/],
    [['--port', '70000'], /--port needs a port number/],
    [['--kernel', 'pfkey'], /--kernel must be memory or xfrm/],
    [['--port', '4500'], /--port and --nat-port are both 4500/],
  ];
  for (const [argv, re] of bad) {
    it(`refuses ${argv.join(' ')}`, () => {
      assert.throws(() => parseIkedOptions(argv), (e: unknown) => e instanceof UsageError && re.test(e.message));
    });
  }
});
