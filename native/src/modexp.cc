// ModpContext: y = base^exp mod p for secret exponents, sync, async and batched on the pool.
// Batches of two or more go through the AVX-512 IFMA multi-buffer kernel (ifma_kernel.cc, eight
// modexps per run) when the CPU has it; everything else through BN_mod_exp_mont_consttime.
#include "modexp.h"

#include "ifma_rsa.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace oakley {

namespace {

constexpr size_t kMaxModulusBytes = 1024;  // 8192-bit MODP group 18
constexpr uint32_t kMaxBatch = 4096;
// A run of the IFMA kernel costs the same for 1 or 8 lanes, about 2.5-3 OpenSSL modexps at
// 2048 bits (bench: ifma rows), so a lone modexp stays on OpenSSL and 2+ go to the kernel.
constexpr size_t kIfmaMinBatch = 2;

struct BnCtxDeleter {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using BnCtxPtr = std::unique_ptr<BN_CTX, BnCtxDeleter>;

}  // namespace

std::shared_ptr<ModpState> ModpState::Create(const uint8_t* p, size_t len, CodedFailure* failure) {
  if (len == 0 || len > kMaxModulusBytes || p[0] == 0 || (p[len - 1] & 1) == 0) {
    *failure = {ErrKind::Range, kErrBadArg, "modulus must be odd, without leading zero, at most 1024 bytes"};
    return nullptr;
  }
  std::shared_ptr<ModpState> st(new ModpState());
  BnCtxPtr ctx(BN_CTX_new());
  st->p_ = BN_bin2bn(p, static_cast<int>(len), nullptr);
  st->mont_ = BN_MONT_CTX_new();
  if (!ctx || !st->p_ || !st->mont_ || !BN_MONT_CTX_set(st->mont_, st->p_, ctx.get())) {
    *failure = {ErrKind::Plain, kErrNative, OpensslError("BN_MONT_CTX_set failed")};
    return nullptr;
  }
  st->size_ = len;
  st->pBytes_.assign(p, p + len);
  if (ifma::CpuSupported()) st->ifma_ = ifma::IfmaModulus::Create(st->p_);
  return st;
}

bool ModpState::Check(const uint8_t* base, size_t baseLen, size_t expLen, CodedFailure* failure) const {
  if (baseLen == 0 || baseLen > size_ || expLen == 0 || expLen > size_) {
    *failure = {ErrKind::Range, kErrBadArg, "base and exponent must be 1.." + std::to_string(size_) + " bytes"};
    return false;
  }
  // base < p, comparing the left-padded base with p (public values: plain comparison).
  const size_t pad = size_ - baseLen;
  int cmp = 0;
  for (size_t i = 0; i < size_ && cmp == 0; i++) {
    const uint8_t b = i < pad ? 0 : base[i - pad];
    cmp = b < pBytes_[i] ? -1 : (b > pBytes_[i] ? 1 : 0);
  }
  if (cmp >= 0) {
    *failure = {ErrKind::Range, kErrBadArg, "base must be below the modulus"};
    return false;
  }
  return true;
}

bool ModpState::ModExpIfma(size_t count, const SecureBytes* bases, const SecureBytes* exps, SecureBytes* outs,
                           CodedFailure* failure) const {
  const uint8_t* b[ifma::kLanes];
  const uint8_t* e[ifma::kLanes];
  size_t bl[ifma::kLanes], el[ifma::kLanes];
  uint8_t* o[ifma::kLanes];
  for (size_t i = 0; i < count; i++) {
    b[i] = bases[i].data();
    bl[i] = bases[i].size();
    e[i] = exps[i].data();
    el[i] = exps[i].size();
    outs[i] = SecureBytes(size_);
    o[i] = outs[i].data();
  }
  if (!ifma_->ModExp(count, b, bl, e, el, o, size_)) {
    *failure = {ErrKind::Plain, kErrNative, "IFMA modexp workspace allocation failed"};
    return false;
  }
  return true;
}

ModpState::~ModpState() {
  BN_MONT_CTX_free(mont_);
  BN_free(p_);
}

bool ModpState::ModExp(const uint8_t* base, size_t baseLen, const uint8_t* exp, size_t expLen, BN_CTX* ctx,
                       SecureBytes* out, CodedFailure* failure) const {
  if (baseLen == 0 || baseLen > size_ || expLen == 0 || expLen > size_) {
    *failure = {ErrKind::Range, kErrBadArg, "base and exponent must be 1.." + std::to_string(size_) + " bytes"};
    return false;
  }
  BN_CTX_start(ctx);
  BIGNUM* b = BN_CTX_get(ctx);
  BIGNUM* r = BN_CTX_get(ctx);
  BIGNUM* e = BN_secure_new();
  bool ok = false;
  if (b && r && e && BN_bin2bn(base, static_cast<int>(baseLen), b) && BN_bin2bn(exp, static_cast<int>(expLen), e)) {
    BN_set_flags(e, BN_FLG_CONSTTIME);
    if (BN_ucmp(b, p_) >= 0) {
      *failure = {ErrKind::Range, kErrBadArg, "base must be below the modulus"};
    } else if (!BN_mod_exp_mont_consttime(r, b, e, p_, ctx, mont_)) {
      *failure = {ErrKind::Plain, kErrNative, OpensslError("BN_mod_exp_mont_consttime failed")};
    } else {
      SecureBytes res(size_);
      if (BN_bn2binpad(r, res.data(), static_cast<int>(size_)) == static_cast<int>(size_)) {
        *out = std::move(res);
        ok = true;
      } else {
        *failure = {ErrKind::Plain, kErrNative, "BN_bn2binpad failed"};
      }
    }
  } else {
    *failure = {ErrKind::Plain, kErrNative, OpensslError("BIGNUM allocation failed")};
  }
  BN_clear(r);  // g^xy; BN_CTX_end does not wipe
  BN_clear_free(e);
  BN_CTX_end(ctx);
  return ok;
}

namespace {

// Which kernel a batch uses: `auto` = IFMA for 2+ items when available (and not forced off by
// OAKLEY_MODEXP=portable), `ifma` = IFMA for every chunk (error when unavailable), `portable` =
// OpenSSL only. The last two exist for cross-path tests and side-by-side benchmarks.
enum class Kernel { Auto, Ifma, Portable };

// Any number of independent modexps in one group, run on the calling thread. Chunks of 8 go to the
// IFMA kernel; in `auto` mode a lone remainder goes to OpenSSL (one lane of a kernel run costs as
// much as eight). Every item is checked before any work starts.
bool RunBatch(const ModpState& st, Kernel kernel, bool array, std::vector<SecureBytes>& bases,
              std::vector<SecureBytes>& exps, std::vector<SecureBytes>* results, CodedFailure* failure) {
  const size_t count = bases.size();
  const bool useIfma = st.ifma() && (kernel == Kernel::Ifma ||
                                     (kernel == Kernel::Auto && count >= kIfmaMinBatch && !ifma::PortableForced()));
  results->clear();
  results->resize(count);
  auto named = [&](size_t i) {
    if (array) failure->message = "item " + std::to_string(i) + ": " + failure->message;
    return false;
  };
  if (!useIfma) {
    BnCtxPtr ctx(BN_CTX_new());
    if (!ctx) {
      *failure = {ErrKind::Plain, kErrNative, "BN_CTX_new failed"};
      return false;
    }
    for (size_t i = 0; i < count; i++) {
      if (!st.ModExp(bases[i].data(), bases[i].size(), exps[i].data(), exps[i].size(), ctx.get(), &(*results)[i], failure)) {
        return named(i);
      }
      exps[i].Wipe();
    }
    return true;
  }
  for (size_t i = 0; i < count; i++) {
    if (!st.Check(bases[i].data(), bases[i].size(), exps[i].size(), failure)) return named(i);
  }
  for (size_t start = 0; start < count; start += ifma::kLanes) {
    const size_t n = std::min(ifma::kLanes, count - start);
    if (n == 1 && kernel == Kernel::Auto) {
      BnCtxPtr ctx(BN_CTX_new());
      if (!ctx || !st.ModExp(bases[start].data(), bases[start].size(), exps[start].data(), exps[start].size(), ctx.get(),
                             &(*results)[start], failure)) {
        if (!ctx) *failure = {ErrKind::Plain, kErrNative, "BN_CTX_new failed"};
        return named(start);
      }
    } else if (!st.ModExpIfma(n, &bases[start], &exps[start], &(*results)[start], failure)) {
      return false;
    }
    for (size_t i = start; i < start + n; i++) exps[i].Wipe();
  }
  return true;
}

// One job = any number of independent modexps in one group (a single exponentiation is a batch of 1).
class ModexpJob : public CodedWorker {
 public:
  ModexpJob(Napi::Env env, std::shared_ptr<const ModpState> st, bool array, Kernel kernel)
      : CodedWorker(env), st_(std::move(st)), array_(array), kernel_(kernel) {}
  void Add(const Napi::Buffer<uint8_t>& base, const Napi::Buffer<uint8_t>& exp) {
    bases_.emplace_back(base);
    exps_.emplace_back(exp);
  }

 protected:
  void Run() override {
    CodedFailure f;
    if (!RunBatch(*st_, kernel_, array_, bases_, exps_, &results_, &f)) Fail(f);
  }
  Napi::Value Result(Napi::Env env) override {
    if (!array_) return ToBuffer(env, results_[0]);
    return ToBufferArray(env, results_);
  }

 private:
  std::shared_ptr<const ModpState> st_;
  bool array_;
  Kernel kernel_;
  std::vector<SecureBytes> bases_;  // public values, but uniform storage keeps the job simple
  std::vector<SecureBytes> exps_;
  std::vector<SecureBytes> results_;
};

class ModpContext : public Napi::ObjectWrap<ModpContext> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ModpContext",
                       {InstanceMethod<&ModpContext::ModexpSync>("modexp"),
                        InstanceMethod<&ModpContext::ModexpAsync>("modexpAsync"),
                        InstanceMethod<&ModpContext::ModexpBatch>("modexpBatch"),
                        InstanceMethod<&ModpContext::ModexpBatchSync>("modexpBatchSync"),
                        InstanceAccessor<&ModpContext::Size>("size"),
                        InstanceAccessor<&ModpContext::IfmaAvailable>("ifmaAvailable"),
                        InstanceAccessor<&ModpContext::BatchKernel>("batchKernel")});
  }

  explicit ModpContext(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModpContext>(info) {
    Napi::Buffer<uint8_t> p = BufferArg(info, 0, "modulus");
    CodedFailure f;
    st_ = ModpState::Create(p.Data(), p.Length(), &f);
    if (!st_) Throw(info.Env(), f);
  }

 private:
  Napi::Value ModexpSync(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> base = BufferArg(info, 0, "base");
    Napi::Buffer<uint8_t> exp = BufferArg(info, 1, "exponent");
    BnCtxPtr ctx(BN_CTX_new());
    if (!ctx) Throw(info.Env(), ErrKind::Plain, kErrNative, "BN_CTX_new failed");
    SecureBytes out;
    CodedFailure f;
    if (!st_->ModExp(base.Data(), base.Length(), exp.Data(), exp.Length(), ctx.get(), &out, &f)) Throw(info.Env(), f);
    return ToBuffer(info.Env(), out);
  }

  Napi::Value ModexpAsync(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> base = BufferArg(info, 0, "base");
    Napi::Buffer<uint8_t> exp = BufferArg(info, 1, "exponent");
    CheckLengths(info.Env(), base, exp, 0);
    auto* job = new ModexpJob(info.Env(), st_, false, Kernel::Auto);
    job->Add(base, exp);
    Napi::Promise promise = job->Promise();
    job->Queue();
    return promise;
  }

  // modexpBatch(bases, exps, kernel?: 'auto' | 'ifma' | 'portable'): one pool job.
  Napi::Value ModexpBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::unique_ptr<ModexpJob> job(new ModexpJob(env, st_, true, KernelArg(info, 2)));
    ForEachItem(info, [&](const Napi::Buffer<uint8_t>& b, const Napi::Buffer<uint8_t>& e) { job->Add(b, e); });
    Napi::Promise promise = job->Promise();
    job.release()->Queue();
    return promise;
  }

  // The same on the calling thread (constant-time measurements, tests).
  Napi::Value ModexpBatchSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Kernel kernel = KernelArg(info, 2);
    std::vector<SecureBytes> bases, exps, results;
    ForEachItem(info, [&](const Napi::Buffer<uint8_t>& b, const Napi::Buffer<uint8_t>& e) {
      bases.emplace_back(b);
      exps.emplace_back(e);
    });
    CodedFailure f;
    if (!RunBatch(*st_, kernel, true, bases, exps, &results, &f)) Throw(env, f);
    return ToBufferArray(env, results);
  }

  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(st_->size())); }
  Napi::Value IfmaAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), st_->ifma()); }
  // What `auto` batches of 2+ use here.
  Napi::Value BatchKernel(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), st_->ifma() && !ifma::PortableForced() ? "ifma" : "portable");
  }

  Kernel KernelArg(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || info[i].IsUndefined()) return Kernel::Auto;
    const std::string k = StringArg(info, i, "kernel");
    if (k == "auto") return Kernel::Auto;
    if (k == "portable") return Kernel::Portable;
    if (k != "ifma") ThrowBadArg(info.Env(), "kernel must be 'auto', 'ifma' or 'portable'");
    if (!st_->ifma()) {
      ThrowRange(info.Env(), ifma::CpuSupported() ? "the IFMA kernel does not take this modulus (1024..8192 bits)"
                                                  : "this CPU has no AVX-512 IFMA");
    }
    return Kernel::Ifma;
  }

  template <typename F>
  void ForEachItem(const Napi::CallbackInfo& info, F add) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray()) ThrowBadArg(env, "bases and exponents must be arrays");
    Napi::Array bases = info[0].As<Napi::Array>();
    Napi::Array exps = info[1].As<Napi::Array>();
    if (bases.Length() != exps.Length() || bases.Length() == 0 || bases.Length() > kMaxBatch) {
      ThrowRange(env, "bases and exponents must have the same length, 1.." + std::to_string(kMaxBatch));
    }
    for (uint32_t i = 0; i < bases.Length(); i++) {
      Napi::Value b = bases.Get(i);
      Napi::Value e = exps.Get(i);
      if (!b.IsBuffer() || !e.IsBuffer()) ThrowBadArg(env, "item " + std::to_string(i) + ": base and exponent must be Buffers");
      auto bb = b.As<Napi::Buffer<uint8_t>>();
      auto eb = e.As<Napi::Buffer<uint8_t>>();
      CheckLengths(env, bb, eb, i);
      add(bb, eb);
    }
  }

  void CheckLengths(Napi::Env env, const Napi::Buffer<uint8_t>& b, const Napi::Buffer<uint8_t>& e, uint32_t i) {
    size_t n = st_->size();
    if (b.Length() == 0 || b.Length() > n || e.Length() == 0 || e.Length() > n) {
      ThrowRange(env, "item " + std::to_string(i) + ": base and exponent must be 1.." + std::to_string(n) + " bytes");
    }
  }

  std::shared_ptr<const ModpState> st_;
};

Napi::Value ModexpKernels(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("ifmaCpu", Napi::Boolean::New(info.Env(), ifma::CpuSupported()));
  o.Set("portableForced", Napi::Boolean::New(info.Env(), ifma::PortableForced()));
  return o;
}

}  // namespace

void InitModexp(Napi::Env env, Napi::Object exports) {
  exports.Set("ModpContext", ModpContext::Define(env));
  exports.Set("modexpKernels", Napi::Function::New<ModexpKernels>(env, "modexpKernels"));
  // The IFMA RSA batches share the kernel; registered here so that binding.cc stays as it is.
  InitIfmaRsa(env, exports);
}

}  // namespace oakley
