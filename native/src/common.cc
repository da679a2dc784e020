// Coded errors and argument helpers shared by every primitive.
#include "common.h"

#include <cstdlib>
#include <cstring>

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/err.h>

namespace oakley {

Napi::Error MakeError(Napi::Env env, ErrKind kind, const char* code, const std::string& message) {
  Napi::Error err;
  switch (kind) {
    case ErrKind::Type: err = Napi::TypeError::New(env, message); break;
    case ErrKind::Range: err = Napi::RangeError::New(env, message); break;
    default: err = Napi::Error::New(env, message); break;
  }
  err.Set("code", Napi::String::New(env, code));
  return err;
}

void Throw(Napi::Env env, ErrKind kind, const char* code, const std::string& message) {
  throw MakeError(env, kind, code, message);
}

Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer()) ThrowBadArg(info.Env(), std::string(what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

bool OptionalBufferArg(const Napi::CallbackInfo& info, size_t i, const char* what, Napi::Buffer<uint8_t>* out) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return false;
  *out = BufferArg(info, i, what);
  return true;
}

uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t i, const char* what, uint32_t min, uint32_t max) {
  if (info.Length() <= i || !info[i].IsNumber()) ThrowBadArg(info.Env(), std::string(what) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    ThrowRange(info.Env(), std::string(what) + " must be an integer in [" + std::to_string(min) + ", " +
                               std::to_string(max) + "]");
  }
  return static_cast<uint32_t>(d);
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) ThrowBadArg(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::string OpensslError(const char* what) {
  unsigned long e = ERR_get_error();
  std::string msg(what);
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  return msg;
}

namespace {
constexpr int kWorkerNice = 5;

// OAKLEY_WORKER_NICE: a nice value 0..19 for the pool threads, or "idle" for SCHED_IDLE (run only
// when nothing else wants the CPU; a waking event loop preempts them at once). Read once.
struct WorkerPriority {
  bool idle = false;
  int nice = kWorkerNice;
};

WorkerPriority ReadWorkerPriority() {
  WorkerPriority w;
  const char* v = getenv("OAKLEY_WORKER_NICE");
  if (v == nullptr || *v == 0) return w;
  if (strcmp(v, "idle") == 0) {
    w.idle = true;
    return w;
  }
  char* end = nullptr;
  long n = strtol(v, &end, 10);
  if (*end == 0 && n >= 0 && n <= 19) w.nice = static_cast<int>(n);
  return w;
}
}  // namespace

void YieldToEventLoop() {
  thread_local bool done = false;
  if (done) return;
  done = true;
  static const WorkerPriority prio = ReadWorkerPriority();
  // Per-thread on Linux: PRIO_PROCESS with a thread id changes only that thread. Failure (a
  // sandbox that forbids it) only loses the latency benefit.
  if (prio.idle) {
    sched_param sp{};
    sp.sched_priority = 0;
    (void)sched_setscheduler(0, SCHED_IDLE, &sp);
    return;
  }
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), prio.nice);
}

}  // namespace oakley
