/** /etc/inet/ike/config grammar (ike.config(5) after Solaris): parseIkeConfig, and crypto-config. */
import { parseCryptoConfig } from '../../../../src/policy/crypto-config';
import { parseIkeConfig } from '../../../../src/policy/ike-config';
import { target, text, typed } from '../common';

export const fuzz = target((data) => {
  const t = text(data);
  typed('parseIkeConfig', () => parseIkeConfig(t, 'fuzz/config'));
  if (data.length && data[0]! & 1) typed('parseCryptoConfig', () => parseCryptoConfig(t, 'fuzz/crypto'));
});
