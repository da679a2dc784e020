/** /etc/inet/ipsecinit.conf grammar (ipsecconf(8) after Solaris): parseIpsecInitFile. */
import { parseIpsecInitFile } from '../../../../src/policy/ipsecinit';
import { target, text, typed } from '../common';

export const fuzz = target((data) => {
  typed('parseIpsecInitFile', () => parseIpsecInitFile(text(data), 'fuzz/ipsecinit.conf'));
});
