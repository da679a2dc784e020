/**
 * XFRM netlink from the kernel (src/kernel/xfrm): splitMessages on the datagram, then per message
 * the decoder the kernel driver uses for its type (NEWSA/GETSA dumps, ACQUIRE, EXPIRE, DELSA,
 * NEWPOLICY dumps, NLMSG_ERROR acks). Byte 0 overrides the message type of every message with a
 * chosen one when its top bit is set, so each struct decoder gets inputs from the start.
 */
import { decodeSa } from '../../../../src/kernel/xfrm/messages';
import { decodeAck, decodeAttrs, splitMessages } from '../../../../src/kernel/xfrm/netlink';
import { decodeUserAcquire, decodeUserExpire, decodeUsersaId, decodeUserpolicyInfo, XfrmMsg } from '../../../../src/kernel/xfrm/structs';
import { target, typed } from '../common';

const TYPES = [2 /* NLMSG_ERROR */, XfrmMsg.NEWSA, XfrmMsg.GETSA, XfrmMsg.UPDSA, XfrmMsg.DELSA, XfrmMsg.ACQUIRE, XfrmMsg.EXPIRE, XfrmMsg.NEWPOLICY];

export const fuzz = target((data) => {
  if (data.length < 1) return;
  const force = data[0]! & 0x80 ? TYPES[data[0]! % TYPES.length] : undefined;
  const msgs = typed('splitMessages', () => splitMessages(data.subarray(1)));
  for (const m of msgs ?? []) {
    switch (force ?? m.header.type) {
      case 2: typed('decodeAck', () => decodeAck(m)); break;
      case XfrmMsg.NEWSA: case XfrmMsg.GETSA: case XfrmMsg.UPDSA: typed('decodeSa', () => decodeSa(m.payload, decodeAttrs)); break;
      case XfrmMsg.DELSA: typed('decodeUsersaId', () => decodeUsersaId(m.payload)); break;
      case XfrmMsg.ACQUIRE: typed('decodeUserAcquire', () => decodeUserAcquire(m.payload)); break;
      case XfrmMsg.EXPIRE: typed('decodeUserExpire', () => decodeUserExpire(m.payload)); break;
      case XfrmMsg.NEWPOLICY: typed('decodeUserpolicyInfo', () => { decodeUserpolicyInfo(m.payload); return decodeAttrs(m.payload); }); break;
      default: typed('decodeAttrs', () => decodeAttrs(m.payload));
    }
  }
});
