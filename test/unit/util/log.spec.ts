/** Logger: Solaris debug categories and mask, pino JSON output, redaction, the log destination. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DEBUG_ALL, DEBUG_FLAGS, parseDebugLevel } from '../../../src/control/commands';
import { DEBUG_MASK_ALL, keymat, LOG_CATEGORIES, LogDestination, memoryLogger, type LogCategory } from '../../../src/util/log';

describe('Logger debug categories', () => {
  it('uses the bit values of ikeadm (commands.ts) for every category', () => {
    assert.equal(DEBUG_MASK_ALL, DEBUG_ALL);
    for (const [name, bit] of Object.entries(LOG_CATEGORIES)) {
      assert.equal(DEBUG_FLAGS.find((f) => f.names.includes(name))?.bit, bit, name);
    }
    assert.equal(Object.values(LOG_CATEGORIES).reduce((a, b) => a | b, 0), DEBUG_MASK_ALL);
  });

  it('writes a debug line only when its category is in the mask; info/warn/error always', () => {
    const { log, lines } = memoryLogger({ level: 'info', debugMask: parseDebugLevel('phase1+door') });
    const p1 = log.child({ sa: 1 }, 'phase1');
    const p2 = log.child({}, 'phase2');
    const door = log.child({}, 'door');
    p1.debug('main mode step');
    p2.debug('quick mode step');
    door.debug('request get stats');
    log.debug('op line');
    p2.info('installed');
    p2.warn('lifetime');
    p2.error('failed');
    assert.deepEqual(lines.map((l) => l.replace(/^\S+ /, '')), [
      'debug phase1 main mode step sa=1',
      'debug door request get stats',
      'info  installed',
      'warn  lifetime',
      'error failed',
    ]);
  });

  it('children inherit the category unless given one; cat() switches it and shares the mask', () => {
    const { log, records } = memoryLogger({ level: 'info', debugMask: LOG_CATEGORIES.phase2 });
    const p1 = log.child({ sa: 9 }, 'phase1');
    assert.equal(p1.child({ x: 1 }).category, 'phase1');
    assert.equal(log.category, 'op');
    p1.debug('hidden');
    p1.cat('phase2').debug('shown', { y: 2 });
    assert.equal(records.length, 1);
    assert.equal(records[0]!.category, 'phase2');
    assert.deepEqual(records[0]!.fields, { sa: 9, y: 2 });
    // The mask lives in the shared core: changing it on the root reaches every child.
    log.debugMask = LOG_CATEGORIES.phase1;
    p1.debug('now shown');
    p1.cat('phase2').debug('now hidden');
    assert.deepEqual(records.map((r) => r.msg), ['shown', 'now shown']);
    assert.equal(p1.enabled('debug'), true);
    assert.equal(p1.enabled('debug', 'door'), false);
  });

  it('level "debug" means every category, and setting another level clears the mask', () => {
    const { log, lines } = memoryLogger({ level: 'debug' });
    assert.equal(log.debugMask, DEBUG_MASK_ALL);
    for (const c of Object.keys(LOG_CATEGORIES) as LogCategory[]) log.cat(c).debug(c);
    assert.equal(lines.length, Object.keys(LOG_CATEGORIES).length);
    log.level = 'warn';
    assert.equal(log.debugMask, 0);
    log.cat('phase1').debug('x');
    log.info('y');
    log.warn('z');
    assert.equal(lines.length, Object.keys(LOG_CATEGORIES).length + 1);
    log.debugMask = 0x8;
    assert.equal(log.level, 'debug');
  });
});

describe('Logger JSON output (pino)', () => {
  const key = Buffer.from('00112233445566778899', 'hex');

  it('writes one parseable object per line, with cat only on debug lines', () => {
    const { log, lines } = memoryLogger({ json: true, level: 'info', debugMask: LOG_CATEGORIES.phase1 });
    const p1 = log.child({ sa: 3, cookies: 'aa:bb' }, 'phase1');
    p1.debug('SA aa:bb: HDR, SA ->', { n: 1, ok: true, nothing: null });
    p1.info('established');
    const [d, i] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(d, { time: '1970-01-01T00:00:00.000Z', level: 'debug', cat: 'phase1', sa: 3, cookies: 'aa:bb', n: 1, ok: true, nothing: null, msg: 'SA aa:bb: HDR, SA ->' });
    assert.deepEqual(i, { time: '1970-01-01T00:00:00.000Z', level: 'info', sa: 3, cookies: 'aa:bb', msg: 'established' });
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => !l.includes('\n')));
  });

  for (const [priv, shown] of [['base', false], ['modkeys', false], ['keymat', true]] as const) {
    it(`renders KeyMaterial ${shown ? 'as hex' : 'redacted'} at ${priv} in JSON too`, () => {
      const { log, lines } = memoryLogger({ json: true, privilege: priv });
      log.cat('key').debug('keys', { SKEYID: keymat(key), nested: { k: keymat(key) } });
      const o = JSON.parse(lines[0]!) as Record<string, string>;
      assert.equal(o.SKEYID, shown ? key.toString('hex') : '<redacted 10 bytes>');
      assert.equal(lines[0]!.includes(key.toString('hex')), shown);
    });
  }

  it('never writes a PIN or password, at any privilege, in text or JSON, even inside objects', () => {
    for (const json of [false, true]) {
      const { log, lines } = memoryLogger({ json, privilege: 'keymat' });
      log.info('token login', { pin: '1234-secret', soPin: '87654321', settings: { tokenLabel: 't', pin: '1234-secret', deeper: [{ password: 'hunter2' }] } });
      assert.equal(lines.length, 1);
      for (const s of ['1234-secret', '87654321', 'hunter2']) assert.ok(!lines[0]!.includes(s), lines[0]);
      assert.match(lines[0]!, /<redacted>/);
      assert.match(lines[0]!, /tokenLabel/);
    }
  });
});

describe('LogDestination', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-logdest-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('switches to a file opened for append with mode 0600, and keeps what was there', () => {
    const file = path.join(tmp, 'debug.log');
    fs.writeFileSync(file, 'earlier\n', { mode: 0o644 });
    fs.chmodSync(file, 0o600);
    const d = new LogDestination();
    const { log } = memoryLogger({ level: 'info' });
    log.setSink(d.sink);
    d.switchTo(file);
    log.info('first');
    const other = path.join(tmp, 'other.log');
    d.switchTo(other);
    log.info('second');
    d.close();
    assert.match(fs.readFileSync(file, 'utf8'), /^earlier\n.* info  first\n$/);
    assert.match(fs.readFileSync(other, 'utf8'), /^.* info  second\n$/);
    assert.equal(fs.statSync(other).mode & 0o777, 0o600);
    assert.equal(d.file, undefined);
  });

  it('refuses a symbolic link and anything that is not a regular file', () => {
    const target = path.join(tmp, 'target');
    fs.writeFileSync(target, '');
    const link = path.join(tmp, 'link');
    fs.symlinkSync(target, link);
    const d = new LogDestination();
    assert.throws(() => d.switchTo(link), (e: NodeJS.ErrnoException) => e.code === 'ELOOP');
    assert.throws(() => d.switchTo(tmp), (e: NodeJS.ErrnoException) => e.code === 'EISDIR' || e.code === 'EINVAL');
    assert.throws(() => d.switchTo(path.join(tmp, 'no', 'such', 'dir')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    assert.equal(d.file, undefined);
    assert.equal(fs.readFileSync(target, 'utf8'), '');
  });

  it('a file is always a destination', () => {
    const d = new LogDestination();
    d.switchTo(path.join(tmp, 'x.log'));
    assert.equal(d.hasDestination(), true);
    d.close();
  });
});
