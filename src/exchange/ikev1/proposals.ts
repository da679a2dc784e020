/**
 * SA proposals for IKEv1: building what the initiator offers and choosing what the responder
 * accepts. Pure functions over the decoded model of src/wire/ikev1/types.ts.
 *
 *   Phase 1: RFC 2409 §5 (one proposal, KEY_IKE transforms), App. A attributes;
 *            Solaris behaviour solaris-ike.md §5.5 step 6 (initiator) and §5.6 (responder).
 *   Phase 2: RFC 2409 §5.5, IPsec DOI attributes RFC 2407 §4.5, RESPONDER-LIFETIME §4.6.3.1,
 *            UDP-encapsulated modes RFC 3947 §5.3, AES-GCM RFC 4106 §8; Solaris §5.5 step 7, §5.7.
 *
 * Selection failures throw OakleyError IKE_ERR_NO_PROPOSAL_CHOSEN whose `detail.reasons` lists,
 * per received proposal/transform, why it was refused (for the log and `ikeadm`), and
 * `detail.notify` the ISAKMP notify to send (NO-PROPOSAL-CHOSEN, or BAD-PROPOSAL-SYNTAX for a
 * structurally wrong SA payload).
 */
import { OakleyError } from '../../util/errors';
import {
  Doi,
  EncapsulationMode,
  EspTransform,
  IkeAttr,
  IkeAuth,
  IkeEncr,
  IkeHash,
  IpsecAttr,
  IpsecAuth,
  LifeType,
  NotifyType,
  ProtocolId,
  Situation,
  nameOf,
} from '../../wire/ikev1/iana';
import { PayloadType, type Attribute, type NotifyPayload, type Proposal, type SaPayload, type Transform } from '../../wire/ikev1/types';
import { decodeIkeTransform, decodeIpsecTransform, encodeIkeTransform, encodeIpsecTransform, type IkeTransform, type IpsecTransform } from '../../wire/ikev1/attributes';
import { attributeNumber, decodeAttributes, encodeAttributes } from '../../wire/ikev1/payloads/data-attribute';
import { Reader } from '../../wire/reader';
import { Writer } from '../../wire/writer';

export const ProposalErr = {
  NO_PROPOSAL_CHOSEN: 'IKE_ERR_NO_PROPOSAL_CHOSEN',
  BAD_PROPOSAL_SYNTAX: 'IKE_ERR_BAD_PROPOSAL_SYNTAX',
  /** The local configuration leaves nothing to propose, or is inconsistent. */
  BAD_POLICY: 'IKE_ERR_BAD_POLICY',
  /** The responder's reply does not match anything offered (RFC 2408 §4.2: it must not alter it). */
  BAD_REPLY: 'IKE_ERR_BAD_PROPOSAL_REPLY',
  MALFORMED_NOTIFY: 'IKE_ERR_MALFORMED_NOTIFY',
} as const;

/** Why one received proposal or transform was refused. */
export interface RefusalReason {
  readonly proposal: number;
  /** Transform number, absent when the whole proposal (bundle) was refused. */
  readonly transform?: number;
  readonly reason: string;
}

/** An inclusive key length range in bits. */
export interface KeyLengthRange {
  readonly min: number;
  readonly max: number;
}

/** RFC 2407 §4.5: with no lifetime attribute the SA lifetime is 28800 seconds. */
export const DEFAULT_SA_LIFETIME_SECS = 28800;

// =============================================================================================
// Attribute helpers (syntax lives in src/wire/ikev1/attributes.ts and payloads/data-attribute.ts)
// =============================================================================================

/** Numeric value of an attribute (TV, or TLV of at most 6 significant octets). */
export const attrNumber = attributeNumber;

/** RFC 2408 §3.3 data attributes to bytes (for notification data). */
export function encodeAttributeBytes(attrs: readonly Attribute[]): Buffer {
  const w = new Writer(64);
  encodeAttributes(w, attrs);
  return w.finish();
}

/** Bytes to RFC 2408 §3.3 data attributes. @throws OakleyError IKE_ERR_MALFORMED_NOTIFY */
export function decodeAttributeBytes(buf: Buffer): Attribute[] {
  try {
    return decodeAttributes(new Reader(buf, 'N'));
  } catch (e) {
    throw new OakleyError(ProposalErr.MALFORMED_NOTIFY, `notification attributes: ${(e as Error).message}`, {}, { cause: e });
  }
}

/** Life type/duration pairs (RFC 2409 App. A, RFC 2407 §4.5) as an attribute list. */
function lifeAttributes(typeAttr: number, durationAttr: number, seconds?: number, kilobytes?: number): Attribute[] {
  const out: Attribute[] = [];
  if (seconds !== undefined && seconds > 0) out.push({ type: typeAttr, value: LifeType.SECONDS }, { type: durationAttr, value: seconds });
  if (kilobytes !== undefined && kilobytes > 0) out.push({ type: typeAttr, value: LifeType.KILOBYTES }, { type: durationAttr, value: kilobytes });
  return out;
}

/** Runs a wire decoder; a WireError becomes a refusal text. */
function tryDecode<T>(f: () => T): T | string {
  try {
    return f();
  } catch (e) {
    if (OakleyError.is(e)) return e.message.replace(/^transform #\d+: /, '');
    throw e;
  }
}

function inRange(len: number, r: KeyLengthRange): boolean {
  return len >= r.min && len <= r.max;
}

/** AES key sizes in a range, high to low (256, 192, 128), as Solaris proposes them. */
export function aesKeySizes(r: KeyLengthRange = { min: 128, max: 256 }): number[] {
  return [256, 192, 128].filter((k) => inRange(k, r));
}

function checkAesRange(r: KeyLengthRange | undefined, what: string): void {
  if (!r) return;
  if (![128, 192, 256].includes(r.min) || ![128, 192, 256].includes(r.max) || r.min > r.max) {
    throw new OakleyError(ProposalErr.BAD_POLICY, `${what}: invalid AES key size range ${r.min}..${r.max}`);
  }
}

function noChoice(what: string, reasons: RefusalReason[]): OakleyError {
  const summary = reasons.map((r) => `#${r.proposal}${r.transform !== undefined ? '.' + r.transform : ''}: ${r.reason}`).join('; ');
  return new OakleyError(ProposalErr.NO_PROPOSAL_CHOSEN, `${what}: no proposal chosen (${summary || 'nothing offered'})`, {
    reasons,
    notify: NotifyType.NO_PROPOSAL_CHOSEN,
  });
}

function badSyntax(msg: string): OakleyError {
  return new OakleyError(ProposalErr.BAD_PROPOSAL_SYNTAX, msg, { notify: NotifyType.BAD_PROPOSAL_SYNTAX });
}

// =============================================================================================
// Phase 1
// =============================================================================================

export type P1Encr = 'aes' | '3des' | 'des' | 'blowfish';
export type P1Hash = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';
export type P1Auth = 'preshared' | 'rsa_sig';

/** One `p1_xform` of a rule (solaris-ike.md §1.6). */
export interface P1Transform {
  readonly encr: P1Encr;
  /** AES only: bounds in {128, 192, 256}; absent = 128..256 (plain `aes`). */
  readonly keyLengths?: KeyLengthRange;
  readonly hash: P1Hash;
  readonly auth: P1Auth;
  readonly group: number;
  /** p1_lifetime_secs (default 3600, minimum 60 — enforced by the config parser). */
  readonly lifetimeSeconds: number;
}

/** The Phase 1 algorithms agreed for an ISAKMP SA: the chosen offer and its transform number. */
export interface P1Negotiated extends P1Offer {
  /** Number of the chosen transform in the initiator's proposal. */
  readonly transformNumber: number;
}

const P1_ENCR: Record<P1Encr, number> = { aes: IkeEncr.AES_CBC, '3des': IkeEncr['3DES_CBC'], des: IkeEncr.DES_CBC, blowfish: IkeEncr.BLOWFISH_CBC };
const P1_FIXED_KEY: Record<Exclude<P1Encr, 'aes'>, number> = { '3des': 192, des: 64, blowfish: 128 };
const P1_HASH: Record<P1Hash, number> = { md5: IkeHash.MD5, sha1: IkeHash.SHA, sha256: IkeHash.SHA2_256, sha384: IkeHash.SHA2_384, sha512: IkeHash.SHA2_512 };
const P1_AUTH: Record<P1Auth, number> = { preshared: IkeAuth.PRE_SHARED_KEY, rsa_sig: IkeAuth.RSA_SIGNATURES };

function reverse<K extends string>(m: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(m).map(([k, v]) => [v as number, k as K]));
}
const P1_ENCR_BY_ID = reverse(P1_ENCR);
const P1_HASH_BY_ID = reverse(P1_HASH);
const P1_AUTH_BY_ID = reverse(P1_AUTH);

/**
 * Groups the daemon proposes and accepts (solaris-ike.md §6.2): 1, 2, 5, 14–26. Groups 3 and 4
 * (EC2N) parse in the config but are never proposed or accepted.
 */
export const P1_SUPPORTED_GROUPS: readonly number[] = [1, 2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26];

export interface P1BuildOptions {
  /** Groups the crypto backend can do (default P1_SUPPORTED_GROUPS); others are skipped. */
  readonly supportedGroups?: readonly number[];
}

/**
 * The initiator's Phase 1 SA payload (solaris-ike.md §5.5 step 6): one ISAKMP proposal, one
 * KEY_IKE transform per configured transform in rule order, an AES range expanded high to low
 * (256, 192, 128). Each transform carries auth method, hash, cipher, [key length], group,
 * life type seconds and life duration. Transforms with an unsupported group are skipped.
 *
 * @throws OakleyError IKE_ERR_BAD_POLICY when nothing is left to propose or a range is invalid
 */
export function buildP1SaPayload(xforms: readonly P1Transform[], opts: P1BuildOptions = {}): SaPayload {
  const groups = opts.supportedGroups ?? P1_SUPPORTED_GROUPS;
  const transforms: Transform[] = [];
  for (const x of xforms) {
    if (!groups.includes(x.group) || !P1_SUPPORTED_GROUPS.includes(x.group)) continue;
    if (x.encr !== 'aes' && x.keyLengths) throw new OakleyError(ProposalErr.BAD_POLICY, 'Cannot specify key size on non-AES ciphers.');
    checkAesRange(x.keyLengths, 'p1_xform');
    const sizes: (number | undefined)[] = x.encr === 'aes' ? aesKeySizes(x.keyLengths) : [undefined];
    for (const size of sizes) {
      const v: IkeTransform = {
        encr: P1_ENCR[x.encr],
        ...(size !== undefined ? { keyLength: size } : {}),
        hash: P1_HASH[x.hash],
        auth: P1_AUTH[x.auth],
        group: x.group,
        lifeSeconds: x.lifetimeSeconds,
        unknownAttributes: [],
      };
      transforms.push(encodeIkeTransform(v, transforms.length + 1));
    }
  }
  if (transforms.length === 0) throw new OakleyError(ProposalErr.BAD_POLICY, 'no phase 1 transform can be proposed');
  if (transforms.length > 255) throw new OakleyError(ProposalErr.BAD_POLICY, `too many phase 1 transforms (${transforms.length})`);
  return {
    type: PayloadType.SA,
    doi: Doi.IPSEC,
    situation: Situation.IDENTITY_ONLY,
    situationData: Buffer.alloc(0),
    proposals: [{ number: 1, protocol: ProtocolId.ISAKMP, spi: Buffer.alloc(0), transforms }],
  };
}

/** A received Phase 1 transform, decoded. */
export interface P1Offer {
  readonly encr: P1Encr;
  /** Cipher key length in bits (AES from KEY_LENGTH, 128 when absent; fixed for the others). */
  readonly keyLength: number;
  readonly hash: P1Hash;
  readonly auth: P1Auth;
  readonly group: number;
  readonly lifetimeSeconds: number;
  /** Only when the initiator proposed one; Solaris enforces no KiB limit on Phase 1 (§5.6). */
  readonly lifetimeKilobytes?: number;
}

/**
 * Decodes the attributes of one KEY_IKE transform (RFC 2409 App. A).
 * @returns the offer, or the text of why it cannot be accepted
 */
const PRIVATE_GROUP_ATTRS: readonly number[] = [IkeAttr.GROUP_TYPE, IkeAttr.GROUP_PRIME, IkeAttr.GROUP_GENERATOR_ONE,
  IkeAttr.GROUP_GENERATOR_TWO, IkeAttr.GROUP_CURVE_A, IkeAttr.GROUP_CURVE_B, IkeAttr.GROUP_ORDER, IkeAttr.FIELD_SIZE];

export function decodeP1Transform(t: Transform, supportedGroups: readonly number[] = P1_SUPPORTED_GROUPS): P1Offer | string {
  const d = tryDecode(() => decodeIkeTransform(t));
  if (typeof d === 'string') return d;
  if (d.unknownAttributes.length) {
    const types = d.unknownAttributes.map((a) => a.type);
    if (types.some((x) => PRIVATE_GROUP_ATTRS.includes(x))) {
      return 'private (New Group Mode) groups not supported';
    }
    return `attribute ${types.map((x) => nameOf(IkeAttr, x)).join(', ')} not supported`;
  }
  if (d.prf !== undefined) return 'PRF attribute not supported';
  const encr = P1_ENCR_BY_ID.get(d.encr);
  if (!encr) return `encryption algorithm ${nameOf(IkeEncr, d.encr)} not supported`;
  const hash = P1_HASH_BY_ID.get(d.hash);
  if (!hash) return `hash algorithm ${nameOf(IkeHash, d.hash)} not supported`;
  const auth = P1_AUTH_BY_ID.get(d.auth);
  if (!auth) return `authentication method ${nameOf(IkeAuth, d.auth)} not supported`;
  if (!supportedGroups.includes(d.group)) return `group ${d.group} not supported`;
  let keyLength = d.keyLength;
  if (encr === 'aes') {
    // solaris-ike.md §5.6: an AES transform without a key length is treated as 128.
    keyLength ??= 128;
    if (![128, 192, 256].includes(keyLength)) return `AES key length ${keyLength} invalid`;
  } else {
    if (keyLength !== undefined && keyLength !== P1_FIXED_KEY[encr]) return `key length ${keyLength} invalid for ${encr}`;
    keyLength = P1_FIXED_KEY[encr];
  }
  return {
    encr,
    keyLength,
    hash,
    auth,
    group: d.group,
    lifetimeSeconds: d.lifeSeconds ?? DEFAULT_SA_LIFETIME_SECS,
    ...(d.lifeKilobytes !== undefined ? { lifetimeKilobytes: d.lifeKilobytes } : {}),
  };
}

function p1Matches(o: P1Offer, x: P1Transform): string | undefined {
  if (o.encr !== x.encr) return `cipher ${o.encr} != ${x.encr}`;
  if (o.hash !== x.hash) return `hash ${o.hash} != ${x.hash}`;
  if (o.auth !== x.auth) return `auth method ${o.auth} != ${x.auth}`;
  if (o.group !== x.group) return `group ${o.group} != ${x.group}`;
  if (x.encr === 'aes') {
    const r = x.keyLengths ?? { min: 128, max: 256 };
    if (!inRange(o.keyLength, r)) return `AES key length ${o.keyLength} outside ${r.min}..${r.max}`;
  }
  return undefined;
}

export interface P1SelectOptions {
  readonly supportedGroups?: readonly number[];
  /**
   * 'accept' (Solaris S11, default): the initiator's lifetime is used as proposed, not capped
   * (solaris-ike.md §5.6). 'cap': use min(proposed, local) and report it in `responderLifetime`.
   */
  readonly lifetimePolicy?: 'accept' | 'cap';
}

export interface P1Selection {
  readonly negotiated: P1Negotiated;
  /** The received transform, unchanged (RFC 2408 §4.2 the responder echoes it). */
  readonly transform: Transform;
  /** Index in `own` of the local transform that matched (to pick the rule). */
  readonly localIndex: number;
  /** The responder's SA payload: the single proposal with only the chosen transform. */
  readonly reply: SaPayload;
  /** Set when the responder shortened the lifetime (send RESPONDER-LIFETIME). */
  readonly responderLifetime?: { readonly seconds: number };
}

function checkPhase1Structure(sa: SaPayload): Proposal {
  if (sa.doi !== Doi.IPSEC) throw new OakleyError(ProposalErr.BAD_PROPOSAL_SYNTAX, `DOI ${sa.doi} not supported`, { notify: NotifyType.DOI_NOT_SUPPORTED });
  // RFC 2409 §5: "there MUST NOT be multiple Proposal Payloads for a single SA payload".
  if (sa.proposals.length !== 1) throw badSyntax(`phase 1 SA payload has ${sa.proposals.length} proposals, must have exactly 1`);
  const p = sa.proposals[0];
  if (p.protocol !== ProtocolId.ISAKMP) throw badSyntax(`phase 1 proposal protocol ${nameOf(ProtocolId, p.protocol)} is not ISAKMP`);
  if (p.transforms.length === 0) throw badSyntax('phase 1 proposal has no transforms');
  return p;
}

/**
 * Responder's choice (solaris-ike.md §5.6): the FIRST received transform that matches one of the
 * local transforms exactly on auth method, hash, cipher and group, with the key length inside the
 * local AES range. Unsupported transforms are skipped with a reason. Lifetimes are not compared.
 *
 * @param sa the initiator's SA payload
 * @param own local transforms (of the rules still matching the addresses), in order
 * @throws OakleyError IKE_ERR_NO_PROPOSAL_CHOSEN (detail.reasons) or IKE_ERR_BAD_PROPOSAL_SYNTAX
 */
export function selectP1Transform(sa: SaPayload, own: readonly P1Transform[], opts: P1SelectOptions = {}): P1Selection {
  const p = checkPhase1Structure(sa);
  const reasons: RefusalReason[] = [];
  for (const t of p.transforms) {
    const offer = decodeP1Transform(t, opts.supportedGroups ?? P1_SUPPORTED_GROUPS);
    if (typeof offer === 'string') {
      reasons.push({ proposal: p.number, transform: t.number, reason: offer });
      continue;
    }
    const mismatches: string[] = [];
    const idx = own.findIndex((x) => {
      const why = p1Matches(offer, x);
      if (why) mismatches.push(why);
      return why === undefined;
    });
    if (idx < 0) {
      reasons.push({ proposal: p.number, transform: t.number, reason: own.length ? `no local match (${mismatches.join(', ')})` : 'no local transforms' });
      continue;
    }
    let lifetimeSeconds = offer.lifetimeSeconds;
    let responderLifetime: { seconds: number } | undefined;
    if (opts.lifetimePolicy === 'cap' && own[idx].lifetimeSeconds < lifetimeSeconds) {
      lifetimeSeconds = own[idx].lifetimeSeconds;
      responderLifetime = { seconds: lifetimeSeconds };
    }
    const negotiated: P1Negotiated = { transformNumber: t.number, ...offer, lifetimeSeconds };
    return {
      negotiated,
      transform: t,
      localIndex: idx,
      reply: { ...sa, proposals: [{ ...p, transforms: [t] }] },
      ...(responderLifetime ? { responderLifetime } : {}),
    };
  }
  throw noChoice('phase 1', reasons);
}

/**
 * Initiator's check of the responder's Phase 1 SA payload: exactly one proposal with one
 * transform, which must be one of the offered transforms with identical attributes.
 * @returns the negotiated algorithms
 * @throws OakleyError IKE_ERR_BAD_PROPOSAL_REPLY
 */
export function acceptP1Reply(offered: SaPayload, reply: SaPayload): P1Negotiated {
  if (reply.proposals.length !== 1 || reply.proposals[0].transforms.length !== 1) {
    throw new OakleyError(ProposalErr.BAD_REPLY, 'phase 1 reply must hold one proposal with one transform', { notify: NotifyType.BAD_PROPOSAL_SYNTAX });
  }
  const rt = reply.proposals[0].transforms[0];
  const ot = offered.proposals[0]?.transforms.find((t) => t.number === rt.number);
  const diff = !ot ? 'no such transform number was offered' : ot.id !== rt.id ? `transform id ${rt.id}, offered ${ot.id}` : attributeDifference(ot.attributes, rt.attributes, LIFE_ATTRS.p1);
  if (diff !== undefined) {
    throw new OakleyError(ProposalErr.BAD_REPLY, `phase 1 reply transform #${rt.number} was not offered as such: ${diff}`, { notify: NotifyType.NO_PROPOSAL_CHOSEN });
  }
  const offer = decodeP1Transform(rt);
  if (typeof offer === 'string') throw new OakleyError(ProposalErr.BAD_REPLY, `phase 1 reply: ${offer}`, { notify: NotifyType.NO_PROPOSAL_CHOSEN });
  return { transformNumber: rt.number, ...offer };
}

/** Attribute types of the life type / life duration pairs: Phase 1 (RFC 2409 App. A), Phase 2 (RFC 2407 §4.5). */
const LIFE_ATTRS = { p1: { type: 11, duration: 12 }, p2: { type: 1, duration: 2 } } as const;

/**
 * How a reply's attributes differ from the offered ones, or undefined when the reply is
 * acceptable. Order does not matter (RFC 2408 does not fix it, and strongSwan re-encodes the
 * chosen transform in its own order); basic and variable encodings of one number are equal.
 * Lifetimes are (type, duration) pairs; a reply may shorten a lifetime (strongSwan puts its own
 * shorter one in the reply instead of a RESPONDER-LIFETIME notify) but never lengthen or add one.
 */
function attributeDifference(offered: readonly Attribute[], reply: readonly Attribute[], life: { type: number; duration: number }): string | undefined {
  const render = (x: Attribute): string => {
    const n = attrNumber(x);
    return n !== undefined ? String(n) : `0x${(x.value as Buffer).toString('hex')}`;
  };
  const split = (list: readonly Attribute[]): { plain: Map<number, string>; lives: Map<number, number>; error?: string } => {
    const plain = new Map<number, string>();
    const lives = new Map<number, number>();
    for (let i = 0; i < list.length; i++) {
      const x = list[i]!;
      if (x.type === life.type) {
        const d = list[i + 1];
        const kind = attrNumber(x), dur = d && d.type === life.duration ? attrNumber(d) : undefined;
        if (kind === undefined || dur === undefined) return { plain, lives, error: 'a life type without a life duration' };
        if (lives.has(kind)) return { plain, lives, error: `life type ${kind} appears twice` };
        lives.set(kind, dur);
        i++;
      } else if (x.type === life.duration) {
        return { plain, lives, error: 'a life duration without a life type' };
      } else {
        if (plain.has(x.type)) return { plain, lives, error: `attribute ${x.type} appears twice` };
        plain.set(x.type, render(x));
      }
    }
    return { plain, lives };
  };
  const o = split(offered), r = split(reply);
  if (r.error) return r.error;
  for (const [type, v] of r.plain) {
    if (!o.plain.has(type)) return `attribute ${type} = ${v} was not offered`;
    if (o.plain.get(type) !== v) return `attribute ${type} is ${v}, offered ${o.plain.get(type)!}`;
  }
  for (const [type, v] of o.plain) if (!r.plain.has(type)) return `attribute ${type} (offered ${v}) is missing`;
  for (const [kind, dur] of r.lives) {
    const mine = o.lives.get(kind);
    if (mine === undefined) return `life type ${kind} (duration ${dur}) was not offered`;
    if (dur > mine) return `life type ${kind} duration ${dur} is longer than the offered ${mine}`;
  }
  return undefined;
}

// =============================================================================================
// Phase 2 (Quick Mode), ESP only
// =============================================================================================

export type P2Encr = 'aes' | 'aes-gcm' | '3des';
export type P2Auth = 'hmac-sha1' | 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';
export type P2Mode = 'tunnel' | 'transport';
/** NAT-T encapsulation numbering: RFC 3947 (3/4) or the drafts (61443/61444); false = none. */
export type NatTEncap = false | 'rfc3947' | 'draft';

/** One ESP alternative (an ecomb, in Solaris terms). */
export interface P2EspAlternative {
  readonly encr: P2Encr;
  /** AES/AES-GCM only; bounds in {128, 192, 256}; absent = 128..256. */
  readonly keyLengths?: KeyLengthRange;
  /** Integrity; must be absent with AES-GCM (combined mode, RFC 4106 §8.3). */
  readonly auth?: P2Auth;
  /** AES-GCM ICV length in octets (default 16). */
  readonly icvLength?: 8 | 12 | 16;
}

export interface P2Policy {
  /** Alternatives in preference order. */
  readonly esp: readonly P2EspAlternative[];
  /** Quick Mode PFS group (p2_pfs), absent/0 = no PFS. */
  readonly pfsGroup?: number;
  /** Hard lifetime in seconds. */
  readonly lifetimeSeconds: number;
  /** Hard lifetime in KiB (0/absent = not proposed / no limit). */
  readonly lifetimeKilobytes?: number;
  readonly mode: P2Mode;
}

export interface P2Negotiated {
  readonly proposalNumber: number;
  readonly transformNumber: number;
  /** ESP transform ID (RFC 2407 §4.4.4 / RFC 4106). */
  readonly espTransformId: number;
  readonly encr: P2Encr;
  readonly keyLength: number;
  readonly auth?: P2Auth;
  readonly icvLength?: 8 | 12 | 16;
  readonly pfsGroup?: number;
  readonly mode: P2Mode;
  readonly udpEncapsulated: boolean;
  /** Hard lifetimes agreed (responder: after lowering). 0 = none. */
  readonly lifetimeSeconds: number;
  readonly lifetimeKilobytes: number;
}

const P2_AUTH: Record<P2Auth, number> = {
  'hmac-sha1': IpsecAuth.HMAC_SHA,
  'hmac-sha256': IpsecAuth.HMAC_SHA2_256,
  'hmac-sha384': IpsecAuth.HMAC_SHA2_384,
  'hmac-sha512': IpsecAuth.HMAC_SHA2_512,
};
const P2_AUTH_BY_ID = reverse(P2_AUTH);
const GCM_ID: Record<8 | 12 | 16, number> = { 8: EspTransform.AES_GCM_8, 12: EspTransform.AES_GCM_12, 16: EspTransform.AES_GCM_16 };

function espTransformId(a: P2EspAlternative): number {
  if (a.encr === 'aes') return EspTransform.AES;
  if (a.encr === '3des') return EspTransform['3DES'];
  return GCM_ID[a.icvLength ?? 16];
}

/** The encapsulation mode value for a mode and NAT-T state (RFC 2407 §4.5, RFC 3947 §5.3). */
export function encapsulationValue(mode: P2Mode, natT: NatTEncap): number {
  if (natT === 'rfc3947') return mode === 'tunnel' ? EncapsulationMode.UDP_ENCAPSULATED_TUNNEL : EncapsulationMode.UDP_ENCAPSULATED_TRANSPORT;
  if (natT === 'draft') return mode === 'tunnel' ? EncapsulationMode.UDP_TUNNEL_DRAFT : EncapsulationMode.UDP_TRANSPORT_DRAFT;
  return mode === 'tunnel' ? EncapsulationMode.TUNNEL : EncapsulationMode.TRANSPORT;
}

function decodeEncapsulation(v: number): { mode: P2Mode; udp: boolean } | undefined {
  switch (v) {
    case EncapsulationMode.TUNNEL: return { mode: 'tunnel', udp: false };
    case EncapsulationMode.TRANSPORT: return { mode: 'transport', udp: false };
    case EncapsulationMode.UDP_ENCAPSULATED_TUNNEL:
    case EncapsulationMode.UDP_TUNNEL_DRAFT: return { mode: 'tunnel', udp: true };
    case EncapsulationMode.UDP_ENCAPSULATED_TRANSPORT:
    case EncapsulationMode.UDP_TRANSPORT_DRAFT: return { mode: 'transport', udp: true };
    default: return undefined;
  }
}

function validateP2Policy(policy: P2Policy): void {
  if (policy.esp.length === 0) throw new OakleyError(ProposalErr.BAD_POLICY, 'phase 2 policy has no ESP alternative');
  for (const a of policy.esp) {
    if (a.encr === 'aes-gcm' && a.auth) throw new OakleyError(ProposalErr.BAD_POLICY, 'AES-GCM takes no separate integrity algorithm');
    if (a.encr === '3des' && a.keyLengths) throw new OakleyError(ProposalErr.BAD_POLICY, 'Cannot specify key size on non-AES ciphers.');
    if (a.encr !== 'aes-gcm' && a.icvLength !== undefined) throw new OakleyError(ProposalErr.BAD_POLICY, 'ICV length applies to AES-GCM only');
    checkAesRange(a.keyLengths, 'phase 2');
  }
  if (!(policy.lifetimeSeconds > 0)) throw new OakleyError(ProposalErr.BAD_POLICY, 'phase 2 lifetime must be > 0 seconds');
}

export interface P2BuildOptions {
  /** Our inbound SPI for this SA (4 octets, from KernelIpsec.getSpi). */
  readonly spi: Buffer;
  /** NAT-T in use: use the UDP-encapsulated modes. */
  readonly natT?: NatTEncap;
}

/**
 * The initiator's Quick Mode SA payload (solaris-ike.md §5.5 step 7): one ESP proposal per
 * alternative (proposal numbers 1, 2, … = alternatives, RFC 2408 §4.2), an AES key range expanded
 * into one transform per size (256, 192, 128). Each transform carries life type/duration in
 * seconds (always) and KiB (when set), group description (PFS), encapsulation mode, the
 * authentication algorithm (not with GCM) and the key length (AES, AES-GCM).
 */
export function buildP2SaPayload(policy: P2Policy, opts: P2BuildOptions): SaPayload {
  validateP2Policy(policy);
  if (opts.spi.length !== 4) throw new OakleyError(ProposalErr.BAD_POLICY, `ESP SPI must be 4 octets, got ${opts.spi.length}`);
  const proposals: Proposal[] = policy.esp.map((alt, i) => {
    const sizes: (number | undefined)[] = alt.encr === '3des' ? [undefined] : aesKeySizes(alt.keyLengths);
    const transforms: Transform[] = sizes.map((size, j) => {
      const v: IpsecTransform = {
        transformId: espTransformId(alt),
        lifeSeconds: policy.lifetimeSeconds,
        ...(policy.lifetimeKilobytes ? { lifeKilobytes: policy.lifetimeKilobytes } : {}),
        ...(policy.pfsGroup ? { group: policy.pfsGroup } : {}),
        encapsulation: encapsulationValue(policy.mode, opts.natT ?? false),
        ...(alt.auth ? { authAlg: P2_AUTH[alt.auth] } : {}),
        ...(size !== undefined ? { keyLength: size } : {}),
        unknownAttributes: [],
      };
      return encodeIpsecTransform(v, j + 1);
    });
    return { number: i + 1, protocol: ProtocolId.IPSEC_ESP, spi: Buffer.from(opts.spi), transforms };
  });
  return { type: PayloadType.SA, doi: Doi.IPSEC, situation: Situation.IDENTITY_ONLY, situationData: Buffer.alloc(0), proposals };
}

/** A received ESP transform, decoded. */
export interface P2Offer {
  readonly espTransformId: number;
  readonly encr: P2Encr;
  readonly keyLength: number;
  readonly auth?: P2Auth;
  readonly icvLength?: 8 | 12 | 16;
  readonly pfsGroup?: number;
  readonly mode: P2Mode;
  readonly udpEncapsulated: boolean;
  readonly lifetimeSeconds?: number;
  readonly lifetimeKilobytes?: number;
}

/** Decodes one ESP transform (RFC 2407 §4.5). @returns the offer or why it is refused */
export function decodeP2EspTransform(t: Transform): P2Offer | string {
  let encr: P2Encr;
  let icvLength: 8 | 12 | 16 | undefined;
  switch (t.id) {
    case EspTransform.AES: encr = 'aes'; break;
    case EspTransform['3DES']: encr = '3des'; break;
    case EspTransform.AES_GCM_8: encr = 'aes-gcm'; icvLength = 8; break;
    case EspTransform.AES_GCM_12: encr = 'aes-gcm'; icvLength = 12; break;
    case EspTransform.AES_GCM_16: encr = 'aes-gcm'; icvLength = 16; break;
    default: return `ESP transform ${nameOf(EspTransform, t.id)} not supported`;
  }
  const d = tryDecode(() => decodeIpsecTransform(ProtocolId.IPSEC_ESP, t));
  if (typeof d === 'string') return d;
  if (d.unknownAttributes.length) return `attribute ${d.unknownAttributes.map((a) => nameOf(IpsecAttr, a.type)).join(', ')} not supported`;
  if (d.keyRounds !== undefined) return 'KEY_ROUNDS not supported';
  let auth: P2Auth | undefined;
  if (d.authAlg !== undefined) {
    auth = P2_AUTH_BY_ID.get(d.authAlg);
    if (!auth) return `authentication algorithm ${nameOf(IpsecAuth, d.authAlg)} not supported`;
  }
  let encap: { mode: P2Mode; udp: boolean } | undefined;
  if (d.encapsulation !== undefined) {
    encap = decodeEncapsulation(d.encapsulation);
    if (!encap) return `encapsulation mode ${d.encapsulation} not supported`;
  }
  const pfsGroup = d.group;
  let keyLength = d.keyLength;
  // RFC 2407 §4.5: encapsulation mode unspecified = implementation default; take transport?
  // Oakley insists on an explicit mode, as every peer in practice sends it.
  if (!encap) return 'no encapsulation mode';
  if (encr === 'aes-gcm') {
    if (auth) return 'AES-GCM with an integrity algorithm';
    // RFC 4106 §8.4: the Key Length attribute MUST be present.
    if (keyLength === undefined) return 'AES-GCM without key length';
  }
  if (encr === 'aes') keyLength ??= 128;
  if (encr === '3des') {
    if (keyLength !== undefined && keyLength !== 192) return `key length ${keyLength} invalid for 3DES`;
    keyLength = 192;
  } else if (![128, 192, 256].includes(keyLength!)) return `AES key length ${keyLength} invalid`;
  return {
    espTransformId: t.id,
    encr,
    keyLength: keyLength!,
    ...(auth ? { auth } : {}),
    ...(icvLength ? { icvLength } : {}),
    ...(pfsGroup ? { pfsGroup } : {}),
    mode: encap.mode,
    udpEncapsulated: encap.udp,
    ...(d.lifeSeconds !== undefined ? { lifetimeSeconds: d.lifeSeconds } : {}),
    ...(d.lifeKilobytes !== undefined ? { lifetimeKilobytes: d.lifeKilobytes } : {}),
  };
}

function p2Matches(o: P2Offer, a: P2EspAlternative): string | undefined {
  if (o.encr !== a.encr) return `cipher ${o.encr} != ${a.encr}`;
  if (a.encr === 'aes-gcm' && o.icvLength !== (a.icvLength ?? 16)) return `ICV ${o.icvLength} != ${a.icvLength ?? 16}`;
  if (a.encr !== '3des') {
    const r = a.keyLengths ?? { min: 128, max: 256 };
    if (!inRange(o.keyLength, r)) return `key length ${o.keyLength} outside ${r.min}..${r.max}`;
  }
  if (o.auth !== a.auth) return `integrity ${o.auth ?? 'none'} != ${a.auth ?? 'none'}`;
  return undefined;
}

export interface P2SelectOptions {
  /** Our inbound SPI (4 octets) to put in the echoed proposal. */
  readonly spi: Buffer;
  /** NAT detected on this Phase 1 SA: UDP-encapsulated modes are required (RFC 3947 §5.3). */
  readonly natT?: boolean;
  /** Groups acceptable for PFS (default P1_SUPPORTED_GROUPS). */
  readonly supportedGroups?: readonly number[];
  /**
   * Accept PFS when the initiator asks for it although the policy has no pfsGroup (default true:
   * more security than asked for is fine).
   */
  readonly acceptUnrequestedPfs?: boolean;
}

export interface P2Selection {
  readonly negotiated: P2Negotiated;
  /** The initiator's SPI (our outbound SA's SPI). */
  readonly peerSpi: Buffer;
  /** The responder's SA payload: the chosen proposal with only the chosen transform, our SPI. */
  readonly reply: SaPayload;
  /** What the initiator proposed (absent = not proposed). */
  readonly proposed: { readonly seconds?: number; readonly kilobytes?: number };
  /**
   * Set when the responder's lifetime is shorter than proposed (or a KiB limit was not proposed):
   * send RESPONDER-LIFETIME with these values (RFC 2407 §4.6.3.1, solaris-ike.md §5.5 step 8).
   */
  readonly responderLifetime?: { readonly seconds?: number; readonly kilobytes?: number };
}

/**
 * Responder's Quick Mode choice. Proposals sharing a number form a bundle (RFC 2408 §4.2, logical
 * AND); only a bundle of exactly one ESP proposal can be accepted (no AH, no IPComp). Bundles are
 * tried in order; inside the ESP proposal, the FIRST transform matching a policy alternative wins.
 * Lifetimes: the smaller non-zero value of the proposal's and the policy's, per type.
 *
 * @throws OakleyError IKE_ERR_NO_PROPOSAL_CHOSEN (detail.reasons) or IKE_ERR_BAD_PROPOSAL_SYNTAX
 */
export function selectP2Proposal(sa: SaPayload, policy: P2Policy, opts: P2SelectOptions): P2Selection {
  validateP2Policy(policy);
  if (sa.doi !== Doi.IPSEC) throw new OakleyError(ProposalErr.BAD_PROPOSAL_SYNTAX, `DOI ${sa.doi} not supported`, { notify: NotifyType.DOI_NOT_SUPPORTED });
  if (sa.proposals.length === 0) throw badSyntax('SA payload without proposals');
  for (let i = 1; i < sa.proposals.length; i++) {
    // RFC 2408 §3.5: proposal numbers are the same (bundle) or increasing.
    if (sa.proposals[i].number < sa.proposals[i - 1].number) throw badSyntax('proposal numbers decrease');
  }
  const groups = opts.supportedGroups ?? P1_SUPPORTED_GROUPS;
  const bundles: Proposal[][] = [];
  for (const p of sa.proposals) {
    const last = bundles[bundles.length - 1];
    if (last && last[0].number === p.number) last.push(p);
    else bundles.push([p]);
  }
  const reasons: RefusalReason[] = [];
  for (const bundle of bundles) {
    const num = bundle[0].number;
    if (bundle.length !== 1 || bundle[0].protocol !== ProtocolId.IPSEC_ESP) {
      const names = bundle.map((p) => nameOf(ProtocolId, p.protocol)).join('+');
      reasons.push({ proposal: num, reason: `bundle ${names} not supported (ESP alone only)` });
      continue;
    }
    const p = bundle[0];
    if (p.spi.length !== 4) {
      reasons.push({ proposal: num, reason: `ESP SPI size ${p.spi.length} != 4` });
      continue;
    }
    for (const t of p.transforms) {
      const o = decodeP2EspTransform(t);
      const refuse = (reason: string) => reasons.push({ proposal: num, transform: t.number, reason });
      if (typeof o === 'string') { refuse(o); continue; }
      if (o.mode !== policy.mode) { refuse(`mode ${o.mode} != ${policy.mode}`); continue; }
      if (o.udpEncapsulated !== (opts.natT ?? false)) {
        refuse(o.udpEncapsulated ? 'UDP encapsulation without NAT-T' : 'NAT detected but not UDP-encapsulated');
        continue;
      }
      if (policy.pfsGroup) {
        if (o.pfsGroup !== policy.pfsGroup) { refuse(`PFS group ${o.pfsGroup ?? 'none'} != ${policy.pfsGroup}`); continue; }
      } else if (o.pfsGroup !== undefined) {
        if (opts.acceptUnrequestedPfs === false) { refuse(`PFS group ${o.pfsGroup} not wanted`); continue; }
        if (!groups.includes(o.pfsGroup)) { refuse(`PFS group ${o.pfsGroup} not supported`); continue; }
      }
      const mismatches: string[] = [];
      const alt = policy.esp.find((a) => {
        const why = p2Matches(o, a);
        if (why) mismatches.push(why);
        return why === undefined;
      });
      if (!alt) { refuse(`no local match (${mismatches.join(', ')})`); continue; }

      const proposedSecs = o.lifetimeSeconds ?? DEFAULT_SA_LIFETIME_SECS;
      const seconds = Math.min(proposedSecs, policy.lifetimeSeconds);
      const ownKb = policy.lifetimeKilobytes ?? 0;
      const kilobytes = o.lifetimeKilobytes !== undefined && ownKb > 0 ? Math.min(o.lifetimeKilobytes, ownKb) : (o.lifetimeKilobytes ?? ownKb);
      const lowered: { seconds?: number; kilobytes?: number } = {};
      if (seconds < proposedSecs) lowered.seconds = seconds;
      if (kilobytes > 0 && (o.lifetimeKilobytes === undefined || kilobytes < o.lifetimeKilobytes)) lowered.kilobytes = kilobytes;

      const negotiated = p2Negotiated(o, num, t.number, seconds, kilobytes);
      const proposed: { seconds?: number; kilobytes?: number } = {};
      if (o.lifetimeSeconds !== undefined) proposed.seconds = o.lifetimeSeconds;
      if (o.lifetimeKilobytes !== undefined) proposed.kilobytes = o.lifetimeKilobytes;
      return {
        negotiated,
        peerSpi: Buffer.from(p.spi),
        reply: { ...sa, proposals: [{ ...p, spi: Buffer.from(opts.spi), transforms: [t] }] },
        proposed,
        ...(Object.keys(lowered).length ? { responderLifetime: lowered } : {}),
      };
    }
  }
  throw noChoice('quick mode', reasons);
}

/** The agreed Quick Mode values: a decoded offer, where it stood, and the lifetimes in force. */
function p2Negotiated(o: P2Offer, proposalNumber: number, transformNumber: number, lifetimeSeconds: number,
  lifetimeKilobytes: number): P2Negotiated {
  return {
    proposalNumber, transformNumber,
    espTransformId: o.espTransformId,
    encr: o.encr,
    keyLength: o.keyLength,
    ...(o.auth ? { auth: o.auth } : {}),
    ...(o.icvLength ? { icvLength: o.icvLength } : {}),
    ...(o.pfsGroup ? { pfsGroup: o.pfsGroup } : {}),
    mode: o.mode,
    udpEncapsulated: o.udpEncapsulated,
    lifetimeSeconds, lifetimeKilobytes,
  };
}

/**
 * Initiator's check of the responder's Quick Mode SA payload: one ESP proposal with one transform
 * that was offered under the same proposal number with identical attributes (RFC 2408 §4.2).
 * @returns the negotiated values (lifetimes as offered; apply RESPONDER-LIFETIME separately)
 *   and the responder's SPI
 * @throws OakleyError IKE_ERR_BAD_PROPOSAL_REPLY
 */
export function acceptP2Reply(offered: SaPayload, reply: SaPayload): { negotiated: P2Negotiated; peerSpi: Buffer } {
  const bad = (msg: string) => new OakleyError(ProposalErr.BAD_REPLY, `quick mode reply: ${msg}`, { notify: NotifyType.NO_PROPOSAL_CHOSEN });
  if (reply.proposals.length !== 1 || reply.proposals[0].transforms.length !== 1) throw bad('must hold one proposal with one transform');
  const rp = reply.proposals[0];
  const rt = rp.transforms[0];
  if (rp.protocol !== ProtocolId.IPSEC_ESP || rp.spi.length !== 4) throw bad('not an ESP proposal with a 4-octet SPI');
  const op = offered.proposals.find((p) => p.number === rp.number && p.protocol === rp.protocol);
  const ot = op?.transforms.find((t) => t.number === rt.number);
  const diff = !ot ? 'no such transform number was offered' : ot.id !== rt.id ? `transform id ${rt.id}, offered ${ot.id}` : attributeDifference(ot.attributes, rt.attributes, LIFE_ATTRS.p2);
  if (diff !== undefined) throw bad(`proposal #${rp.number} transform #${rt.number} was not offered as such: ${diff}`);
  const o = decodeP2EspTransform(rt);
  if (typeof o === 'string') throw bad(o);
  return {
    negotiated: p2Negotiated(o, rp.number, rt.number, o.lifetimeSeconds ?? DEFAULT_SA_LIFETIME_SECS, o.lifetimeKilobytes ?? 0),
    peerSpi: Buffer.from(rp.spi),
  };
}

// =============================================================================================
// RESPONDER-LIFETIME (RFC 2407 §4.6.3.1)
// =============================================================================================

/**
 * RFC 2407 §4.6.3.1: the notification data holds SA attributes, SA Life Type / SA Life Duration
 * pairs, giving the lifetime the responder actually uses. Protocol and SPI name the SA it is about.
 */
export interface ResponderLifetime {
  readonly protocol: number;
  readonly spi: Buffer;
  readonly seconds?: number;
  readonly kilobytes?: number;
}

/** Builds the RESPONDER-LIFETIME notify payload. */
export function buildResponderLifetimeNotify(rl: ResponderLifetime): NotifyPayload {
  if (!rl.seconds && !rl.kilobytes) throw new OakleyError(ProposalErr.BAD_POLICY, 'RESPONDER-LIFETIME needs seconds or kilobytes');
  return {
    type: PayloadType.N,
    doi: Doi.IPSEC,
    protocol: rl.protocol,
    spi: Buffer.from(rl.spi),
    notifyType: NotifyType.RESPONDER_LIFETIME,
    data: encodeAttributeBytes(lifeAttributes(IpsecAttr.SA_LIFE_TYPE, IpsecAttr.SA_LIFE_DURATION, rl.seconds, rl.kilobytes)),
  };
}

/**
 * Reads a RESPONDER-LIFETIME notify. Attributes other than life type/duration are ignored.
 * @throws OakleyError IKE_ERR_MALFORMED_NOTIFY for a wrong type, bad attributes or no lifetime
 */
export function decodeResponderLifetime(n: NotifyPayload): ResponderLifetime {
  if (n.notifyType !== NotifyType.RESPONDER_LIFETIME) {
    throw new OakleyError(ProposalErr.MALFORMED_NOTIFY, `notify ${nameOf(NotifyType, n.notifyType)} is not RESPONDER-LIFETIME`);
  }
  // The life pairs follow the transform attribute rules (RFC 2407 §4.5); reuse that decoder.
  const attributes = decodeAttributeBytes(n.data);
  const d = tryDecode(() => decodeIpsecTransform(n.protocol, { number: 0, id: 0, attributes }));
  if (typeof d === 'string') throw new OakleyError(ProposalErr.MALFORMED_NOTIFY, `RESPONDER-LIFETIME: ${d}`);
  const life = {
    ...(d.lifeSeconds !== undefined ? { seconds: d.lifeSeconds } : {}),
    ...(d.lifeKilobytes !== undefined ? { kilobytes: d.lifeKilobytes } : {}),
  };
  if (life.seconds === undefined && life.kilobytes === undefined) throw new OakleyError(ProposalErr.MALFORMED_NOTIFY, 'RESPONDER-LIFETIME without a lifetime');
  return { protocol: n.protocol, spi: Buffer.from(n.spi), ...life };
}
