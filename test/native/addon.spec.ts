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

  it('lowers the pool threads that run its jobs: nice 5 by default, OAKLEY_WORKER_NICE=N or idle (SCHED_IDLE)', function () {
    if (process.platform !== 'linux') this.skip();
    // In a fresh process per setting (read once per process): run jobs, then read every thread's
    // nice value (stat field 19) and scheduling policy (field 41; 5 is SCHED_IDLE).
    const probe = `
      const addon = require(${JSON.stringify(addonPath())});
      const { getGroup } = require(${JSON.stringify(join(repoRoot(__dirname), 'dist', 'src', 'crypto', 'groups.js'))});
      const ctx = new addon.ModpContext(getGroup(14).p);
      const fs = require('fs');
      Promise.all(Array.from({ length: 8 }, (_, i) => ctx.modexpAsync(Buffer.from([2]), Buffer.from([i + 1, 0x55])))).then(() => {
        const out = [];
        for (const t of fs.readdirSync('/proc/self/task')) {
          if (Number(t) === process.pid) continue;
          const st = fs.readFileSync('/proc/self/task/' + t + '/stat', 'utf8');
          const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
          out.push({ nice: Number(f[16]), policy: Number(f[38]) });
        }
        process.stdout.write(JSON.stringify(out));
      });`;
    const threads = (value?: string): { nice: number; policy: number }[] => {
      const env = { ...process.env };
      delete env.OAKLEY_WORKER_NICE;
      if (value !== undefined) env.OAKLEY_WORKER_NICE = value;
      return JSON.parse(execFileSync(process.execPath, ['-e', probe], { env }).toString()) as { nice: number; policy: number }[];
    };
    const def = threads();
    assert.ok(def.some((t) => t.nice === 5 && t.policy === 0), JSON.stringify(def));
    assert.ok(!def.some((t) => t.policy === 5));
    assert.ok(threads('12').some((t) => t.nice === 12 && t.policy === 0));
    const idle = threads('idle');
    assert.ok(idle.some((t) => t.policy === 5), JSON.stringify(idle));
    assert.ok(threads('99').some((t) => t.nice === 5), 'an out-of-range value keeps the default');
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
