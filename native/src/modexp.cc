// ModpContext: y = base^exp mod p for secret exponents, sync, async and batched on the pool.
#include "modexp.h"

#include <utility>

namespace oakley {

namespace {

constexpr size_t kMaxModulusBytes = 1024;  // 8192-bit MODP group 18
constexpr uint32_t kMaxBatch = 4096;

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
  return st;
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

// One job = any number of independent modexps in one group (a single exponentiation is a batch of 1).
// This is the entry a multi-buffer (AVX-512 IFMA) kernel will take over.
class ModexpJob : public CodedWorker {
 public:
  ModexpJob(Napi::Env env, std::shared_ptr<const ModpState> st, bool array)
      : CodedWorker(env), st_(std::move(st)), array_(array) {}
  void Add(const Napi::Buffer<uint8_t>& base, const Napi::Buffer<uint8_t>& exp) {
    bases_.emplace_back(base);
    exps_.emplace_back(exp);
  }

 protected:
  void Run() override {
    BnCtxPtr ctx(BN_CTX_new());
    if (!ctx) return Fail(ErrKind::Plain, kErrNative, "BN_CTX_new failed");
    results_.resize(bases_.size());
    for (size_t i = 0; i < bases_.size(); i++) {
      CodedFailure f;
      if (!st_->ModExp(bases_[i].data(), bases_[i].size(), exps_[i].data(), exps_[i].size(), ctx.get(), &results_[i], &f)) {
        if (array_) f.message = "item " + std::to_string(i) + ": " + f.message;
        return Fail(f);
      }
      exps_[i].Wipe();
    }
  }
  Napi::Value Result(Napi::Env env) override {
    if (!array_) return ToBuffer(env, results_[0]);
    Napi::Array out = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) out.Set(static_cast<uint32_t>(i), ToBuffer(env, results_[i]));
    return out;
  }

 private:
  std::shared_ptr<const ModpState> st_;
  bool array_;
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
                        InstanceAccessor<&ModpContext::Size>("size")});
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
    auto* job = new ModexpJob(info.Env(), st_, false);
    job->Add(base, exp);
    Napi::Promise promise = job->Promise();
    job->Queue();
    return promise;
  }

  Napi::Value ModexpBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray()) ThrowBadArg(env, "bases and exponents must be arrays");
    Napi::Array bases = info[0].As<Napi::Array>();
    Napi::Array exps = info[1].As<Napi::Array>();
    if (bases.Length() != exps.Length() || bases.Length() == 0 || bases.Length() > kMaxBatch) {
      ThrowRange(env, "bases and exponents must have the same length, 1.." + std::to_string(kMaxBatch));
    }
    std::unique_ptr<ModexpJob> job(new ModexpJob(env, st_, true));
    for (uint32_t i = 0; i < bases.Length(); i++) {
      Napi::Value b = bases.Get(i);
      Napi::Value e = exps.Get(i);
      if (!b.IsBuffer() || !e.IsBuffer()) ThrowBadArg(env, "item " + std::to_string(i) + ": base and exponent must be Buffers");
      auto bb = b.As<Napi::Buffer<uint8_t>>();
      auto eb = e.As<Napi::Buffer<uint8_t>>();
      CheckLengths(env, bb, eb, i);
      job->Add(bb, eb);
    }
    Napi::Promise promise = job->Promise();
    job.release()->Queue();
    return promise;
  }

  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(st_->size())); }

  void CheckLengths(Napi::Env env, const Napi::Buffer<uint8_t>& b, const Napi::Buffer<uint8_t>& e, uint32_t i) {
    size_t n = st_->size();
    if (b.Length() == 0 || b.Length() > n || e.Length() == 0 || e.Length() > n) {
      ThrowRange(env, "item " + std::to_string(i) + ": base and exponent must be 1.." + std::to_string(n) + " bytes");
    }
  }

  std::shared_ptr<const ModpState> st_;
};

}  // namespace

void InitModexp(Napi::Env env, Napi::Object exports) {
  exports.Set("ModpContext", ModpContext::Define(env));
}

}  // namespace oakley
