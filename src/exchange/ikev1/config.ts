/**
 * What the IKEv1 engine needs to know about policy: rules (after the Solaris ike/config `{ ... }`
 * blocks, solaris-ike.md §1.5-1.7), credentials, and protocol settings. The daemon issue parses
 * files into these; tests build them directly.
 */
import type { IdValue } from '../../wire/ikev1/id';
import type { RsaPrivateKey, RsaPublicKey } from '../../crypto/types';
import type { Endpoint } from '../../net/transport';
import type { RetransmitConfig } from '../retransmit';
import type { P1Transform, P2Policy } from './proposals';
import type { TrafficSelectors } from './traffic-selectors';
import { DEFAULT_ADMISSION, type AdmissionSettings } from './admission';

/** An inclusive address range, addresses as integers (IPv4 32-bit, IPv6 128-bit). */
export interface IpRange {
  readonly v6: boolean;
  readonly start: bigint;
  readonly end: bigint;
}

/** One rule: which peers it covers and how to negotiate with them. */
export interface Ikev1Rule {
  readonly label: string;
  /** Local addresses the rule applies to (single addresses); with localRanges absent too: any. */
  readonly localAddresses?: readonly string[];
  /** Peer addresses the rule applies to (single addresses); with remoteRanges absent too: any. */
  readonly remoteAddresses?: readonly string[];
  /** Local address ranges (ike/config ranges and prefixes), inclusive. */
  readonly localRanges?: readonly IpRange[];
  /** Peer address ranges, inclusive. */
  readonly remoteRanges?: readonly IpRange[];
  /** Phase 1 exchange to initiate (p1_mode). */
  readonly mode: 'main' | 'aggressive';
  /** Phase 1 transforms in preference order (p1_xform). */
  readonly p1: readonly P1Transform[];
  /** Our identity; default: our address (ID_IPV4_ADDR / ID_IPV6_ADDR). */
  readonly localId?: IdValue;
  /** The identity the peer must show; absent = its address (preshared) or any (signatures). */
  readonly remoteId?: IdValue;
  /** Quick Mode policy (ipsecinit.conf, p2_* parameters). */
  readonly p2: P2Policy;
  /**
   * Quick Mode client identities this rule accepts as responder (`local` = our side, `remote` =
   * the peer's side; the initiator's IDci must lie in `remote`, its IDcr in `local`). Absent = only
   * the Phase 1 addresses themselves (host-to-host).
   */
  readonly p2Selectors?: readonly TrafficSelectors[];
  /**
   * Answer Aggressive Mode as responder under this rule. Off by default: with pre-shared keys the
   * responder's HASH_R lets a passive attacker run an offline dictionary attack on the key.
   */
  readonly aggressiveResponder?: boolean;
  /** The peer's IKE port when initiating under this rule (Oakley `remote_port`; default 500). */
  readonly remotePort?: number;
}

/** Keys and certificates the engine may use. */
export interface Ikev1Credentials {
  /** The pre-shared key for a peer (Main Mode: by address; Aggressive Mode: also by ID). */
  presharedKey(local: Endpoint, peer: Endpoint, peerId?: IdValue): Buffer | undefined;
  /** Our RSA signing key and certificate (DER) for rsa_sig rules. */
  rsaSigner?(rule: Ikev1Rule): Promise<{ key: RsaPrivateKey; certificate?: Buffer } | undefined>;
  /**
   * The peer's verification key: from its CERT payload (checked against trust anchors by the
   * keystore) or a configured key. Rejects when the certificate is not trusted.
   */
  rsaVerifier?(rule: Ikev1Rule, peerId: IdValue, certificates: readonly Buffer[]): Promise<RsaPublicKey | undefined>;
  /** Subject DNs (DER) of the CAs we trust, sent as the authorities of our CR payloads. */
  certificateAuthorities?(rule: Ikev1Rule): readonly Buffer[];
}

export interface Ikev1Settings {
  /** Phase 1 nonce length in octets (p1_nonce_len, Solaris default 64; RFC 2409: 8..256). */
  readonly p1NonceLength: number;
  /** Quick Mode nonce length (Solaris always sends 32). */
  readonly p2NonceLength: number;
  readonly retransmit: RetransmitConfig;
  /** expire_timer: an incomplete Phase 1 is deleted after this long (ms). */
  readonly expireMs: number;
  /** Send and honour NAT-T (RFC 3947). */
  readonly natT: boolean;
  /** DPD (RFC 3706): send R-U-THERE after this much idle time when the peer supports it; 0 = off. */
  readonly dpdIdleMs: number;
  /**
   * As Quick Mode responder, set the commit bit (RFC 2408 §4.6) and confirm QM3 with a fourth
   * message carrying CONNECTED. Off by default, as in Solaris.
   */
  readonly p2Commit: boolean;
  /** Flood bounds for new responder SAs (admission.ts). */
  readonly admission: AdmissionSettings;
  /** RFC 3948 NAT-keepalive interval when we are behind a NAT (ms; 0 = none). strongSwan's default is 20 s. */
  readonly natKeepaliveMs: number;
}

export const DEFAULT_SETTINGS: Ikev1Settings = {
  p1NonceLength: 32,
  p2NonceLength: 32,
  retransmit: { initMs: 500, maxMs: 30_000, limit: 5 },
  expireMs: 300_000,
  natT: true,
  dpdIdleMs: 0,
  p2Commit: false,
  admission: DEFAULT_ADMISSION,
  natKeepaliveMs: 20_000,
};
