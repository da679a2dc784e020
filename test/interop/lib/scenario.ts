/**
 * One interop scenario: fresh namespaces, a private charon in `b`, tools/iked in `a`, both
 * configured from one description; negotiation in either direction; key comparison between
 * `ikeadm -p keymat dump p1|p2` and strongSwan's key log. Everything started is stopped by PID
 * and the namespaces deleted in stop(), also after a failure.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Charon, swanctlConf, type SwanConn, type SwanIkeSa } from './charon';
import { parseKeyLog } from './keylog';
import { createNetnsPair, type NetnsPair } from './netns';
import { Oakley, writeOakleyRoot } from './oakley';
import { waitFor } from './sys';

/** A strongSwan proposal string (aes128-sha256-modp2048) as Oakley config words. */
export interface Suite {
  readonly encr: 'aes' | '3des';
  readonly bits?: number;
  readonly hash: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  readonly group?: number;
}

const GROUPS: Readonly<Record<string, number>> = {
  modp768: 1, modp1024: 2, modp1536: 5, modp2048: 14, modp3072: 15, modp4096: 16, modp6144: 17, modp8192: 18, ecp256: 19, ecp384: 20, ecp521: 21,
};

export function parseSuite(p: string): Suite {
  const [e, h, g] = p.split('-');
  const aes = /^aes(128|192|256)$/.exec(e!);
  if (!aes && e !== '3des') throw new Error(`suite ${p}: unknown cipher`);
  if (!['sha1', 'sha256', 'sha384', 'sha512'].includes(h!)) throw new Error(`suite ${p}: unknown hash`);
  if (g !== undefined && GROUPS[g] === undefined) throw new Error(`suite ${p}: unknown group`);
  return { encr: aes ? 'aes' : '3des', ...(aes ? { bits: Number(aes[1]) } : {}), hash: h as Suite['hash'], ...(g ? { group: GROUPS[g] } : {}) };
}

const encrWords = (s: Suite): string => (s.encr === 'aes' ? `aes(${s.bits}..${s.bits})` : '3des');

export interface ScenarioSpec {
  readonly name: string;
  /** IKE proposal (both sides), strongSwan syntax */
  readonly ike: string;
  /** ESP proposal (both sides), strongSwan syntax; a group means PFS */
  readonly esp: string;
  readonly aggressive?: boolean;
  readonly psk?: { readonly oakley: string; readonly strongswan: string };
  /** Oakley's rule overrides, added inside the rule braces */
  readonly oakleyRuleExtra?: string;
  /** Global lines for Oakley's ike/config */
  readonly oakleyGlobals?: string;
  /** strongSwan's proposals when they must differ from Oakley's (no-common-proposal tests) */
  readonly strongswanIke?: string;
  readonly strongswanEsp?: string;
  readonly childRekeySecs?: number;
  readonly childLifeSecs?: number;
  readonly dpdDelaySecs?: number;
  readonly unique?: SwanConn['unique'];
  /** Certificates instead of a PSK (files under the scenario directory are written by the caller) */
  readonly certs?: CertSetup;
}

export interface CertSetup {
  /** strongSwan: its certificate, its key (copied into swanctl/private), the CA it trusts */
  readonly swanCert: string;
  readonly swanKey: string;
  readonly swanCa: string;
  readonly swanId: string;
  readonly oakleyId: string;
  /** Oakley: ike/config rule lines (cert_root etc. globals, ids) and extra root files */
  readonly oakleyGlobals: string;
  readonly oakleyRule: string;
  readonly oakleyFiles: Readonly<Record<string, string>>;
}

export interface KeyComparison {
  /** How many values were compared equal: Phase 1 values and IPsec SA keys. */
  readonly p1Values: number;
  readonly p2Keys: number;
  /** Per compared IPsec SA pair: whether strongSwan derived it with a PFS exchange. */
  readonly pfs: boolean[];
}

export class Scenario {
  readonly dir: string;
  net?: NetnsPair;
  charon?: Charon;
  oakley?: Oakley;

  constructor(readonly spec: ScenarioSpec) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oakley-interop-'));
  }

  get swanConn(): SwanConn {
    const s = this.spec;
    const net = this.net!;
    return {
      name: 'iop', localAddr: net.outerB, remoteAddr: net.outerA, aggressive: s.aggressive ?? false,
      proposals: s.strongswanIke ?? s.ike, espProposals: s.strongswanEsp ?? s.esp,
      localTs: `${net.innerB}/32`, remoteTs: `${net.innerA}/32`,
      ...(s.certs
        ? { auth: 'pubkey' as const, localId: s.certs.swanId, remoteId: s.certs.oakleyId, cert: s.certs.swanCert, cacert: s.certs.swanCa }
        : { auth: 'psk' as const, localId: net.outerB, remoteId: net.outerA, psk: s.psk?.strongswan ?? 'interop test key' }),
      ...(s.childRekeySecs !== undefined ? { childRekeySecs: s.childRekeySecs } : {}),
      ...(s.childLifeSecs !== undefined ? { childLifeSecs: s.childLifeSecs } : {}),
      ...(s.dpdDelaySecs !== undefined ? { dpdDelaySecs: s.dpdDelaySecs } : {}),
      ...(s.unique ? { unique: s.unique } : {}),
    };
  }

  oakleyConfig(): string {
    const s = this.spec;
    const net = this.net!;
    const ike = parseSuite(s.ike);
    const esp = parseSuite(s.esp);
    const auth = s.certs ? 'rsa_sig' : 'preshared';
    return [
      '# interop scenario: ' + s.name,
      'retry_limit 3',
      'retry_timer_init 1',
      'retry_timer_max 2',
      s.oakleyGlobals ?? '',
      s.certs?.oakleyGlobals ?? '',
      '{',
      '  label "iop"',
      `  local_addr ${net.outerA}`,
      `  remote_addr ${net.outerB}`,
      s.aggressive ? '  p1_mode aggressive\n  aggressive_responder yes' : '',
      `  p1_xform { auth_method ${auth} oakley_group ${ike.group} encr_alg ${encrWords(ike)} auth_alg ${ike.hash} }`,
      esp.group ? `  p2_pfs ${esp.group}` : '',
      s.certs?.oakleyRule ?? '',
      s.oakleyRuleExtra ?? '',
      '}',
      '',
    ].filter((l) => l !== '').join('\n') + '\n';
  }

  oakleyIpsecInit(): string {
    const net = this.net!;
    const esp = parseSuite(this.spec.esp);
    return `tunnel ip.tun0 tsrc ${net.outerA} tdst ${net.outerB}\n` +
      `{tunnel ip.tun0 negotiate tunnel laddr ${net.innerA} raddr ${net.innerB}} ipsec {encr_algs ${encrWords(esp)} encr_auth_algs ${esp.hash} sa shared}\n`;
  }

  oakleyPreshared(): string {
    const net = this.net!;
    return `{\n  localidtype IP\n  localid ${net.outerA}\n  remoteidtype IP\n  remoteid ${net.outerB}\n  key "${this.spec.psk?.oakley ?? 'interop test key'}"\n}\n`;
  }

  /** Creates the namespaces, starts charon (loaded) and iked. */
  async start(): Promise<this> {
    this.net = await createNetnsPair();
    await this.startCharon();
    await this.startOakley();
    return this;
  }

  async startCharon(): Promise<Charon> {
    this.charon = await Charon.start(this.net!.b, path.join(this.dir, 'strongswan'));
    if (this.spec.certs) fs.copyFileSync(this.spec.certs.swanKey, path.join(this.charon.dir, 'swanctl', 'private', 'key.pem'));
    await this.charon.load(swanctlConf(this.swanConn));
    return this.charon;
  }

  async startOakley(): Promise<Oakley> {
    const root = path.join(this.dir, 'oakley');
    writeOakleyRoot(root, {
      config: this.oakleyConfig(), ipsecinit: this.oakleyIpsecInit(),
      ...(this.spec.certs ? { extra: this.spec.certs.oakleyFiles } : { preshared: this.oakleyPreshared() }),
    });
    this.oakley = await Oakley.start(this.net!.a, root, this.net!.outerA);
    return this.oakley;
  }

  /** The IKEv1 exchange types strongSwan parsed or generated (ID_PROT, AGGRESSIVE, QUICK_MODE, …). */
  exchangesSeen(): Set<string> {
    const out = new Set<string>();
    for (const m of this.charon!.log().matchAll(/\[ENC\] <[^>]*> (?:parsed|generating) (\w+) (?:request|response)/g)) out.add(m[1]!);
    return out;
  }

  /** Both daemons' logs, for assertion messages. */
  logs(): string {
    const tail = (s: string) => s.split('\n').slice(-60).join('\n');
    return `\n--- iked ---\n${tail(this.oakley?.log ?? '')}\n--- charon ---\n${tail(this.charon?.log() ?? '')}`;
  }

  /** strongSwan's IKE SA with an established CHILD_SA count >= `children`. */
  async waitEstablished(children = 1, ms = 20_000): Promise<SwanIkeSa> {
    return waitFor(`strongSwan IKE_SA ESTABLISHED with ${children} CHILD_SA INSTALLED`, async () => {
      const sas = await this.charon!.listSas();
      return sas.find((s) => s.state === 'ESTABLISHED' && s.children.filter((c) => c.state === 'INSTALLED').length >= children);
    }, ms, 200);
  }

  async oakleyInitiates(): Promise<SwanIkeSa> {
    const r = await this.oakley!.initiate('iop');
    assert.equal(r.code, 0, `ikeadm initiate failed: ${r.stderr}${this.logs()}`);
    return this.waitEstablished();
  }

  async strongswanInitiates(): Promise<SwanIkeSa> {
    const r = await this.charon!.initiate('iop');
    assert.equal(r.code, 0, `swanctl --initiate failed: ${r.stdout.split('\n').slice(-8).join('\n')}${this.logs()}`);
    return this.waitEstablished();
  }

  /**
   * Every Phase 1 value and every IPsec SA key Oakley reports at keymat privilege equals the
   * value strongSwan logged for the IKE_SA with the same cookies / the CHILD_SA with the same SPIs.
   */
  async compareKeys(): Promise<KeyComparison> {
    const sas = await this.charon!.listSas();
    const log = parseKeyLog(this.charon!.keyLogText());
    const p1 = (await this.oakley!.dumpP1()).filter((x) => x.keys?.length);
    assert.ok(p1.length > 0, 'Oakley reports no Phase 1 SA with keys');
    let p1Values = 0;
    const names: Readonly<Record<string, string>> = {
      SKEYID: 'SKEYID', SKEYID_d: 'SKEYID_d', SKEYID_a: 'SKEYID_a', SKEYID_e: 'SKEYID_e', encKey: 'encryption key Ka', initialIv: 'initial IV',
    };
    for (const o of p1) {
      const s = sas.find((x) => x.initiatorSpi === o.initiatorCookie && x.responderSpi === o.responderCookie);
      if (!s) continue; // deleted on strongSwan's side already
      const theirs = log.get(s.uniqueId);
      assert.ok(theirs, `no key log for strongSwan IKE_SA #${s.uniqueId}`);
      for (const [ours, label] of Object.entries(names)) {
        const mine = o.keys!.find((k) => k.name === ours)?.hex;
        assert.ok(mine, `Oakley's dump p1 lacks ${ours}`);
        assert.equal(mine, theirs.values.get(label), `${ours} (strongSwan "${label}") differs for SA ${o.initiatorCookie}:${o.responderCookie}`);
        p1Values++;
      }
    }
    assert.ok(p1Values > 0, 'no Phase 1 SA common to both daemons');
    const p2 = await this.oakley!.dumpP2();
    const spiHex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
    let p2Keys = 0;
    const pfs: boolean[] = [];
    for (const sa of log.values()) {
      for (const c of sa.children) {
        const outKeys = c.strongswanInitiated ? c.initiator : c.responder;
        const inKeys = c.strongswanInitiated ? c.responder : c.initiator;
        const ourIn = p2.find((x) => x.direction === 'inbound' && spiHex(x.spi) === c.spiOut);
        const ourOut = p2.find((x) => x.direction === 'outbound' && spiHex(x.spi) === c.spiIn);
        if (!ourIn && !ourOut) continue; // expired or deleted on Oakley's side
        assert.ok(ourIn && ourOut, `Oakley holds only one SA of strongSwan's pair ${c.spiIn}/${c.spiOut}`);
        assert.ok(outKeys.encryption && inKeys.encryption, `strongSwan logged no keys for ${c.spiIn}/${c.spiOut}`);
        assert.deepEqual(ourIn.keys, outKeys, `keys of SPI 0x${c.spiOut} (strongSwan outbound, Oakley inbound) differ`);
        assert.deepEqual(ourOut.keys, inKeys, `keys of SPI 0x${c.spiIn} (strongSwan inbound, Oakley outbound) differ`);
        p2Keys += 2;
        pfs.push(c.pfs);
      }
    }
    assert.ok(p2Keys > 0, 'no IPsec SA common to both daemons');
    return { p1Values, p2Keys, pfs };
  }

  async stop(): Promise<void> {
    await this.oakley?.stop().catch(() => undefined);
    await this.charon?.stop().catch(() => undefined);
    await this.net?.destroy();
    if (!process.env.OAKLEY_INTEROP_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
