/**
 * PKCS#11 hint files (solaris-ike.md §4.5): what ROOT/secret/ike.privatekeys/<slot> holds instead
 * of a key when the key lives on a token. Exactly four newline-terminated text lines:
 *
 *   1. the token label, space-padded to 32 characters (CK_TOKEN_INFO.label is 32 bytes);
 *   2. the user PIN (ikecert -p), or an empty line (then `ikeadm token login` unlocks it);
 *   3. the object identifier: the CKA_LABEL of the key objects, which ikecert sets to the
 *      certificate's subject DN as Solaris does; Oakley also accepts an RFC 7512 URI here
 *      (`pkcs11:object=…;id=%..`), which may name the CKA_ID as well;
 *   4. the key type: rsa-sha1, rsa-md5 or rsa-sha256 (dsa-sha1 is Solaris-only: Oakley has no DSA).
 *
 * A file starting with 0x30 (DER SEQUENCE) or "-----BEGIN" is a key, not a hint. Hint files are
 * created 0600 like keys, since line 2 may hold a PIN.
 */
import { OakleyError } from '../../util/errors';
import { isPkcs11Uri, parsePkcs11Uri } from './pkcs11-uri';

export const HINT_ERR = 'IKE_ERR_HINT_FILE';
export const KEY_TYPES = ['rsa-sha1', 'rsa-md5', 'rsa-sha256'] as const;
export type KeyType = typeof KEY_TYPES[number];
/** CK_TOKEN_INFO.label is 32 bytes, blank-padded (PKCS#11 v2.40 §3.2). */
export const TOKEN_LABEL_LENGTH = 32;

export interface HintFile {
  /** Token label without its padding. */
  readonly token: string;
  readonly pin?: string;
  /** Line 3 as written: a DN (the object's CKA_LABEL) or a PKCS#11 URI. */
  readonly object: string;
  /** CKA_LABEL to look for (line 3, or the URI's object=). */
  readonly label?: string;
  /** CKA_ID from a URI's id=. */
  readonly id?: Buffer;
  readonly keyType: KeyType;
}

export const padLabel = (label: string): string => label.padEnd(TOKEN_LABEL_LENGTH, ' ');

/** True when `raw` looks like a hint file rather than a DER or PEM key/certificate. */
export function looksLikeHint(raw: Buffer): boolean {
  if (raw.length === 0 || raw[0] === 0x30) return false;
  if (raw.subarray(0, 200).toString('latin1').includes('-----BEGIN')) return false;
  return raw.toString('latin1').split('\n').length >= 4;
}

/**
 * Parses a hint file.
 * @throws OakleyError IKE_ERR_HINT_FILE naming the line at fault (never echoing line 2, the PIN)
 */
export function parseHintFile(raw: Buffer): HintFile {
  const text = raw.toString('utf8');
  if (!text.endsWith('\n')) throw new OakleyError(HINT_ERR, 'a PKCS#11 hint file must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length !== 4) throw new OakleyError(HINT_ERR, `a PKCS#11 hint file has exactly 4 lines, this one has ${lines.length}`);
  const [tokenLine, pin, object, keyType] = lines as [string, string, string, string];
  const token = tokenLine.trimEnd();
  if (token === '') throw new OakleyError(HINT_ERR, 'line 1 (the token label) is empty');
  if (Buffer.byteLength(token) > TOKEN_LABEL_LENGTH) throw new OakleyError(HINT_ERR, `line 1: token label longer than ${TOKEN_LABEL_LENGTH} bytes`);
  if (object === '') throw new OakleyError(HINT_ERR, 'line 3 (the object identifier) is empty');
  if (!(KEY_TYPES as readonly string[]).includes(keyType)) {
    throw new OakleyError(HINT_ERR, `line 4: key type "${keyType}" is not one of ${KEY_TYPES.join(', ')}`);
  }
  let label: string | undefined = object;
  let id: Buffer | undefined;
  if (isPkcs11Uri(object)) {
    const u = parsePkcs11Uri(object);
    if (u.token !== undefined && u.token.trimEnd() !== token) {
      throw new OakleyError(HINT_ERR, `line 3 names token "${u.token}" but line 1 names "${token}"`);
    }
    label = u.object;
    id = u.id;
    if (label === undefined && id === undefined) throw new OakleyError(HINT_ERR, 'line 3: the PKCS#11 URI names neither object= nor id=');
  }
  return { token, ...(pin !== '' ? { pin } : {}), object, ...(label !== undefined ? { label } : {}), ...(id ? { id } : {}), keyType: keyType as KeyType };
}

/** The text of a hint file. */
export function formatHintFile(h: { token: string; pin?: string; object: string; keyType: KeyType }): string {
  if (/[\n]/.test(h.object) || /[\n]/.test(h.pin ?? '')) throw new OakleyError(HINT_ERR, 'hint file fields cannot contain newlines');
  return `${padLabel(h.token)}\n${h.pin ?? ''}\n${h.object}\n${h.keyType}\n`;
}
