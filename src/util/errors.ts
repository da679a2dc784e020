/**
 * Coded errors (STYLE A.7): every error Oakley raises on purpose carries a stable
 * `IKE_ERR_*` code so callers, logs and the control socket never parse messages.
 */
const BRAND = Symbol.for('oakley.OakleyError');

export class OakleyError extends Error {
  readonly code: string;
  /** Extra machine-readable facts (payload name, offset, case index, CKR_* name...). */
  readonly detail?: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, detail?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OakleyError';
    this.code = code;
    if (detail) this.detail = Object.freeze({ ...detail });
    (this as unknown as Record<symbol, boolean>)[BRAND] = true;
  }

  /** Brand check that survives duplicate copies of this module (UN-2). */
  static is(e: unknown, code?: string): e is OakleyError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true &&
      (code === undefined || (e as OakleyError).code === code);
  }
}

/** Error codes of the crypto layer. */
export const CryptoErr = {
  UNKNOWN_GROUP: 'IKE_ERR_UNKNOWN_GROUP',
  INVALID_KE: 'IKE_ERR_INVALID_KE_VALUE',
  UNSUPPORTED: 'IKE_ERR_UNSUPPORTED',
  BAD_ARGUMENT: 'IKE_ERR_BAD_ARGUMENT',
  BAD_KEY: 'IKE_ERR_BAD_KEY',
  SIGNATURE: 'IKE_ERR_SIGNATURE',
  NATIVE: 'IKE_ERR_NATIVE',
  NATIVE_UNAVAILABLE: 'IKE_ERR_NATIVE_UNAVAILABLE',
  /** The addon's own bounds check refused an argument (TypeError/RangeError raised in C++). */
  NATIVE_BAD_ARG: 'IKE_ERR_NATIVE_BAD_ARG',
  TOKEN: 'IKE_ERR_TOKEN',
  TOKEN_PIN: 'IKE_ERR_TOKEN_PIN',
  NO_TOKEN: 'IKE_ERR_NO_TOKEN',
  TOKEN_MECHANISM: 'IKE_ERR_TOKEN_MECHANISM',
  TOKEN_OBJECT: 'IKE_ERR_TOKEN_OBJECT',
  SECRET_ON_TOKEN: 'IKE_ERR_SECRET_ON_TOKEN',
  CONFIG: 'IKE_ERR_CONFIG',
  VECTOR: 'IKE_ERR_VECTOR',
} as const;
export type CryptoErrCode = typeof CryptoErr[keyof typeof CryptoErr];
