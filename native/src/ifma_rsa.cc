// RSA private operations (two-prime CRT) in batches through the AVX-512 IFMA kernel: up to four
// blocks per kernel run, lanes alternating p and q. OpenSSL 3.0 has an IFMA path only for 1024-bit
// halves (RSA-2048); RSA-3072/4096 halves (1536/2048 bits) run on its generic constant-time
// ladder, one at a time. A run costs the same for 1 or 4 blocks, so this is for batches of 2+
// (the TypeScript side sends lone operations to RsaKey.privateRaw).
//
// Per block, as OpenSSL does it: blinding (c * r^e, unblinded by r^-1 at the end), c mod p and
// c mod q on BN_FLG_CONSTTIME copies, the two exponentiations (constant time, exponent length =
// |p| bytes whatever dp/dq are), Garner recombination as in OpenSSL's rsa_ossl_mod_exp, and a
// check of the result against the public key before it leaves (fault attacks).
#include "ifma_rsa.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "ifma_modexp.h"
#include "modexp.h"

namespace oakley {

namespace {

constexpr size_t kMaxDer = 64 * 1024;
constexpr size_t kBlocksPerRun = ifma::kLanes / 2;
constexpr uint32_t kMaxBatch = 1024;

struct BnFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
struct CtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
struct MontFree {
  void operator()(BN_MONT_CTX* m) const { BN_MONT_CTX_free(m); }
};
struct BlindingFree {
  void operator()(BN_BLINDING* b) const { BN_BLINDING_free(b); }
};

// The key material and the kernel constants (p in even lanes, q in odd lanes). Immutable.
class IfmaRsaState {
 public:
  static std::shared_ptr<IfmaRsaState> Load(const uint8_t* der, size_t len, CodedFailure* f);
  ~IfmaRsaState() = default;
  size_t size() const { return nBytes_; }
  int bits() const { return BN_num_bits(n_.get()); }
  // outs[i] = blocks[i]^d mod n, |n| bytes each; every block |n| bytes and < n.
  bool Private(std::vector<SecureBytes>& blocks, std::vector<SecureBytes>* outs, CodedFailure* f) const;

 private:
  IfmaRsaState() = default;
  bool Run(size_t count, std::vector<SecureBytes>& blocks, size_t first, std::vector<SecureBytes>* outs, BN_CTX* ctx,
           CodedFailure* f) const;
  Bn n_, e_, p_, q_, dp_, dq_, qinv_;
  std::unique_ptr<BN_MONT_CTX, MontFree> montN_;
  // OpenSSL's blinding pair (r^e, r^-1), squared on every use and renewed every 32 uses (one
  // modular inversion per 32 operations instead of one per operation), shared by the pool threads
  // under its own lock.
  std::unique_ptr<BN_BLINDING, BlindingFree> blinding_;
  size_t nBytes_ = 0, primeBytes_ = 0, limbs_ = 0;
  std::vector<uint64_t> lanesP_, lanesRr_;  // secret (the primes): wiped by the destructor below
  uint64_t k0_[ifma::kLanes] = {};
  std::vector<uint8_t> dpBytes_, dqBytes_;

  // The prime limbs and CRT exponents are secret: wiped before the state is freed.
  void Clear() {
    OPENSSL_cleanse(lanesP_.data(), lanesP_.size() * sizeof(uint64_t));
    OPENSSL_cleanse(lanesRr_.data(), lanesRr_.size() * sizeof(uint64_t));
    OPENSSL_cleanse(dpBytes_.data(), dpBytes_.size());
    OPENSSL_cleanse(dqBytes_.data(), dqBytes_.size());
  }
};

Bn Param(EVP_PKEY* pkey, const char* name) {
  BIGNUM* b = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &b) != 1) return Bn();
  return Bn(b);
}

std::shared_ptr<IfmaRsaState> IfmaRsaState::Load(const uint8_t* der, size_t len, CodedFailure* f) {
  const unsigned char* p = der;
  EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(len));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(pkey, EVP_PKEY_free);
  if (!pkey || p != der + len || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
    *f = {ErrKind::Type, kErrBadKey, OpensslError("cannot parse RSA private key DER")};
    return nullptr;
  }
  std::shared_ptr<IfmaRsaState> st(new IfmaRsaState(), [](IfmaRsaState* s) {
    s->Clear();
    delete s;
  });
  st->n_ = Param(pkey, OSSL_PKEY_PARAM_RSA_N);
  st->e_ = Param(pkey, OSSL_PKEY_PARAM_RSA_E);
  st->p_ = Param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1);
  st->q_ = Param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2);
  st->dp_ = Param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1);
  st->dq_ = Param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2);
  st->qinv_ = Param(pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  ERR_clear_error();
  if (!st->n_ || !st->e_ || !st->p_ || !st->q_ || !st->dp_ || !st->dq_ || !st->qinv_ ||
      Param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR "3")) {
    ERR_clear_error();
    *f = {ErrKind::Range, kErrBadKey, "the IFMA RSA path needs a two-prime key with its CRT parameters"};
    return nullptr;
  }
  for (BIGNUM* b : {st->p_.get(), st->q_.get(), st->dp_.get(), st->dq_.get(), st->qinv_.get()}) BN_set_flags(b, BN_FLG_CONSTTIME);
  const int pb = BN_num_bits(st->p_.get()), qb = BN_num_bits(st->q_.get());
  if (std::min(pb, qb) < ifma::kMinBits || std::max(pb, qb) > ifma::kMaxBits || BN_num_bytes(st->p_.get()) != BN_num_bytes(st->q_.get())) {
    *f = {ErrKind::Range, kErrBadKey, "the IFMA RSA path takes primes of equal size, 1024..8192 bits (RSA-2048 and up)"};
    return nullptr;
  }
  std::unique_ptr<BN_CTX, CtxFree> ctx(BN_CTX_new());
  st->montN_.reset(BN_MONT_CTX_new());
  if (!ctx || !st->montN_ || !BN_MONT_CTX_set(st->montN_.get(), st->n_.get(), ctx.get())) {
    *f = {ErrKind::Plain, kErrNative, OpensslError("BN_MONT_CTX_set failed")};
    return nullptr;
  }
  st->blinding_.reset(BN_BLINDING_create_param(nullptr, st->e_.get(), st->n_.get(), ctx.get(), BN_mod_exp_mont, st->montN_.get()));
  if (!st->blinding_) {
    *f = {ErrKind::Plain, kErrNative, OpensslError("BN_BLINDING_create_param failed")};
    return nullptr;
  }
  st->nBytes_ = static_cast<size_t>(BN_num_bytes(st->n_.get()));
  st->primeBytes_ = static_cast<size_t>(BN_num_bytes(st->p_.get()));
  st->limbs_ = ifma::LimbsFor(std::max(pb, qb));
  st->lanesP_.assign(st->limbs_ * ifma::kLanes, 0);
  st->lanesRr_.assign(st->limbs_ * ifma::kLanes, 0);
  for (size_t l = 0; l < ifma::kLanes; l++) {
    if (!ifma::LaneModulus(l % 2 ? st->q_.get() : st->p_.get(), st->limbs_, l, st->lanesP_.data(), st->lanesRr_.data(),
                           st->k0_, ctx.get())) {
      *f = {ErrKind::Plain, kErrNative, OpensslError("IFMA modulus set-up failed")};
      return nullptr;
    }
  }
  st->dpBytes_.resize(st->primeBytes_);
  st->dqBytes_.resize(st->primeBytes_);
  if (BN_bn2binpad(st->dp_.get(), st->dpBytes_.data(), static_cast<int>(st->primeBytes_)) < 0 ||
      BN_bn2binpad(st->dq_.get(), st->dqBytes_.data(), static_cast<int>(st->primeBytes_)) < 0) {
    *f = {ErrKind::Range, kErrBadKey, "CRT exponent longer than its prime"};
    return nullptr;
  }
  return st;
}

bool IfmaRsaState::Private(std::vector<SecureBytes>& blocks, std::vector<SecureBytes>* outs, CodedFailure* f) const {
  std::unique_ptr<BN_CTX, CtxFree> ctx(BN_CTX_new());
  if (!ctx) {
    *f = {ErrKind::Plain, kErrNative, "BN_CTX_new failed"};
    return false;
  }
  outs->clear();
  outs->resize(blocks.size());
  for (size_t first = 0; first < blocks.size(); first += kBlocksPerRun) {
    const size_t count = std::min(kBlocksPerRun, blocks.size() - first);
    if (!Run(count, blocks, first, outs, ctx.get(), f)) return false;
  }
  return true;
}

bool IfmaRsaState::Run(size_t count, std::vector<SecureBytes>& blocks, size_t first, std::vector<SecureBytes>* outs,
                       BN_CTX* ctx, CodedFailure* f) const {
  const size_t nl = limbs_, words = (8 * primeBytes_ + 63) / 64 + 1;
  ifma::WipedLimbs base(nl * ifma::kLanes), exp(words * ifma::kLanes), res(nl * ifma::kLanes);
  std::vector<Bn> unblind(count);
  std::vector<Bn> blinded(count);
  SecureBytes buf(nBytes_);
  auto fail = [&](const char* what) {
    *f = {ErrKind::Plain, kErrNative, OpensslError(what)};
    return false;
  };
  BN_CTX_start(ctx);
  struct End {
    BN_CTX* c;
    ~End() { BN_CTX_end(c); }
  } end{ctx};
  BIGNUM* c = BN_CTX_get(ctx);
  BIGNUM* red = BN_CTX_get(ctx);
  if (!red) return fail("BN_CTX_get failed");
  for (size_t k = 0; k < count; k++) {
    const SecureBytes& in = blocks[first + k];
    if (in.size() != nBytes_ || !BN_bin2bn(in.data(), static_cast<int>(in.size()), c)) {
      *f = {ErrKind::Range, kErrBadArg, "item " + std::to_string(first + k) + ": RSA input block must be exactly " +
                                            std::to_string(nBytes_) + " bytes"};
      return false;
    }
    if (BN_ucmp(c, n_.get()) >= 0) {
      *f = {ErrKind::Range, kErrBadArg, "item " + std::to_string(first + k) + ": RSA input block is not below the modulus"};
      return false;
    }
    // Blinding: c' = c * r^e mod n; the result is multiplied by r^-1 (kept in unblind[k]) at the end.
    unblind[k].reset(BN_new());
    blinded[k].reset(BN_dup(c));
    if (!unblind[k] || !blinded[k]) return fail("BN_new failed");
    BN_BLINDING_lock(blinding_.get());
    const int converted = BN_BLINDING_convert_ex(blinded[k].get(), unblind[k].get(), blinding_.get(), ctx);
    BN_BLINDING_unlock(blinding_.get());
    if (!converted) return fail("RSA blinding failed");
    // c' mod p -> lane 2k, c' mod q -> lane 2k+1 (p, q carry BN_FLG_CONSTTIME).
    for (size_t h = 0; h < 2; h++) {
      const BIGNUM* m = h ? q_.get() : p_.get();
      if (!BN_nnmod(red, blinded[k].get(), m, ctx) ||
          BN_bn2binpad(red, buf.data(), static_cast<int>(primeBytes_)) != static_cast<int>(primeBytes_)) {
        return fail("RSA CRT reduction failed");
      }
      ifma::BytesToLimbs(buf.data(), primeBytes_, base.data() + 2 * k + h, nl);
      const std::vector<uint8_t>& d = h ? dqBytes_ : dpBytes_;
      ifma::BytesToWords(d.data(), d.size(), exp.data() + 2 * k + h, words);
    }
  }
  const ifma::KernelModulus km{nl, k0_, lanesP_.data(), lanesRr_.data()};
  if (!ifma::Kernel8(km, base.data(), exp.data(), 8 * primeBytes_, res.data())) {
    *f = {ErrKind::Plain, kErrNative, "IFMA modexp workspace allocation failed"};
    return false;
  }
  BIGNUM* m1 = BN_CTX_get(ctx);
  BIGNUM* m2 = BN_CTX_get(ctx);
  BIGNUM* h = BN_CTX_get(ctx);
  BIGNUM* v = BN_CTX_get(ctx);
  if (!v) return fail("BN_CTX_get failed");
  for (BIGNUM* b : {m1, m2, h}) BN_set_flags(b, BN_FLG_CONSTTIME);
  bool ok = true;
  for (size_t k = 0; k < count && ok; k++) {
    ifma::LimbsToBytes(res.data() + 2 * k, nl, buf.data(), primeBytes_);
    ok = BN_bin2bn(buf.data(), static_cast<int>(primeBytes_), m1) != nullptr;
    ifma::LimbsToBytes(res.data() + 2 * k + 1, nl, buf.data(), primeBytes_);
    ok = ok && BN_bin2bn(buf.data(), static_cast<int>(primeBytes_), m2) != nullptr;
    // Garner: h = qinv * (m1 - m2) mod p; m = m2 + h * q (as rsa_ossl_mod_exp).
    ok = ok && BN_sub(h, m1, m2);
    if (ok && BN_is_negative(h)) ok = BN_add(h, h, p_.get());
    ok = ok && BN_mod_mul(h, h, qinv_.get(), p_.get(), ctx) && BN_mul(h, h, q_.get(), ctx) && BN_add(h, h, m2);
    // Fault check against the public key, then unblind.
    ok = ok && BN_mod_exp_mont(v, h, e_.get(), n_.get(), ctx, montN_.get());
    if (ok && BN_cmp(v, blinded[k].get()) != 0) {
      BN_clear(h);
      *f = {ErrKind::Plain, kErrNative, "IFMA RSA result failed the public-key check"};
      return false;
    }
    ok = ok && BN_BLINDING_invert_ex(h, unblind[k].get(), blinding_.get(), ctx);  // reads only its Montgomery context
    SecureBytes out(nBytes_);
    ok = ok && BN_bn2binpad(h, out.data(), static_cast<int>(nBytes_)) == static_cast<int>(nBytes_);
    if (ok) (*outs)[first + k] = std::move(out);
  }
  for (BIGNUM* b : {m1, m2, h, c, red}) BN_clear(b);
  return ok ? true : fail("RSA CRT recombination failed");
}

class IfmaRsaJob : public CodedWorker {
 public:
  IfmaRsaJob(Napi::Env env, std::shared_ptr<const IfmaRsaState> st) : CodedWorker(env), st_(std::move(st)) {}
  std::vector<SecureBytes> blocks;

 protected:
  void Run() override {
    CodedFailure f;
    if (!st_->Private(blocks, &outs_, &f)) Fail(f);
  }
  Napi::Value Result(Napi::Env env) override { return ToBufferArray(env, outs_); }

 private:
  std::shared_ptr<const IfmaRsaState> st_;
  std::vector<SecureBytes> outs_;
};

// new IfmaRsaKey(der): a two-prime RSA private key (PKCS#1 or PKCS#8 DER) for batched private
// operations through the IFMA kernel. Throws a RangeError when the CPU or the key does not suit.
class IfmaRsaKey : public Napi::ObjectWrap<IfmaRsaKey> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "IfmaRsaKey",
                       {InstanceMethod<&IfmaRsaKey::Batch>("privateRawBatch"),
                        InstanceMethod<&IfmaRsaKey::BatchSync>("privateRawBatchSync"),
                        InstanceMethod<&IfmaRsaKey::Dispose>("dispose"),
                        InstanceAccessor<&IfmaRsaKey::Bits>("bits")});
  }

  explicit IfmaRsaKey(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IfmaRsaKey>(info) {
    Napi::Env env = info.Env();
    if (!ifma::CpuSupported()) ThrowRange(env, "this CPU has no AVX-512 IFMA");
    Napi::Buffer<uint8_t> der = BufferArg(info, 0, "key DER");
    if (der.Length() == 0 || der.Length() > kMaxDer) ThrowRange(env, "key DER must be 1..65536 bytes");
    SecureBytes copy(der);
    CodedFailure f;
    st_ = IfmaRsaState::Load(copy.data(), copy.size(), &f);
    if (!st_) Throw(env, f);
  }

 private:
  const std::shared_ptr<const IfmaRsaState>& State(Napi::Env env) {
    if (!st_) Throw(env, ErrKind::Plain, kErrBadKey, "RSA key was disposed");
    return st_;
  }

  std::vector<SecureBytes> Blocks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) ThrowBadArg(env, "blocks must be an array of Buffers");
    Napi::Array a = info[0].As<Napi::Array>();
    if (a.Length() == 0 || a.Length() > kMaxBatch) ThrowRange(env, "1.." + std::to_string(kMaxBatch) + " blocks");
    std::vector<SecureBytes> out;
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsBuffer()) ThrowBadArg(env, "item " + std::to_string(i) + ": block must be a Buffer");
      out.emplace_back(v.As<Napi::Buffer<uint8_t>>());
    }
    return out;
  }

  Napi::Value Batch(const Napi::CallbackInfo& info) {
    std::unique_ptr<IfmaRsaJob> job(new IfmaRsaJob(info.Env(), State(info.Env())));
    job->blocks = Blocks(info);
    Napi::Promise p = job->Promise();
    job.release()->Queue();
    return p;
  }

  Napi::Value BatchSync(const Napi::CallbackInfo& info) {
    const auto& st = State(info.Env());
    std::vector<SecureBytes> blocks = Blocks(info), outs;
    CodedFailure f;
    if (!st->Private(blocks, &outs, &f)) Throw(info.Env(), f);
    return ToBufferArray(info.Env(), outs);
  }

  Napi::Value Bits(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), State(info.Env())->bits()); }
  // Drops this handle's reference now (jobs in flight keep theirs; the last one wipes the key).
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    st_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<const IfmaRsaState> st_;
};

}  // namespace

void InitIfmaRsa(Napi::Env env, Napi::Object exports) {
  exports.Set("IfmaRsaKey", IfmaRsaKey::Define(env));
}

}  // namespace oakley
