// Coded errors and argument helpers shared by every primitive.
#include "common.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
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
// Auto mode: a job that waited this long beyond its own CPU time (and 10x it) was starved (at
// full load on our own 2 CPUs, waits of 50 ms happened now and then: the guard is for seconds)...
constexpr int64_t kStarvedNs = 200'000'000;
// ...and the pool then runs at nice 5 for this long before trying SCHED_IDLE again.
constexpr int64_t kPromotedNs = 10'000'000'000;
constexpr int kCapSysNice = 23;

enum class Mode { Nice, Idle, Auto };

// OAKLEY_WORKER_NICE, read once: unset or `auto` (SCHED_IDLE with the starvation guard, when the
// process may leave SCHED_IDLE again; nice 5 otherwise), `idle` (SCHED_IDLE, no guard), or a nice
// value 0..19.
struct WorkerPriority {
  Mode mode = Mode::Auto;
  int nice = kWorkerNice;
};

// Leaving SCHED_IDLE for SCHED_OTHER at nice 5 needs CAP_SYS_NICE or RLIMIT_NICE >= 15.
bool CanLeaveIdle() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NICE, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= static_cast<rlim_t>(20 - kWorkerNice))) {
    return true;
  }
  FILE* f = fopen("/proc/self/status", "r");
  if (f == nullptr) return false;
  char line[256];
  bool capable = false;
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strncmp(line, "CapEff:", 7) == 0) {
      const unsigned long long eff = strtoull(line + 7, nullptr, 16);
      capable = (eff >> kCapSysNice) & 1;
      break;
    }
  }
  fclose(f);
  return capable;
}

WorkerPriority ReadWorkerPriority() {
  WorkerPriority w;
  const char* v = getenv("OAKLEY_WORKER_NICE");
  if (v != nullptr && strcmp(v, "idle") == 0) {
    w.mode = Mode::Idle;
    return w;
  }
  if (v != nullptr && *v != 0 && strcmp(v, "auto") != 0) {
    char* end = nullptr;
    long n = strtol(v, &end, 10);
    if (*end == 0 && n >= 0 && n <= 19) {
      w.mode = Mode::Nice;
      w.nice = static_cast<int>(n);
      return w;
    }
  }
  w.mode = CanLeaveIdle() ? Mode::Auto : Mode::Nice;
  return w;
}

const WorkerPriority& Priority() {
  static const WorkerPriority prio = ReadWorkerPriority();
  return prio;
}

std::atomic<int64_t> g_promotedUntil{0};
std::atomic<uint64_t> g_promotions{0};

int64_t Now(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// This thread's class: -1 untouched, 0 SCHED_OTHER (niced), 1 SCHED_IDLE. Per-thread on Linux
// (PRIO_PROCESS with a thread id, sched_setscheduler(0)). Failures (a sandbox that forbids them)
// leave the thread as it was: only the latency benefit is lost.
thread_local int t_class = -1;

void SetClass(int cls, int nice) {
  if (cls == t_class) return;
  sched_param sp{};
  sp.sched_priority = 0;
  if (cls == 1) {
    if (sched_setscheduler(0, SCHED_IDLE, &sp) == 0) t_class = 1;
    return;
  }
  if (t_class == 1 && sched_setscheduler(0, SCHED_OTHER, &sp) != 0) return;
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
  t_class = 0;
}
}  // namespace

WorkerRun::WorkerRun() {
  const WorkerPriority& prio = Priority();
  switch (prio.mode) {
    case Mode::Nice: SetClass(0, prio.nice); break;
    case Mode::Idle: SetClass(1, prio.nice); break;
    case Mode::Auto: SetClass(Now(CLOCK_MONOTONIC) >= g_promotedUntil.load(std::memory_order_relaxed) ? 1 : 0, prio.nice); break;
  }
  wall0_ = Now(CLOCK_MONOTONIC);
  cpu0_ = Now(CLOCK_THREAD_CPUTIME_ID);
}

WorkerRun::~WorkerRun() {
  if (Priority().mode != Mode::Auto || t_class != 1) return;
  const int64_t now = Now(CLOCK_MONOTONIC);
  const int64_t wall = now - wall0_;
  const int64_t cpu = Now(CLOCK_THREAD_CPUTIME_ID) - cpu0_;
  if (wall - cpu > kStarvedNs && wall > 10 * cpu) {
    g_promotedUntil.store(now + kPromotedNs, std::memory_order_relaxed);
    g_promotions.fetch_add(1, std::memory_order_relaxed);
  }
}

uint64_t WorkerPromotions() { return g_promotions.load(std::memory_order_relaxed); }

const char* WorkerMode() {
  switch (Priority().mode) {
    case Mode::Nice: return "nice";
    case Mode::Idle: return "idle";
    case Mode::Auto: return "auto";
  }
  return "nice";
}

}  // namespace oakley
