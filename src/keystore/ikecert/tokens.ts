/**
 * `ikecert tokens` (= `certlocal -X`, solaris-ike.md §4.1): the slots and tokens of the PKCS#11
 * library named by ike/config's pkcs11_path (or --pkcs11-module, or the SoftHSM2 default).
 *
 *   Available tokens with library "/usr/lib/softhsm/libsofthsm2.so":
 *
 *   "ike-a                           "   slot 1396100411, SoftHSM v2, serial 5336cd3b..., login required
 *   (slot 2: uninitialized token)
 *
 *   Note: Trailing spaces in token names are filled in automatically.
 */
import { padLabel } from './hint-file';
import type { IkecertContext } from './context';
import { listTokens } from './token-store';

export async function runTokens(ctx: IkecertContext): Promise<void> {
  const module = ctx.module();
  const slots = listTokens(module);
  const L = [`Available tokens with library "${module}":`, ''];
  for (const s of slots) {
    if (!s.token) L.push(`(slot ${s.slot}: no token present${s.description ? `; ${s.description}` : ''})`);
    else if (!s.token.initialized) L.push(`(slot ${s.slot}: uninitialized token)`);
    else {
      L.push(`"${padLabel(s.token.label)}"   slot ${s.slot}, ${s.token.model || s.token.manufacturer}, serial ${s.token.serial}` +
        `${s.token.loginRequired ? ', login required' : ''}`);
    }
  }
  if (slots.every((s) => !s.token?.initialized)) L.push('(no initialized tokens)');
  L.push('', 'Note: Trailing spaces in token names are filled in automatically.', '');
  ctx.io.out(L.join('\n'));
}
