/**
 * Constant-time audit as a test (issue 9, "Secrets"): a static scan of src/ for comparisons of
 * authenticating values — HASH, MAC/ICV, SIG, PSK, nonces, cookies — that use Buffer.equals,
 * Buffer.compare or ===/!== instead of crypto.timingSafeEqual (or the constant-time helpers
 * sameHash/sameDatagram built on it). New code must not add one.
 *
 * There are no exceptions: cookies too (public in every header, RFC 2408 §2.5.3) are compared with
 * sameBytes/sameCookiePair (src/util/constant-time.ts), as issue 9 asks.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../../..');
const DIRS = ['src/exchange', 'src/wire', 'src/keystore', 'src/crypto', 'src/net', 'src/control', 'src/daemon'];
/** Identifiers that hold authenticating material. */
const SECRET = /\b(\w*(hash|mac|icv|sig|signature|psk|preshared|presharedKey|nonce|cookie|skeyid|digest|auth)\w*)\b/i;
const UNSAFE = [
  /\.equals\(/,
  /Buffer\.compare\(/,
  /\.compare\(/,
  /toString\('(hex|base64|latin1|binary)'\)\s*[!=]==|[!=]==\s*[\w.]+\.toString\('(hex|base64|latin1|binary)'\)/,
];

export interface Site { file: string; line: number; text: string }

function* files(dir: string): Generator<string> {
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(rel);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield rel;
  }
}

export function scan(): Site[] {
  const out: Site[] = [];
  for (const dir of DIRS) {
    if (!fs.existsSync(path.join(ROOT, dir))) continue;
    for (const file of files(dir)) {
      fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n').forEach((text, i) => {
        const code = text.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
        if (!UNSAFE.some((re) => re.test(code))) return;
        if (!SECRET.test(code)) return;
        out.push({ file, line: i + 1, text: text.trim() });
      });
    }
  }
  return out;
}

describe('constant-time audit of src/', () => {
  const sites = scan();

  it('no HASH, MAC, SIG, PSK, nonce or cookie is compared with Buffer.equals / compare / ===', () => {
    assert.deepEqual(sites.map((s) => `${s.file}:${s.line}: ${s.text}`), [],
      'use crypto.timingSafeEqual (with the public lengths compared first), or sameBytes()/sameCookiePair() from src/util/constant-time.ts');
  });

  it('the scanner finds an unsafe comparison in a planted line (self-test)', () => {
    const line = 'if (!got.equals(expectedHash)) throw x;';
    assert.ok(UNSAFE.some((re) => re.test(line)) && SECRET.test(line));
    assert.ok(!(UNSAFE.some((re) => re.test('return a.length === b.length && timingSafeEqual(a, b);'))));
  });

  it('the HASH, NAT-D and duplicate-cache comparisons use timingSafeEqual', () => {
    const uses = (file: string, re: RegExp) => assert.match(fs.readFileSync(path.join(ROOT, file), 'utf8'), re, file);
    uses('src/exchange/ikev1/phase1-steps.ts', /!timingSafeEqual\(got, expected\)/);
    uses('src/exchange/ikev1/phase2-state.ts', /export function sameHash[\s\S]{0,80}timingSafeEqual\(a, b\)/);
    uses('src/exchange/ikev1/main-mode.ts', /function sameHash[\s\S]{0,80}timingSafeEqual\(a, b\)/);
    uses('src/exchange/retransmit.ts', /export function sameDatagram[\s\S]{0,80}timingSafeEqual\(a, b\)/);
    uses('src/crypto/rsa-emsa.ts', /timingSafeEqual\(H, H2\)/);
    uses('src/crypto/node/rsa.ts', /timingSafeEqual\(recovered, data\)/);
  });
});
