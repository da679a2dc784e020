// Portable side of the AVX-512 IFMA multi-buffer modexp (see ifma.h): CPU detection, the
// per-modulus constants, and conversion between big-endian bytes and lane-interleaved limbs.
#pragma once

#include <openssl/bn.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ifma.h"

namespace oakley {
namespace ifma {

// AVX-512 F + VL + IFMA in CPUID leaf 7, and the OS saves opmask/ZMM state (XCR0 via xgetbv).
// Detected once.
bool CpuSupported();
// OAKLEY_MODEXP=portable in the environment (read once): batches stay on OpenSSL unless a
// caller asks for the IFMA kernel by name (benchmarks, cross-path tests).
bool PortableForced();

// Limb count for a modulus of `bits` bits: R = 2^(52n) > 4p.
size_t LimbsFor(int bits);
// The kernel's constants of modulus p with n limbs (n >= LimbsFor(bits of p)), written into lane
// `lane` of lane-interleaved arrays: limbs p[n*8], R^2 mod p rr[n*8], k0[8]. p odd. p may be secret
// (RSA primes): R^2 mod p is computed by BN_mod on a copy of p flagged BN_FLG_CONSTTIME.
bool LaneModulus(const BIGNUM* p, size_t n, size_t lane, uint64_t* limbs, uint64_t* rr, uint64_t* k0, BN_CTX* ctx);
// Big-endian bytes <-> limbs / 64-bit words, at stride kLanes (one lane of an interleaved array).
void BytesToLimbs(const uint8_t* be, size_t len, uint64_t* limbs, size_t n);
void LimbsToBytes(const uint64_t* limbs, size_t n, uint8_t* be, size_t len);
void BytesToWords(const uint8_t* be, size_t len, uint64_t* words, size_t nWords);

// Lane-interleaved scratch that is wiped when it goes away (exponents, results, secret moduli).
struct WipedLimbs {
  explicit WipedLimbs(size_t count) : v(count, 0) {}
  ~WipedLimbs();
  WipedLimbs(const WipedLimbs&) = delete;
  WipedLimbs& operator=(const WipedLimbs&) = delete;
  uint64_t* data() { return v.data(); }
  std::vector<uint64_t> v;
};

// Moduli the kernel takes: odd, 1024..8192 bits (RSA-3072 CRT halves up to MODP group 18).
constexpr int kMinBits = 1024;
constexpr int kMaxBits = 8192;

// The public constants of one modulus: immutable, shared by pool threads.
class IfmaModulus {
 public:
  // nullptr when p is outside [kMinBits, kMaxBits] or even, or set-up fails.
  static std::unique_ptr<IfmaModulus> Create(const BIGNUM* p);

  size_t limbs() const { return n_; }
  // outs[i] = bases[i]^exps[i] mod p, each written as exactly `outLen` big-endian bytes
  // (outLen >= |p|). 1 <= count <= 8; unused lanes run with base 0 and exponent 0. Callers check
  // base < p and the lengths. Exponents are processed to 8 * max(expLens) bits: lengths are
  // public, values are not. false only if the workspace cannot be allocated.
  bool ModExp(size_t count, const uint8_t* const* bases, const size_t* baseLens, const uint8_t* const* exps,
              const size_t* expLens, uint8_t* const* outs, size_t outLen) const;

 private:
  IfmaModulus() = default;
  size_t n_ = 0;
  uint64_t k0_[kLanes] = {};
  std::vector<uint64_t> p_;   // the same p in every lane
  std::vector<uint64_t> rr_;
};

}  // namespace ifma
}  // namespace oakley
