/** /etc/inet/secret/ike.preshared grammar: parsePreshared and the lookup built from it. */
import { parsePreshared, presharedLookup } from '../../../../src/policy/preshared';
import { target, text, typed } from '../common';

export const fuzz = target((data) => {
  const entries = typed('parsePreshared', () => parsePreshared(text(data), 'fuzz/ike.preshared'));
  if (entries) {
    const lookup = presharedLookup(entries);
    typed('presharedLookup', () => lookup({ address: '192.0.2.1', port: 500 }, { address: '192.0.2.2', port: 500 }));
  }
});
