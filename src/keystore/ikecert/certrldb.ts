/**
 * `ikecert certrldb` (solaris-ike.md §4.4): CRLs in ROOT/ike/crls, stored as DER, mode 0644
 * (in.iked's crl-store.ts reads PEM or DER).
 *
 *   -l [-v] [PATTERN…]   each CRL with the certificates whose issuer it covers
 *   -a [-i FILE]         PEM or BER/DER in
 *   -e [-f pem|ber] [-o FILE] PATTERN…
 *   -r PATTERN…
 * PATTERN: ISSUER=DN, SLOT=n (or a bare slot number) or a bare issuer DN; several patterns must
 * all match (AND, unlike certspecs).
 */
import fs from 'node:fs';

import { OakleyError } from '../../util/errors';
import { dnKey, loadCertificates, loadCrls, parseCrl, type CrlEntry } from './catalog';
import type { IkecertContext } from './context';
import { USAGE_ERR } from './options';
import { removeSlot, writeNewSlot } from './store';
import { renderDn } from '../cert-names';

function matches(c: CrlEntry, pattern: string): boolean {
  const slot = /^(?:SLOT=)?(\d+)$/.exec(pattern)?.[1];
  if (slot !== undefined) return c.slot === slot;
  return dnKey(pattern.replace(/^ISSUER=/, '')) === dnKey(c.issuer);
}

const select = (crls: readonly CrlEntry[], patterns: readonly string[]): CrlEntry[] => crls.filter((c) => patterns.every((p) => matches(c, p)));

function first(ctx: IkecertContext, what: string): CrlEntry {
  if (ctx.args.positional.length === 0) throw new OakleyError(USAGE_ERR, `${what} needs a pattern (ISSUER=DN or SLOT=n)`);
  const [c] = select(loadCrls(ctx.dirs, () => undefined), ctx.args.positional);
  if (!c) throw new OakleyError('IKE_ERR_NOT_FOUND', `no CRL in ${ctx.dirs.crls} matches ${ctx.args.positional.map((s) => `"${s}"`).join(' ')}`);
  return c;
}

function list(ctx: IkecertContext): void {
  const crls = select(loadCrls(ctx.dirs, (m) => ctx.io.note(`warning: ${m}`)), ctx.args.positional);
  const certs = loadCertificates(ctx.dirs, () => undefined, ctx.tokenCertificates);
  const L: string[] = [];
  for (const c of crls) {
    L.push(`Certificate Revocation List Slot Name: ${c.slot}`, `\tIssuer Name: <${c.issuer}>`);
    L.push(`\tThis Update: ${c.crl.thisUpdate.toUTCString()}`, `\tNext Update: ${c.crl.nextUpdate ? c.crl.nextUpdate.toUTCString() : '(none)'}`);
    L.push(`\tRevoked certificates: ${c.crl.entries.length}`);
    if (ctx.flag('v')) for (const e of c.crl.entries) L.push(`\t\tSerial ${e.serialNumber.toUpperCase()} revoked ${e.revocationDate.toUTCString()}`);
    for (const cert of certs.filter((x) => dnKey(x.issuer) === dnKey(c.issuer))) {
      const revoked = c.crl.entries.some((e) => e.serialNumber.toUpperCase().replace(/^0+/, '') === cert.cert.serialNumber.toUpperCase().replace(/^0+/, ''));
      L.push(`\t(Covers certificate slot ${cert.slot}: <${cert.subject}>${revoked ? ' REVOKED' : ''})`);
    }
    L.push('');
  }
  if (crls.length === 0 && ctx.args.positional.length) throw new OakleyError('IKE_ERR_NOT_FOUND', `no CRL matches ${ctx.args.positional.join(' ')}`);
  ctx.io.out(L.join('\n'));
}

async function add(ctx: IkecertContext): Promise<void> {
  const crl = parseCrl(await ctx.input.data(ctx.value('i')));
  const der = Buffer.from(crl.rawData);
  const dup = loadCrls(ctx.dirs, () => undefined).find((c) => c.der.equals(der));
  if (dup) throw new OakleyError('IKE_ERR_DUPLICATE', `this CRL is already in certrldb slot ${dup.slot}`);
  const slot = writeNewSlot(ctx.dirs.crls, der, 0o644, false);
  ctx.io.note(`CRL added to database (certrldb slot ${slot}, issuer ${renderDn(Buffer.from(crl.issuerName.toArrayBuffer()))}).`);
}

function exportCrl(ctx: IkecertContext): void {
  const c = first(ctx, '-e');
  const f = ctx.value('f') ?? 'pem';
  let data: string | Buffer;
  if (f === 'pem') data = `${c.crl.toString('pem')}\n`;
  else if (f === 'ber' || f === 'der') data = c.der;
  else throw new OakleyError(USAGE_ERR, `-f ${f}: use pem or ber`);
  const o = ctx.value('o');
  if (o !== undefined) fs.writeFileSync(o, data, { mode: 0o644 });
  else ctx.io.out(data);
}

export async function runCertrldb(ctx: IkecertContext): Promise<void> {
  const ops = ['l', 'a', 'e', 'r'].filter((c) => ctx.flag(c));
  if (ops.length !== 1) throw new OakleyError(USAGE_ERR, ops.length ? `conflicting operations: ${ops.map((o) => `-${o}`).join(' ')}` : 'no operation given (one of -l, -a, -e, -r)');
  switch (ops[0]) {
    case 'l': return list(ctx);
    case 'a': return add(ctx);
    case 'e': return exportCrl(ctx);
    case 'r': {
      const c = first(ctx, '-r');
      removeSlot(ctx.dirs.crls, c.slot);
      ctx.io.note(`Removed CRL in certrldb slot ${c.slot} (${c.issuer}).`);
    }
  }
}
