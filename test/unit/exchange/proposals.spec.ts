/** IKEv1 proposal building and selection (RFC 2409 §5, RFC 2407 §4.5, solaris-ike.md §5.5-§5.7). */
import assert from 'node:assert/strict';

import {
  acceptP1Reply, acceptP2Reply, buildP1SaPayload, buildP2SaPayload, buildResponderLifetimeNotify, decodeResponderLifetime,
  ProposalErr, selectP1Transform, selectP2Proposal, type P1Transform, type P2Policy, type RefusalReason,
} from '../../../src/exchange/ikev1/proposals';
import { EncapsulationMode, EspTransform, IkeAttr, IpsecAttr, NotifyType, ProtocolId } from '../../../src/wire/ikev1/iana';
import { decodeSa, encodeSa } from '../../../src/wire/ikev1/payloads/sa';
import { Reader } from '../../../src/wire/reader';
import { Writer } from '../../../src/wire/writer';
import type { SaPayload, Transform } from '../../../src/wire/ikev1/types';
import { OakleyError } from '../../../src/util/errors';

function roundTrip(sa: SaPayload): SaPayload {
  const w = new Writer();
  encodeSa(w, sa);
  return decodeSa(new Reader(w.finish(), 'SA'));
}

function attr(t: Transform, type: number): unknown {
  return t.attributes.find((a) => a.type === type)?.value;
}

function reasonsOf(f: () => unknown): RefusalReason[] {
  try {
    f();
  } catch (e) {
    assert.ok(OakleyError.is(e, ProposalErr.NO_PROPOSAL_CHOSEN), String(e));
    assert.equal(e.detail?.notify, NotifyType.NO_PROPOSAL_CHOSEN);
    return e.detail!.reasons as RefusalReason[];
  }
  assert.fail('expected NO_PROPOSAL_CHOSEN');
}

const AES_SHA256_PSK_14: P1Transform = { encr: 'aes', hash: 'sha256', auth: 'preshared', group: 14, lifetimeSeconds: 3600 };
const TDES_SHA1_RSA_2: P1Transform = { encr: '3des', hash: 'sha1', auth: 'rsa_sig', group: 2, lifetimeSeconds: 28800 };

describe('Phase 1 proposals', () => {
  it('builds one ISAKMP proposal, AES ranges expanded 256/192/128, unsupported groups skipped', () => {
    const sa = buildP1SaPayload([AES_SHA256_PSK_14, { ...AES_SHA256_PSK_14, group: 3 }, TDES_SHA1_RSA_2]);
    assert.equal(sa.proposals.length, 1);
    const p = sa.proposals[0];
    assert.equal(p.protocol, ProtocolId.ISAKMP);
    assert.deepEqual(p.transforms.map((t) => t.number), [1, 2, 3, 4]);
    assert.deepEqual(p.transforms.map((t) => attr(t, IkeAttr.KEY_LENGTH)), [256, 192, 128, undefined]);
    assert.deepEqual(p.transforms.map((t) => attr(t, IkeAttr.GROUP_DESCRIPTION)), [14, 14, 14, 2]);
    assert.equal(attr(p.transforms[3], IkeAttr.LIFE_DURATION), 28800);
  });

  it('honours a configured AES key range and refuses nonsense', () => {
    const sa = buildP1SaPayload([{ ...AES_SHA256_PSK_14, keyLengths: { min: 128, max: 192 } }]);
    assert.deepEqual(sa.proposals[0].transforms.map((t) => attr(t, IkeAttr.KEY_LENGTH)), [192, 128]);
    assert.throws(() => buildP1SaPayload([{ ...TDES_SHA1_RSA_2, keyLengths: { min: 128, max: 128 } }]), /non-AES/);
    assert.throws(() => buildP1SaPayload([{ ...AES_SHA256_PSK_14, group: 4 }]), (e: unknown) => OakleyError.is(e, ProposalErr.BAD_POLICY));
  });

  it('round-trips through the wire SA codec', () => {
    const sa = buildP1SaPayload([AES_SHA256_PSK_14, TDES_SHA1_RSA_2]);
    const back = roundTrip(sa);
    const sel = selectP1Transform(back, [TDES_SHA1_RSA_2]);
    assert.equal(sel.negotiated.transformNumber, 4);
    assert.deepEqual(acceptP1Reply(sa, roundTrip(sel.reply)), sel.negotiated);
  });

  const offer = buildP1SaPayload([{ ...AES_SHA256_PSK_14, lifetimeSeconds: 86400 }, TDES_SHA1_RSA_2]);
  const cases: { name: string; own: P1Transform[]; want?: number; keyLength?: number }[] = [
    { name: 'first received transform that matches wins (AES-256)', own: [TDES_SHA1_RSA_2, AES_SHA256_PSK_14], want: 1, keyLength: 256 },
    { name: 'key length range 128..192 skips the 256 transform', own: [{ ...AES_SHA256_PSK_14, keyLengths: { min: 128, max: 192 } }], want: 2, keyLength: 192 },
    { name: 'key length range 128..128', own: [{ ...AES_SHA256_PSK_14, keyLengths: { min: 128, max: 128 } }], want: 3, keyLength: 128 },
    { name: 'only the 3DES rule', own: [TDES_SHA1_RSA_2], want: 4, keyLength: 192 },
    { name: 'hash mismatch', own: [{ ...AES_SHA256_PSK_14, hash: 'sha1' }] },
    { name: 'group mismatch', own: [{ ...AES_SHA256_PSK_14, group: 15 }] },
    { name: 'auth mismatch', own: [{ ...AES_SHA256_PSK_14, auth: 'rsa_sig' }] },
  ];
  for (const c of cases) {
    it(`select: ${c.name}`, () => {
      if (c.want === undefined) {
        const reasons = reasonsOf(() => selectP1Transform(offer, c.own));
        assert.equal(reasons.length, 4);
        assert.ok(reasons.every((r) => /no local match/.test(r.reason)), JSON.stringify(reasons));
        return;
      }
      const sel = selectP1Transform(offer, c.own);
      assert.equal(sel.negotiated.transformNumber, c.want);
      assert.equal(sel.negotiated.keyLength, c.keyLength);
      assert.equal(sel.reply.proposals[0].transforms.length, 1);
      assert.equal(sel.reply.proposals[0].transforms[0], offer.proposals[0].transforms[c.want - 1]);
    });
  }

  it('applies the proposed lifetime uncapped (Solaris), or caps it on request', () => {
    assert.equal(selectP1Transform(offer, [AES_SHA256_PSK_14]).negotiated.lifetimeSeconds, 86400);
    const capped = selectP1Transform(offer, [AES_SHA256_PSK_14], { lifetimePolicy: 'cap' });
    assert.equal(capped.negotiated.lifetimeSeconds, 3600);
    assert.deepEqual(capped.responderLifetime, { seconds: 3600 });
  });

  it('treats an AES transform without key length as 128 and explains skipped transforms', () => {
    const t = (n: number, attrs: [number, number][]): Transform => ({ number: n, id: 1, attributes: attrs.map(([type, value]) => ({ type, value })) });
    const base: [number, number][] = [[IkeAttr.ENCRYPTION_ALGORITHM, 7], [IkeAttr.HASH_ALGORITHM, 4], [IkeAttr.AUTHENTICATION_METHOD, 1], [IkeAttr.GROUP_DESCRIPTION, 14]];
    const sa: SaPayload = {
      type: 1, doi: 1, situation: 1, situationData: Buffer.alloc(0),
      proposals: [{ number: 1, protocol: ProtocolId.ISAKMP, spi: Buffer.alloc(0), transforms: [
        t(1, [[IkeAttr.ENCRYPTION_ALGORITHM, 6], ...base.slice(1)]),
        t(2, [...base.slice(0, 3), [IkeAttr.GROUP_DESCRIPTION, 3]]),
        t(3, [...base, [IkeAttr.PRF, 1]]),
        { number: 4, id: 2, attributes: [] },
        t(5, base),
      ] }],
    };
    const sel = selectP1Transform(sa, [{ ...AES_SHA256_PSK_14, keyLengths: { min: 128, max: 128 } }]);
    assert.equal(sel.negotiated.transformNumber, 5);
    assert.equal(sel.negotiated.keyLength, 128);
    assert.equal(sel.negotiated.lifetimeSeconds, 28800);
    const reasons = reasonsOf(() => selectP1Transform({ ...sa, proposals: [{ ...sa.proposals[0], transforms: sa.proposals[0].transforms.slice(0, 4) }] }, [AES_SHA256_PSK_14]));
    assert.deepEqual(reasons.map((r) => r.transform), [1, 2, 3, 4]);
    assert.match(reasons[0].reason, /encryption algorithm CAST_CBC not supported/);
    assert.match(reasons[1].reason, /group 3 not supported/);
    assert.match(reasons[2].reason, /PRF/);
    assert.match(reasons[3].reason, /KEY_IKE/);
  });

  it('refuses more than one proposal with BAD-PROPOSAL-SYNTAX', () => {
    const sa = buildP1SaPayload([AES_SHA256_PSK_14]);
    const two = { ...sa, proposals: [sa.proposals[0], { ...sa.proposals[0], number: 2 }] };
    assert.throws(() => selectP1Transform(two, [AES_SHA256_PSK_14]), (e: unknown) => OakleyError.is(e, ProposalErr.BAD_PROPOSAL_SYNTAX));
  });

  it('acceptP1Reply refuses a transform that was altered or lengthened, naming the difference', () => {
    const sa = buildP1SaPayload([AES_SHA256_PSK_14]);
    const t = sa.proposals[0].transforms[0];
    const withAttrs = (attributes: typeof t.attributes) => ({ ...sa, proposals: [{ ...sa.proposals[0], transforms: [{ ...t, attributes }] }] });
    const longer = withAttrs(t.attributes.map((a) => a.type === IkeAttr.LIFE_DURATION ? { ...a, value: 7200 } : a));
    assert.throws(() => acceptP1Reply(sa, longer), (e: unknown) => OakleyError.is(e, ProposalErr.BAD_REPLY) && /longer than the offered 3600/.test(e.message));
    const otherHash = withAttrs(t.attributes.map((a) => a.type === IkeAttr.HASH_ALGORITHM ? { ...a, value: 2 } : a));
    assert.throws(() => acceptP1Reply(sa, otherHash), (e: unknown) => OakleyError.is(e, ProposalErr.BAD_REPLY) && /attribute 2 is 2, offered 4/.test(e.message));
    const dropped = withAttrs(t.attributes.filter((a) => a.type !== IkeAttr.GROUP_DESCRIPTION));
    assert.throws(() => acceptP1Reply(sa, dropped), (e: unknown) => OakleyError.is(e, ProposalErr.BAD_REPLY) && /missing/.test(e.message));
  });

  it('acceptP1Reply takes the attributes in any order and a shortened lifetime (strongSwan re-encodes its choice)', () => {
    const sa = buildP1SaPayload([AES_SHA256_PSK_14]);
    const t = sa.proposals[0].transforms[0];
    // Reverse, but keep each life type immediately before its duration.
    const pairs: (typeof t.attributes)[] = [];
    for (let i = 0; i < t.attributes.length; i++) {
      pairs.push(t.attributes[i]!.type === IkeAttr.LIFE_TYPE ? [t.attributes[i]!, t.attributes[++i]!] : [t.attributes[i]!]);
    }
    const reordered = pairs.reverse().flat().map((a) => a.type === IkeAttr.LIFE_DURATION ? { ...a, value: 600 } : a);
    assert.notDeepEqual(reordered.map((a) => a.type), t.attributes.map((a) => a.type));
    const neg = acceptP1Reply(sa, roundTrip({ ...sa, proposals: [{ ...sa.proposals[0], transforms: [{ ...t, attributes: reordered }] }] }));
    assert.equal(neg.lifetimeSeconds, 600);
    assert.equal(neg.hash, 'sha256');
  });
});

describe('Phase 2 proposals', () => {
  const SPI_I = Buffer.from('11111111', 'hex');
  const SPI_R = Buffer.from('22222222', 'hex');
  const policy: P2Policy = {
    esp: [{ encr: 'aes-gcm' }, { encr: 'aes', keyLengths: { min: 128, max: 256 }, auth: 'hmac-sha256' }, { encr: '3des', auth: 'hmac-sha1' }],
    pfsGroup: 14,
    lifetimeSeconds: 28800,
    lifetimeKilobytes: 29491200,
    mode: 'tunnel',
  };

  it('builds one ESP proposal per alternative with the Solaris attributes', () => {
    const sa = buildP2SaPayload(policy, { spi: SPI_I, natT: 'rfc3947' });
    assert.deepEqual(sa.proposals.map((p) => [p.number, p.protocol, p.transforms.length]), [[1, 3, 3], [2, 3, 3], [3, 3, 1]]);
    const gcm = sa.proposals[0].transforms[0];
    assert.equal(gcm.id, EspTransform.AES_GCM_16);
    assert.equal(attr(gcm, IpsecAttr.AUTHENTICATION_ALGORITHM), undefined);
    assert.equal(attr(gcm, IpsecAttr.GROUP_DESCRIPTION), 14);
    assert.equal(attr(gcm, IpsecAttr.ENCAPSULATION_MODE), EncapsulationMode.UDP_ENCAPSULATED_TUNNEL);
    assert.deepEqual(gcm.attributes.filter((a) => a.type === IpsecAttr.SA_LIFE_DURATION).map((a) => a.value), [28800, 29491200]);
    assert.equal(attr(sa.proposals[2].transforms[0], IpsecAttr.KEY_LENGTH), undefined);
    assert.throws(() => buildP2SaPayload({ ...policy, esp: [{ encr: 'aes-gcm', auth: 'hmac-sha1' }] }, { spi: SPI_I }), /GCM/);
  });

  it('selects the first matching bundle/transform and echoes it with the responder SPI (wire round trip)', () => {
    const offer = roundTrip(buildP2SaPayload(policy, { spi: SPI_I }));
    const own: P2Policy = { ...policy, esp: [{ encr: 'aes', keyLengths: { min: 128, max: 192 }, auth: 'hmac-sha256' }] };
    const sel = selectP2Proposal(offer, own, { spi: SPI_R });
    assert.equal(sel.negotiated.proposalNumber, 2);
    assert.equal(sel.negotiated.transformNumber, 2);
    assert.equal(sel.negotiated.keyLength, 192);
    assert.equal(sel.negotiated.pfsGroup, 14);
    assert.deepEqual(sel.peerSpi, SPI_I);
    assert.deepEqual(sel.reply.proposals[0].spi, SPI_R);
    assert.equal(sel.responderLifetime, undefined);
    const back = acceptP2Reply(offer, roundTrip(sel.reply));
    assert.deepEqual(back.peerSpi, SPI_R);
    assert.deepEqual(back.negotiated, sel.negotiated);
  });

  it('lowers lifetimes and says so in RESPONDER-LIFETIME', () => {
    const offer = buildP2SaPayload({ ...policy, lifetimeKilobytes: 0 }, { spi: SPI_I });
    const sel = selectP2Proposal(offer, { ...policy, lifetimeSeconds: 3600, lifetimeKilobytes: 100000 }, { spi: SPI_R });
    assert.equal(sel.negotiated.lifetimeSeconds, 3600);
    assert.equal(sel.negotiated.lifetimeKilobytes, 100000);
    assert.deepEqual(sel.responderLifetime, { seconds: 3600, kilobytes: 100000 });
    const n = buildResponderLifetimeNotify({ protocol: ProtocolId.IPSEC_ESP, spi: SPI_I, ...sel.responderLifetime });
    assert.equal(n.notifyType, NotifyType.RESPONDER_LIFETIME);
    assert.deepEqual(decodeResponderLifetime(n), { protocol: 3, spi: SPI_I, seconds: 3600, kilobytes: 100000 });
    assert.throws(() => decodeResponderLifetime({ ...n, data: n.data.subarray(0, 5) }), (e: unknown) => OakleyError.is(e, ProposalErr.MALFORMED_NOTIFY));
  });

  it('large lifetimes survive the notify (TLV durations)', () => {
    const n = buildResponderLifetimeNotify({ protocol: 3, spi: SPI_I, kilobytes: 536870912 });
    assert.equal(decodeResponderLifetime(n).kilobytes, 536870912);
  });

  const refusals: { name: string; own: Partial<P2Policy>; natT?: boolean; offerNatT?: boolean; match: RegExp }[] = [
    { name: 'mode mismatch', own: { mode: 'transport' }, match: /mode tunnel != transport/ },
    { name: 'PFS group mismatch', own: { pfsGroup: 19 }, match: /PFS group 14 != 19/ },
    { name: 'NAT detected but plain tunnel offered', own: {}, natT: true, match: /not UDP-encapsulated/ },
    { name: 'UDP encapsulation without NAT', own: {}, offerNatT: true, match: /without NAT-T/ },
    { name: 'no algorithm in common', own: { esp: [{ encr: 'aes', auth: 'hmac-sha512' }] }, match: /no local match/ },
  ];
  for (const r of refusals) {
    it(`refuses: ${r.name}`, () => {
      const offer = buildP2SaPayload(policy, { spi: SPI_I, natT: r.offerNatT ? 'rfc3947' : false });
      const reasons = reasonsOf(() => selectP2Proposal(offer, { ...policy, ...r.own }, { spi: SPI_R, natT: r.natT ?? false }));
      assert.equal(reasons.length, 7);
      assert.ok(reasons.every((x) => r.match.test(x.reason)), JSON.stringify(reasons));
    });
  }

  it('respects proposal-number bundles: AH+ESP is refused as a whole, a later ESP-only one is taken', () => {
    const esp = buildP2SaPayload({ ...policy, esp: [policy.esp[2]] }, { spi: SPI_I }).proposals[0];
    const ah = { number: 1, protocol: ProtocolId.IPSEC_AH, spi: SPI_I, transforms: [{ number: 1, id: 3, attributes: [] }] };
    const sa: SaPayload = { type: 1, doi: 1, situation: 1, situationData: Buffer.alloc(0), proposals: [ah, esp, { ...esp, number: 2 }] };
    const sel = selectP2Proposal(sa, policy, { spi: SPI_R });
    assert.equal(sel.negotiated.proposalNumber, 2);
    assert.equal(sel.negotiated.encr, '3des');
    const reasons = reasonsOf(() => selectP2Proposal({ ...sa, proposals: [ah, esp] }, policy, { spi: SPI_R }));
    assert.deepEqual(reasons, [{ proposal: 1, reason: 'bundle IPSEC_AH+IPSEC_ESP not supported (ESP alone only)' }]);
  });

  it('accepts PFS the policy did not ask for unless told otherwise', () => {
    const offer = buildP2SaPayload(policy, { spi: SPI_I });
    assert.equal(selectP2Proposal(offer, { ...policy, pfsGroup: undefined }, { spi: SPI_R }).negotiated.pfsGroup, 14);
    reasonsOf(() => selectP2Proposal(offer, { ...policy, pfsGroup: undefined }, { spi: SPI_R, acceptUnrequestedPfs: false }));
  });
});
