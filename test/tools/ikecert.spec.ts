/**
 * tools/ikecert (solaris-ike.md §4) run as a process against temporary --root trees and a
 * private SoftHSM2 token: what -ks/-kc build (checked with node's X509Certificate and openssl),
 * listings, extraction and removal, certdb/certrldb, `tokens`, PIN handling and the errors for
 * bad input. The pure parts (validity, hint files, PKCS#11 URIs) are tested in-process.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { createSoftHsmToken, findSoftHsmModule } from '../../src/crypto/pkcs11';
import { TOOLS, type Run } from '../../src/demo/iked-demo';
import { recordToolRun } from '../../src/demo/log-audit';
import { formatHintFile, parseHintFile } from '../../src/keystore/ikecert/hint-file';
import { formatPkcs11Uri, parsePkcs11Uri } from '../../src/keystore/ikecert/pkcs11-uri';
import { parseTime, validityWindow } from '../../src/keystore/ikecert/validity';
import { x509 } from '../../src/keystore/x509-lib';

const PIN = '73190245';
const TOKEN = 'ikecert-t';

function ikecert(args: readonly string[], input: string | Buffer = ''): Promise<Run & { raw: Buffer }> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [path.join(TOOLS, 'ikecert'), ...args], { timeout: 60_000, encoding: 'buffer' }, (err, stdout, stderr) => {
      recordToolRun('ikecert', args, typeof input === 'string' ? input : undefined, stdout.toString('latin1'), stderr.toString());
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout: stdout.toString('latin1'), stderr: stderr.toString(), raw: stdout });
    });
    p.stdin!.end(input);
  });
}

describe('tools/ikecert', function () {
  this.timeout(60_000);
  let tmp: string;
  let n = 0;
  const newRoot = (): string => path.join(tmp, `root${n++}`);

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-ikecert-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('certlocal -ks / -kc (files)', () => {
    it('-ks with -D, -A, -S, -F makes a certificate with exactly those fields, stored 0644 with its key 0600', async () => {
      const root = newRoot();
      const r = await ikecert(['certlocal', '-ks', '-m', '2048', '-t', 'rsa-sha256', '-D', 'C=US, O=Oakley, OU=Gateways, CN=gw1.example',
        '-A', 'IP=192.0.2.7', '-A', 'DNS=gw1.example', '-A', 'EMAIL=ops@example.com', '-A', 'URI=https://gw1.example/',
        '-S', '2026-01-02', '-F', '2030-06-30 12:00:00', '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^Generating, please wait\.\.\.\nCertificate generated\.\nCertificate added to database\./);
      const cert = new X509Certificate(r.stdout);
      assert.equal(cert.subject, 'C=US\nO=Oakley\nOU=Gateways\nCN=gw1.example');
      assert.equal(cert.issuer, cert.subject);
      assert.equal(cert.subjectAltName, 'IP Address:192.0.2.7, DNS:gw1.example, email:ops@example.com, URI:https://gw1.example/');
      assert.equal(new Date(cert.validFrom).toISOString(), '2026-01-02T00:00:00.000Z');
      assert.equal(new Date(cert.validTo).toISOString(), '2030-06-30T12:00:00.000Z');
      assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
      assert.ok(cert.verify(cert.publicKey), 'self-signature');
      const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: r.stdout }).toString();
      assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
      assert.match(text, /Digital Signature, Key Encipherment/);
      const stored = fs.readFileSync(path.join(root, 'ike', 'publickeys', '0'));
      assert.ok(stored.equals(cert.raw), 'publickeys/0 is the DER certificate');
      assert.equal(fs.statSync(path.join(root, 'ike', 'publickeys', '0')).mode & 0o777, 0o644);
      const keyFile = path.join(root, 'secret', 'ike.privatekeys', '0');
      assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.dirname(keyFile)).mode & 0o777, 0o700);
      const key = createPrivateKey({ key: fs.readFileSync(keyFile), format: 'der', type: 'pkcs8' });
      assert.ok(createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(cert.publicKey.export({ type: 'spki', format: 'der' })));
    });

    it('relative -S/-F, rsa-sha1, -f der and -o FILE', async () => {
      const root = newRoot();
      const out = path.join(tmp, 'c.der');
      const before = Date.now();
      const r = await ikecert(['certlocal', '-ks', '-m', '1024', '-t', 'rsa-sha1', '-D', 'CN=rel', '-S', '-1d', '-F', '+1y6M', '-f', 'der', '-o', out, '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
      const cert = new X509Certificate(fs.readFileSync(out));
      const from = new Date(cert.validFrom).getTime();
      assert.ok(Math.abs(from - (before - 86_400_000)) < 10_000, cert.validFrom);
      const to = new Date(before);
      to.setUTCMonth(to.getUTCMonth() + 18);
      assert.ok(Math.abs(new Date(cert.validTo).getTime() - to.getTime()) < 10_000, cert.validTo);
      assert.match(execFileSync('openssl', ['x509', '-inform', 'DER', '-noout', '-text', '-in', out]).toString(), /sha1WithRSAEncryption/);
    });

    it('-t rsa-md5: md5WithRSAEncryption certificates and requests that verify (OpenSSL at -auth_level 0)', async () => {
      const root = newRoot();
      const r = await ikecert(['certlocal', '-ks', '-m', '2048', '-t', 'rsa-md5', '-D', 'C=US, O=Oakley, CN=md5.example', '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      const cert = new X509Certificate(r.stdout);
      assert.ok(cert.verify(cert.publicKey), 'self-signature');
      const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: r.stdout }).toString();
      assert.equal(text.match(/Signature Algorithm: md5WithRSAEncryption/g)?.length, 2, text);
      const file = path.join(tmp, 'md5.pem');
      fs.writeFileSync(file, r.stdout);
      // -check_ss_sig: the self-signature itself is checked; level 0 admits MD5 (OpenSSL 3).
      assert.match(execFileSync('openssl', ['verify', '-auth_level', '0', '-check_ss_sig', '-CAfile', file, file]).toString(), /: OK\n$/);
      const l = await ikecert(['certdb', '-l', '-v', '--root', root]);
      assert.match(l.stdout, /\tSelf-signed: yes \(signature verified\)\n/);
      assert.match(l.stdout, /\tSignature Algorithm: MD5 RSASSA-PKCS1-v1_5\n/);
      const req = await ikecert(['certlocal', '-kc', '-m', '2048', '-t', 'rsa-md5', '-D', 'C=US, CN=md5req.example', '--root', root]);
      assert.equal(req.code, 0, req.stderr);
      const v = execFileSync('openssl', ['req', '-verify', '-noout', '-text'], { input: req.stdout, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
      assert.match(v, /Signature Algorithm: md5WithRSAEncryption/);
    });

    it('-kc writes a PKCS#10 request that openssl verifies, with the subject and altnames', async () => {
      const root = newRoot();
      const r = await ikecert(['certlocal', '-kc', '-m', '2048', '-D', 'C=DE, O=Oakley, CN=req.example', '-A', 'DNS=req.example', '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^-----BEGIN CERTIFICATE REQUEST-----/);
      const v = execFileSync('openssl', ['req', '-verify', '-noout', '-text'], { input: r.stdout, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
      assert.match(v, /Subject: C ?= ?DE, O ?= ?Oakley, CN ?= ?req\.example/);
      assert.match(v, /DNS:req\.example/);
      assert.deepEqual(fs.readdirSync(path.join(root, 'secret', 'ike.privatekeys')), ['0']);
      assert.ok(!fs.existsSync(path.join(root, 'ike', 'publickeys', '0')), 'no certificate for -kc');
    });
  });

  describe('certlocal -l / -e / -r / -a, certdb, certrldb', () => {
    let root: string;
    let certPem: string;
    before(async () => {
      root = newRoot();
      const r = await ikecert(['certlocal', '-ks', '-D', 'C=US, O=Oakley, CN=list.example', '-A', 'IP=10.1.1.1', '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      certPem = r.stdout;
    });

    it('-l lists slot, type, size and public key hash; -v adds the modulus; a slot pattern narrows it', async () => {
      const l = await ikecert(['certlocal', '-l', '--root', root]);
      assert.equal(l.code, 0, l.stderr);
      assert.match(l.stdout, /^Local ID Slot Name: 0 {3}Key Type: rsa\n\tKey Size: 2048\n\tPublic key hash: [0-9a-f]{40}\n\t\(Certificate in certdb slot 0: C=US, O=Oakley, CN=list\.example\)\n/);
      const v = await ikecert(['certlocal', '-l', '-v', 'SLOT=0', '--root', root]);
      assert.match(v.stdout, /\tModulus \(n\): [0-9a-f]{512}\n\tPublic exponent \(e\): 010001\n/);
      const none = await ikecert(['certlocal', '-l', '7', '--root', root]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no private key matches 7/);
    });

    it('-l refuses a key file with group/other bits ("Insecure permissions")', async () => {
      const file = path.join(root, 'secret', 'ike.privatekeys', '0');
      fs.chmodSync(file, 0o644);
      try {
        const l = await ikecert(['certlocal', '-l', '--root', root]);
        assert.match(l.stdout, /Local ID Slot Name: 0 {3}\(unusable: Insecure permissions, skipped untrusted private key 0: mode 0644 lets group or others access it/);
        const e = await ikecert(['certlocal', '-e', '0', '--root', root]);
        assert.equal(e.code, 1);
      } finally {
        fs.chmodSync(file, 0o600);
      }
    });

    it('-e extracts the key as PKCS#8 DER; -a adds a PEM key from stdin; -r removes a slot', async () => {
      const e = await ikecert(['certlocal', '-e', '0', '--root', root]);
      assert.equal(e.code, 0, e.stderr);
      const key = createPrivateKey({ key: e.raw, format: 'der', type: 'pkcs8' });
      assert.ok(createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })));
      const other = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
      const a = await ikecert(['certlocal', '-a', '--root', root], other);
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stderr, /Private key added to certlocal slot 1\./);
      assert.equal(fs.statSync(path.join(root, 'secret', 'ike.privatekeys', '1')).mode & 0o777, 0o600);
      const bad = await ikecert(['certlocal', '-a', '--root', root], 'not a key');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /not a private key/);
      const r = await ikecert(['certlocal', '-r', '1', '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(path.join(root, 'secret', 'ike.privatekeys')), ['0']);
      const gone = await ikecert(['certlocal', '-r', '1', '--root', root]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /no private key in certlocal slot 1/);
    });

    it('certdb -a (PEM or DER) / -l [-v] with certspecs / -e / -r', async () => {
      const other = newRoot();
      const g = await ikecert(['certlocal', '-ks', '-D', 'C=US, O=Peer, CN=peer.example', '-A', 'DNS=peer.example', '-f', 'der', '--root', other]);
      const add = await ikecert(['certdb', '-a', '--root', root], g.raw);
      assert.equal(add.code, 0, add.stderr);
      assert.match(add.stderr, /Certificate added to database \(certdb slot 1\)/);
      const dup = await ikecert(['certdb', '-a', '--root', root], g.raw);
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /already in certdb slot 1/);
      const l = await ikecert(['certdb', '-l', '--root', root]);
      assert.equal(l.stdout, 'Certificate Slot Name: 0   Key Type: rsa\n\t(Private key in certlocal slot 0)\n\tSubject Name: <C=US, O=Oakley, CN=list.example>\n\n' +
        'Certificate Slot Name: 1   Key Type: rsa\n\tSubject Name: <C=US, O=Peer, CN=peer.example>\n');
      const v = await ikecert(['certdb', '-l', '-v', 'DNS=peer.example', '--root', root]);
      assert.match(v.stdout, /^Certificate Slot Name: 1 .*\n\tSubject Name: <C=US, O=Peer, CN=peer\.example>\n\tIssuer Name: <C=US, O=Peer, CN=peer\.example>\n\tSerial Number: [0-9A-F]+\n\tSelf-signed: yes/);
      assert.match(v.stdout, /\tSubjectAltName: DNS=peer\.example\n/);
      assert.match(v.stdout, /\tNot Valid Before: .*\n\tNot Valid After: /);
      const notPeer = await ikecert(['certdb', '-l', '!DNS=peer.example', '--root', root]);
      assert.doesNotMatch(notPeer.stdout, /peer\.example/);
      assert.match(notPeer.stdout, /list\.example/);
      const e = await ikecert(['certdb', '-e', '-f', 'ber', 'C=US, O=Peer, CN=peer.example', '--root', root]);
      assert.ok(e.raw.equals(g.raw));
      const r = await ikecert(['certdb', '-r', 'SUBJECT=C=US, O=Peer, CN=peer.example', '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(path.join(root, 'ike', 'publickeys')), ['0']);
      const missing = await ikecert(['certdb', '-e', 'CN=nobody', '--root', root]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no certificate in .* matches "CN=nobody"/);
    });

    it('certrldb -a / -l (with the certificates it covers) / -e / -r', async () => {
      // A CRL by the self-signed list.example certificate's key, revoking serial 0x0102.
      const keyDer = fs.readFileSync(path.join(root, 'secret', 'ike.privatekeys', '0'));
      const signingKey = await webcrypto.subtle.importKey('pkcs8', keyDer, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
      const crl = await x509.X509CrlGenerator.create({
        issuer: 'C=US, O=Oakley, CN=list.example', thisUpdate: new Date(), nextUpdate: new Date(Date.now() + 86_400_000),
        entries: [{ serialNumber: '0102', revocationDate: new Date() }], signingKey, signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm,
      });
      const add = await ikecert(['certrldb', '-a', '--root', root], crl.toString('pem'));
      assert.equal(add.code, 0, add.stderr);
      const l = await ikecert(['certrldb', '-l', '-v', '--root', root]);
      assert.match(l.stdout, /^Certificate Revocation List Slot Name: 0\n\tIssuer Name: <C=US, O=Oakley, CN=list\.example>\n\tThis Update: .*\n\tNext Update: .*\n\tRevoked certificates: 1\n\t\tSerial 0102 revoked .*\n\t\(Covers certificate slot 0: <C=US, O=Oakley, CN=list\.example>\)/);
      const db = await ikecert(['certdb', '-l', '--root', root]);
      assert.match(db.stdout, /\t\(CRL in certrldb slot 0\)\n/);
      const e = await ikecert(['certrldb', '-e', '-f', 'ber', 'ISSUER=C=US, O=Oakley, CN=list.example', 'SLOT=0', '--root', root]);
      assert.ok(e.raw.equals(Buffer.from(crl.rawData)));
      const and = await ikecert(['certrldb', '-e', 'ISSUER=C=US, O=Oakley, CN=list.example', 'SLOT=3', '--root', root]);
      assert.equal(and.code, 1, 'patterns are ANDed');
      const r = await ikecert(['certrldb', '-r', 'SLOT=0', '--root', root]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(fs.readdirSync(path.join(root, 'ike', 'crls')), []);
    });
  });

  describe('bad input', () => {
    const cases: [string[], RegExp][] = [
      [['certlocal', '-ks', '-m', '1000', '-D', 'CN=x'], /Invalid Key Size\./],
      [['certlocal', '-ks', '-m', '8192', '-D', 'CN=x'], /Invalid Key Size\./],
      [['certlocal', '-ks', '-t', 'dsa-sha1', '-D', 'CN=x'], /Invalid Key Encryption Type\..*DSA is not supported/],
      [['certlocal', '-ks', '-D', 'CN=x', '-A', 'FOO=bar'], /Invalid Alternative Name type: "FOO=bar"/],
      [['certlocal', '-ks', '-D', 'CN=x', '-A', 'IP=300.1.1.1'], /-A IP=300\.1\.1\.1: not an IPv4 or IPv6 address/],
      [['certlocal', '-ks', '-D', 'no dn here'], /-D "no dn here": not a DN/],
      [['certlocal', '-ks'], /-ks needs -D "DN"/],
      [['certlocal', '-ks', '-D', 'CN=x', '-S', '+1d', '-F', '-1d'], /Finish time must be after Start time/],
      [['certlocal', '-ks', '-D', 'CN=x', '-F', 'tomorrow'], /-F "tomorrow": not a time/],
      [['certlocal', '-ks', '-D', 'CN=x', '-F', '2027-02-30'], /"2027-02-30" is not a valid date/],
      [['certlocal', '-ks', '-D', 'CN=x', '-p'], /-p \(store the PIN\) needs -T TOKEN/],
      [['certlocal', '-l', '-a'], /conflicting operations: -l -a/],
      [['certlocal', '-U', '0'], /-U needs -T TOKEN/],
      [['certlocal', '-Z'], /unknown option '-Z'/],
      [['certlocal', '--pin', '1234', '-l'], /--pin: PINs are never taken from the command line/],
      [['certdb'], /no operation given/],
      [['certlocal', '-L', 'pkcs11:object=x?pin-value=1234', '-T', 'tok'], /pin-value" is refused: PINs are prompted for/],
    ];
    for (const [args, re] of cases) {
      it(`${args.join(' ')} -> exit 1, ${re.source.slice(0, 40)}`, async () => {
        const r = await ikecert([...args, '--root', newRoot()]);
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, re);
      });
    }
    it('an unknown subcommand prints the usage line', async () => {
      const r = await ikecert(['certificates']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'Usage: ikecert { certdb | certrldb | certlocal | tokens } <options>\n');
    });
  });

  describe('PKCS#11 token (SoftHSM2)', () => {
    let module: string;
    let root: string;
    let savedConf: string | undefined;
    const outputs: string[] = [];
    const run = async (args: string[], input = ''): Promise<Run & { raw: Buffer }> => {
      const r = await ikecert([...args, '--root', root, '--pkcs11-module', module], input);
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    before(function () {
      const found = findSoftHsmModule();
      if (!found) this.skip();
      module = found!;
      savedConf = process.env.SOFTHSM2_CONF;
      createSoftHsmToken({ dir: path.join(tmp, 'hsm'), label: TOKEN, soPin: '12345678', pin: PIN, module });
      root = newRoot();
    });
    after(() => {
      if (savedConf === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = savedConf;
    });

    it('tokens lists the library and the token label padded to 32', async () => {
      const r = await ikecert(['tokens', '--pkcs11-module', module]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Available tokens with library "${module}":\\n\\n"${TOKEN} {${32 - TOKEN.length}}" {3}slot \\d+, SoftHSM v2, serial [0-9a-f]+, login required\\n`));
      assert.match(r.stdout, /Note: Trailing spaces in token names are filled in automatically\.\n$/);
      // ike/config's pkcs11_path is used without --pkcs11-module.
      const cfgRoot = newRoot();
      fs.mkdirSync(path.join(cfgRoot, 'ike'), { recursive: true });
      fs.writeFileSync(path.join(cfgRoot, 'ike', 'config'), `# comment pkcs11_path "/nope"\npkcs11_path "${module}"\n`);
      const viaConfig = await ikecert(['tokens', '--root', cfgRoot]);
      assert.match(viaConfig.stdout, new RegExp(`library "${module}"`));
      const missing = await ikecert(['tokens', '--pkcs11-module', '/no/such/lib.so']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /PKCS#11 library \/no\/such\/lib\.so does not exist/);
    });

    it('-ks -T -p: key generated on the token, hint file with the PIN, certificate on the token behind a publickeys hint file; -e refused', async () => {
      const r = await run(['certlocal', '-ks', '-D', 'C=US, CN=tok1', '-T', TOKEN, '-p'], `${PIN}\n`);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(parseHintFile(fs.readFileSync(path.join(root, 'ike', 'publickeys', '0'))),
        { token: TOKEN, object: 'C=US, CN=tok1', label: 'C=US, CN=tok1', keyType: 'rsa-sha256' });
      assert.ok(new X509Certificate(r.stdout).verify(new X509Certificate(r.stdout).publicKey), 'token-made self-signature');
      const hint = parseHintFile(fs.readFileSync(path.join(root, 'secret', 'ike.privatekeys', '0')));
      assert.deepEqual(hint, { token: TOKEN, pin: PIN, object: 'C=US, CN=tok1', label: 'C=US, CN=tok1', keyType: 'rsa-sha256' });
      const l = await run(['certlocal', '-l', '-v']);
      assert.match(l.stdout, new RegExp(`\\t\\(In PKCS#11 hardware token "${TOKEN} +"\\)\\n\\t\\(PKCS#11 object identifier "C=US, CN=tok1"\\)\\n\\t\\(PIN stored on disk\\)\\n`));
      assert.match(l.stdout, /\tPKCS#11 URI: pkcs11:token=ikecert-t;object=C%3DUS%2C%20CN%3Dtok1;type=private\n/);
      const e = await run(['certlocal', '-e', '0']);
      assert.equal(e.code, 1);
      assert.match(e.stderr, /token keys cannot be extracted/);
      const again = await run(['certlocal', '-ks', '-D', 'C=US, CN=tok1', '-T', TOKEN], `${PIN}\n`);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already holds objects labelled "C=US, CN=tok1"/);
    });

    it('-ks -T -t rsa-md5: the token signs with CKM_MD5_RSA_PKCS; the certificate verifies; both hint files say rsa-md5', async () => {
      const r = await run(['certlocal', '-ks', '-m', '2048', '-t', 'rsa-md5', '-D', 'C=US, CN=tok-md5', '-T', TOKEN], `${PIN}\n`);
      assert.equal(r.code, 0, r.stderr);
      const cert = new X509Certificate(r.stdout);
      assert.ok(cert.verify(cert.publicKey), 'token-made MD5 self-signature');
      assert.match(execFileSync('openssl', ['x509', '-noout', '-text'], { input: r.stdout }).toString(), /Signature Algorithm: md5WithRSAEncryption/);
      const slot = /certdb slot (\d+), private key in certlocal slot (\d+)/.exec(r.stderr);
      assert.ok(slot, r.stderr);
      assert.equal(parseHintFile(fs.readFileSync(path.join(root, 'secret', 'ike.privatekeys', slot[2]!))).keyType, 'rsa-md5');
      assert.equal(parseHintFile(fs.readFileSync(path.join(root, 'ike', 'publickeys', slot[1]!))).keyType, 'rsa-md5');
    });

    it('a wrong PIN is refused naming the token; no PIN on stdin is an error; the PIN never shows', async () => {
      const wrong = await run(['certlocal', '-ks', '-D', 'CN=w', '-T', TOKEN], '99999999\n');
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /PKCS#11 login to token "ikecert-t" failed: the PIN was not accepted \(CKR_PIN_INCORRECT\)/);
      const none = await run(['certlocal', '-ks', '-D', 'CN=w', '-T', TOKEN]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no PIN given: standard input ended/);
      for (const o of outputs) assert.ok(!o.includes(PIN) && !o.includes('99999999'), `PIN in output: ${o}`);
    });

    it('certlocal -a -T (PIN line first, then the key) imports an on-disk key whose certificate is in certdb; the hint file replaces it', async () => {
      const src = newRoot();
      const dst = newRoot();
      const g = await ikecert(['certlocal', '-ks', '-D', 'C=US, CN=import-me', '-f', 'der', '--root', src]);
      const key = (await ikecert(['certlocal', '-e', '0', '--root', src])).raw;
      const noCert = await ikecert(['certlocal', '-a', '-T', TOKEN, '--root', dst, '--pkcs11-module', module], Buffer.concat([Buffer.from(`${PIN}\n`), key]));
      assert.equal(noCert.code, 1);
      assert.match(noCert.stderr, /no certificate in .* matches this key: add it first \(ikecert certdb -a\)/);
      assert.equal((await ikecert(['certdb', '-a', '--root', dst], g.raw)).code, 0);
      const a = await ikecert(['certlocal', '-a', '-T', TOKEN, '--root', dst, '--pkcs11-module', module], Buffer.concat([Buffer.from(`${PIN}\n`), key]));
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stderr, /Private key and certificate copied to PKCS#11 token "ikecert-t"; hint file in certlocal slot 0\./);
      assert.deepEqual(parseHintFile(fs.readFileSync(path.join(dst, 'secret', 'ike.privatekeys', '0'))).label, 'C=US, CN=import-me');
    });

    it('-C copies a file key pair to the token, -U unlinks the hint, -L links it again by RFC 7512 URI, -r destroys it', async () => {
      const g = await run(['certlocal', '-ks', '-D', 'C=US, CN=copy-me']);
      assert.equal(g.code, 0, g.stderr);
      const c = await run(['certlocal', '-C', 'C=US, CN=copy-me', '-T', TOKEN], `${PIN}\n`);
      assert.equal(c.code, 0, c.stderr);
      const slotOf = (re: RegExp, text: string): string => re.exec(text)![1]!;
      const hintSlot = slotOf(/hint file in certlocal slot (\d+)/, c.stderr);
      const u = await run(['certlocal', '-U', hintSlot, '-T', TOKEN]);
      assert.equal(u.code, 0, u.stderr);
      const uri = formatPkcs11Uri({ token: TOKEN, object: 'C=US, CN=copy-me', type: 'private' });
      const L = await run(['certlocal', '-L', uri, '-T', TOKEN], `${PIN}\n`);
      assert.equal(L.code, 0, L.stderr);
      const linked = slotOf(/into certlocal slot (\d+)/, L.stderr);
      const l = await run(['certlocal', '-l', linked]);
      assert.match(l.stdout, new RegExp(`\\(In PKCS#11 hardware token "${TOKEN} +"\\)\\n\\t\\(PKCS#11 object identifier "C=US, CN=copy-me"\\)`));
      assert.match(l.stdout, /\(Certificate in certdb slot \d+: C=US, CN=copy-me\)/);
      const r = await run(['certlocal', '-r', linked], `${PIN}\n`);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Destroyed 2 key object\(s\) on PKCS#11 token "ikecert-t"/);
      const relink = await run(['certlocal', '-L', uri, '-T', TOKEN], `${PIN}\n`);
      assert.equal(relink.code, 1);
      assert.match(relink.stderr, /no private key on token "ikecert-t" matches/);
    });
  });

  describe('parsers', () => {
    it('relative times add calendar months with overflow (Jan 31 + 1M = Mar 3)', () => {
      const now = new Date('2027-01-31T10:00:00Z');
      assert.equal(parseTime('-F', '+1M', now).toISOString(), '2027-03-03T10:00:00.000Z');
      assert.equal(parseTime('-F', '+1y2d3h', now).toISOString(), '2028-02-02T13:00:00.000Z');
      assert.equal(parseTime('-S', '-1w30s', now).toISOString(), '2027-01-24T09:59:30.000Z');
      assert.equal(parseTime('-F', '2027-05-01T08:00+02:00', now).toISOString(), '2027-05-01T06:00:00.000Z');
      assert.equal(parseTime('-F', '12/25/2028 23:59', now).toISOString(), '2028-12-25T23:59:00.000Z');
      const w = validityWindow(undefined, undefined, now);
      assert.equal(w.notAfter.getTime() - w.notBefore.getTime(), 1461 * 86_400_000, 'default finish: start + 4 years');
    });

    it('hint files: four lines, round trip; bad ones are named by line, never echoing a PIN', () => {
      const text = formatHintFile({ token: 'tok', pin: 'secret-pin', object: 'C=US, CN=a', keyType: 'rsa-sha1' });
      assert.equal(text, `${'tok'.padEnd(32)}\nsecret-pin\nC=US, CN=a\nrsa-sha1\n`);
      assert.deepEqual(parseHintFile(Buffer.from(text)), { token: 'tok', pin: 'secret-pin', object: 'C=US, CN=a', label: 'C=US, CN=a', keyType: 'rsa-sha1' });
      assert.throws(() => parseHintFile(Buffer.from('tok\nsecret-pin\nC=US\ndsa-sha1\n')), (e: Error) => /line 4/.test(e.message) && !e.message.includes('secret-pin'));
      assert.throws(() => parseHintFile(Buffer.from('tok\n\nx\n')), /exactly 4 lines/);
      const viaUri = parseHintFile(Buffer.from('tok\n\npkcs11:token=tok;id=%01%ab\nrsa-sha256\n'));
      assert.deepEqual(viaUri.id, Buffer.from([1, 0xab]));
    });

    it('RFC 7512 URIs: path attributes, percent-encoding, refusals', () => {
      assert.deepEqual(parsePkcs11Uri('pkcs11:token=My%20Token;object=C%3DUS;id=%00%ff;type=private;manufacturer=x'),
        { token: 'My Token', object: 'C=US', id: Buffer.from([0, 255]), type: 'private' });
      assert.throws(() => parsePkcs11Uri('pkcs11:bogus=1'), /unknown PKCS#11 URI attribute "bogus"/);
      assert.throws(() => parsePkcs11Uri('pkcs11:type=secret-key'), /type "secret-key" is not supported/);
      assert.throws(() => parsePkcs11Uri('pkcs11:id=%zz'), /bad percent-encoding/);
      assert.equal(formatPkcs11Uri({ token: 'tok   ', object: 'a b', type: 'cert' }), 'pkcs11:token=tok;object=a%20b;type=cert');
    });
  });
});
