/**
 * The PKCS#11 library and token plumbing under the pkcs11 crypto path: one initialised module
 * per process and library path, the token chosen by label, an anchor session that keeps the
 * login, a pool of sessions (one per in-flight operation), tracking of session objects, and the
 * periodic re-initialisation that works around SoftHSM 2.6.1's retention of destroyed objects.
 *
 * Process-wide facts this code is built around (pkcs11-softhsm.md §8):
 *  - A module can be initialised once per process; a second C_Initialize gives
 *    CKR_CRYPTOKI_ALREADY_INITIALIZED and one C_Finalize, from anyone, kills every session of
 *    every user. Hence Pkcs11Library: shared by all tokens opened on the same module path,
 *    reference counted, and the only place that calls C_Initialize/C_Finalize.
 *  - Login is per token per process and is dropped when the token's last session closes.
 *    Hence the anchor session, opened at open() and closed only by close(). login()/logout()
 *    (`ikeadm token login|logout`) run C_Login/C_Logout on it; without a PIN at open() the token
 *    starts logged out (public sessions: private token objects invisible), as Solaris in.iked
 *    does until `ikeadm token login`.
 *  - Two in-flight operations on one session race (CKR_OPERATION_ACTIVE or silent corruption).
 *    Hence the pool: run() takes a free session (or opens one), and gives it back when done.
 *    Pool sessions stay open until close()/re-initialise: session objects die with the session
 *    that created them, and KE key pairs or imported keys outlive the op that created them.
 *
 * SoftHSM 2.6.1 retention, measured here (test/pkcs11/retention.spec.ts: a fresh process per
 * mode, DH group 14, keygen + derive + CKA_VALUE read + 3 destroys per exchange, 1500 exchanges
 * per round after a 500-exchange warm-up; Debian 12, 2 vCPU VM, node 20, three runs):
 *   - synchronous key calls: RSS grows 1.26-1.35 KB per exchange and never comes back while the
 *     library stays initialised (SessionObjectStore::deleteObject only marks objects invalid,
 *     upstream #562/#563). After one C_Finalize + C_Initialize a new round grows 0.14-0.65 KB per
 *     exchange: the retained store was freed and is reused (the rest is noise/JS heap).
 *   - async key calls (C_GenerateKeyPairAsync/C_DeriveKeyAsync, the default): 3.1-4.2 KB per
 *     exchange before, 0.5-2.0 KB after the re-initialise. The extra is pkcs11js #120 (the async
 *     workers never free their copies of the mechanism and templates, here incl. the 256-byte
 *     prime and peer value); a re-initialise cannot give that back. A daemon doing many
 *     exchanges on SoftHSM should set asyncKeyOps: false (about 1 ms of event-loop time per
 *     group-14 exchange) until pkcs11js fixes #120.
 * Mitigation: option `reinitializeAfter` (N operations that destroy session objects: one KE
 * exchange (its dispose), one token HMAC, one cipher call, one verify with an imported key...). When the count is reached and the library is idle (no operation in
 * flight, no live KE key pair or token-held g^xy on any token of this library), the library is
 * finalised and initialised again, every token re-logs in and re-opens its anchor. Token objects
 * are found again by label/id (RSA keys re-resolve their handles lazily, by generation number);
 * imported session keys are imported again from the retained node KeyObject.
 *
 * Token recovery (a token that went away: SoftHSM's token directory removed, a device error):
 * the operation that finds it gone fails with NO_TOKEN and marks the token lost. A lost token
 * forgets the PIN it was logged in with (as a pulled smart card: whatever comes back under that
 * label is logged in again only by `ikeadm token login`). The next operation on it (at most once a
 * second) or login() re-initialises the library (C_Finalize + C_Initialize: SoftHSM re-reads its
 * token directory only there, and slot ids may change), finds the token again by label, and
 * re-opens the anchor; handles die with the old generation, so token keys are found again by
 * label/id and ephemeral objects still alive (KE key pairs, token-held g^xy) fail their exchange.
 * login() waits until nothing is in flight (a C_Finalize under a pool-thread call can crash the
 * process); an operation's own attempt runs only when nothing is in flight.
 */
import * as P from 'pkcs11js';

import { CryptoErr, OakleyError } from '../../util/errors';
import { ckrOf, isCkr, tokenError } from './errors';

type Handle = Buffer;

/** CK_STATE values of a user session (PKCS#11 v2.40 §5.6; pkcs11js 2.1.7 exports no CKS_ constants). */
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

/** One loaded + initialised PKCS#11 module, shared by every token opened on it in this process. */
export class Pkcs11Library {
  private static readonly byPath = new Map<string, Pkcs11Library>();

  readonly p: P.PKCS11;
  /** Incremented by every C_Initialize; handles from another generation are invalid. */
  generation = 0;
  private readonly users = new Set<Pkcs11Token>();
  /** True when this process found the module already initialised by someone else. */
  private borrowed = false;
  /** C_Initialize succeeded (by us, or someone else: borrowed) and no C_Finalize since. */
  private initialized = false;
  /** Why the last C_Initialize failed (the module stays uninitialised until the next attempt). */
  initError?: OakleyError;
  /** A forced re-initialise (token recovery) is waiting for the library to be quiet. */
  recovering = false;
  private readonly quietWaiters: (() => void)[] = [];

  private constructor(readonly modulePath: string) {
    this.p = new P.PKCS11();
    try {
      this.p.load(modulePath);
    } catch (e) {
      throw new OakleyError(CryptoErr.NO_TOKEN, `cannot load PKCS#11 module ${modulePath}: ${(e as Error).message}`,
        { module: modulePath }, { cause: e });
    }
  }

  static acquire(modulePath: string, user: Pkcs11Token): Pkcs11Library {
    let lib = Pkcs11Library.byPath.get(modulePath);
    if (!lib) {
      lib = new Pkcs11Library(modulePath);
      Pkcs11Library.byPath.set(modulePath, lib);
    }
    if (lib.users.size === 0) lib.initialize();
    lib.users.add(user);
    return lib;
  }

  /** True when other tokens were already attached (a new token directory would be invisible). */
  get sharedWithOthers(): boolean {
    return this.users.size > 1;
  }

  release(user: Pkcs11Token): void {
    this.users.delete(user);
    if (this.users.size === 0) {
      this.finalize();
      try { this.p.close(); } catch { /* already unloaded */ }
      Pkcs11Library.byPath.delete(this.modulePath);
    }
  }

  private initialize(): void {
    try {
      // SoftHSM reads SOFTHSM2_CONF here and builds its slot list now.
      this.p.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
      this.borrowed = false;
    } catch (e) {
      if (isCkr(e, 'CKR_CRYPTOKI_ALREADY_INITIALIZED')) {
        this.borrowed = true;
      } else {
        throw tokenError(e, `C_Initialize of ${this.modulePath} (missing config or token directory?)`, { module: this.modulePath });
      }
    }
    this.initialized = true;
    this.generation++;
  }

  private finalize(): void {
    if (this.borrowed) return; // someone else's initialisation: never kill their sessions
    this.initialized = false;
    try { this.p.C_Finalize(); } catch { /* not initialised */ }
  }

  /** No pkcs11js call in flight on any token of this library (live ephemeral objects may exist). */
  private get quiet(): boolean {
    for (const u of this.users) if (u.busy) return false;
    return true;
  }

  /**
   * Finalises and initialises the library now, every token detached before and re-attached after
   * (handles of the old generation are dead). A failing C_Initialize (SoftHSM: token directory
   * missing) leaves the module uninitialised with initError set; tokens stay unattached until a
   * later attempt succeeds. Callers make sure nothing is in flight.
   */
  private reinitializeNow(): void {
    for (const u of this.users) u.detachForReinit();
    this.finalize();
    // Handles of the old generation must never be used again, even if C_Initialize fails.
    this.generation++;
    try {
      this.initialize();
      this.initError = undefined;
    } catch (e) {
      this.initError = OakleyError.is(e) ? e : tokenError(e, 'C_Initialize');
    }
    for (const u of this.users) u.reattach();
  }

  /**
   * Re-initialises for a lost token when nothing is in flight, synchronously (an operation that
   * finds its token gone). @returns false when it could not run now (busy, borrowed, recovering)
   */
  recoverIfQuiet(): boolean {
    if (this.borrowed || this.recovering || !this.quiet) return false;
    this.reinitializeNow();
    return true;
  }

  /**
   * Re-initialises for a lost token (`ikeadm token login`): new operations are refused while it
   * waits (at most timeoutMs) for the ones in flight to settle.
   * @throws OakleyError NO_TOKEN when the module belongs to someone else in this process, TOKEN
   *         when operations are still in flight after timeoutMs
   */
  async recover(timeoutMs = 10_000): Promise<void> {
    if (this.borrowed) {
      throw new OakleyError(CryptoErr.NO_TOKEN,
        `cannot re-initialise ${this.modulePath}: another user in this process initialised it (its sessions would die)`, { module: this.modulePath });
    }
    if (this.recovering) throw new OakleyError(CryptoErr.TOKEN, `a re-initialise of ${this.modulePath} is already running`, { module: this.modulePath });
    this.recovering = true;
    try {
      if (!this.quiet) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            const i = this.quietWaiters.indexOf(done);
            if (i >= 0) this.quietWaiters.splice(i, 1);
            reject(new OakleyError(CryptoErr.TOKEN, `PKCS#11 operations on ${this.modulePath} still in flight after ${timeoutMs} ms; try again`,
              { module: this.modulePath }));
          }, timeoutMs);
          const done = (): void => { clearTimeout(timer); resolve(); };
          this.quietWaiters.push(done);
        });
      }
      this.reinitializeNow();
    } finally {
      this.recovering = false;
    }
  }

  /**
   * Re-initialise when every token of this library is idle and one of them asks for it. Called
   * after each operation; cheap when there is nothing to do.
   */
  maybeReinitialize(): void {
    if (this.quietWaiters.length && this.quiet) for (const w of this.quietWaiters.splice(0)) w();
    if (this.borrowed || this.recovering || !this.initialized) return;
    let wanted = false;
    for (const u of this.users) {
      if (!u.idle) return;
      if (u.wantsReinitialize) wanted = true;
    }
    if (!wanted) return;
    this.reinitializeNow();
  }
}

export interface TokenOpenOptions {
  module: string;
  tokenLabel: string;
  pin?: string;
  /** Operations (KE exchanges, HMAC or cipher calls) after which the library is re-initialised when idle; 0 = never. */
  reinitializeAfter?: number;
}

/**
 * The tokens open in this process, by label (added by the constructor, removed by close()). The
 * daemon's keystore asks it whether the token a PKCS#11 hint file names is open and logged in,
 * for `ikeadm dump certcache` ("[Private key linked but locked]") and for a PIN stored in the
 * hint file (ikecert -p).
 */
const openTokens = new Set<Pkcs11Token>();

/** The open token with this label (trailing spaces ignored), if this process has one. */
export function openTokenNamed(label: string): Pkcs11Token | undefined {
  const want = label.trimEnd();
  for (const t of openTokens) if (t.label.trimEnd() === want) return t;
  return undefined;
}

/** Slot, sessions and login of one token. */
export class Pkcs11Token {
  readonly lib: Pkcs11Library;
  readonly p: P.PKCS11;
  readonly label: string;
  private slot!: Handle;
  private anchor?: Handle;
  private free: Handle[] = [];
  private all: Handle[] = [];
  private inFlight = 0;
  /** close() has begun: no new operations. */
  private closing = false;
  private readonly drainWaiters: (() => void)[] = [];
  /** Live ephemeral objects (KE key pairs, token-held g^xy) that a re-initialise would kill. */
  private pinned = 0;
  /** Session objects created by us and not yet destroyed: hex handle -> handle. */
  private readonly live = new Map<string, Handle>();
  /** Operations that destroyed session objects since the last C_Initialize. */
  operationsSinceInit = 0;
  reinitializations = 0;
  private closed = false;
  private readonly reinitializeAfter: number;
  /**
   * The user PIN while the token is logged in through us: needed to log in again after a
   * re-initialise (C_Finalize drops the login). Set by open() or login(), cleared by logout().
   * Not logged, never part of an error message.
   */
  #pin?: string;
  /** Bumped by every login()/logout() that changed the login state (see loginEpoch). */
  #loginEpoch = 0;
  /** This handle asked for the login (a PIN at open, or login()) and has not logged out since. */
  #wantLogin = false;
  /** Why the token is unusable (found gone by an operation, or not found again); undefined while it works. */
  #lostReason?: string;
  /** Date.now() of the last recovery attempt an operation made (at most one a second). */
  #lastRecoveryAttempt = 0;
  /** What the last re-attach after a re-initialise reported (no PIN: labels and CKR names only). */
  #lastAttachError?: string;
  /** Times the token was found again after it was lost (the keystore retries a stored PIN once per). */
  recoveries = 0;

  constructor(options: TokenOpenOptions) {
    this.label = options.tokenLabel;
    this.#pin = options.pin;
    this.reinitializeAfter = options.reinitializeAfter ?? 0;
    this.lib = Pkcs11Library.acquire(options.module, this);
    this.p = this.lib.p;
    try {
      this.attach();
    } catch (e) {
      this.closeSessions();
      this.lib.release(this);
      throw e;
    }
    openTokens.add(this);
  }

  /** Sessions open besides the anchor (the pool's high-water mark). */
  get sessionCount(): number {
    return this.all.length;
  }

  get generation(): number {
    return this.lib.generation;
  }

  /**
   * Whether this handle logged the token in (a PIN at open, or login()) and the token, asked
   * through the anchor session, confirms it. Login state is per application per token, so one
   * session tells for all of them, and a logout by another user of the module in this process
   * shows here too. A login that only another user of the module made does not count: this
   * handle was opened without a PIN and did not ask for one (its imported keys stay public).
   */
  get loggedIn(): boolean {
    return this.#wantLogin && this.tokenLoggedIn();
  }

  /** The token's own answer: is the anchor session a user session (whoever logged it in)? */
  private tokenLoggedIn(): boolean {
    if (!this.anchor || this.closed || this.#lostReason !== undefined) return false;
    try {
      const state = this.p.C_GetSessionInfo(this.anchor).state;
      return state === CKS_RO_USER_FUNCTIONS || state === CKS_RW_USER_FUNCTIONS;
    } catch {
      return false;
    }
  }

  /**
   * Changes whenever login()/logout() changed the login state. Handles of private objects found
   * under one epoch are not valid under another (SoftHSM invalidates them at C_Logout and hands
   * out new ones after C_Login), so key slots resolve them again (rsa.ts KeySlot).
   */
  get loginEpoch(): number {
    return this.#loginEpoch;
  }

  /**
   * C_Login as CKU_USER on the anchor session. Login is per application per token (PKCS#11 v2.40
   * §5.6 C_Login; pkcs11-softhsm.md §8), so this one call makes every session of the token, the
   * pool's and those opened later, a user session, and private token objects become visible.
   * The PIN is kept in memory (never logged) so a re-initialise can log in again.
   *
   * @param pin the user PIN; never part of any message
   * @returns 'already-logged-in' when the token was logged in already (CKR_USER_ALREADY_LOGGED_IN:
   *          the token did not check this PIN, and the login in force is kept)
   * @throws OakleyError TOKEN_PIN for CKR_PIN_INCORRECT and the other PIN failures (the message
   *         names the CKR only), NO_TOKEN when the token is gone, TOKEN otherwise
   */
  async login(pin: string): Promise<'logged-in' | 'already-logged-in'> {
    if (this.closed || this.closing) throw new OakleyError(CryptoErr.TOKEN, `token "${this.label}" is closed`);
    if (!this.present()) {
      // The token went away: it can only come back through a new C_Initialize (SoftHSM reads its
      // token directory there), after which its slot is found again by label.
      await this.lib.recover();
      if (this.#lostReason !== undefined) throw this.lostError();
    }
    const anchor = this.usableAnchor();
    try {
      this.p.C_Login(anchor, P.CKU_USER, pin);
    } catch (e) {
      if (isCkr(e, 'CKR_USER_ALREADY_LOGGED_IN')) {
        if (!this.#wantLogin) this.#loginEpoch++;
        this.#wantLogin = true;
        return 'already-logged-in';
      }
      throw this.explain(e, `C_Login to token "${this.label}"`);
    }
    this.#pin = pin;
    this.#wantLogin = true;
    this.#loginEpoch++;
    return 'logged-in';
  }

  /**
   * C_Logout on the anchor session: the whole token goes back to public sessions (every session,
   * not just the anchor). What that means for work in progress:
   *  - private token objects (long-term RSA keys) become invisible and their handles invalid;
   *    signing with them fails with a TOKEN_PIN "logged out" error until login() again, when
   *    rsa.ts finds them again by label/id (new handles: see loginEpoch);
   *  - private keys imported while logged in (CKA_PRIVATE session objects) are locked the same
   *    way and are not imported again as public objects behind the operator's back;
   *  - ephemeral objects (KE key pairs, token-held g^xy, HMAC and cipher keys) are created public
   *    (sessionKeyTemplate), so exchanges in progress carry on;
   *  - an operation already running on a pool thread with a private key may still complete or may
   *    fail with a token error; it fails that one operation only, sessions stay open.
   * No session is closed, so nothing in flight loses its session.
   *
   * @returns 'not-logged-in' when there was no login (CKR_USER_NOT_LOGGED_IN, or a token that
   *          answers OK anyway as SoftHSM does)
   */
  async logout(): Promise<'logged-out' | 'not-logged-in'> {
    if (this.#lostReason !== undefined && !this.closed) {
      // A lost token forgot its login already; nothing to tell it.
      this.#pin = undefined;
      this.#wantLogin = false;
      return 'not-logged-in';
    }
    const anchor = this.usableAnchor();
    const was = this.tokenLoggedIn();
    this.#pin = undefined;
    if (this.#wantLogin) this.#loginEpoch++;
    this.#wantLogin = false;
    try {
      this.p.C_Logout(anchor);
    } catch (e) {
      if (!isCkr(e, 'CKR_USER_NOT_LOGGED_IN')) throw this.explain(e, `C_Logout from token "${this.label}"`);
      return 'not-logged-in';
    }
    if (!was) return 'not-logged-in';
    this.#loginEpoch++;
    return 'logged-out';
  }

  private usableAnchor(): Handle {
    if (this.closed || this.closing) throw new OakleyError(CryptoErr.TOKEN, `token "${this.label}" is closed`);
    if (!this.anchor) throw new OakleyError(CryptoErr.NO_TOKEN, `token "${this.label}" is no longer present`, { label: this.label });
    return this.anchor;
  }

  get idle(): boolean {
    return this.inFlight === 0 && this.pinned === 0;
  }

  /** A pkcs11js call of ours is in flight (a C_Finalize now could crash the process). */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Why the token is unusable, or undefined while it works. */
  get lostReason(): string | undefined {
    return this.#lostReason;
  }

  /**
   * Probes the token (C_GetTokenInfo on its slot) without recovering it: false, and the token
   * marked lost, when it no longer answers. For `ikeadm dump certcache` and before a login.
   */
  present(): boolean {
    if (this.closed) return false;
    if (this.#lostReason !== undefined || !this.anchor) return false;
    try {
      this.p.C_GetTokenInfo(this.slot);
      return true;
    } catch (e) {
      this.markLost(`token "${this.label}" is no longer usable (C_GetTokenInfo: ${ckrOf(e)?.name ?? 'failed'}; token directory removed?)`);
      return false;
    }
  }

  /**
   * The token is gone: remember why, and forget the login (and its PIN). Whatever comes back under
   * this label after a re-initialise opens logged out until `ikeadm token login`.
   */
  private markLost(reason: string): void {
    if (this.#lostReason !== undefined || this.closed) return;
    this.#lostReason = reason;
    this.#pin = undefined;
    if (this.#wantLogin) this.#loginEpoch++;
    this.#wantLogin = false;
  }

  /** NO_TOKEN for a lost token: why it went, and what the last re-initialise found. */
  lostError(): OakleyError {
    const init = this.lib.initError ? `; re-initialising the PKCS#11 library failed (${this.lib.initError.message})` : '';
    const again = this.#lastAttachError && !init ? `; after re-initialising the PKCS#11 library: ${this.#lastAttachError}` : '';
    return new OakleyError(CryptoErr.NO_TOKEN, `${this.#lostReason ?? `token "${this.label}" is no longer present`}${init}${again}`,
      { label: this.label, lost: true });
  }

  /**
   * For a caller about to use the token (a negotiation about to sign): probes it and, when it is
   * lost, tries a re-initialise (at most once a second, only when nothing is in flight).
   * @returns whether the token is usable now (it may still be logged out)
   */
  usable(): boolean {
    if (this.present()) return true;
    if (this.closed) return false;
    this.tryRecover();
    return this.present();
  }

  /** An operation found the token lost: re-initialise the library if nothing is in flight (at most once a second). */
  private tryRecover(): void {
    const now = Date.now();
    if (now - this.#lastRecoveryAttempt < 1000) return;
    this.#lastRecoveryAttempt = now;
    this.lib.recoverIfQuiet();
  }

  get wantsReinitialize(): boolean {
    return !this.closed && this.reinitializeAfter > 0 && this.operationsSinceInit >= this.reinitializeAfter;
  }

  /** Labels of the initialised tokens present. */
  tokenLabels(): string[] {
    const out: string[] = [];
    let slots: Handle[];
    try {
      slots = this.p.C_GetSlotList(true);
    } catch {
      return out; // library not initialised (a failed re-initialise)
    }
    for (const slot of slots) {
      try {
        const info = this.p.C_GetTokenInfo(slot);
        if (info.flags & P.CKF_TOKEN_INITIALIZED) out.push(info.label.trim());
      } catch { /* unusable slot */ }
    }
    return out;
  }

  private attach(): void {
    let slots: Handle[];
    try {
      slots = this.p.C_GetSlotList(true);
    } catch (e) {
      throw tokenError(e, 'C_GetSlotList');
    }
    const found = slots.find((s) => {
      try { return this.p.C_GetTokenInfo(s).label.trim() === this.label; } catch { return false; }
    });
    if (!found) {
      const present = this.tokenLabels();
      const hint = this.lib.sharedWithOthers
        ? '; the module was already initialised in this process, and tokens created after C_Initialize stay invisible until every user closes it'
        : '';
      throw new OakleyError(CryptoErr.NO_TOKEN,
        `no token labelled "${this.label}" (tokens present: ${present.length ? present.map((l) => `"${l}"`).join(', ') : 'none'})${hint}`,
        { label: this.label, present });
    }
    this.slot = found;
    try {
      this.anchor = this.p.C_OpenSession(this.slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
    } catch (e) {
      throw tokenError(e, `C_OpenSession on token "${this.label}"`);
    }
    if (this.#pin !== undefined) {
      try {
        this.p.C_Login(this.anchor, P.CKU_USER, this.#pin);
      } catch (e) {
        // Another user of the module in this process already logged this token in.
        if (!isCkr(e, 'CKR_USER_ALREADY_LOGGED_IN')) throw tokenError(e, `C_Login to token "${this.label}"`, { label: this.label });
      }
      this.#wantLogin = true;
    }
  }

  /** Before the library is finalised: forget every handle (they all die with C_Finalize). */
  detachForReinit(): void {
    this.free = [];
    this.all = [];
    this.anchor = undefined;
    this.live.clear();
    this.operationsSinceInit = 0;
  }

  /** After C_Initialize: find the token again, new anchor, login again (unless it was lost: see markLost). */
  reattach(): void {
    if (this.closed) return;
    this.reinitializations++;
    if (this.lib.initError) {
      this.anchor = undefined;
      this.markLost(`token "${this.label}" is no longer present`);
      return;
    }
    try {
      this.attach();
      this.#lastAttachError = undefined;
      if (this.#lostReason !== undefined) {
        this.#lostReason = undefined;
        this.recoveries++;
      }
    } catch (e) {
      // Token gone: operations will report it (session() fails with NO_TOKEN).
      if (this.anchor) try { this.p.C_CloseSession(this.anchor); } catch { /* gone */ }
      this.anchor = undefined;
      this.#lastAttachError = (e as Error).message;
      this.markLost(`token "${this.label}" is no longer present`);
    }
  }

  private session(): Handle {
    if (this.closed || this.closing) throw new OakleyError(CryptoErr.TOKEN, `token "${this.label}" is closed`);
    if (this.#lostReason !== undefined || !this.anchor) this.tryRecover();
    if (this.lib.recovering) {
      throw new OakleyError(CryptoErr.NO_TOKEN, `token "${this.label}": the PKCS#11 library is being re-initialised (token recovery)`, { label: this.label });
    }
    if (this.#lostReason !== undefined || !this.anchor) throw this.lostError();
    const s = this.free.pop();
    if (s) return s;
    try {
      const n = this.p.C_OpenSession(this.slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
      this.all.push(n);
      return n;
    } catch (e) {
      throw this.explain(e, 'C_OpenSession');
    }
  }

  private giveBack(s: Handle, gen: number): void {
    if (gen === this.generation && !this.closed) this.free.push(s);
  }

  /**
   * Runs one (async) operation on a session of its own. The session is not shared with any other
   * operation until fn settles. Errors come back as OakleyError.
   */
  async run<T>(what: string, fn: (s: Handle) => Promise<T> | T): Promise<T> {
    const op = this.begin();
    try {
      return await fn(op.s);
    } catch (e) {
      throw this.explain(e, what);
    } finally {
      this.end(op);
    }
  }

  /** Takes a session for one operation and counts it in flight. */
  private begin(): { s: Handle; gen: number } {
    const s = this.session();
    this.inFlight++;
    return { s, gen: this.generation };
  }

  /** Gives the session back; re-initialises or lets close() proceed when nothing is in flight. */
  private end(op: { s: Handle; gen: number }): void {
    this.inFlight--;
    this.giveBack(op.s, op.gen);
    this.lib.maybeReinitialize();
    if (this.inFlight === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /**
   * Resolves once no operation is in flight. close() must not run before: a pkcs11js async call
   * still on a pool thread when the sessions close (or C_Finalize runs) can crash the process.
   */
  drain(): Promise<void> {
    this.closing = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Synchronous variant for cheap calls (ciphers, random, object creation). */
  runSync<T>(what: string, fn: (s: Handle) => T): T {
    const op = this.begin();
    try {
      return fn(op.s);
    } catch (e) {
      throw this.explain(e, what);
    } finally {
      this.end(op);
    }
  }

  /**
   * Maps a failure; when the token itself has become unusable (SoftHSM: token directory deleted
   * gives CKR_GENERAL_ERROR on C_GetTokenInfo, token objects become CKR_OBJECT_HANDLE_INVALID)
   * the error is NO_TOKEN whatever the operation reported.
   */
  explain(e: unknown, what: string): OakleyError {
    if (OakleyError.is(e)) return e;
    const err = tokenError(e, what, { label: this.label });
    if (err.code === CryptoErr.NO_TOKEN) this.markLost(err.message);
    if (err.code === CryptoErr.TOKEN_PIN || err.code === CryptoErr.NO_TOKEN || !ckrOf(e)) return err;
    try {
      this.p.C_GetTokenInfo(this.slot);
    } catch (probe) {
      const c = ckrOf(probe)?.name ?? 'unknown';
      this.markLost(`token "${this.label}" is no longer usable (C_GetTokenInfo: ${c}; token directory removed?)`);
      return new OakleyError(CryptoErr.NO_TOKEN,
        `${what} failed: ${err.detail?.ckr}; token "${this.label}" is no longer usable (C_GetTokenInfo: ${c}; token directory removed?)`,
        { label: this.label, ckr: err.detail?.ckr, probe: c }, { cause: e });
    }
    return err;
  }

  /** Throws NO_TOKEN when the token no longer answers C_GetTokenInfo (e.g. its directory was removed). */
  ensurePresent(what: string): void {
    try {
      this.p.C_GetTokenInfo(this.slot);
    } catch (e) {
      this.markLost(`token "${this.label}" is no longer usable (C_GetTokenInfo: ${ckrOf(e)?.name ?? 'failed'}; token directory removed?)`);
      throw new OakleyError(CryptoErr.NO_TOKEN,
        `${what}: token "${this.label}" is no longer usable (C_GetTokenInfo: ${ckrOf(e)?.name ?? 'failed'}; token directory removed?)`,
        { label: this.label, probe: ckrOf(e)?.name }, { cause: e });
    }
  }

  /** Records a session object we created so close() can destroy it. */
  track(h: Handle): Handle {
    this.live.set(h.toString('hex'), h);
    return h;
  }

  /** Destroys a session object (if it still belongs to this generation). Never throws. */
  destroy(h: Handle | undefined, gen: number): void {
    if (!h || gen !== this.generation || this.closed) return;
    const key = h.toString('hex');
    if (!this.live.delete(key)) return;
    // The anchor never runs an operation, so a synchronous call on it cannot race.
    if (!this.anchor) return;
    try {
      this.p.C_DestroyObject(this.anchor, h);
    } catch { /* already gone (session closed, token removed) */ }
  }

  /** One operation that left destroyed objects behind in SoftHSM (a KE exchange, an HMAC, a cipher call). */
  countOperation(): void {
    this.operationsSinceInit++;
  }

  /** A live ephemeral object exists (KE key pair, token-held g^xy): no re-initialise until released. */
  retain(): void {
    this.pinned++;
  }

  unretain(): void {
    this.pinned--;
    if (this.pinned === 0 && this.inFlight === 0) this.lib.maybeReinitialize();
  }

  /** Finds objects by template in a free session (synchronous). */
  find(template: P.Template, max = 16): Handle[] {
    return this.runSync('C_FindObjects', (s) => {
      this.p.C_FindObjectsInit(s, template);
      try {
        return this.p.C_FindObjects(s, max);
      } finally {
        this.p.C_FindObjectsFinal(s);
      }
    });
  }

  attribute(h: Handle, type: number): Buffer {
    return this.runSync('C_GetAttributeValue', (s) => this.p.C_GetAttributeValue(s, h, [{ type }])[0].value as Buffer);
  }

  /** Generate random bytes on the token (C_GenerateRandom works without login). */
  random(buf: Buffer): Buffer {
    return this.runSync('C_GenerateRandom', (s) => this.p.C_GenerateRandom(s, buf));
  }

  private closeSessions(): void {
    for (const s of this.all) {
      try { this.p.C_CloseSession(s); } catch { /* gone */ }
    }
    if (this.anchor) {
      // Closing the last session logs the token out.
      try { this.p.C_CloseSession(this.anchor); } catch { /* gone */ }
    }
    this.all = [];
    this.free = [];
    this.anchor = undefined;
  }

  /** Destroys our session objects, closes every session, and releases the library. Idempotent. */
  close(): void {
    if (this.closed) return;
    const s = this.anchor;
    if (s) {
      for (const h of this.live.values()) {
        try { this.p.C_DestroyObject(s, h); } catch { /* already gone */ }
      }
    }
    this.live.clear();
    this.closed = true;
    openTokens.delete(this);
    this.closeSessions();
    this.lib.release(this);
  }
}

/**
 * The attributes every key Oakley puts on a token for its own use share: a session object
 * (CKA_TOKEN false: gone when the session or library closes), sensitive and non-extractable, so
 * the value cannot be read back out.
 *
 * Ephemeral keys (KE key pairs, g^xy, HMAC and cipher keys) are public objects (CKA_PRIVATE
 * false) whether or not the token is logged in: session objects are visible to this process
 * only anyway (PKCS#11 v2.40 §4.4), and a private one would die at `ikeadm token logout` in the
 * middle of an exchange. Only long-lived private keys pass `privateObject` (rsa.ts: an imported
 * RSA key is private when imported while logged in, so logout locks it like a token key).
 */
export function sessionKeyTemplate(_token: Pkcs11Token, cls: number, keyType: number, privateObject = false): P.Template {
  return [
    { type: P.CKA_CLASS, value: cls },
    { type: P.CKA_KEY_TYPE, value: keyType },
    { type: P.CKA_TOKEN, value: false },
    { type: P.CKA_PRIVATE, value: privateObject },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: false },
  ];
}

/**
 * Keeps `refs` (input/output Buffers, templates) reachable until `promise` settles: pkcs11js async
 * workers keep raw pointers into them without a napi reference (PeculiarVentures/pkcs11js #121).
 */
export function holding<T>(promise: Promise<T>, ...refs: unknown[]): Promise<T> {
  return promise.finally(() => {
    // Reading refs here is what keeps them alive in this closure until the promise settles.
    if (refs.length < 0) throw new Error('unreachable');
  });
}
