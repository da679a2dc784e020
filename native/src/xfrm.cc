// NETLINK_XFRM sockets (Linux kernel IPsec, src/kernel/xfrm/). Only the socket work lives here:
// message construction and parsing are TypeScript (STYLE A.6). Two sockets per XfrmSocket:
//
//   request socket  unicast, blocking with a receive timeout. request(msg) sends one netlink
//                   message built in TS and returns every datagram received until the reply to
//                   that message's sequence number is complete (NLMSG_ERROR, NLMSG_DONE, or a
//                   message without NLM_F_MULTI). Kernel replies to XFRM requests are immediate
//                   (no I/O, no sleeping allocation in practice), so a synchronous call costs
//                   microseconds on the event-loop thread and needs no worker.
//   event socket    bound to the multicast groups TS asks for (XFRMNLGRP_ACQUIRE, EXPIRE, SA,
//                   POLICY), non-blocking, watched by a uv_poll on the loop; each datagram is
//                   delivered to the JS callback as a Buffer copy. Overruns (ENOBUFS: the kernel
//                   dropped events because we were slow) reach JS as an error with a code.
//
// Errors are JS Errors with `code` (IKE_ERR_KERNEL_NETLINK / IKE_ERR_KERNEL_TIMEOUT /
// IKE_ERR_KERNEL_OVERRUN), `errno` and `syscall`; native code never aborts on caller input.
#include "common.h"

#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include <vector>

namespace oakley {

namespace {

constexpr const char* kErrNetlink = "IKE_ERR_KERNEL_NETLINK";
constexpr const char* kErrTimeout = "IKE_ERR_KERNEL_TIMEOUT";
constexpr const char* kErrOverrun = "IKE_ERR_KERNEL_OVERRUN";
// Large enough for any single XFRM message (a full SA with keys and attributes is < 1 KiB) and
// for a dump datagram (the kernel fills up to one page, or 32 KiB with large pages).
constexpr size_t kRecvBuffer = 64 * 1024;
// A request whose replies exceed this is refused rather than growing without bound.
constexpr size_t kMaxReplyBytes = 16 * 1024 * 1024;
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

Napi::Error SysError(Napi::Env env, const char* code, const char* syscall, int err, const std::string& what) {
  Napi::Error e = MakeError(env, ErrKind::Plain, code, what + ": " + syscall + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

class XfrmSocket : public Napi::ObjectWrap<XfrmSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "XfrmSocket", {
        InstanceMethod<&XfrmSocket::Request>("request"),
        InstanceMethod<&XfrmSocket::Close>("close"),
        InstanceAccessor<&XfrmSocket::PortId>("portId"),
    });
  }

  // new XfrmSocket(groups: number, onEvent?: (err: Error | null, datagram?: Buffer) => void,
  //                timeoutMs = 5000). groups is an nl_groups mask: bit (g - 1) for group g.
  explicit XfrmSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<XfrmSocket>(info) {
    Napi::Env env = info.Env();
    uint32_t groups = Uint32Arg(info, 0, "groups", 0, 0xffffffffu);
    uint32_t timeoutMs = 5000;
    if (info.Length() > 2 && !info[2].IsUndefined()) timeoutMs = Uint32Arg(info, 2, "timeoutMs", 1, 600000);
    if (groups != 0 && (info.Length() < 2 || !info[1].IsFunction())) ThrowBadArg(env, "onEvent must be a function when groups are given");

    req_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM);
    if (req_ < 0) throw SysError(env, kErrNetlink, "socket", errno, "NETLINK_XFRM request socket");
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    socklen_t len = sizeof sa;
    timeval tv{static_cast<time_t>(timeoutMs / 1000), static_cast<suseconds_t>((timeoutMs % 1000) * 1000)};
    int one = 1;
    // Extended acks carry the kernel's reason ("Requested type not found") next to the errno.
    setsockopt(req_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    if (setsockopt(req_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        bind(req_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 ||
        getsockname(req_, reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
      int err = errno;
      CloseFds();
      throw SysError(env, kErrNetlink, "bind", err, "NETLINK_XFRM request socket");
    }
    port_id_ = sa.nl_pid;
    if (groups == 0) return;

    ev_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_XFRM);
    if (ev_ < 0) {
      int err = errno;
      CloseFds();
      throw SysError(env, kErrNetlink, "socket", err, "NETLINK_XFRM event socket");
    }
    int rcvbuf = 1 << 20;
    setsockopt(ev_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_nl ev{};
    ev.nl_family = AF_NETLINK;
    ev.nl_groups = groups;
    if (bind(ev_, reinterpret_cast<sockaddr*>(&ev), sizeof ev) < 0) {
      int err = errno;
      CloseFds();
      throw SysError(env, kErrNetlink, "bind", err, "NETLINK_XFRM multicast groups");
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      CloseFds();
      Throw(env, ErrKind::Plain, kErrNetlink, "no libuv loop");
    }
    poll_ = new uv_poll_t;
    if (uv_poll_init(loop, poll_, ev_) != 0) {
      delete poll_;
      poll_ = nullptr;
      CloseFds();
      Throw(env, ErrKind::Plain, kErrNetlink, "uv_poll_init failed");
    }
    poll_->data = this;
    on_event_ = Napi::Persistent(info[1].As<Napi::Function>());
    uv_poll_start(poll_, UV_READABLE, &XfrmSocket::OnReadable);
    // While events are watched, the JS object must outlive any reference JS holds to it.
    Ref();
  }

  ~XfrmSocket() override { Shutdown(); }

 private:
  Napi::Value PortId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_id_); }

  // request(msg: Buffer): Buffer[] — see the file comment.
  Napi::Value Request(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Buffer<uint8_t> msg = BufferArg(info, 0, "msg");
    if (req_ < 0) Throw(env, ErrKind::Plain, kErrNetlink, "XfrmSocket is closed");
    if (msg.Length() < sizeof(nlmsghdr)) ThrowRange(env, "msg is shorter than a netlink header");
    nlmsghdr h;
    memcpy(&h, msg.Data(), sizeof h);
    if (h.nlmsg_len != msg.Length()) ThrowRange(env, "msg nlmsg_len does not equal the buffer length");
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent = sendto(req_, msg.Data(), msg.Length(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (sent < 0) throw SysError(env, kErrNetlink, "sendto", errno, "NETLINK_XFRM request");

    // SA dumps and replies may carry keys: every receive buffer wipes itself (SecureBytes).
    std::vector<SecureBytes> out;
    size_t total = 0;
    SecureBytes buf(kRecvBuffer);
    bool done = false;
    while (!done) {
      ssize_t n = recv(req_, buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          throw SysError(env, kErrTimeout, "recv", err, "no complete kernel reply to NETLINK_XFRM request");
        }
        throw SysError(env, kErrNetlink, "recv", err, "NETLINK_XFRM reply");
      }
      total += static_cast<size_t>(n);
      if (total > kMaxReplyBytes) Throw(env, ErrKind::Plain, kErrNetlink, "NETLINK_XFRM reply exceeds 16 MiB");
      // Walk the headers only to find the end of the reply; every field is decoded again, with
      // bounds, by the TS codec.
      for (size_t off = 0; off + sizeof(nlmsghdr) <= static_cast<size_t>(n);) {
        nlmsghdr r;
        memcpy(&r, buf.data() + off, sizeof r);
        if (r.nlmsg_len < sizeof(nlmsghdr) || r.nlmsg_len > static_cast<size_t>(n) - off) break;
        if (r.nlmsg_seq == h.nlmsg_seq &&
            (r.nlmsg_type == NLMSG_ERROR || r.nlmsg_type == NLMSG_DONE || !(r.nlmsg_flags & NLM_F_MULTI))) {
          done = true;
        }
        off += NLMSG_ALIGN(r.nlmsg_len);
      }
      out.emplace_back(buf.data(), static_cast<size_t>(n));
    }
    Napi::Array arr = Napi::Array::New(env, out.size());
    for (size_t i = 0; i < out.size(); i++) arr.Set(i, Napi::Buffer<uint8_t>::Copy(env, out[i].data(), out[i].size()));
    return arr;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  void Shutdown() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
      on_event_.Reset();
      Unref();
    }
    CloseFds();
  }

  void CloseFds() {
    if (req_ >= 0) close(req_);
    if (ev_ >= 0) close(ev_);
    req_ = ev_ = -1;
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<XfrmSocket*>(handle->data);
    if (self == nullptr || self->poll_ != handle) return;
    self->Drain(status);
  }

  // Delivers every queued datagram; stops at EAGAIN or when JS closed the socket meanwhile.
  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      Deliver(MakeError(env, ErrKind::Plain, kErrNetlink, std::string("uv_poll: ") + uv_strerror(status)).Value(), env.Undefined());
      return;
    }
    SecureBytes buf(kRecvBuffer);  // events (e.g. SA notifications) may carry keys
    while (poll_ != nullptr && ev_ >= 0) {
      ssize_t n = recv(ev_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        const int err = errno;
        // ENOBUFS: the socket overflowed and events were lost; reading goes on afterwards.
        Deliver(SysError(env, err == ENOBUFS ? kErrOverrun : kErrNetlink, "recv", err, "NETLINK_XFRM events").Value(), env.Undefined());
        if (err != ENOBUFS) return;
        continue;
      }
      Deliver(env.Null(), Napi::Buffer<uint8_t>::Copy(env, buf.data(), static_cast<size_t>(n)));
    }
  }

  void Deliver(Napi::Value err, Napi::Value data) {
    if (on_event_.IsEmpty()) return;
    Napi::Env env = Env();
    try {
      on_event_.MakeCallback(Value(), {err, data});
    } catch (const Napi::Error& e) {
      // A throwing listener is the JS side's bug: report it as an uncaught exception there
      // instead of unwinding through libuv.
      napi_fatal_exception(env, e.Value());
    }
  }

  int req_ = -1;
  int ev_ = -1;
  uint32_t port_id_ = 0;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference on_event_;
};

}  // namespace

void InitXfrm(Napi::Env env, Napi::Object exports) {
  exports.Set("XfrmSocket", XfrmSocket::Define(env));
}

}  // namespace oakley
