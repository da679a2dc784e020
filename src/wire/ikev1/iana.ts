/**
 * IKEv1 registries as `as const` tables (STYLE A.2): RFC 2408 (ISAKMP), RFC 2407 (IPsec DOI),
 * RFC 2409 Appendix A (IKE attributes), RFC 3947/3948 (NAT-T), RFC 3706 (DPD), RFC 4106 (AES-GCM in
 * ESP), RFC 4868 (HMAC-SHA2 in IPsec). Log names are derived from these tables, never typed again.
 */

/** Protocol IDs (RFC 2407 §4.4.1). */
export const ProtocolId = {
  ISAKMP: 1,
  IPSEC_AH: 2,
  IPSEC_ESP: 3,
  IPCOMP: 4,
} as const;

/** DOI values (RFC 2407 §4.2). */
export const Doi = { ISAKMP: 0, IPSEC: 1 } as const;
/** Situation bits of the IPsec DOI (RFC 2407 §4.2). */
export const Situation = { IDENTITY_ONLY: 1, SECRECY: 2, INTEGRITY: 4 } as const;

/** Phase 1 transform ID in the ISAKMP proposal (RFC 2407 §4.4.2). */
export const IsakmpTransformId = { KEY_IKE: 1 } as const;

/** IKE (Phase 1) SA attribute classes (RFC 2409 Appendix A). B = basic, V = variable. */
export const IkeAttr = {
  ENCRYPTION_ALGORITHM: 1, // B
  HASH_ALGORITHM: 2, // B
  AUTHENTICATION_METHOD: 3, // B
  GROUP_DESCRIPTION: 4, // B
  GROUP_TYPE: 5, // B
  GROUP_PRIME: 6, // V
  GROUP_GENERATOR_ONE: 7, // V
  GROUP_GENERATOR_TWO: 8, // V
  GROUP_CURVE_A: 9, // V
  GROUP_CURVE_B: 10, // V
  LIFE_TYPE: 11, // B
  LIFE_DURATION: 12, // V
  PRF: 13, // B
  KEY_LENGTH: 14, // B
  FIELD_SIZE: 15, // B
  GROUP_ORDER: 16, // V
} as const;

/** Encryption algorithm values of IKE attribute 1 (RFC 2409 App. A; AES from RFC 3602 §5). */
export const IkeEncr = {
  DES_CBC: 1,
  IDEA_CBC: 2,
  BLOWFISH_CBC: 3,
  RC5_R16_B64_CBC: 4,
  '3DES_CBC': 5,
  CAST_CBC: 6,
  AES_CBC: 7,
  CAMELLIA_CBC: 8,
} as const;

/** Hash algorithm values of IKE attribute 2 (RFC 2409 App. A; SHA-2 values from the IANA IPsec registry). */
export const IkeHash = {
  MD5: 1,
  SHA: 2,
  TIGER: 3,
  SHA2_256: 4,
  SHA2_384: 5,
  SHA2_512: 6,
} as const;

/** Authentication method values of IKE attribute 3 (RFC 2409 App. A). */
export const IkeAuth = {
  PRE_SHARED_KEY: 1,
  DSS_SIGNATURES: 2,
  RSA_SIGNATURES: 3,
  RSA_ENCRYPTION: 4,
  RSA_REVISED_ENCRYPTION: 5,
  ECDSA_SHA256_P256: 9, // RFC 4754
  ECDSA_SHA384_P384: 10,
  ECDSA_SHA512_P521: 11,
  XAUTH_INIT_PRESHARED: 65001, // draft-ietf-ipsec-isakmp-xauth
  XAUTH_RESP_PRESHARED: 65002,
  XAUTH_INIT_RSA: 65005,
  XAUTH_RESP_RSA: 65006,
} as const;

/** Life type values (IKE attribute 11; IPsec attribute 1). */
export const LifeType = { SECONDS: 1, KILOBYTES: 2 } as const;

/** IPsec DOI SA attribute classes (RFC 2407 §4.5). */
export const IpsecAttr = {
  SA_LIFE_TYPE: 1,
  SA_LIFE_DURATION: 2,
  GROUP_DESCRIPTION: 3,
  ENCAPSULATION_MODE: 4,
  AUTHENTICATION_ALGORITHM: 5,
  KEY_LENGTH: 6,
  KEY_ROUNDS: 7,
  COMPRESS_DICTIONARY_SIZE: 8,
  COMPRESS_PRIVATE_ALGORITHM: 9,
} as const;

/**
 * Encapsulation modes (RFC 2407 §4.5; UDP-encapsulated modes RFC 3947 §5.3, and the numbers of
 * draft-ietf-ipsec-nat-t-ike-00..03 that older peers still send).
 */
export const EncapsulationMode = {
  TUNNEL: 1,
  TRANSPORT: 2,
  UDP_ENCAPSULATED_TUNNEL: 3,
  UDP_ENCAPSULATED_TRANSPORT: 4,
  UDP_TUNNEL_DRAFT: 61443,
  UDP_TRANSPORT_DRAFT: 61444,
} as const;

/** Authentication algorithm values of IPsec attribute 5 (RFC 2407 §4.5; RFC 4868 §2.4). */
export const IpsecAuth = {
  HMAC_MD5: 1,
  HMAC_SHA: 2,
  DES_MAC: 3,
  KPDK: 4,
  HMAC_SHA2_256: 5,
  HMAC_SHA2_384: 6,
  HMAC_SHA2_512: 7,
  AES_XCBC_MAC: 9,
} as const;

/** ESP transform IDs (RFC 2407 §4.4.4; AES RFC 3602; AES-GCM RFC 4106 §8.1). */
export const EspTransform = {
  DES_IV64: 1,
  DES: 2,
  '3DES': 3,
  RC5: 4,
  IDEA: 5,
  CAST: 6,
  BLOWFISH: 7,
  '3IDEA': 8,
  DES_IV32: 9,
  RC4: 10,
  NULL: 11,
  AES: 12,
  AES_CTR: 13,
  AES_CCM_8: 14,
  AES_CCM_12: 15,
  AES_CCM_16: 16,
  AES_GCM_8: 18,
  AES_GCM_12: 19,
  AES_GCM_16: 20,
} as const;

/** AH transform IDs (RFC 2407 §4.4.3; RFC 4868). */
export const AhTransform = {
  MD5: 2,
  SHA: 3,
  DES: 4,
  SHA2_256: 5,
  SHA2_384: 6,
  SHA2_512: 7,
} as const;

/** Identification types (RFC 2407 §4.6.2.1). */
export const IdType = {
  IPV4_ADDR: 1,
  FQDN: 2,
  USER_FQDN: 3,
  IPV4_ADDR_SUBNET: 4,
  IPV6_ADDR: 5,
  IPV6_ADDR_SUBNET: 6,
  IPV4_ADDR_RANGE: 7,
  IPV6_ADDR_RANGE: 8,
  DER_ASN1_DN: 9,
  DER_ASN1_GN: 10,
  KEY_ID: 11,
} as const;

/** Certificate encodings (RFC 2408 §3.9). */
export const CertEncoding = {
  PKCS7: 1,
  PGP: 2,
  DNS_SIGNED_KEY: 3,
  X509_SIGNATURE: 4,
  X509_KEY_EXCHANGE: 5,
  KERBEROS: 6,
  CRL: 7,
  ARL: 8,
  SPKI: 9,
  X509_ATTRIBUTE: 10,
} as const;

/**
 * Notify message types: errors 1-16383 (RFC 2408 §3.14.1), status 24576+ (RFC 2407 §4.6.3),
 * DPD (RFC 3706 §5).
 */
export const NotifyType = {
  INVALID_PAYLOAD_TYPE: 1,
  DOI_NOT_SUPPORTED: 2,
  SITUATION_NOT_SUPPORTED: 3,
  INVALID_COOKIE: 4,
  INVALID_MAJOR_VERSION: 5,
  INVALID_MINOR_VERSION: 6,
  INVALID_EXCHANGE_TYPE: 7,
  INVALID_FLAGS: 8,
  INVALID_MESSAGE_ID: 9,
  INVALID_PROTOCOL_ID: 10,
  INVALID_SPI: 11,
  INVALID_TRANSFORM_ID: 12,
  ATTRIBUTES_NOT_SUPPORTED: 13,
  NO_PROPOSAL_CHOSEN: 14,
  BAD_PROPOSAL_SYNTAX: 15,
  PAYLOAD_MALFORMED: 16,
  INVALID_KEY_INFORMATION: 17,
  INVALID_ID_INFORMATION: 18,
  INVALID_CERT_ENCODING: 19,
  INVALID_CERTIFICATE: 20,
  CERT_TYPE_UNSUPPORTED: 21,
  INVALID_CERT_AUTHORITY: 22,
  INVALID_HASH_INFORMATION: 23,
  AUTHENTICATION_FAILED: 24,
  INVALID_SIGNATURE: 25,
  ADDRESS_NOTIFICATION: 26,
  NOTIFY_SA_LIFETIME: 27,
  CERTIFICATE_UNAVAILABLE: 28,
  UNSUPPORTED_EXCHANGE_TYPE: 29,
  UNEQUAL_PAYLOAD_LENGTHS: 30,
  CONNECTED: 16384,
  RESPONDER_LIFETIME: 24576,
  REPLAY_STATUS: 24577,
  INITIAL_CONTACT: 24578,
  R_U_THERE: 36136,
  R_U_THERE_ACK: 36137,
} as const;

/** Vendor IDs Oakley sends or recognises (the values are MD5 hashes of the names). */
export const VendorId = {
  /** RFC 3947 NAT-T: MD5("RFC 3947"). */
  NAT_T_RFC3947: '4a131c81070358455c5728f20e95452f',
  /** draft-ietf-ipsec-nat-t-ike-02\n */
  NAT_T_DRAFT_02N: '90cb80913ebb696e086381b5ec427b1f',
  /** draft-ietf-ipsec-nat-t-ike-03 */
  NAT_T_DRAFT_03: '7d9419a65310ca6f2c179d9215529d56',
  /** RFC 3706 DPD: afcad71368a1f1c96b8696fc77570100 (the last two octets are the version 1.0). */
  DPD: 'afcad71368a1f1c96b8696fc77570100',
} as const;

/** IKE UDP ports (RFC 2408 §2.5.1, RFC 3947 §4). */
export const IkePort = { IKE: 500, NAT_T: 4500 } as const;

/** Reverse lookup: the constant's name for a value, or the number as text. For logs. */
export function nameOf(table: Readonly<Record<string, number | string>>, value: number | string): string {
  let names = reverse.get(table);
  if (!names) {
    // Built once per table: the codecs name every payload they read or write (payloadName).
    names = new Map();
    for (const [k, v] of Object.entries(table)) if (!names.has(v)) names.set(v, k);
    reverse.set(table, names);
  }
  return names.get(value) ?? String(value);
}

const reverse = new WeakMap<object, Map<number | string, string>>();
