// Shared helpers of the Oakley addon: coded errors, argument access, secret wiping.
#pragma once

#include <napi.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include <cstdint>
#include <string>
#include <vector>

#if OPENSSL_VERSION_MAJOR != 3
#error "the addon binds to node's bundled OpenSSL 3.x; wrong headers on the include path"
#endif

namespace oakley {

// Error codes native code puts on the `code` property (mirrored in src/util/errors.ts).
constexpr const char* kErrBadArg = "IKE_ERR_NATIVE_BAD_ARG";
constexpr const char* kErrInvalidKe = "IKE_ERR_INVALID_KE_VALUE";
constexpr const char* kErrBadKey = "IKE_ERR_BAD_KEY";
constexpr const char* kErrNative = "IKE_ERR_NATIVE";

enum class ErrKind { Type, Range, Plain };

// Failure inside a job that may run off the JS thread; turned into a JS error later.
struct CodedFailure {
  ErrKind kind;
  const char* code;
  std::string message;
};

Napi::Error MakeError(Napi::Env env, ErrKind kind, const char* code, const std::string& message);
[[noreturn]] void Throw(Napi::Env env, ErrKind kind, const char* code, const std::string& message);
[[noreturn]] inline void Throw(Napi::Env env, const CodedFailure& f) { Throw(env, f.kind, f.code, f.message); }
[[noreturn]] inline void ThrowBadArg(Napi::Env env, const std::string& message) {
  Throw(env, ErrKind::Type, kErrBadArg, message);
}
[[noreturn]] inline void ThrowRange(Napi::Env env, const std::string& message) {
  Throw(env, ErrKind::Range, kErrBadArg, message);
}

// info[i] as a Buffer; throws a coded TypeError naming `what` otherwise.
Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t i, const char* what);
// info[i] as a Buffer, or nullptr-equivalent (IsEmpty) when undefined/null.
bool OptionalBufferArg(const Napi::CallbackInfo& info, size_t i, const char* what, Napi::Buffer<uint8_t>* out);
uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t i, const char* what, uint32_t min, uint32_t max);
std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what);

// Owned byte storage that is wiped when it goes away (secret inputs/outputs of jobs).
class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(size_t n) : v_(n) {}
  SecureBytes(const uint8_t* p, size_t n) : v_(p, p + n) {}
  explicit SecureBytes(const Napi::Buffer<uint8_t>& b) : v_(b.Data(), b.Data() + b.Length()) {}
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;
  SecureBytes(SecureBytes&& o) noexcept : v_(std::move(o.v_)) {}
  SecureBytes& operator=(SecureBytes&& o) noexcept {
    Wipe();
    v_ = std::move(o.v_);
    return *this;
  }
  ~SecureBytes() { Wipe(); }

  uint8_t* data() { return v_.data(); }
  const uint8_t* data() const { return v_.data(); }
  size_t size() const { return v_.size(); }
  bool empty() const { return v_.empty(); }
  void resize(size_t n) {
    if (n < v_.size()) OPENSSL_cleanse(v_.data() + n, v_.size() - n);
    v_.resize(n);
  }
  void append(const uint8_t* p, size_t n) {
    // Grow into fresh storage so no unwiped copy is left behind by a reallocation.
    if (v_.size() + n > v_.capacity()) {
      std::vector<uint8_t> bigger;
      bigger.reserve((v_.size() + n) * 2);
      bigger.assign(v_.begin(), v_.end());
      Wipe();
      v_ = std::move(bigger);
    }
    v_.insert(v_.end(), p, p + n);
  }
  void append(const SecureBytes& o) { append(o.data(), o.size()); }
  void Wipe() {
    if (!v_.empty()) OPENSSL_cleanse(v_.data(), v_.size());
    v_.clear();
  }

 private:
  std::vector<uint8_t> v_;
};

inline Napi::Buffer<uint8_t> ToBuffer(Napi::Env env, const SecureBytes& b) {
  return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size());
}

// The CPU priority of a pool thread for one job, set when the job starts (RAII around Run()).
// The pool threads do long constant-time arithmetic; the event-loop thread answers packets and
// timers, and should never wait for them. OAKLEY_WORKER_NICE (read once):
//   auto (default)  SCHED_IDLE: the pool runs only on CPU time no normal thread wants, and a waking
//                   event loop preempts it at once (bench:handshake, 2 CPUs: +11 % negotiations/s,
//                   -7 % CPU, lower loop delay than nice 5). Guarded: a job whose wall time exceeded
//                   its CPU time by 200 ms (and 10x) was starved by other busy processes, so the
//                   pool runs at nice 5 for the next 10 s. Needs CAP_SYS_NICE or RLIMIT_NICE >= 15
//                   to leave SCHED_IDLE; without them auto means nice 5.
//   idle            SCHED_IDLE without the guard (a dedicated gateway).
//   0..19           that nice value (5 was the default before auto).
class WorkerRun {
 public:
  WorkerRun();
  ~WorkerRun();
  WorkerRun(const WorkerRun&) = delete;
  WorkerRun& operator=(const WorkerRun&) = delete;

 private:
  int64_t wall0_ = 0;
  int64_t cpu0_ = 0;
};

// How often auto mode found a job starved and moved the pool to nice 5; the mode in force.
uint64_t WorkerPromotions();
const char* WorkerMode();

// A Promise-returning job on the libuv pool whose failure carries a code.
class CodedWorker : public Napi::AsyncWorker {
 public:
  explicit CodedWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  // The job itself, on a pool thread: no JS access; report failures with Fail().
  virtual void Run() = 0;
  void Execute() final {
    WorkerRun priority;
    try {
      Run();
    } catch (const std::exception& e) {
      Fail(ErrKind::Plain, kErrNative, std::string("native job failed: ") + e.what());
    }
  }
  void Fail(ErrKind kind, const char* code, const std::string& message) {
    failure_ = CodedFailure{kind, code, message};
    SetError(message);
  }
  void Fail(const CodedFailure& f) {
    failure_ = f;
    SetError(f.message);
  }
  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    deferred_.Reject(MakeError(Env(), failure_.kind, failure_.code, failure_.message).Value());
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    deferred_.Resolve(Result(Env()));
  }
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  Napi::Promise::Deferred deferred_;
  CodedFailure failure_{ErrKind::Plain, kErrNative, ""};
};

// Last OpenSSL error as text (for messages), clearing the error queue.
std::string OpensslError(const char* what);

// Module parts (each file registers its exports).
void InitModexp(Napi::Env env, Napi::Object exports);
void InitEc(Napi::Env env, Napi::Object exports);
void InitRsa(Napi::Env env, Napi::Object exports);
void InitKdf(Napi::Env env, Napi::Object exports);
void InitCipher(Napi::Env env, Napi::Object exports);

}  // namespace oakley
