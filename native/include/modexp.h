// Constant-time modular exponentiation with a cached Montgomery context (MODP key exchange).
#pragma once

#include <openssl/bn.h>

#include <memory>
#include <vector>

#include "common.h"
#include "ifma_modexp.h"

namespace oakley {

// Results of a batch as a JS array of Buffer copies (also used by the IFMA RSA batches).
inline Napi::Array ToBufferArray(Napi::Env env, const std::vector<SecureBytes>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), ToBuffer(env, v[i]));
  return a;
}

// p and its Montgomery context; immutable after construction, so pool threads share it.
class ModpState {
 public:
  static std::shared_ptr<ModpState> Create(const uint8_t* p, size_t len, CodedFailure* failure);
  ~ModpState();
  ModpState(const ModpState&) = delete;
  ModpState& operator=(const ModpState&) = delete;

  size_t size() const { return size_; }
  // out = base^exp mod p, left-padded to |p|. `exp` is secret: it only ever goes through
  // BN_mod_exp_mont_consttime with BN_FLG_CONSTTIME set. Callable from any thread.
  bool ModExp(const uint8_t* base, size_t baseLen, const uint8_t* exp, size_t expLen, BN_CTX* ctx,
              SecureBytes* out, CodedFailure* failure) const;
  // The same checks as ModExp (lengths, base < p) without computing anything.
  bool Check(const uint8_t* base, size_t baseLen, size_t expLen, CodedFailure* failure) const;
  // True when this CPU and this modulus can use the AVX-512 IFMA kernel.
  bool ifma() const { return ifma_ != nullptr; }
  // Up to 8 modexps in one run of the IFMA kernel (ifma() must be true; items already Check()ed).
  // outs[i] get |p| bytes each.
  bool ModExpIfma(size_t count, const SecureBytes* bases, const SecureBytes* exps, SecureBytes* outs,
                  CodedFailure* failure) const;

 private:
  ModpState() = default;
  std::unique_ptr<ifma::IfmaModulus> ifma_;
  std::vector<uint8_t> pBytes_;
  BIGNUM* p_ = nullptr;
  BN_MONT_CTX* mont_ = nullptr;
  size_t size_ = 0;
};

}  // namespace oakley
