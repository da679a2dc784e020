/**
 * Canonical serialization of ike/config rules, as `ikeadm write rule` writes them
 * (solaris-ike.md §1.8): rules only, one tab between keyword and value, prefixes written as
 * ranges, AES key ranges lost (only `aes-cbc`), `p1_mode` only when not "any", normalised
 * lifetimes. Parsing the output gives the same rules again (round trip, except AES ranges).
 */
import { formatRange } from './addresses';
import type { IkeRule, P1Xform } from './ike-config';

const ENCR_NAME = { aes: 'aes-cbc', '3des': '3des-cbc', des: 'des-cbc', blowfish: 'blowfish-cbc' } as const;

/** A quoted string with `\` and `"` escaped (the lexer's rule, §1.1). */
function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function xform(x: P1Xform): string {
  return `p1_xform { encr_alg ${ENCR_NAME[x.encr]} auth_alg ${x.hash} oakley_group ${x.group} auth_method ${x.auth} p1_lifetime_secs ${x.lifetimeSecs} }`;
}

export function serializeRule(r: IkeRule): string {
  const out = ['{', `\tlabel\t${quote(r.label)}`, `\tlocal_id_type\t${r.localIdType}`];
  if (r.p1Mode !== 'any') out.push(`\tp1_mode\t${r.p1Mode}`);
  for (const a of r.localAddrs) out.push(`\tlocal_addr\t${formatRange(a)}`);
  for (const a of r.remoteAddrs) out.push(`\tremote_addr\t${formatRange(a)}`);
  if (!r.preshared) {
    for (const s of r.localId.includes) out.push(`\tlocal_id\t${quote(s)}`);
    for (const s of r.localId.excludes) out.push(`\tlocal_id\t${quote(`!${s}`)}`);
    for (const s of r.remoteId.includes) out.push(`\tremote_id\t${quote(s)}`);
    for (const s of r.remoteId.excludes) out.push(`\tremote_id\t${quote(`!${s}`)}`);
  }
  out.push(
    `\tp2_lifetime_secs\t${r.p2.hardSecs}`,
    `\tp2_softlife_secs\t${r.p2.softSecs}`,
    `\tp2_idletime_secs\t${r.p2.idleSecs}`,
    `\tp2_lifetime_kb\t${r.p2.hardKb}`,
    `\tp2_softlife_kb\t${r.p2.softKb}`,
    `\tp2_pfs\t${r.pfsGroup}`,
  );
  if (r.aggressiveResponder) out.push('\taggressive_responder\tyes'); // Oakley extension
  for (const x of r.xforms) out.push(`\t${xform(x)}`);
  out.push('}');
  return out.join('\n') + '\n';
}

/** All rules, in order, each as in serializeRule. */
export function serializeRules(rules: readonly IkeRule[]): string {
  return rules.map(serializeRule).join('');
}
