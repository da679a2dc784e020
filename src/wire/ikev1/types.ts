/**
 * The decoded form of ISAKMP messages (RFC 2408 §3, IPsec DOI RFC 2407 §4.6, NAT-T RFC 3947).
 * Codecs (src/wire/ikev1/*) turn datagrams into these objects and back; exchanges (src/exchange)
 * only ever see these objects. Byte fields are copies, never views into the datagram, so they may
 * outlive it.
 */

/** RFC 2408 §3.1 Next Payload values, plus RFC 3947 NAT-D/NAT-OA (and their draft numbers). */
export const PayloadType = {
  NONE: 0,
  SA: 1,
  P: 2, // Proposal: only inside SA
  T: 3, // Transform: only inside Proposal
  KE: 4,
  ID: 5,
  CERT: 6,
  CR: 7,
  HASH: 8,
  SIG: 9,
  NONCE: 10,
  N: 11,
  D: 12,
  VID: 13,
  NAT_D: 20, // RFC 3947
  NAT_OA: 21, // RFC 3947
  NAT_D_DRAFT: 130, // draft-ietf-ipsec-nat-t-ike-02/03, still sent by some peers
  NAT_OA_DRAFT: 131,
} as const;
export type PayloadTypeValue = typeof PayloadType[keyof typeof PayloadType];

/** RFC 2408 §3.1 Exchange Type values used by IKEv1 (RFC 2409). */
export const ExchangeType = {
  BASE: 1,
  IDENTITY_PROTECTION: 2, // Main Mode
  AUTHENTICATION_ONLY: 3,
  AGGRESSIVE: 4,
  INFORMATIONAL: 5,
  QUICK_MODE: 32, // RFC 2409 §5.5
  NEW_GROUP_MODE: 33,
} as const;

/** ISAKMP header flags (RFC 2408 §3.1). */
export const HeaderFlag = {
  ENCRYPTION: 0x01,
  COMMIT: 0x02,
  AUTHENTICATION_ONLY: 0x04,
} as const;

/** ISAKMP header, 28 octets (RFC 2408 §3.1). */
export interface IsakmpHeader {
  /** Initiator cookie, 8 octets. */
  readonly icookie: Buffer;
  /** Responder cookie, 8 octets (zero in the first message). */
  readonly rcookie: Buffer;
  /** Type of the first payload. */
  readonly nextPayload: number;
  /** Major version in the high nibble, minor in the low nibble: 0x10 for IKEv1. */
  readonly version: number;
  readonly exchangeType: number;
  readonly flags: number;
  /** Message ID, 0 in Phase 1. */
  readonly messageId: number;
  /** Total message length in octets, header included. */
  readonly length: number;
}

/**
 * A data attribute (RFC 2408 §3.3). A number is a basic (TV, AF=1) attribute when it fits 16 bits;
 * a Buffer is a variable-length (TLV, AF=0) one. Encoders write a number larger than 0xffff as a
 * minimal big-endian TLV (lifetimes may need that), and decoders return TLV values of at most 4
 * octets as numbers too when `attributeNumber` asks for them.
 */
export interface Attribute {
  readonly type: number;
  readonly value: number | Buffer;
}

/** Transform payload (RFC 2408 §3.6). */
export interface Transform {
  readonly number: number;
  readonly id: number;
  readonly attributes: readonly Attribute[];
}

/**
 * Proposal payload (RFC 2408 §3.5). Proposals that share a number form one bundle (logical AND,
 * e.g. AH + ESP); different numbers are alternatives (logical OR), in preference order.
 */
export interface Proposal {
  readonly number: number;
  /** Protocol ID: 1 PROTO_ISAKMP, 2 PROTO_IPSEC_AH, 3 PROTO_IPSEC_ESP, 4 PROTO_IPCOMP. */
  readonly protocol: number;
  readonly spi: Buffer;
  readonly transforms: readonly Transform[];
}

export interface SaPayload {
  readonly type: typeof PayloadType.SA;
  /** 1 = IPSEC_DOI (RFC 2407 §4.2). */
  readonly doi: number;
  /** Situation bitmap; for the IPsec DOI a 4-octet field, SIT_IDENTITY_ONLY = 1. */
  readonly situation: number;
  /** Labeled-domain data after the situation (SIT_SECRECY/SIT_INTEGRITY), raw. Usually empty. */
  readonly situationData: Buffer;
  readonly proposals: readonly Proposal[];
}

export interface DataPayload<T extends number> {
  readonly type: T;
  readonly data: Buffer;
}

/** Identification payload (RFC 2408 §3.8, IPsec DOI RFC 2407 §4.6.2). */
export interface IdPayload {
  readonly type: typeof PayloadType.ID;
  /** ID type (RFC 2407 §4.6.2.1): 1 IPV4_ADDR ... 11 KEY_ID. */
  readonly idType: number;
  /** IP protocol ID (0 = any). */
  readonly protocol: number;
  /** Port (0 = any). */
  readonly port: number;
  readonly data: Buffer;
}

/** Certificate payload (RFC 2408 §3.9): encoding 4 = X.509 Certificate - Signature. */
export interface CertPayload {
  readonly type: typeof PayloadType.CERT;
  readonly encoding: number;
  readonly data: Buffer;
}

/** Certificate Request payload (RFC 2408 §3.10): a certificate type and a CA's DER DN (may be empty). */
export interface CrPayload {
  readonly type: typeof PayloadType.CR;
  readonly certType: number;
  readonly authority: Buffer;
}

/** Notification payload (RFC 2408 §3.14). */
export interface NotifyPayload {
  readonly type: typeof PayloadType.N;
  readonly doi: number;
  readonly protocol: number;
  readonly spi: Buffer;
  readonly notifyType: number;
  readonly data: Buffer;
}

/** Delete payload (RFC 2408 §3.15): all SPIs have the same size. */
export interface DeletePayload {
  readonly type: typeof PayloadType.D;
  readonly doi: number;
  readonly protocol: number;
  readonly spiSize: number;
  readonly spis: readonly Buffer[];
}

/** NAT-OA (RFC 3947 §5.2): original address, ID type 1 (IPv4) or 5 (IPv6). */
export interface NatOaPayload {
  readonly type: typeof PayloadType.NAT_OA | typeof PayloadType.NAT_OA_DRAFT;
  readonly idType: number;
  readonly address: Buffer;
}

/**
 * A payload of a type this implementation does not know. RFC 2408 §5.1: the message is rejected
 * with INVALID-PAYLOAD-TYPE; the decoder keeps it so the exchange layer can say so.
 */
export interface UnknownPayload {
  readonly type: 'unknown';
  /** The Next Payload value that announced it. */
  readonly payloadType: number;
  readonly data: Buffer;
}

export type Payload =
  | SaPayload
  | DataPayload<typeof PayloadType.KE>
  | IdPayload
  | CertPayload
  | CrPayload
  | DataPayload<typeof PayloadType.HASH>
  | DataPayload<typeof PayloadType.SIG>
  | DataPayload<typeof PayloadType.NONCE>
  | NotifyPayload
  | DeletePayload
  | DataPayload<typeof PayloadType.VID>
  | DataPayload<typeof PayloadType.NAT_D>
  | DataPayload<typeof PayloadType.NAT_D_DRAFT>
  | NatOaPayload
  | UnknownPayload;

/** A whole ISAKMP message: header and payload chain (decrypted when it was encrypted). */
export interface IsakmpMessage {
  readonly header: IsakmpHeader;
  readonly payloads: readonly Payload[];
}
