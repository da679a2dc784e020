/**
 * CKR_* return values to OakleyError. pkcs11js throws Pkcs11Error {code, message 'CKR_X:nn'} from
 * most methods but a plain Error('CKR_X:nn') from C_CreateObject, C_SetAttributeValue and
 * C_CopyObject (pkcs11-softhsm.md §8, STYLE PK-3), and NativeError for module-level failures
 * (library not loaded). Both shapes are normalised here, once.
 *
 * Messages never contain the PIN: nothing here formats caller data other than the operation
 * name and the CKR name.
 */
import { CryptoErr, OakleyError } from '../../util/errors';

const CKR_RE = /(CKR_[A-Z0-9_]+)(?::(\d+))?/;

/** CKR name and numeric value of a pkcs11js error, or undefined for other errors. */
export function ckrOf(e: unknown): { name: string; code?: number } | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const msg = String((e as { message?: unknown }).message ?? '');
  const m = CKR_RE.exec(msg);
  if (!m) return undefined;
  const code = typeof (e as { code?: unknown }).code === 'number' ? (e as { code: number }).code : (m[2] ? Number(m[2]) : undefined);
  return { name: m[1], code };
}

export function isCkr(e: unknown, ...names: string[]): boolean {
  const c = ckrOf(e);
  return c !== undefined && names.includes(c.name);
}

const NO_TOKEN_CKRS = new Set([
  'CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_RECOGNIZED', 'CKR_SLOT_ID_INVALID', 'CKR_DEVICE_ERROR',
]);
const PIN_CKRS = new Set(['CKR_PIN_INCORRECT', 'CKR_PIN_INVALID', 'CKR_PIN_LEN_RANGE', 'CKR_PIN_LOCKED', 'CKR_PIN_EXPIRED']);
const MECH_CKRS = new Set(['CKR_MECHANISM_INVALID', 'CKR_KEY_INDIGESTIBLE']);
const OBJECT_CKRS = new Set(['CKR_OBJECT_HANDLE_INVALID', 'CKR_KEY_HANDLE_INVALID', 'CKR_TEMPLATE_INCOMPLETE',
  'CKR_TEMPLATE_INCONSISTENT', 'CKR_ATTRIBUTE_VALUE_INVALID', 'CKR_ATTRIBUTE_TYPE_INVALID', 'CKR_KEY_TYPE_INCONSISTENT',
  'CKR_KEY_FUNCTION_NOT_PERMITTED', 'CKR_KEY_SIZE_RANGE', 'CKR_ATTRIBUTE_SENSITIVE']);

/**
 * Wraps any error thrown by a pkcs11js call into an OakleyError. An OakleyError passes through
 * unchanged. `what` names the operation ("C_Login", "DH derive group 14" ...).
 */
export function tokenError(e: unknown, what: string, extra?: Record<string, unknown>): OakleyError {
  if (OakleyError.is(e)) return e;
  const ckr = ckrOf(e);
  if (!ckr) {
    const msg = e instanceof Error ? e.message : String(e);
    return new OakleyError(CryptoErr.TOKEN, `${what}: ${msg}`, { ...extra }, { cause: e });
  }
  const detail = { ckr: ckr.name, ckrCode: ckr.code, ...extra };
  let code: string = CryptoErr.TOKEN;
  let hint = '';
  if (PIN_CKRS.has(ckr.name)) { code = CryptoErr.TOKEN_PIN; hint = ' (wrong or unusable user PIN)'; }
  else if (NO_TOKEN_CKRS.has(ckr.name)) { code = CryptoErr.NO_TOKEN; hint = ' (token missing or removed)'; }
  else if (MECH_CKRS.has(ckr.name)) { code = CryptoErr.TOKEN_MECHANISM; hint = ' (mechanism not supported by the token)'; }
  else if (OBJECT_CKRS.has(ckr.name)) { code = CryptoErr.TOKEN_OBJECT; }
  else if (ckr.name === 'CKR_GENERAL_ERROR') hint = ' (SoftHSM reports most input and storage failures this way; details go to syslog only)';
  return new OakleyError(code, `${what} failed: ${ckr.name}${hint}`, detail, { cause: e });
}
