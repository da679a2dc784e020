/** The pkcs11 crypto path (PKCS#11 token through pkcs11js). */
export { openPkcs11Backend, Pkcs11Backend, type Pkcs11BackendOptions } from './backend';
export { createSoftHsmToken, findSoftHsmModule, type SoftHsmToken, type SoftHsmTokenOptions } from './softhsm';
export { ckrOf, tokenError } from './errors';
export type { TokenRsaKeyPairOptions } from './rsa';
