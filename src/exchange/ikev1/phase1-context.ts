/**
 * Everything one Phase 1 negotiation keeps between its messages: the IkeSa (lifecycle, keys,
 * timers), the step of the Main/Aggressive Mode ladder it has reached, the exact octets that the
 * authenticating hashes cover, the key exchange, and the retransmission state. Cipher helpers for
 * Phase 1 (RFC 2409 Appendix B) live here because they chain the IV through this object.
 */
import type { CipherAlg, KeyExchange } from '../../crypto/types';
import type { IdValue } from '../../wire/ikev1/id';
import type { SaPayload } from '../../wire/ikev1/types';
import type { IkeSa } from '../ike-sa';
import { ResponseCache, type Retransmitter } from '../retransmit';
import type { Ikev1Rule } from './config';
import type { P1Encr, P1Hash } from './proposals';

/** Steps of the Phase 1 ladders; each says which message was last sent. */
export type Phase1Step =
  | 'START'
  | 'MM_I1_SENT' | 'MM_R1_SENT' | 'MM_I2_SENT' | 'MM_R2_SENT' | 'MM_I3_SENT'
  | 'AM_I1_SENT' | 'AM_R1_SENT'
  | 'DONE';

export const CIPHER_OF: Readonly<Record<P1Encr, CipherAlg>> = {
  aes: 'aes-cbc', '3des': '3des-cbc', des: 'des-cbc', blowfish: 'blowfish-cbc',
};

/** Cipher key length in octets for the negotiated Phase 1 cipher. */
export function encKeyLength(encr: P1Encr, keyLengthBits: number): number {
  switch (encr) {
    case 'aes': return keyLengthBits / 8;
    case '3des': return 24;
    case 'des': return 8;
    case 'blowfish': return (keyLengthBits || 128) / 8;
  }
}

export const HASH_ALG: Readonly<Record<P1Hash, P1Hash>> = { md5: 'md5', sha1: 'sha1', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };

export class Phase1Context {
  step: Phase1Step = 'START';
  /** The initiator's SA payload as sent (initiator) or decoded (responder). */
  offeredSa?: SaPayload;
  /** SAi_b: the body of the initiator's SA payload, exactly as on the wire. */
  saiB?: Buffer;
  ke?: KeyExchange;
  ni?: Buffer;
  nr?: Buffer;
  gxi?: Buffer;
  gxr?: Buffer;
  peerId?: IdValue;
  /** The body of the peer's ID payload as received (HASH_I/HASH_R cover it). */
  peerIdBody?: Buffer;
  /** Certificates the peer sent (DER), first the end entity. */
  peerCerts: Buffer[] = [];
  /** The peer asked for our certificate (CR). */
  peerWantsCert = false;
  /** Which NAT-D payload type the peer understands (RFC 3947: 20; drafts: 130). */
  natDType?: number;
  /** The peer's authenticated Phase 1 message carried INITIAL-CONTACT. */
  peerInitialContact = false;
  /** Our MM5/AM3 carried INITIAL-CONTACT. */
  initialContactSent = false;
  /** An async step is running: further messages for this SA wait (STYLE A.3: checked out). */
  busy = false;
  /** The peer's message that arrived while busy, run once the SA is checked in (at most one). */
  deferred?: () => Promise<void>;
  /** Responses already sent, for answering retransmitted requests. */
  readonly responses: ResponseCache;
  retransmitter?: Retransmitter;
  private readonly waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(readonly sa: IkeSa, public rule: Ikev1Rule) {
    this.responses = new ResponseCache(4, sa.counters);
  }

  /** Resolves when the SA is established, rejects when it fails. */
  established(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  settle(error?: Error): void {
    for (const w of this.waiters.splice(0)) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }

  /** Forget the per-negotiation secrets once Phase 1 is done (keys stay in sa.keys). */
  finish(): void {
    this.ke?.dispose();
    this.ke = undefined;
    this.retransmitter?.stop();
    this.retransmitter = undefined;
    this.step = 'DONE';
    // Only Phase 1's hashes needed these; an established SA keeps its keys (sa.keys), its peer
    // identity and the cached reply to a retransmitted last message (responses), not the rest.
    this.offeredSa = this.saiB = this.ni = this.nr = this.gxi = this.gxr = this.peerIdBody = undefined;
    this.peerCerts = [];
    this.responses.keepLast();
    this.sa.keys.forgetSharedSecret();
    this.sa.keys.settle();
  }

  /**
   * The peer sent an authenticated message under the finished Phase 1 SA, so it has our last
   * Phase 1 message (MM6, AM3's answer) and will not ask for it again: the stored copy goes.
   */
  phase1Confirmed(): void {
    if (this.step === 'DONE' && this.responses.size > 0) this.responses.clear();
  }
}
