/** ControlServer: socket mode, stale/live socket, privilege enforcement, errors, events. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { ControlClient } from '../../../src/control/client';
import { ControlErr, encodeFrame, FrameDecoder } from '../../../src/control/frame';
import { ControlServer, type ControlHandlers } from '../../../src/control/server';
import { OakleyError } from '../../../src/util/errors';
import type { Privilege } from '../../../src/util/log';

describe('ControlServer', () => {
  let dir: string;
  let sock: string;
  let priv: Privilege;
  const servers: ControlServer[] = [];
  const clients: ControlClient[] = [];

  const handlers: ControlHandlers = {
    'get stats': () => ({ initP1Current: 1 }),
    'dump preshared': (_a, ctx) => ({ keysShown: ctx.privilege === 'keymat' }),
    'write preshared': () => 'written',
    'boom': () => {
      throw new Error('handler bug');
    },
    'coded': async () => {
      throw new OakleyError('IKE_ERR_NO_OBJ', 'Could not find requested phase 1 SA.');
    },
    'echo': (args, ctx) => ({ args, privilege: ctx.privilege }),
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-ctl-'));
    sock = path.join(dir, 'ikeadm.sock');
    priv = 'base';
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  async function start(): Promise<ControlServer> {
    const s = await ControlServer.listen({ path: sock, handlers, privilege: () => priv });
    servers.push(s);
    return s;
  }
  async function client(): Promise<ControlClient> {
    const c = await ControlClient.connect(sock);
    clients.push(c);
    return c;
  }

  it('creates the socket with mode 0600 and removes it on close', async () => {
    const s = await start();
    const st = fs.statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    await s.close();
    servers.length = 0;
    assert.equal(fs.existsSync(sock), false);
  });

  it('answers requests and passes args and the effective privilege', async () => {
    await start();
    const c = await client();
    assert.deepEqual(await c.request('get stats'), { id: 1, ok: true, result: { initP1Current: 1 } });
    priv = 'keymat';
    const r = await c.request('echo', { x: 1 }, 'modkeys');
    assert.deepEqual(r, { id: 2, ok: true, result: { args: { x: 1 }, privilege: 'modkeys' } });
  });

  it('enforces per-command privilege against the current daemon level', async () => {
    await start();
    const c = await client();
    let r = await c.request('dump preshared');
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, ControlErr.NO_PRIV);
    assert.match(!r.ok ? r.error.message : '', /Not allowed at current privilege level/);
    priv = 'modkeys';
    r = await c.request('dump preshared');
    assert.deepEqual(r.ok && r.result, { keysShown: false });
    r = await c.request('write preshared');
    assert.equal(!r.ok && r.error.code, ControlErr.NO_PRIV);
    priv = 'keymat';
    r = await c.request('dump preshared');
    assert.deepEqual(r.ok && r.result, { keysShown: true });
    assert.deepEqual((await c.request('write preshared')).ok, true);
    // the client asking for less (ikeadm -p) lowers the effective level
    r = await c.request('dump preshared', {}, 'modkeys');
    assert.deepEqual(r.ok && r.result, { keysShown: false });
  });

  it('unknown commands and throwing handlers give coded errors; the server keeps running', async () => {
    await start();
    const c = await client();
    let r = await c.request('nope');
    assert.equal(!r.ok && r.error.code, ControlErr.UNKNOWN_COMMAND);
    r = await c.request('toString');
    assert.equal(!r.ok && r.error.code, ControlErr.UNKNOWN_COMMAND);
    r = await c.request('boom');
    assert.deepEqual(!r.ok && r.error, { code: ControlErr.INTERNAL, message: 'handler bug' });
    r = await c.request('coded');
    assert.equal(!r.ok && r.error.code, 'IKE_ERR_NO_OBJ');
    assert.equal((await c.request('get stats')).ok, true);
  });

  it('answers garbage with one coded error, closes that connection, keeps serving others', async () => {
    await start();
    const raw = net.connect(sock);
    const got: Buffer[] = [];
    raw.on('data', (d) => got.push(d));
    await new Promise((r) => raw.once('connect', r));
    const h = Buffer.alloc(4);
    h.writeUInt32BE(5);
    raw.write(Buffer.concat([h, Buffer.from('hello')]));
    await new Promise((r) => raw.once('close', r));
    const msgs = new FrameDecoder().push(Buffer.concat(got));
    assert.equal(msgs.length, 1);
    assert.deepEqual(msgs[0], { id: null, ok: false, error: { code: ControlErr.BAD_FRAME, message: 'control frame is not valid JSON' } });
    // oversize announced length
    const raw2 = net.connect(sock);
    const got2: Buffer[] = [];
    raw2.on('data', (d) => got2.push(d));
    await new Promise((r) => raw2.once('connect', r));
    raw2.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    await new Promise((r) => raw2.once('close', r));
    const m2 = new FrameDecoder().push(Buffer.concat(got2))[0];
    assert.equal('ok' in m2 && !m2.ok && m2.error.code, ControlErr.FRAME_TOO_LARGE);
    const c = await client();
    assert.equal((await c.request('get stats')).ok, true);
  });

  it('replaces a stale socket file, refuses a live one and a non-socket', async () => {
    // a stale socket: a process bound it and exited without unlinking it
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`]);
    assert.ok(fs.lstatSync(sock).isSocket());
    await start();
    const c = await client();
    assert.equal((await c.request('get stats')).ok, true);
    await assert.rejects(ControlServer.listen({ path: sock, handlers, privilege: () => priv }), (e: OakleyError) => e.code === ControlErr.IN_USE && /in use/.test(e.message));
    const file = path.join(dir, 'plain');
    fs.writeFileSync(file, 'x');
    await assert.rejects(ControlServer.listen({ path: file, handlers, privilege: () => priv }), /not a socket/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'x');
  });

  it('delivers events to subscribed connections only', async () => {
    const s = await start();
    const a = await client();
    const b = await client();
    const seen: string[] = [];
    a.onEvent = (e) => seen.push(`a:${e.event}`);
    b.onEvent = (e) => seen.push(`b:${e.event}`);
    assert.equal((await a.request('subscribe', { events: ['p1.up'] })).ok, true);
    assert.equal((await b.request('subscribe', { events: 'x' })).ok, false);
    s.emit('p1.up', { n: 1 });
    s.emit('p1.down', {});
    await a.request('get stats');
    assert.deepEqual(seen, ['a:p1.up']);
  });

  it('a response too large for a frame becomes an error response', async () => {
    const s = await ControlServer.listen({ path: sock, handlers: { big: () => 'x'.repeat(2000) }, privilege: () => priv, maxFrame: 1000 });
    servers.push(s);
    const c = await client();
    const r = await c.request('big');
    assert.equal(!r.ok && r.error.code, ControlErr.FRAME_TOO_LARGE);
    assert.ok(encodeFrame({ id: 1, ok: true, result: 1 }));
  });
});
