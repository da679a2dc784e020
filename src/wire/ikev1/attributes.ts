/**
 * Semantic decoding of transform attributes (the raw TV/TLV codec is payloads/data-attribute.ts):
 *   Phase 1 (ISAKMP, transform ID KEY_IKE): RFC 2409 Appendix A
 *   Phase 2 (IPsec DOI AH/ESP/IPCOMP):      RFC 2407 §4.5
 *
 * Rules:
 *  - Order-independent: vpnc sends KEY_LENGTH before ENCRYPTION_ALGORITHM (peers.md §5).
 *  - Life pairs: every LIFE_DURATION must immediately follow a LIFE_TYPE, and a LIFE_TYPE must be
 *    followed by its duration; several pairs are allowed (seconds and kilobytes), one per type.
 *  - Any other attribute appearing twice is BAD-PROPOSAL-SYNTAX.
 *  - Strict enums (unknown value = error): life type (the duration cannot be read otherwise),
 *    KEY_LENGTH 0. Loose enums (value returned as is, the negotiation layer skips the transform):
 *    encryption, hash, authentication method, group, PRF, IPsec transform ID, authentication
 *    algorithm, encapsulation mode.
 *  - Attribute types the decoder does not know, and private-group definitions (GROUP_TYPE, PRIME,
 *    GENERATOR, CURVE, ORDER, FIELD_SIZE: valid RFC 2409 but unsupported here), are returned in
 *    `unknownAttributes`; a transform carrying any is to be skipped (RFC 2409 §5: a responder
 *    must not accept attributes it does not understand).
 *  - Basic-class attributes are accepted in TLV form when the value fits (loose, some stacks send
 *    KEY_LENGTH as TLV); durations larger than 2^53-1 are clamped to Number.MAX_SAFE_INTEGER.
 *
 * Errors are WireError VALUE on payload 'T' with offset -1 (a decoded Transform no longer has
 * offsets; the caller knows the SA payload's).
 */
import { Attribute, Transform } from './types';
import { IkeAttr, IpsecAttr, IsakmpTransformId, LifeType, NotifyType } from './iana';
import { WireErr, WireError } from '../errors';
import { attributeNumber } from './payloads/data-attribute';

export interface IkeTransform {
  readonly encr: number;
  readonly keyLength?: number;
  readonly hash: number;
  readonly auth: number;
  /** Group description; 0 when absent (only with private-group attributes in unknownAttributes). */
  readonly group: number;
  readonly lifeSeconds?: number;
  readonly lifeKilobytes?: number;
  readonly prf?: number;
  readonly unknownAttributes: readonly Attribute[];
}

export interface IpsecTransform {
  readonly transformId: number;
  readonly keyLength?: number;
  readonly authAlg?: number;
  readonly encapsulation?: number;
  readonly group?: number;
  readonly keyRounds?: number;
  readonly lifeSeconds?: number;
  readonly lifeKilobytes?: number;
  readonly unknownAttributes: readonly Attribute[];
}

function fail(t: Transform, message: string, notify: number = NotifyType.BAD_PROPOSAL_SYNTAX): never {
  throw new WireError(WireErr.VALUE, 'T', -1, `transform #${t.number}: ${message}`, notify);
}

function num(t: Transform, a: Attribute, basic: boolean): number {
  const v = attributeNumber(a);
  if (v === undefined) {
    if (!basic && Buffer.isBuffer(a.value) && a.value.length > 0) return Number.MAX_SAFE_INTEGER;
    fail(t, `attribute ${a.type} has an unreadable value`, NotifyType.ATTRIBUTES_NOT_SUPPORTED);
  }
  if (basic && v > 0xffff) fail(t, `basic attribute ${a.type} value ${v} exceeds 16 bits`, NotifyType.ATTRIBUTES_NOT_SUPPORTED);
  return v;
}

interface Walked {
  readonly values: Map<number, number>;
  readonly lifeSeconds?: number;
  readonly lifeKilobytes?: number;
  readonly unknown: Attribute[];
}

/**
 * The common walk: life pairs, duplicates, known basic attributes into `values`.
 * @param known   attribute types read as numbers
 * @param variable attribute types read as (possibly long) numbers
 */
function walk(t: Transform, lifeTypeAttr: number, lifeDurationAttr: number,
  known: readonly number[], variable: readonly number[]): Walked {
  const values = new Map<number, number>();
  const unknown: Attribute[] = [];
  let lifeSeconds: number | undefined;
  let lifeKilobytes: number | undefined;
  const attrs = t.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    if (a.type === lifeTypeAttr) {
      const lt = num(t, a, true);
      const d = attrs[i + 1];
      if (!d || d.type !== lifeDurationAttr) fail(t, `life type ${lt} is not followed by a life duration`);
      const duration = num(t, d, false);
      i++;
      if (lt === LifeType.SECONDS) {
        if (lifeSeconds !== undefined) fail(t, 'two lifetimes in seconds');
        lifeSeconds = duration;
      } else if (lt === LifeType.KILOBYTES) {
        if (lifeKilobytes !== undefined) fail(t, 'two lifetimes in kilobytes');
        lifeKilobytes = duration;
      } else {
        fail(t, `life type ${lt} is neither seconds (1) nor kilobytes (2)`, NotifyType.ATTRIBUTES_NOT_SUPPORTED);
      }
    } else if (a.type === lifeDurationAttr) {
      fail(t, 'life duration without a preceding life type');
    } else if (known.includes(a.type) || variable.includes(a.type)) {
      if (values.has(a.type)) fail(t, `attribute ${a.type} appears twice`);
      values.set(a.type, num(t, a, !variable.includes(a.type)));
    } else {
      if (unknown.some((u) => u.type === a.type)) fail(t, `attribute ${a.type} appears twice`);
      unknown.push(a);
    }
  }
  const w: { -readonly [K in keyof Walked]: Walked[K] } = { values, unknown };
  if (lifeSeconds !== undefined) w.lifeSeconds = lifeSeconds;
  if (lifeKilobytes !== undefined) w.lifeKilobytes = lifeKilobytes;
  return w;
}

const IKE_KNOWN = [IkeAttr.ENCRYPTION_ALGORITHM, IkeAttr.HASH_ALGORITHM, IkeAttr.AUTHENTICATION_METHOD,
  IkeAttr.GROUP_DESCRIPTION, IkeAttr.PRF, IkeAttr.KEY_LENGTH] as const;

/**
 * Phase 1 transform attributes (RFC 2409 App. A).
 * @throws WireError VALUE: transform ID not KEY_IKE (INVALID-TRANSFORM-ID), missing ENCR/HASH/AUTH
 *         or group, KEY_LENGTH 0, life-pair and duplicate violations (BAD-PROPOSAL-SYNTAX)
 */
export function decodeIkeTransform(t: Transform): IkeTransform {
  if (t.id !== IsakmpTransformId.KEY_IKE) fail(t, `transform ID ${t.id} is not KEY_IKE (1)`, NotifyType.INVALID_TRANSFORM_ID);
  const w = walk(t, IkeAttr.LIFE_TYPE, IkeAttr.LIFE_DURATION, IKE_KNOWN, []);
  const v = w.values;
  const need = (type: number, name: string): number => {
    const x = v.get(type);
    if (x === undefined) fail(t, `no ${name} attribute`);
    return x;
  };
  const encr = need(IkeAttr.ENCRYPTION_ALGORITHM, 'ENCRYPTION_ALGORITHM');
  const hash = need(IkeAttr.HASH_ALGORITHM, 'HASH_ALGORITHM');
  const auth = need(IkeAttr.AUTHENTICATION_METHOD, 'AUTHENTICATION_METHOD');
  const group = v.get(IkeAttr.GROUP_DESCRIPTION) ?? (w.unknown.some((a) => a.type === IkeAttr.GROUP_TYPE) ? 0 : need(IkeAttr.GROUP_DESCRIPTION, 'GROUP_DESCRIPTION'));
  const out: { -readonly [K in keyof IkeTransform]: IkeTransform[K] } = { encr, hash, auth, group, unknownAttributes: w.unknown };
  const keyLength = v.get(IkeAttr.KEY_LENGTH);
  if (keyLength !== undefined) {
    if (keyLength === 0) fail(t, 'KEY_LENGTH 0', NotifyType.ATTRIBUTES_NOT_SUPPORTED);
    out.keyLength = keyLength;
  }
  const prf = v.get(IkeAttr.PRF);
  if (prf !== undefined) out.prf = prf;
  if (w.lifeSeconds !== undefined) out.lifeSeconds = w.lifeSeconds;
  if (w.lifeKilobytes !== undefined) out.lifeKilobytes = w.lifeKilobytes;
  return out;
}

const IPSEC_KNOWN = [IpsecAttr.GROUP_DESCRIPTION, IpsecAttr.ENCAPSULATION_MODE, IpsecAttr.AUTHENTICATION_ALGORITHM,
  IpsecAttr.KEY_LENGTH, IpsecAttr.KEY_ROUNDS] as const;

/**
 * Phase 2 transform attributes (RFC 2407 §4.5) of a proposal for `protocol` (2 AH, 3 ESP, 4 IPCOMP).
 * Protocol/transform-ID consistency (e.g. AH without an authentication algorithm) is the
 * negotiation layer's decision; this only checks the attribute syntax.
 * @throws WireError VALUE (life pairs, duplicates, KEY_LENGTH 0)
 */
export function decodeIpsecTransform(protocol: number, t: Transform): IpsecTransform {
  void protocol; // kept in the signature: COMPRESS_* attributes are meaningful for IPCOMP only
  const w = walk(t, IpsecAttr.SA_LIFE_TYPE, IpsecAttr.SA_LIFE_DURATION, IPSEC_KNOWN, []);
  const v = w.values;
  const out: { -readonly [K in keyof IpsecTransform]: IpsecTransform[K] } = { transformId: t.id, unknownAttributes: w.unknown };
  const keyLength = v.get(IpsecAttr.KEY_LENGTH);
  if (keyLength !== undefined) {
    if (keyLength === 0) fail(t, 'KEY_LENGTH 0', NotifyType.ATTRIBUTES_NOT_SUPPORTED);
    out.keyLength = keyLength;
  }
  const set = <K extends 'authAlg' | 'encapsulation' | 'group' | 'keyRounds'>(k: K, type: number): void => {
    const x = v.get(type);
    if (x !== undefined) out[k] = x;
  };
  set('authAlg', IpsecAttr.AUTHENTICATION_ALGORITHM);
  set('encapsulation', IpsecAttr.ENCAPSULATION_MODE);
  set('group', IpsecAttr.GROUP_DESCRIPTION);
  set('keyRounds', IpsecAttr.KEY_ROUNDS);
  if (w.lifeSeconds !== undefined) out.lifeSeconds = w.lifeSeconds;
  if (w.lifeKilobytes !== undefined) out.lifeKilobytes = w.lifeKilobytes;
  return out;
}

function life(attrs: Attribute[], typeAttr: number, durAttr: number, seconds?: number, kilobytes?: number): void {
  if (seconds !== undefined) attrs.push({ type: typeAttr, value: LifeType.SECONDS }, { type: durAttr, value: seconds });
  if (kilobytes !== undefined) attrs.push({ type: typeAttr, value: LifeType.KILOBYTES }, { type: durAttr, value: kilobytes });
}

/**
 * Builds a Phase 1 transform (ID KEY_IKE). Order: ENCR, KEY_LENGTH, HASH, AUTH, GROUP, PRF, life
 * pairs, then unknownAttributes as given. Durations over 16 bits become TLVs (data-attribute.ts).
 */
export function encodeIkeTransform(v: IkeTransform, number = 1): Transform {
  const a: Attribute[] = [{ type: IkeAttr.ENCRYPTION_ALGORITHM, value: v.encr }];
  if (v.keyLength !== undefined) a.push({ type: IkeAttr.KEY_LENGTH, value: v.keyLength });
  a.push({ type: IkeAttr.HASH_ALGORITHM, value: v.hash }, { type: IkeAttr.AUTHENTICATION_METHOD, value: v.auth });
  if (v.group !== 0) a.push({ type: IkeAttr.GROUP_DESCRIPTION, value: v.group });
  if (v.prf !== undefined) a.push({ type: IkeAttr.PRF, value: v.prf });
  life(a, IkeAttr.LIFE_TYPE, IkeAttr.LIFE_DURATION, v.lifeSeconds, v.lifeKilobytes);
  a.push(...v.unknownAttributes);
  return { number, id: IsakmpTransformId.KEY_IKE, attributes: a };
}

/** Builds a Phase 2 transform. Order: life pairs, GROUP, ENCAPSULATION, AUTH, KEY_LENGTH, KEY_ROUNDS. */
export function encodeIpsecTransform(v: IpsecTransform, number = 1): Transform {
  const a: Attribute[] = [];
  life(a, IpsecAttr.SA_LIFE_TYPE, IpsecAttr.SA_LIFE_DURATION, v.lifeSeconds, v.lifeKilobytes);
  if (v.group !== undefined) a.push({ type: IpsecAttr.GROUP_DESCRIPTION, value: v.group });
  if (v.encapsulation !== undefined) a.push({ type: IpsecAttr.ENCAPSULATION_MODE, value: v.encapsulation });
  if (v.authAlg !== undefined) a.push({ type: IpsecAttr.AUTHENTICATION_ALGORITHM, value: v.authAlg });
  if (v.keyLength !== undefined) a.push({ type: IpsecAttr.KEY_LENGTH, value: v.keyLength });
  if (v.keyRounds !== undefined) a.push({ type: IpsecAttr.KEY_ROUNDS, value: v.keyRounds });
  a.push(...v.unknownAttributes);
  return { number, id: v.transformId, attributes: a };
}
