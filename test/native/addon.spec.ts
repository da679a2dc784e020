import assert from 'node:assert/strict';
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
  });

  it('backend reports the native path for every class', () => {
    const b = createNativeBackend()!;
    for (const p of [b, b.ke, b.rsa, b.kdf, b.cipher, b.random]) assert.equal(p.path, 'native');
  });
});
