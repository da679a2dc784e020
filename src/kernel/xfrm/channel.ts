/**
 * The transport under XfrmKernel: send one netlink request and get the kernel's reply datagrams;
 * receive multicast event datagrams. The real one is the addon's XfrmSocket (native/src/xfrm.cc);
 * tests substitute their own (a scripted kernel) through the same interface.
 */
import { addonPath } from '../../crypto/native/addon';
import { OakleyError } from '../../util/errors';
import { XfrmGroup } from './structs';

export interface XfrmChannel {
  /** The netlink port id of the request socket (notifications caused by our requests carry it). */
  readonly portId: number;
  /** Sends `msg`; @returns every datagram up to the end of the reply to its sequence number. */
  request(msg: Buffer): Buffer[];
  close(): void;
}

export type XfrmEventSink = (err: Error | null, datagram?: Buffer) => void;

interface NativeXfrmSocket {
  readonly portId: number;
  request(msg: Buffer): Buffer[];
  close(): void;
}

type NativeXfrmCtor = new (groups: number, onEvent?: XfrmEventSink, timeoutMs?: number) => NativeXfrmSocket;

/** All four groups: ACQUIRE, EXPIRE, SA (deletions by others, flushes), POLICY. */
export const ALL_GROUPS = [XfrmGroup.ACQUIRE, XfrmGroup.EXPIRE, XfrmGroup.SA, XfrmGroup.POLICY].reduce((m, g) => m | (1 << (g - 1)), 0);

/**
 * Opens NETLINK_XFRM through the addon. Needs CAP_NET_ADMIN for requests and multicast groups.
 * @throws OakleyError IKE_ERR_NATIVE_UNAVAILABLE without the addon; IKE_ERR_KERNEL_NETLINK
 *   (detail.errno) when the sockets cannot be opened
 */
export function openNativeChannel(onEvent: XfrmEventSink, groups = ALL_GROUPS): XfrmChannel {
  let ctor: NativeXfrmCtor | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ctor = (require(addonPath()) as { XfrmSocket?: NativeXfrmCtor }).XfrmSocket;
  } catch (e) {
    throw new OakleyError('IKE_ERR_NATIVE_UNAVAILABLE', `the native addon is needed for --kernel xfrm: ${(e as Error).message}`);
  }
  if (!ctor) throw new OakleyError('IKE_ERR_NATIVE_UNAVAILABLE', 'the native addon has no XfrmSocket (rebuild it: npm run build:native)');
  try {
    return new ctor(groups, onEvent);
  } catch (e) {
    const err = e as Error & { code?: string; errno?: number };
    throw new OakleyError(err.code ?? 'IKE_ERR_KERNEL_NETLINK', err.message, { ...(err.errno !== undefined ? { errno: err.errno } : {}) });
  }
}
