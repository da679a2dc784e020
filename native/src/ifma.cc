// Portable side of the IFMA modexp: CPU detection, modulus constants, byte <-> limb conversion.
// Compiled with the addon's normal flags, so it runs (and answers "no") on any x86-64.
#include "ifma_modexp.h"

#include <cpuid.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace oakley {
namespace ifma {

namespace {

bool DetectCpu() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  uint32_t xcr0Lo, xcr0Hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0Lo), "=d"(xcr0Hi) : "c"(0));
  // SSE (1), AVX (2), opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7) state enabled by the kernel.
  if ((xcr0Lo & 0xe6) != 0xe6) return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool f = b & (1u << 16), ifma = b & (1u << 21), vl = b & (1u << 31);
  return f && ifma && vl;
}

// Big-endian bytes -> 52-bit limbs at stride kLanes (one lane of an interleaved array).
void BytesToLimbs(const uint8_t* be, size_t len, uint64_t* limbs, size_t n) {
  uint64_t acc = 0;
  unsigned nb = 0;
  size_t k = len;
  for (size_t j = 0; j < n; j++) {
    while (nb < kLimbBits && k > 0) {
      acc |= static_cast<uint64_t>(be[--k]) << nb;
      nb += 8;
    }
    limbs[j * kLanes] = acc & kLimbMask;
    acc >>= kLimbBits;
    nb = nb > kLimbBits ? nb - kLimbBits : 0;
  }
}

// 52-bit limbs at stride kLanes -> exactly `len` big-endian bytes (the value fits).
void LimbsToBytes(const uint64_t* limbs, size_t n, uint8_t* be, size_t len) {
  uint64_t acc = 0;
  unsigned nb = 0;
  size_t j = 0;
  for (size_t k = len; k > 0;) {
    if (nb < 8) {
      if (j < n) {
        acc |= limbs[j++ * kLanes] << nb;
        nb += kLimbBits;
      } else {
        nb = 64;  // only zero bytes are left
      }
    }
    be[--k] = static_cast<uint8_t>(acc);
    acc >>= 8;
    nb -= 8;
  }
}

// Big-endian bytes -> little-endian 64-bit words at stride kLanes.
void BytesToWords(const uint8_t* be, size_t len, uint64_t* words, size_t nWords) {
  for (size_t w = 0; w < nWords; w++) {
    uint64_t v = 0;
    for (size_t b = 0; b < 8; b++) {
      const size_t i = w * 8 + b;
      if (i < len) v |= static_cast<uint64_t>(be[len - 1 - i]) << (8 * b);
    }
    words[w * kLanes] = v;
  }
}

// Lane-interleaved scratch that is wiped when it goes away (exponents, results).
struct WipedLimbs {
  explicit WipedLimbs(size_t count) : v(count, 0) {}
  ~WipedLimbs() { OPENSSL_cleanse(v.data(), v.size() * sizeof(uint64_t)); }
  std::vector<uint64_t> v;
};

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
struct CtxDeleter {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};

}  // namespace

bool CpuSupported() {
  static const bool supported = DetectCpu();
  return supported;
}

bool PortableForced() {
  static const bool forced = [] {
    const char* v = std::getenv("OAKLEY_MODEXP");
    return v != nullptr && std::strcmp(v, "portable") == 0;
  }();
  return forced;
}

std::unique_ptr<IfmaModulus> IfmaModulus::Create(const BIGNUM* p) {
  const int bits = BN_num_bits(p);
  if (bits < kMinBits || bits > kMaxBits || !BN_is_odd(p)) return nullptr;
  std::unique_ptr<IfmaModulus> m(new IfmaModulus());
  // R = 2^(52n) > 4p keeps almost-Montgomery products below 2p without correction steps.
  m->n_ = (static_cast<size_t>(bits) + 2 + kLimbBits - 1) / kLimbBits;
  const size_t n = m->n_;
  const size_t bytes = static_cast<size_t>(BN_num_bytes(p));
  std::vector<uint8_t> buf(bytes);
  BN_bn2binpad(p, buf.data(), static_cast<int>(bytes));
  std::vector<uint64_t> strided(n * kLanes);
  BytesToLimbs(buf.data(), bytes, strided.data(), n);
  m->p_.resize(n);
  for (size_t j = 0; j < n; j++) m->p_[j] = strided[j * kLanes];

  // k0 = -p^-1 mod 2^52 (Newton: each step doubles the correct low bits, 3 -> 96).
  const uint64_t p0 = m->p_[0];
  uint64_t inv = p0;
  for (int i = 0; i < 5; i++) inv *= 2 - p0 * inv;
  m->k0_ = (0 - inv) & kLimbMask;

  std::unique_ptr<BN_CTX, CtxDeleter> ctx(BN_CTX_new());
  std::unique_ptr<BIGNUM, BnDeleter> rr(BN_new());
  if (!ctx || !rr || !BN_set_bit(rr.get(), static_cast<int>(2 * kLimbBits * n)) ||
      !BN_mod(rr.get(), rr.get(), p, ctx.get())) {
    return nullptr;
  }
  std::vector<uint8_t> rrBytes(bytes);
  if (BN_bn2binpad(rr.get(), rrBytes.data(), static_cast<int>(bytes)) != static_cast<int>(bytes)) return nullptr;
  BytesToLimbs(rrBytes.data(), bytes, strided.data(), n);
  m->rr_.resize(n);
  for (size_t j = 0; j < n; j++) m->rr_[j] = strided[j * kLanes];
  return m;
}

bool IfmaModulus::ModExp(size_t count, const uint8_t* const* bases, const size_t* baseLens, const uint8_t* const* exps,
                         const size_t* expLens, uint8_t* const* outs, size_t outLen) const {
  if (count == 0 || count > kLanes) return false;
  size_t expLen = 1;
  for (size_t l = 0; l < count; l++) expLen = std::max(expLen, expLens[l]);
  const size_t expBits = 8 * expLen;
  const size_t words = (expBits + 63) / 64 + 1;  // + a zero word: windows may straddle the end
  WipedLimbs base(n_ * kLanes), exp(words * kLanes), out(n_ * kLanes);
  for (size_t l = 0; l < count; l++) {
    BytesToLimbs(bases[l], baseLens[l], base.v.data() + l, n_);
    BytesToWords(exps[l], expLens[l], exp.v.data() + l, words);
  }
  const KernelModulus km{n_, k0_, p_.data(), rr_.data()};
  if (!Kernel8(km, base.v.data(), exp.v.data(), expBits, out.v.data())) return false;
  for (size_t l = 0; l < count; l++) LimbsToBytes(out.v.data() + l, n_, outs[l], outLen);
  return true;
}

}  // namespace ifma
}  // namespace oakley
