// Module initialisation only: each primitive registers its own exports.
#include "common.h"

namespace oakley {
// native/src/xfrm.cc (declared here rather than in common.h: it is not a crypto primitive).
void InitXfrm(Napi::Env env, Napi::Object exports);
// native/src/sockopt.cc (UDP_ENCAP, SO_PEERCRED: socket options node does not expose).
void InitSockopt(Napi::Env env, Napi::Object exports);
}  // namespace oakley

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  oakley::InitModexp(env, exports);
  oakley::InitEc(env, exports);
  oakley::InitRsa(env, exports);
  oakley::InitKdf(env, exports);
  oakley::InitCipher(env, exports);
  oakley::InitXfrm(env, exports);
  oakley::InitSockopt(env, exports);
  exports.Set("opensslVersion", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION)));
  // The pool threads' priority policy (common.h WorkerRun): its mode, and how often auto mode
  // found a job starved and fell back to nice 5.
  exports.Set("workerPriority", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("mode", oakley::WorkerMode());
    o.Set("promotions", static_cast<double>(oakley::WorkerPromotions()));
    return o;
  }));
  return exports;
}

}  // namespace

NODE_API_MODULE(oakley, Init)
