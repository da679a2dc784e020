/**
 * What exchange handlers may use of the engine: crypto, settings, credentials, and sending. The
 * handlers never see sockets or the SA table (STYLE A.1: exchanges import no I/O).
 */
import type { CryptoSuite } from '../../crypto/registry';
import type { IsakmpHeader, Payload } from '../../wire/ikev1/types';
import type { PayloadSpan } from '../../wire/ikev1/message';
import type { Endpoint } from '../../net/transport';
import type { KernelIpsec } from '../../kernel/types';
import type { Counters } from '../../util/counters';
import type { Ikev1Credentials, Ikev1Rule, Ikev1Settings } from './config';
import type { Phase1Context } from './phase1-context';

/** A received message after decryption, with the octets the hashes need. */
export interface InMessage {
  readonly header: IsakmpHeader;
  readonly payloads: readonly Payload[];
  /** The (decrypted) payload chain, and where each payload lies in it. */
  readonly body: Buffer;
  readonly spans: readonly PayloadSpan[];
  readonly encrypted: boolean;
  readonly from: Endpoint;
  readonly to: Endpoint;
}

export interface SendOptions {
  readonly encrypt: boolean;
  /** Retransmit until the next message of the exchange arrives (requests, not final answers). */
  readonly expectReply: boolean;
}

export interface Phase1Services {
  readonly crypto: CryptoSuite;
  readonly settings: Ikev1Settings;
  readonly credentials: Ikev1Credentials;
  readonly kernel: KernelIpsec;
  readonly counters: Counters;
  /** Our NAT-T port (4500 unless configured otherwise). */
  readonly natPort: number;
  random(n: number): Buffer;
  /** Encodes (and with `encrypt`, encrypts with the chained Phase 1 IV) and sends a Phase 1 message. */
  sendPhase1(ctx: Phase1Context, payloads: Payload[], options: SendOptions): void;
  /** The rule for a peer, for a responder that has only addresses to go on. */
  findRule(local: Endpoint, peer: Endpoint): Ikev1Rule | undefined;
  /** Whether our authenticating message (MM5, AM3) should carry INITIAL-CONTACT; claims it when true. */
  initialContact?(ctx: Phase1Context): boolean;
}
