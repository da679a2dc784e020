/**
 * ikecert -S / -F (solaris-ike.md §4.2): a certificate's validity window.
 *
 *  - Relative: `{+|-}` then any of `Ns Nm Nh Nd Nw NM Ny` in any order (seconds, minutes, hours,
 *    days, weeks, months, years), from now. Months and years are calendar steps with overflow,
 *    as Solaris does: Jan 31 + 1M = Mar 3 in a non-leap year (Date's setUTCMonth does exactly this).
 *  - Absolute: Solaris uses getdate(3C) and /etc/datemsk, which Linux lacks; Oakley accepts
 *    `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]`, `YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]` and
 *    `MM/DD/YYYY [HH:MM[:SS]]`, in UTC unless an offset is given (certificates hold UTC).
 *  - Defaults: start now, finish start + 4 years (1461 days). The finish must be after the start.
 */
import { OakleyError } from '../../util/errors';

export const VALIDITY_ERR = 'IKE_ERR_VALIDITY';

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

function relative(text: string, now: Date): Date | undefined {
  const m = /^([+-])((?:\d+[smhdwMy])+)$/.exec(text);
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1 : 1;
  const d = new Date(now.getTime());
  for (const [, n, unit] of m[2]!.matchAll(/(\d+)([smhdwMy])/g)) {
    const v = sign * Number(n);
    if (unit === 'M') d.setUTCMonth(d.getUTCMonth() + v);
    else if (unit === 'y') d.setUTCFullYear(d.getUTCFullYear() + v);
    else d.setTime(d.getTime() + v * UNIT_SECONDS[unit!]! * 1000);
  }
  return d;
}

function absolute(text: string): Date | undefined {
  let m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  let parts: { y: string; mo: string; d: string; h?: string; mi?: string; s?: string; zone?: string } | undefined;
  if (m) parts = { y: m[1]!, mo: m[2]!, d: m[3]!, h: m[4], mi: m[5], s: m[6], zone: m[7] };
  m = /^(\d{2})\/(\d{2})\/(\d{4})(?: (\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
  if (m) parts = { y: m[3]!, mo: m[1]!, d: m[2]!, h: m[4], mi: m[5], s: m[6] };
  if (!parts) return undefined;
  const iso = `${parts.y}-${parts.mo}-${parts.d}T${parts.h ?? '00'}:${parts.mi ?? '00'}:${parts.s ?? '00'}${parts.zone ?? 'Z'}`;
  const d = new Date(iso);
  // Date rolls 2027-02-30 over to March; a calendar date that does not exist is an error here.
  if (Number.isNaN(d.getTime()) || (parts.zone === undefined && d.toISOString().slice(0, 10) !== `${parts.y}-${parts.mo}-${parts.d}`)) {
    throw new OakleyError(VALIDITY_ERR, `"${text}" is not a valid date`);
  }
  return d;
}

/**
 * One -S/-F value.
 * @throws OakleyError IKE_ERR_VALIDITY naming the option and the accepted forms
 */
export function parseTime(option: '-S' | '-F', text: string, now: Date): Date {
  const d = relative(text, now) ?? absolute(text);
  if (!d) {
    throw new OakleyError(VALIDITY_ERR, `${option} "${text}": not a time. Use a relative time such as -1d, +2y or +1y6M, ` +
      'or a date: YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS], YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM] or MM/DD/YYYY [HH:MM[:SS]] (UTC)');
  }
  return d;
}

/** The window from -S/-F (either may be absent). */
export function validityWindow(start: string | undefined, finish: string | undefined, now = new Date()): { notBefore: Date; notAfter: Date } {
  const notBefore = start !== undefined ? parseTime('-S', start, now) : new Date(now.getTime());
  const notAfter = finish !== undefined ? parseTime('-F', finish, now) : new Date(notBefore.getTime() + 1461 * 86_400_000);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new OakleyError(VALIDITY_ERR, `Finish time must be after Start time (start ${notBefore.toISOString()}, finish ${notAfter.toISOString()}).`);
  }
  // X.509 stores whole seconds.
  notBefore.setUTCMilliseconds(0);
  notAfter.setUTCMilliseconds(0);
  return { notBefore, notAfter };
}
