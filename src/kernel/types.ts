/**
 * The kernel IPsec seam (STYLE A.7, after strongSwan's kernel_ipsec_t): the only way exchanges
 * install, change and remove IPsec SAs and policies. Implementations: PF_KEY (Solaris/BSD,
 * solaris-ike.md §5.5), netlink (Linux), and `memory` (memory.ts) for tests and dry runs. Only
 * src/daemon chooses one.
 */
import type { EventEmitter } from 'node:events';

export type IpsecProtocol = 'esp' | 'ah';
export type IpsecMode = 'tunnel' | 'transport';
export type SaDirection = 'inbound' | 'outbound';

/** ESP encryption algorithms (kernel names as in ipsecalgs, solaris-ike.md §6.4). */
export type KernelEncrAlg = 'aes-cbc' | 'aes-gcm' | '3des-cbc' | 'des-cbc' | 'blowfish-cbc' | 'null';
/** AH/ESP integrity algorithms. */
export type KernelIntegAlg = 'hmac-md5' | 'hmac-sha1' | 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';

/** UDP encapsulation of ESP (RFC 3948) when NAT-T is in use. */
export type Encapsulation =
  | { readonly type: 'none' }
  | { readonly type: 'udp'; readonly srcPort: number; readonly dstPort: number };

export interface EncryptionSpec {
  readonly alg: KernelEncrAlg;
  /** Cipher key (for AES-GCM without the salt). */
  readonly key: Buffer;
  /** AES-GCM: the 4-octet salt taken from the end of the keymat (RFC 4106 §8.1). */
  readonly salt?: Buffer;
  /** AES-GCM ICV length in octets. */
  readonly icvLength?: 8 | 12 | 16;
}

export interface IntegritySpec {
  readonly alg: KernelIntegAlg;
  readonly key: Buffer;
}

/** One lifetime bound. 0 = no limit. */
export interface LifetimeBound {
  readonly seconds: number;
  readonly bytes: number;
}

export interface SaLifetimes {
  readonly soft: LifetimeBound;
  readonly hard: LifetimeBound;
  /** X_LIFETIME_IDLE, installed only when the peer does DPD (solaris-ike.md §5.5 step 8). */
  readonly idleSeconds?: number;
}

/** An address prefix, optionally limited to a protocol and port. */
export interface TrafficSelector {
  readonly address: string;
  readonly prefixLength: number;
  /** IP protocol number, 0 = any. */
  readonly protocol?: number;
  /** Port, 0 = any. */
  readonly port?: number;
}

/** Identifies one SA in the kernel (PF_KEY: the SA is found by destination, SPI and protocol). */
export interface SaKey {
  readonly dst: string;
  readonly spi: number;
  readonly protocol: IpsecProtocol;
}

/** Everything needed to install an IPsec SA. Key buffers are read, not retained, by implementations that copy. */
export interface IpsecSaSpec extends SaKey {
  readonly src: string;
  readonly direction: SaDirection;
  readonly mode: IpsecMode;
  readonly encapsulation: Encapsulation;
  /** Required for ESP. */
  readonly encryption?: EncryptionSpec;
  /** Absent for AES-GCM and for AH-less ESP-null-integrity (not allowed by Oakley's policy). */
  readonly integrity?: IntegritySpec;
  readonly lifetimes: SaLifetimes;
  /** Anti-replay window in packets (0 = off). */
  readonly replayWindow: number;
  /** Inner selectors in tunnel mode (absent in transport mode: the SA addresses). */
  readonly selectors?: { readonly src: TrafficSelector; readonly dst: TrafficSelector };
  /** SPI of the other SA of the pair (PF_KEY X_PAIR). */
  readonly pairSpi?: number;
  /** Rule cookie (X_KM_COOKIE) so the kernel can say which rule an ACQUIRE belongs to. */
  readonly kmCookie?: number;
}

export interface GetSpiRequest {
  /** The SA's source (the peer) and destination (us): the larval SA is inbound. */
  readonly src: string;
  readonly dst: string;
  readonly protocol: IpsecProtocol;
  /** SPI range to pick from (default 256..0xffffffff: 0–255 are reserved, RFC 4303 §2.1). */
  readonly range?: { readonly min: number; readonly max: number };
}

export interface IpsecPolicy {
  readonly src: TrafficSelector;
  readonly dst: TrafficSelector;
  readonly direction: SaDirection;
  readonly action: 'ipsec' | 'bypass' | 'drop';
  readonly protocol?: IpsecProtocol;
  readonly mode?: IpsecMode;
  /** Outer addresses in tunnel mode. */
  readonly tunnel?: { readonly src: string; readonly dst: string };
}

/** An algorithm combination the kernel policy asks for (an extended-ACQUIRE ecomb). */
export interface AcquireCombination {
  readonly protocol: IpsecProtocol;
  readonly encr?: { readonly alg: KernelEncrAlg; readonly minBits: number; readonly maxBits: number };
  readonly integ?: { readonly alg: KernelIntegAlg };
  /** Kernel default lifetimes carried in the ecomb (solaris-ike.md §5.7 "system" defaults). */
  readonly lifetimes?: Partial<SaLifetimes>;
}

/** SADB_ACQUIRE: traffic needs an SA that does not exist. */
export interface AcquireEvent {
  /** Sequence number to echo in a negative ACQUIRE. */
  readonly seq: number;
  readonly src: string;
  readonly dst: string;
  readonly innerSrc?: TrafficSelector;
  readonly innerDst?: TrafficSelector;
  readonly combinations: readonly AcquireCombination[];
  readonly kmCookie?: number;
}

/** SADB_EXPIRE. `soft` starts a rekey, `hard` means the SA is gone, `idle` starts DPD. */
export interface ExpireEvent {
  readonly sa: SaKey;
  readonly kind: 'soft' | 'hard' | 'idle';
  /** What triggered it: time or bytes. */
  readonly by: 'seconds' | 'bytes';
  readonly direction: SaDirection;
  readonly src: string;
}

/** An SA removed by someone else (ipseckey, another daemon): SADB_DELETE not caused by us. */
export interface DeletedEvent {
  readonly sa: SaKey;
  readonly src: string;
  readonly direction: SaDirection;
  readonly pairSpi?: number;
}

export interface KernelEvents {
  acquire: [AcquireEvent];
  expire: [ExpireEvent];
  deleted: [DeletedEvent];
  /** SADB_FLUSH by others (all protocols). */
  flushed: [];
}

export interface KernelFeatures {
  readonly natT: boolean;
  readonly aesGcm: boolean;
  readonly encrAlgs: readonly KernelEncrAlg[];
  readonly integAlgs: readonly KernelIntegAlg[];
}

/** Current state of an installed SA, as `querySa` and dumps report it. */
export interface IpsecSaInfo {
  readonly key: SaKey;
  readonly src: string;
  readonly state: 'larval' | 'mature' | 'dying' | 'dead';
  readonly direction?: SaDirection;
  /** Clock.now() when the SA became mature (SADB add time). */
  readonly addedAt?: number;
  readonly bytes: number;
  readonly used: boolean;
  readonly lifetimes?: SaLifetimes;
}

export const KernelErr = {
  /** addSa for an SPI that exists; updateSa/delSa/querySa for one that does not. */
  SA_EXISTS: 'IKE_ERR_KERNEL_SA_EXISTS',
  NO_SUCH_SA: 'IKE_ERR_KERNEL_NO_SUCH_SA',
  /** updateSa on an SA that is not larval, or spec inconsistent (e.g. ESP without cipher). */
  BAD_SA: 'IKE_ERR_KERNEL_BAD_SA',
  SPI_EXHAUSTED: 'IKE_ERR_KERNEL_SPI_EXHAUSTED',
  NO_SUCH_POLICY: 'IKE_ERR_KERNEL_NO_SUCH_POLICY',
  POLICY_EXISTS: 'IKE_ERR_KERNEL_POLICY_EXISTS',
  /** The kernel lacks what the SA needs (Linux XFRM: EPROTONOSUPPORT, no esp4/esp6 or algorithm). */
  UNSUPPORTED: 'IKE_ERR_KERNEL_UNSUPPORTED',
  /** Any other refusal by the kernel (detail.errno, detail.extack). */
  FAILED: 'IKE_ERR_KERNEL_FAILED',
} as const;

/**
 * The kernel SA/SPD interface. All calls are async (a PF_KEY round-trip); errors are OakleyError
 * with a KernelErr code. Events arrive on `events`.
 */
export interface KernelIpsec {
  readonly events: EventEmitter<KernelEvents>;
  features(): KernelFeatures;
  /** SADB_GETSPI: allocates a unique SPI and creates the larval inbound SA. */
  getSpi(req: GetSpiRequest): Promise<number>;
  /** SADB_ADD: installs a new SA (the outbound one, whose SPI the peer chose). */
  addSa(spec: IpsecSaSpec): Promise<void>;
  /** SADB_UPDATE: completes the larval SA created by getSpi (the inbound one). */
  updateSa(spec: IpsecSaSpec): Promise<void>;
  /** SADB_X_UPDATEPAIR-style lifetime change (rekey: old pair's hard lifetime to 8 s). */
  updateLifetimes(key: SaKey, lifetimes: Partial<SaLifetimes>): Promise<void>;
  /** SADB_GET. @returns undefined when there is no such SA */
  querySa(key: SaKey): Promise<IpsecSaInfo | undefined>;
  /** SADB_DELETE by us (no `deleted` event). */
  delSa(key: SaKey): Promise<void>;
  addPolicy(policy: IpsecPolicy): Promise<void>;
  delPolicy(policy: IpsecPolicy): Promise<void>;
  /** SADB_FLUSH of one protocol's SAs or of all. */
  flush(protocol?: IpsecProtocol): Promise<void>;
  /** Releases the socket and timers. */
  close(): Promise<void>;
}
