/**
 * The daemon (tools/iked): configuration files under --root -> engine rules and credentials, the
 * crypto suite, UDP transport, the IKEv1 engine over a kernel, the log, and the control socket
 * that tools/ikeadm talks to. SIGHUP reloads the configuration transactionally (a bad file keeps
 * the running one); SIGTERM/SIGINT shut everything down and remove the control socket.
 *
 * Oakley additions to the Solaris command set: `initiate LABEL` runs Phase 1 + Quick Mode with the
 * first remote address of the rule (on its `remote_port`, default 500) from its first local
 * address, and returns a summary.
 */
import fs from 'node:fs';

import { builtinDefaults, type IdentityInfo, type P1Info, type P2Info, type RuleInfo } from '../control/commands';
import { ControlErr } from '../control/frame';
import { ControlServer, type ControlHandlers } from '../control/server';
import { p2FromKernelDump, pkcs11Library, setDebug, statsFromCounters } from '../control/views';
import { openCryptoSuite, type CryptoSuite } from '../crypto/registry';
import type { Ikev1Rule } from '../exchange/ikev1/config';
import { Ikev1Engine } from '../exchange/ikev1/engine';
import { deleteIsakmpSa } from '../exchange/ikev1/informational';
import type { Phase1Context } from '../exchange/ikev1/phase1-context';
import { describeId, localIdentity } from '../exchange/ikev1/phase1-steps';
import { MemoryKernel } from '../kernel/memory';
import { XfrmKernel } from '../kernel/xfrm/kernel';
import { applyPolicyDiff, diffPolicies, ipsecInitPolicies } from '../kernel/xfrm/policies';
import { attachAcquire } from '../exchange/ikev1/acquire';
import { UdpTransport } from '../net/udp-transport';
import { formatAddress, type AddrRange } from '../policy/addresses';
import { DaemonKeystore, keystoreCredentials } from '../keystore/daemon-keystore';
import { buildEngineRules, withLocalIds } from '../policy/engine-rules';
import { parseIkeConfig, type IkeConfig } from '../policy/ike-config';
import { parseIpsecInit, type IpsecPolicyEntry } from '../policy/ipsecinit';
import { checkSecretFileMode, parsePreshared, presharedLookup, type PresharedEntry } from '../policy/preshared';
import { SystemClock } from '../util/clock';
import { Counters } from '../util/counters';
import { OakleyError } from '../util/errors';
import { LogDestination, Logger, PRIVILEGES, type Privilege } from '../util/log';
import type { IdValue } from '../wire/ikev1/id';
import { adminHandlers } from './admin';
import { saCounts, startMetrics, type MetricsEndpoint } from './metrics';
import type { IkedOptions } from './options';
import { sameCookiePair } from '../util/constant-time';

export const ConfigErr = 'IKE_ERR_CONFIG';

/** Everything read from the configuration files, validated together. */
export interface LoadedConfig {
  readonly ike: IkeConfig;
  readonly ipsec: readonly IpsecPolicyEntry[];
  readonly preshared: readonly PresharedEntry[];
  readonly rules: Ikev1Rule[];
  readonly warnings: readonly string[];
  /** ike/publickeys + secret/ike.privatekeys under the cert_root/cert_trust of `ike`. */
  readonly keystore?: DaemonKeystore;
}

function readText(file: string, optional: boolean): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OakleyError(ConfigErr, `${file}: cannot read: ${(e as Error).message}`, { file });
  }
}

/** Parses the ike/config text (or `configText` in its place) and maps it onto `ipsec`. */
export function loadRules(configFile: string, ipsec: readonly IpsecPolicyEntry[], configText?: string): { ike: IkeConfig; rules: Ikev1Rule[] } {
  const ike = parseIkeConfig(configText ?? readText(configFile, false)!, configFile);
  return { ike, rules: buildEngineRules(ike, ipsec) };
}

export function loadPreshared(file: string, text?: string): { entries: PresharedEntry[]; warnings: string[] } {
  const t = text ?? readText(file, true);
  const warnings: string[] = [];
  if (text === undefined) {
    const w = checkSecretFileMode(file);
    if (w) warnings.push(w);
  }
  return { entries: t === undefined ? [] : parsePreshared(t, file), warnings };
}

/**
 * Reads the certificate and private key stores for `ike`'s rules. Bad files and certificate rules
 * that cannot work (no certificate or key for local_id, no cert_root/cert_trust) are warnings,
 * not errors, here and under `iked -c`: Solaris's -c checks syntax only, certificates are
 * usually added with ikecert after the rules are written, and the systemd unit runs `iked -c`
 * before start, so an error would keep the preshared rules down too. Such a rule fails its
 * negotiations with a message naming what is missing.
 */
export function loadKeystore(o: Pick<IkedOptions, 'publicKeysDir' | 'privateKeysDir' | 'crlsDir'>, ike: IkeConfig): DaemonKeystore {
  return DaemonKeystore.load(o, ike.globals);
}

/**
 * Reads ROOT/ike/config (or -f), ROOT/secret/ike.preshared, ROOT/ipsecinit.conf and the
 * certificate stores (loadKeystore).
 * @throws OakleyError IKE_ERR_CONFIG naming file:line:column
 */
export function loadConfig(o: Pick<IkedOptions, 'configFile' | 'presharedFile' | 'ipsecInitFile' | 'publicKeysDir' | 'privateKeysDir' | 'crlsDir'>): LoadedConfig {
  const ipsecText = readText(o.ipsecInitFile, true);
  const ipsec = ipsecText === undefined ? [] : parseIpsecInit(ipsecText, o.ipsecInitFile);
  const { ike, rules } = loadRules(o.configFile, ipsec);
  const ps = loadPreshared(o.presharedFile);
  const keystore = loadKeystore(o, ike);
  return {
    ike, ipsec, preshared: ps.entries, rules, keystore,
    warnings: [...ike.warnings, ...ps.warnings, ...keystore.warnings, ...keystore.checkRules(ike.rules)],
  };
}

/**
 * What `iked -d` runs with when the files do not load (Solaris ignore_errors): the built-in
 * defaults and no rules, no IPsec policy, no keys.
 */
export function emptyConfig(configFile: string): LoadedConfig {
  return { ike: parseIkeConfig('', configFile), ipsec: [], preshared: [], rules: [], warnings: [] };
}

const rank = (p: Privilege): number => PRIVILEGES.indexOf(p);

function rangeText(r: AddrRange): string {
  const s = formatAddress(r.v6, r.start);
  if (r.start === r.end) return s;
  if (r.prefix !== undefined) return `${s}/${r.prefix}`;
  return `${s}-${formatAddress(r.v6, r.end)}`;
}

function ruleInfo(ike: IkeConfig, index: number): RuleInfo {
  const r = ike.rules[index]!;
  return {
    label: r.label, cookie: index + 1, localIdType: r.localIdType, ikeMode: r.p1Mode,
    p1NonceLen: ike.globals.p1NonceLen, p2NonceLen: ike.globals.p2NonceLen, p2Pfs: r.pfsGroup,
    p2Lifetime: r.p2.hardSecs, p2Softlife: r.p2.softSecs, p2Idletime: r.p2.idleSecs, p2LifetimeKb: r.p2.hardKb, p2SoftlifeKb: r.p2.softKb,
    localAddrs: r.localAddrs.map(rangeText), remoteAddrs: r.remoteAddrs.map(rangeText),
    localIds: { include: [...r.localId.includes], exclude: [...r.localId.excludes] },
    remoteIds: { include: [...r.remoteId.includes], exclude: [...r.remoteId.excludes] },
    xforms: r.xforms.map((x) => ({
      authMethod: x.auth, encryption: x.encr, ...(x.keyLengths ? { encryptionBits: x.keyLengths.min } : {}),
      hash: x.hash, group: x.group, lifetimeSeconds: x.lifetimeSecs,
    })),
  };
}

export interface IkedHandle {
  readonly engine: Ikev1Engine;
  readonly control: ControlServer;
  /**
   * Re-reads every configuration file and (--kernel xfrm) re-syncs the kernel policies from
   * ipsecinit.conf; keeps the running configuration on error. Never rejects.
   */
  reload(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the daemon (not -c). Resolves once it listens on UDP and on the control socket.
 * @param dest where `log` writes (its sink); `ikeadm set debug LEVEL FILE` switches it
 */
export async function startIked(o: IkedOptions, log: Logger, initial: LoadedConfig, dest: LogDestination = new LogDestination()): Promise<IkedHandle> {
  let current = initial;
  for (const w of initial.warnings) log.warn(w);
  const counters = new Counters();
  const clock = new SystemClock();
  const crypto: CryptoSuite = await openCryptoSuite(initial.ike.crypto.paths, {
    pkcs11: initial.ike.crypto.pkcs11,
    ...(initial.ike.crypto.exponentBits !== undefined ? { exponentBits: initial.ike.crypto.exponentBits } : {}),
  }, (level, message) => (level === 'warning' ? log.warn(message) : log.info(message)));
  let transport: UdpTransport | undefined;
  let engine: Ikev1Engine | undefined;
  // Certificate rules carry the identity of their certificate (subject DN for local_id_type dn).
  const certIds = (rules: readonly Ikev1Rule[]): Ikev1Rule[] =>
    withLocalIds(rules, current.ike, (r) => current.keystore?.localId(r));
  // --kernel xfrm: the Linux kernel's SADB/SPD over netlink; memory: SAs kept in the daemon.
  const kernel = o.kernel === 'xfrm'
    ? new XfrmKernel({ clock, counters, log: log.child({}, 'op'), flushOnClose: o.kernelFlush })
    : new MemoryKernel({ clock, counters });
  try {
    // With the kernel's IPsec, ESP-in-UDP on the NAT-T port must reach XFRM (UDP_ENCAP, sockopt.ts).
    transport = await UdpTransport.open({ addresses: o.listen, port: o.port, natPort: o.noNatT ? null : o.natPort, udpEncap: o.kernel === 'xfrm', log, counters });
    const g = initial.ike.globals;
    engine = new Ikev1Engine({
      transport, crypto, kernel, clock, counters, log: log.child({}, 'phase1'), natPort: o.natPort,
      rules: certIds(initial.rules),
      credentials: { presharedKey: (l, p, id) => presharedLookup(current.preshared)(l, p, id), ...keystoreCredentials(crypto.rsa, () => current, (m) => log.warn(m)) },
      settings: {
        p1NonceLength: g.p1NonceLen, p2NonceLength: Math.min(g.p2NonceLen, 256), expireMs: g.expireTimerSecs * 1000, natT: !o.noNatT, dpdIdleMs: g.dpdIdleSecs * 1000,
        admission: { maxHalfOpen: g.halfOpenMax, perSourceRate: g.newPerSource, perSourceBurst: 2 * g.newPerSource },
        retransmit: { initMs: g.retryTimerInitSecs * 1000, maxMs: g.retryTimerMaxSecs * 1000, limit: g.retryLimit },
      },
    });
  } catch (e) {
    engine?.close();
    await transport?.close();
    await crypto.close();
    throw e;
  }
  const eng = engine;
  const udp = transport;
  // Kernel policy from ipsecinit.conf, as ipsecconf loads it on Solaris (§5.8), with IKE's own
  // ports bypassed; close() removes what was installed. ACQUIREs then start negotiations (§5.5).
  const policyPorts = [500, 4500, o.port, ...(o.noNatT ? [] : [o.natPort])];
  if (kernel instanceof XfrmKernel) {
    for (const p of ipsecInitPolicies(initial.ipsec, policyPorts)) {
      await kernel.addPolicy(p).catch((e: unknown) => log.warn(`kernel policy not installed: ${(e as Error).message}`));
    }
    log.info('kernel policies installed from ipsecinit.conf', { policies: kernel.listPolicies().length });
  }
  attachAcquire(eng, { localPort: o.port });

  // Each reload parses everything first and returns the step that installs it, so a failure
  // anywhere leaves the running configuration untouched. With --kernel xfrm the install step
  // first moves the kernel's SPD to the new ipsecinit.conf (all or nothing, policies.ts
  // applyPolicyDiff); when the kernel refuses, it throws with the kernel's reason and neither the
  // policies nor the rules change (the rules are derived from the same ipsecinit.conf).
  const reloadRules = (text?: string, file?: string): (() => Promise<void>) => {
    const ipsecText = readText(o.ipsecInitFile, true);
    const ipsec = ipsecText === undefined ? [] : parseIpsecInit(ipsecText, o.ipsecInitFile);
    const { ike, rules } = loadRules(file ?? o.configFile, ipsec, text);
    // Computed here so that an entry the kernel cannot express fails the parse, not the install.
    const policies = kernel instanceof XfrmKernel ? ipsecInitPolicies(ipsec, policyPorts) : undefined;
    // As Solaris `read rule`, also re-reads the certificate stores (cert_root/cert_trust may change).
    const keystore = loadKeystore(o, ike);
    return async () => {
      if (kernel instanceof XfrmKernel && policies) {
        const diff = diffPolicies(kernel.listPolicies(), policies);
        try {
          await applyPolicyDiff(kernel, diff, (m) => log.error(`kernel policy rollback: ${m}; the SPD now matches neither the old nor the new ipsecinit.conf`));
        } catch (e) {
          keystore.close();
          counters.inc('kernel.policy_resync.failed');
          throw new OakleyError(ConfigErr, `the kernel refused the new ipsecinit.conf policies (the old ones stay installed): ${(e as Error).message}`, undefined, { cause: e });
        }
        if (diff.add.length + diff.replace.length + diff.remove.length > 0) {
          log.info('kernel policies re-synced from ipsecinit.conf',
            { added: diff.add.length, replaced: diff.replace.length, removed: diff.remove.length, unchanged: diff.unchanged });
        }
      }
      for (const w of [...ike.warnings, ...keystore.warnings, ...keystore.checkRules(ike.rules)]) log.warn(w);
      current.keystore?.close();
      current = { ...current, ike, ipsec, rules, keystore };
      eng.setRules(certIds(rules));
      log.info('policy rules reloaded', { rules: rules.length });
    };
  };
  const reloadPreshared = (text?: string, file?: string): (() => void) => {
    const ps = loadPreshared(file ?? o.presharedFile, text);
    return () => {
      for (const w of ps.warnings) log.warn(w);
      current = { ...current, preshared: ps.entries };
      log.info('pre-shared keys reloaded', { entries: ps.entries.length });
    };
  };

  // One reload at a time (SIGHUP, `read rule`): each diff is against the SPD the previous one left.
  let reloading: Promise<unknown> = Promise.resolve();
  const serialReload = <T>(work: () => Promise<T>): Promise<T> => {
    const run = reloading.then(work, work);
    reloading = run.catch(() => undefined);
    return run;
  };

  const findP1 = (args: Readonly<Record<string, unknown>>): Phase1Context[] => eng.phase1Sas().filter((c) => {
    if (typeof args.initiatorCookie === 'string') {
      const pair = Buffer.from(`${args.initiatorCookie}${typeof args.responderCookie === 'string' ? args.responderCookie : ''}`, 'hex');
      return sameCookiePair(pair, c.sa.icookie, c.sa.rcookie);
    }
    return c.sa.local.address === args.local && c.sa.peer.address === args.remote;
  });
  const p1 = (c: Phase1Context, priv: Privilege): P1Info => p1Info(c, clock, priv);

  const handlers: ControlHandlers = {
    // add/del/write rule, preshared keys, algorithm lists, certcache, token login/logout (admin.ts)
    ...adminHandlers({
      config: () => current, setConfig: (next) => { current = next; }, setRules: (r) => eng.setRules(certIds(r)),
      configFile: o.configFile, crypto, log, tokens: () => crypto.tokens,
      certificates: {
        list: () => current.keystore?.list() ?? [],
        // Solaris flush certcache also re-reads the on-disk stores.
        flush: () => {
          const n = current.keystore?.flushReceived() ?? 0;
          const keystore = loadKeystore(o, current.ike);
          for (const w of keystore.warnings) log.warn(w);
          current.keystore?.close();
          current = { ...current, keystore };
          eng.setRules(certIds(current.rules));
          return n;
        },
      },
    }),
    'get stats': () => statsFromCounters(counters, pkcs11Library(crypto, current.ike.crypto.pkcs11.module, current.ike.globals.pkcs11Path)),
    'get defaults': () => builtinDefaults(),
    'get priv': () => ({ level: log.privilege }),
    'set priv': (args) => {
      const old = log.privilege;
      const level = args.level as Privilege;
      if (!PRIVILEGES.includes(level)) throw new OakleyError(ControlErr.BAD_ARGS, `bad privilege level ${String(args.level)}`);
      if (rank(level) > rank(old)) throw new OakleyError(ControlErr.NO_PRIV, `Cannot raise the privilege level from ${old} to ${level} (only lowering is allowed)`);
      log.lowerPrivilege(level);
      return { old, level };
    },
    'get debug': () => ({ level: log.debugMask, ...(dest.file ? { file: dest.file } : {}) }),
    'set debug': (args) => setDebug(log, dest, args),
    'dump p1': (_a, ctx) => eng.phase1Sas().map((c) => p1(c, ctx.privilege)),
    'get p1': (args, ctx) => {
      const found = findP1(args);
      if (found.length === 0) throw new OakleyError('IKE_ERR_NO_OBJ', 'No phase 1 SA matches');
      return found.map((c) => p1(c, ctx.privilege));
    },
    'dump p2': (_a, ctx) => {
      const dump = kernel.dump();
      const info = p2FromKernelDump(dump);
      if (ctx.privilege !== 'keymat') return info;
      return info.map((p, i): P2Info => {
        const keys = kernel.keysOf(dump[i]!.key);
        return keys ? { ...p, keys } : p;
      });
    },
    'dump rule': () => current.ike.rules.map((_r, i) => ruleInfo(current.ike, i)),
    'get rule': (args) => {
      const i = current.ike.rules.findIndex((r) => r.label === args.label);
      if (i < 0) throw new OakleyError('IKE_ERR_NO_OBJ', `No rule with label "${String(args.label)}"`);
      return [ruleInfo(current.ike, i)];
    },
    'read rule': async (args) => {
      await serialReload(() => reloadRules(typeof args.text === 'string' ? args.text : undefined, typeof args.file === 'string' ? args.file : undefined)());
      return null;
    },
    'read preshared': (args) => {
      reloadPreshared(typeof args.text === 'string' ? args.text : undefined, typeof args.file === 'string' ? args.file : undefined)();
      return null;
    },
    'flush p1': async () => {
      for (const c of eng.phase1Sas()) await deleteP1(eng, c, 'flushed by ikeadm');
      return null;
    },
    'del p1': async (args) => {
      const found = findP1(args);
      if (found.length === 0) throw new OakleyError('IKE_ERR_NO_OBJ', 'No phase 1 SA matches');
      for (const c of found) await deleteP1(eng, c, 'deleted by ikeadm');
      return null;
    },
    initiate: async (args) => {
      const rule = eng.rules.find((r) => r.label === args.label);
      if (!rule) throw new OakleyError('IKE_ERR_NO_OBJ', `No rule with label "${String(args.label)}"`);
      const localAddress = rule.localAddresses?.[0];
      const remoteAddress = rule.remoteAddresses?.[0];
      if (!localAddress || !remoteAddress) throw new OakleyError(ControlErr.BAD_ARGS, `rule "${rule.label}" has no local or remote address`);
      if (!o.listen.includes(localAddress)) {
        throw new OakleyError(ControlErr.BAD_ARGS, `rule "${rule.label}": local address ${localAddress} is not one this daemon listens on (--listen ${o.listen.join(', ')})`);
      }
      const local = { address: localAddress, port: o.port };
      const peer = { address: remoteAddress, port: rule.remotePort ?? 500 };
      const ctx = (args.fresh === true ? undefined : eng.established(peer, rule.label)) ?? await eng.initiate(local, peer, rule.label);
      const pair = await eng.quickMode(ctx);
      const n = ctx.sa.negotiated!;
      const spi = (s: number): string => `0x${(s >>> 0).toString(16).padStart(8, '0')}`;
      return [
        `Phase 1 SA ${ctx.sa.cookieString()} with ${peer.address}:${peer.port} (rule "${rule.label}"): ` +
          `${n.encr}-${n.keyLength}/${n.hash}/group ${n.group}/${n.auth}`,
        `IPsec SA pair: inbound ESP SPI ${spi(pair.inbound.spi)}, outbound ESP SPI ${spi(pair.outbound.spi)}`,
      ].join('\n');
    },
  };

  let control: ControlServer;
  let metrics: MetricsEndpoint | undefined;
  try {
    const door = log.child({}, 'door');
    control = await ControlServer.listen({
      path: o.control, handlers, privilege: () => log.privilege, log: door, counters,
      authorize: (req, ctx) => door.debug(`request ${req.command}`, { conn: ctx.connectionId, id: req.id, privilege: ctx.privilege }),
    });
  } catch (e) {
    eng.close();
    await udp.close();
    await crypto.close();
    throw e;
  }
  try {
    if (o.metrics) metrics = await startMetrics({ ...o.metrics, counters, log, saCounts: () => saCounts(eng, kernel) });
  } catch (e) {
    eng.close();
    await control.close();
    await udp.close();
    await crypto.close();
    throw e;
  }
  log.info('iked running', { listen: o.listen.join(','), port: o.port, natPort: o.noNatT ? 'off' : o.natPort, control: o.control, rules: initial.rules.length });

  let closing: Promise<void> | undefined;
  return {
    engine: eng,
    control,
    reload() {
      return serialReload(async () => {
        try {
          const installRules = reloadRules();
          const installPreshared = reloadPreshared();
          await installRules();
          installPreshared();
        } catch (e) {
          log.error(`reload failed; keeping the running configuration: ${(e as Error).message}`);
        }
      });
    },
    close() {
      closing ??= (async () => {
        eng.close();
        current.keystore?.close();
        await metrics?.close();
        await control.close();
        await udp.close();
        await kernel.close();
        await crypto.close();
      })();
      return closing;
    },
  };
}

async function deleteP1(engine: Ikev1Engine, c: Phase1Context, reason: string): Promise<void> {
  try {
    await deleteIsakmpSa(engine, c, reason);
  } catch {
    engine.deletePhase1(c, reason);
  }
}

/** An ID payload value as `dump p1` prints it (LOCID/REMID, §3.6): the Solaris type name and text. */
function identityInfo(id: IdValue): IdentityInfo {
  const TYPE: Readonly<Record<IdValue['kind'], string>> = {
    ipv4: 'IPv4 address', ipv6: 'IPv6 address', 'ipv4-subnet': 'IPv4 subnet', 'ipv6-subnet': 'IPv6 subnet',
    'ipv4-range': 'IPv4 range', 'ipv6-range': 'IPv6 range', fqdn: 'FQDN', 'user-fqdn': 'USER_FQDN',
    'der-dn': 'ASN.1 DN', 'der-gn': 'ASN.1 GN', 'key-id': 'KEY_ID',
  };
  return { type: TYPE[id.kind], value: describeId(id) };
}

function p1Info(c: Phase1Context, clock: SystemClock, priv: Privilege): P1Info {
  const sa = c.sa;
  const n = sa.negotiated;
  const epoch = (t: number): number => Date.now() - (clock.now() - t);
  const life = n?.lifetimeSeconds ?? 0;
  const started = sa.establishedAt ?? sa.createdAt;
  const keys: { name: string; hex: string }[] = [];
  if (priv === 'keymat') {
    for (const name of ['SKEYID', 'SKEYID_d', 'SKEYID_a', 'SKEYID_e', 'encKey', 'initialIv'] as const) {
      const k = sa.keys[name];
      if (k) keys.push({ name, hex: k.toString('hex') });
    }
  }
  return {
    initiatorCookie: sa.icookie.toString('hex'), responderCookie: sa.rcookie.toString('hex'),
    localIsInitiator: sa.role === 'initiator', mode: sa.mode, state: String(sa.state),
    authMethod: n?.auth ?? 'unknown', encryption: n?.encr ?? 'unknown', ...(n ? { encryptionBits: n.keyLength } : {}),
    hash: n?.hash ?? 'unknown', group: n?.group ?? 0, ...(c.rule.p2.pfsGroup ? { pfsGroup: c.rule.p2.pfsGroup } : {}),
    local: { address: sa.local.address, port: sa.local.port }, remote: { address: sa.peer.address, port: sa.peer.port },
    limits: { seconds: life, kbytes: n?.lifetimeKilobytes ?? 0, keyUses: 0 },
    createdAt: epoch(sa.createdAt), kbytes: 0, keyUses: 0,
    expiresAt: life > 0 ? epoch(started) + life * 1000 : 0,
    qmCreated: sa.stats.newQmSas, qmDeleted: sa.stats.delQmSas,
    errors: { decrypt: sa.stats.errDecrypt, hash: sa.stats.errHash, otherRx: sa.stats.errOtherRx, tx: sa.stats.errTx },
    // Identities exchanged in Phase 1 (ours: what we sent; theirs: once its ID payload arrived).
    // kbytes stays 0: the engine does not count bytes protected by a Phase 1 SA.
    ...(sa.peerDpd ? { dpd: { enabled: true } } : {}),
    localId: identityInfo(localIdentity(c)), ...(c.peerId ? { remoteId: identityInfo(c.peerId) } : {}),
    ...(keys.length ? { keys } : {}),
  };
}
