/**
 * Control socket caller credentials (SO_PEERCRED, src/control/server.ts layer 2): with the socket
 * file loosened to 0666 so that only the uid check stands in the way, a client running as
 * `nobody` (setpriv) is refused with IKE_ERR_NO_AUTH and counted, root is served, and a uid on
 * the allowed list is served. Needs root, setpriv and the addon; skipped otherwise.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ControlClient } from '../../src/control/client';
import { ControlServer } from '../../src/control/server';
import { sockoptAddon } from '../../src/net/sockopt';
import { freeUdpPorts, runTool, startDaemon, stopDaemon, writeRoot, type Daemon } from '../../src/demo/iked-demo';
import { run, type Result as Run } from '../interop/lib/sys';

const NOBODY = 65534;
const TOOLS = path.resolve(__dirname, '..', '..', '..', 'tools');
const CLIENT_JS = path.resolve(__dirname, '..', '..', 'src', 'control', 'client.js');

/** Runs node as uid/gid 65534 with no supplementary groups. */
function asNobody(args: readonly string[]): Promise<Run> {
  return run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, ...args], { timeoutMs: 30_000 });
}

/** A `get stats` request through ControlClient as nobody; prints {ok} or {code, message}. */
function nobodyRequest(sock: string): Promise<Run> {
  const script = `
    const { ControlClient } = require(${JSON.stringify(CLIENT_JS)});
    (async () => {
      const c = await ControlClient.connect(${JSON.stringify(sock)});
      try {
        const r = await c.request('get stats');
        console.log(JSON.stringify(r.ok ? { ok: true } : { code: r.error.code, message: r.error.message }));
      } catch (e) {
        console.log(JSON.stringify({ code: e.code, message: e.message }));
      } finally { c.close(); }
    })();`;
  return asNobody(['-e', script]);
}

describe('control socket caller credentials (SO_PEERCRED)', function () {
  this.timeout(60_000);
  let tmp: string;

  before(async function () {
    const hasSetpriv = (await run('setpriv', ['--version']).catch(() => ({ code: 1 }))).code === 0;
    if (process.getuid?.() !== 0 || !hasSetpriv || !sockoptAddon()) this.skip();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-peercred-'));
    // nobody must reach the socket: only the uid check should stop it.
    fs.chmodSync(tmp, 0o755);
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('ControlServer', () => {
    const servers: ControlServer[] = [];
    afterEach(async () => {
      for (const s of servers.splice(0)) await s.close();
    });
    const listen = async (name: string, allowedUids?: number[]): Promise<ControlServer> => {
      const s = await ControlServer.listen({
        path: path.join(tmp, name), mode: 0o666, privilege: () => 'base', ...(allowedUids ? { allowedUids } : {}),
        handlers: { 'get stats': (_a, ctx) => ({ peer: ctx.peer }) },
      });
      servers.push(s);
      return s;
    };

    it('refuses a caller whose uid is neither root nor the daemon\'s, counted; root is served with its credentials', async () => {
      const s = await listen('a.sock');
      const r = await nobodyRequest(s.path);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { code?: string; message?: string };
      assert.equal(out.code, 'IKE_ERR_NO_AUTH', r.stdout);
      assert.match(out.message!, /uid 65534 \(pid \d+\) may not use the control socket \(only uid 0\)/);
      assert.equal(s.counters.get('control.conn.refused_uid'), 1);
      assert.equal(s.counters.get('control.requests'), 0, 'no request of the refused caller was read');

      const c = await ControlClient.connect(s.path);
      try {
        const ok = await c.request('get stats');
        assert.ok(ok.ok);
        assert.deepEqual((ok.result as { peer: unknown }).peer, { pid: process.pid, uid: 0, gid: process.getgid!() });
      } finally {
        c.close();
      }
      assert.equal(s.counters.get('control.conn.refused_uid'), 1);
    });

    it('serves a uid on allowedUids (the refusal above is the uid check, not the file mode)', async () => {
      const s = await listen('b.sock', [0, NOBODY]);
      const r = await nobodyRequest(s.path);
      assert.deepEqual(JSON.parse(r.stdout), { ok: true }, r.stderr);
      assert.equal(s.counters.get('control.conn.refused_uid'), 0);
    });
  });

  describe('tools/iked with the socket loosened to 0666', () => {
    let d: Daemon | undefined;
    after(async () => {
      if (d) await stopDaemon(d, 2000);
    });

    it('ikeadm as nobody gets a clear refusal; ikeadm as root works', async () => {
      const root = path.join(tmp, 'iked');
      const [port, nat] = await freeUdpPorts(2);
      writeRoot(root, { label: 'r', local: '127.0.0.1', remote: '127.0.0.1', remotePort: 9, psk: 'k' });
      fs.chmodSync(root, 0o755);
      d = await startDaemon(root, port!, nat!);
      // The socket file appears at bind(); the daemon's own chmod 0600 follows. A served request
      // proves the server is up (and its chmod done) before the test loosens the mode.
      const ready = await runTool('ikeadm', ['--control', d.control, 'get', 'stats']);
      assert.equal(ready.code, 0, ready.stderr);
      fs.chmodSync(d.control, 0o666);

      const refused = await asNobody([path.join(TOOLS, 'ikeadm'), '--control', d.control, 'get', 'stats']);
      assert.notEqual(refused.code, 0, refused.stdout);
      assert.match(refused.stderr, /uid 65534 .*may not use the control socket/);
      assert.match(d.log, /caller uid not allowed/);

      const ok = await runTool('ikeadm', ['--control', d.control, 'get', 'stats']);
      assert.equal(ok.code, 0, ok.stderr);
    });
  });
});
