import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { createNativeBackend, nativeAvailable, nativeLoadError } from '../../src/crypto/native';
import { addonPath, loadAddon, repoRoot } from '../../src/crypto/native/addon';

describe('native addon: loading', () => {
  it('loads build/Release/oakley.node (required: this fails, never skips)', () => {
    assert.equal(nativeLoadError(), null, `addon load error: ${nativeLoadError()?.message}`);
    assert.ok(nativeAvailable());
    assert.ok(createNativeBackend());
  });

  it('finds the repository root from dist/ by walking up to package.json', () => {
    const root = repoRoot(__dirname);
    assert.ok(existsSync(join(root, 'package.json')));
    assert.ok(existsSync(join(root, 'binding.gyp')));
    assert.equal(addonPath(), join(root, 'build', 'Release', 'oakley.node'));
  });

  it("binds to node's own OpenSSL 3.0 (no second libcrypto in the process)", () => {
    const addon = loadAddon();
    assert.ok(addon);
    assert.match(addon.opensslVersion, /^OpenSSL 3\.0\./);
    assert.ok(addon.opensslVersion.includes(process.versions.openssl.split('+')[0]));
    if (process.platform === 'linux') {
      // In a fresh process: earlier specs may have loaded SoftHSM, which brings its own libcrypto.
      const probe = `require(${JSON.stringify(addonPath())}); process.stdout.write(String(/libcrypto/.test(require('fs').readFileSync('/proc/self/maps', 'utf8'))))`;
      assert.equal(execFileSync(process.execPath, ['-e', probe]).toString(), 'false', 'a separate libcrypto is mapped into the process');
    }
  });

  /** Runs `body` in a fresh node process (the priority setting is read once per process) with OAKLEY_WORKER_NICE=value. */
  function probe(value: string | undefined, body: string, taskset?: string): unknown {
    const script = `
      const addon = require(${JSON.stringify(addonPath())});
      const { getGroup } = require(${JSON.stringify(join(repoRoot(__dirname), 'dist', 'src', 'crypto', 'groups.js'))});
      const ctx = new addon.ModpContext(getGroup(14).p);
      const fs = require('fs');
      // Every pool thread's nice value (stat field 19) and scheduling policy (field 41; 5 is SCHED_IDLE).
      const threads = () => fs.readdirSync('/proc/self/task').filter((t) => Number(t) !== process.pid).map((t) => {
        const st = fs.readFileSync('/proc/self/task/' + t + '/stat', 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        return { nice: Number(f[16]), policy: Number(f[38]) };
      });
      const jobs = () => Promise.all(Array.from({ length: 8 }, (_, i) => ctx.modexpAsync(Buffer.from([2]), Buffer.from([i + 1, 0x55]))));
      (async () => { ${body} })().then((r) => process.stdout.write(JSON.stringify(r)));`;
    const env = { ...process.env };
    delete env.OAKLEY_WORKER_NICE;
    if (value !== undefined) env.OAKLEY_WORKER_NICE = value;
    const argv = taskset ? ['taskset', ['-c', taskset, process.execPath, '-e', script]] as const : [process.execPath, ['-e', script]] as const;
    return JSON.parse(execFileSync(argv[0], [...argv[1]], { env }).toString());
  }

  type Threads = { nice: number; policy: number }[];

  it('runs pool jobs under SCHED_IDLE by default (auto), or at OAKLEY_WORKER_NICE=N, or idle without the guard', function () {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) this.skip(); // auto needs CAP_SYS_NICE to leave SCHED_IDLE
    const run = (value?: string) => probe(value, 'await jobs(); return { threads: threads(), prio: addon.workerPriority() };') as
      { threads: Threads; prio: { mode: string; promotions: number } };
    const def = run();
    assert.equal(def.prio.mode, 'auto');
    assert.ok(def.threads.some((t) => t.policy === 5), JSON.stringify(def));
    assert.equal(def.prio.promotions, 0);
    const five = run('5');
    assert.equal(five.prio.mode, 'nice');
    assert.ok(five.threads.some((t) => t.nice === 5 && t.policy === 0) && !five.threads.some((t) => t.policy === 5), JSON.stringify(five));
    assert.ok(run('12').threads.some((t) => t.nice === 12 && t.policy === 0));
    const idle = run('idle');
    assert.equal(idle.prio.mode, 'idle');
    assert.ok(idle.threads.some((t) => t.policy === 5), JSON.stringify(idle));
    assert.equal(run('99').prio.mode, 'auto', 'an out-of-range value keeps the default');
  });

  it('auto: a job starved under SCHED_IDLE moves the pool to nice 5 (a busy normal thread on its only CPU)', function () {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) this.skip();
    this.timeout(30_000);
    // Pinned to one CPU, the main thread spins for 2 s right after queueing a 4096-bit modexp with a
    // full-length exponent (~25 ms of CPU): the SCHED_IDLE pool thread runs a slice (a few ms) and
    // then waits for its ~0.3 % share, so the job's wall time far exceeds its CPU time. The next
    // jobs then run at nice 5 (SCHED_OTHER), and the count shows it.
    const r = probe(undefined, `
      await jobs();
      const before = { threads: threads(), prio: addon.workerPriority() };
      const big = new addon.ModpContext(getGroup(16).p);
      const p = big.modexpAsync(Buffer.from([2]), Buffer.alloc(512, 0xa5));
      const until = Date.now() + 2000;
      while (Date.now() < until);
      await p;
      await jobs();
      return { before, after: { threads: threads(), prio: addon.workerPriority() } };`, '0') as
      { before: { threads: Threads; prio: { promotions: number } }; after: { threads: Threads; prio: { promotions: number } } };
    assert.equal(r.before.prio.promotions, 0);
    assert.ok(r.before.threads.some((t) => t.policy === 5));
    assert.ok(r.after.prio.promotions >= 1, JSON.stringify(r));
    assert.ok(r.after.threads.some((t) => t.policy === 0 && t.nice === 5), JSON.stringify(r.after));
  });

  it('backend reports the native path for every class', () => {
    const b = createNativeBackend()!;
    for (const p of [b, b.ke, b.rsa, b.kdf, b.cipher, b.random]) assert.equal(p.path, 'native');
  });

  it('when the addon cannot load: null backend, ONE warning naming the reason and the node:crypto fallback', () => {
    // A child process whose require() of oakley.node fails.
    const script = `
      const Module = require('module');
      const orig = Module._load;
      Module._load = function (req, ...rest) {
        if (String(req).endsWith('oakley.node')) throw new Error('simulated: cannot open shared object');
        return orig.call(this, req, ...rest);
      };
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.message));
      const n = require(${JSON.stringify(join(__dirname, '..', '..', 'src', 'crypto', 'native'))});
      const r = [n.createNativeBackend(), n.createNativeBackend(), n.nativeAvailable(), n.nativeLoadError().message];
      setImmediate(() => console.log(JSON.stringify({ r, warnings })));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { r: unknown[]; warnings: string[] };
    assert.deepEqual(out.r.slice(0, 3), [null, null, false]);
    assert.match(String(out.r[3]), /simulated/);
    assert.equal(out.warnings.length, 1);
    assert.match(out.warnings[0], /native addon could not be loaded.*simulated.*falls back to node:crypto/);
  });
});
