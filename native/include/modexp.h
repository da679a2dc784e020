// Constant-time modular exponentiation with a cached Montgomery context (MODP key exchange).
#pragma once

#include <openssl/bn.h>

#include <memory>

#include "common.h"

namespace oakley {

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

 private:
  ModpState() = default;
  BIGNUM* p_ = nullptr;
  BN_MONT_CTX* mont_ = nullptr;
  size_t size_ = 0;
};

}  // namespace oakley
