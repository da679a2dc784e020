// Socket options node's dgram and net modules do not expose (src/net/sockopt.ts wraps these and
// finds the descriptor of a node socket). Each function takes a descriptor the JS side owns; it
// never closes or keeps it, so the worst a wrong number can do is fail with EBADF/ENOTSOCK.
//
//   setUdpEncap(fd, type)    setsockopt(SOL_UDP, UDP_ENCAP, type): with UDP_ENCAP_ESPINUDP (2)
//                            the kernel takes ESP-in-UDP (RFC 3948) arriving on this socket for
//                            XFRM, eats NAT-keepalives (one 0xff byte) and passes everything with
//                            the 4-byte zero non-ESP marker up to the socket UNCHANGED (marker
//                            kept), so IKE still reaches the daemon as before.
//   udpEncap(fd)             getsockopt of the same (0 = off), for checks and tests.
//   peerCredentials(fd)      getsockopt(SOL_SOCKET, SO_PEERCRED) of a connected unix socket:
//                            {pid, uid, gid} of the process that connected, as the kernel
//                            recorded them at connect() (they cannot be forged by the client).
//
// Errors are JS Errors with `code` IKE_ERR_SOCKOPT, `errno` and `syscall`.
#include "common.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_ENCAP
#define UDP_ENCAP 100  // linux/udp.h
#endif

namespace oakley {

namespace {

constexpr const char* kErrSockopt = "IKE_ERR_SOCKOPT";

[[noreturn]] void ThrowSys(Napi::Env env, const char* syscall, const std::string& what, int err) {
  Napi::Error e = MakeError(env, ErrKind::Plain, kErrSockopt, what + ": " + syscall + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  throw e;
}

int FdArg(const Napi::CallbackInfo& info) {
  return static_cast<int>(Uint32Arg(info, 0, "fd", 0, 0x7fffffffu));
}

// setUdpEncap(fd: number, type: number): void. type 0 turns encapsulation off again.
Napi::Value SetUdpEncap(const Napi::CallbackInfo& info) {
  int fd = FdArg(info);
  int type = static_cast<int>(Uint32Arg(info, 1, "type", 0, 255));
  if (setsockopt(fd, SOL_UDP, UDP_ENCAP, &type, sizeof type) < 0) {
    ThrowSys(info.Env(), "setsockopt", "UDP_ENCAP " + std::to_string(type) + " on fd " + std::to_string(fd), errno);
  }
  return info.Env().Undefined();
}

// udpEncap(fd: number): number
Napi::Value UdpEncap(const Napi::CallbackInfo& info) {
  int fd = FdArg(info);
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_UDP, UDP_ENCAP, &type, &len) < 0) {
    ThrowSys(info.Env(), "getsockopt", "UDP_ENCAP on fd " + std::to_string(fd), errno);
  }
  return Napi::Number::New(info.Env(), type);
}

// peerCredentials(fd: number): {pid, uid, gid}
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    ThrowSys(env, "getsockopt", "SO_PEERCRED on fd " + std::to_string(fd), errno);
  }
  if (len != sizeof cred) ThrowSys(env, "getsockopt", "SO_PEERCRED on fd " + std::to_string(fd) + " (short answer)", EINVAL);
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, cred.pid));
  o.Set("uid", Napi::Number::New(env, cred.uid));
  o.Set("gid", Napi::Number::New(env, cred.gid));
  return o;
}

}  // namespace

void InitSockopt(Napi::Env env, Napi::Object exports) {
  exports.Set("setUdpEncap", Napi::Function::New<SetUdpEncap>(env, "setUdpEncap"));
  exports.Set("udpEncap", Napi::Function::New<UdpEncap>(env, "udpEncap"));
  exports.Set("peerCredentials", Napi::Function::New<PeerCredentials>(env, "peerCredentials"));
}

}  // namespace oakley
