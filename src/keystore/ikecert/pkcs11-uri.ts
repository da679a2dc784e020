/**
 * RFC 7512 PKCS#11 URIs, accepted wherever ikecert (and a hint file's object line) names a token
 * object: an Oakley extension to Solaris, which names objects by token label and subject DN only.
 *
 *   pkcs11:token=ike-a;object=C%3DUS%2C%20CN%3Dgw;id=%01%02;type=private
 *
 * Path attributes (RFC 7512 §2.3) understood: token, object (CKA_LABEL), id (CKA_ID, as
 * percent-encoded bytes), type (private|public|cert), plus manufacturer/model/serial/
 * library-* which are accepted and ignored. Query attributes: pin-value is refused (a PIN is
 * never taken from a command line); module-path is ignored (the library comes from ike/config).
 */
import { OakleyError } from '../../util/errors';

export interface Pkcs11Uri {
  readonly token?: string;
  readonly object?: string;
  readonly id?: Buffer;
  readonly type?: 'private' | 'public' | 'cert';
}

export const URI_ERR = 'IKE_ERR_PKCS11_URI';

const IGNORED = new Set(['manufacturer', 'model', 'serial', 'library-manufacturer', 'library-description', 'library-version', 'slot-id',
  'slot-description', 'slot-manufacturer']);

/** Percent-decodes to bytes (RFC 3986 §2.1); anything else than %XX is taken as UTF-8 text. */
function pctBytes(s: string, what: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new OakleyError(URI_ERR, `bad percent-encoding "%${hex}" in the ${what} of a PKCS#11 URI`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(s[i]!, 'utf8'));
    }
  }
  return Buffer.from(out);
}

export const isPkcs11Uri = (s: string): boolean => /^pkcs11:/i.test(s);

/**
 * Parses a PKCS#11 URI.
 * @throws OakleyError IKE_ERR_PKCS11_URI naming the attribute at fault
 */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (!isPkcs11Uri(text)) throw new OakleyError(URI_ERR, `"${text}" is not a PKCS#11 URI (it must start with "pkcs11:")`);
  const [path = '', query] = text.slice('pkcs11:'.length).split('?', 2);
  const out: { token?: string; object?: string; id?: Buffer; type?: Pkcs11Uri['type'] } = {};
  for (const part of path.split(';').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new OakleyError(URI_ERR, `PKCS#11 URI attribute "${part}" has no value`);
    const name = part.slice(0, eq).toLowerCase();
    const value = part.slice(eq + 1);
    switch (name) {
      case 'token': out.token = pctBytes(value, 'token').toString('utf8'); break;
      case 'object': out.object = pctBytes(value, 'object').toString('utf8'); break;
      case 'id': out.id = pctBytes(value, 'id'); break;
      case 'type':
        if (!['private', 'public', 'cert'].includes(value)) {
          throw new OakleyError(URI_ERR, `PKCS#11 URI type "${value}" is not supported (private, public or cert)`);
        }
        out.type = value as Pkcs11Uri['type'];
        break;
      default:
        if (!IGNORED.has(name)) throw new OakleyError(URI_ERR, `unknown PKCS#11 URI attribute "${name}"`);
    }
  }
  for (const part of (query ?? '').split('&').filter(Boolean)) {
    const name = part.split('=', 1)[0]!.toLowerCase();
    if (name === 'pin-value' || name === 'pin-source') {
      throw new OakleyError(URI_ERR, `PKCS#11 URI attribute "${name}" is refused: PINs are prompted for, never taken from a command line`);
    }
  }
  return out;
}

const enc = (b: Buffer): string => [...b].map((x) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(x)) ? String.fromCharCode(x)
  : `%${x.toString(16).padStart(2, '0').toUpperCase()}`)).join('');

/** The URI of a token object (for listings). */
export function formatPkcs11Uri(u: Pkcs11Uri): string {
  const parts: string[] = [];
  if (u.token !== undefined) parts.push(`token=${enc(Buffer.from(u.token.trimEnd(), 'utf8'))}`);
  if (u.object !== undefined) parts.push(`object=${enc(Buffer.from(u.object, 'utf8'))}`);
  if (u.id !== undefined) parts.push(`id=${[...u.id].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')}`);
  if (u.type !== undefined) parts.push(`type=${u.type}`);
  return `pkcs11:${parts.join(';')}`;
}
