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

struct BnDeleter {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
struct CtxDeleter {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};

}  // namespace

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

WipedLimbs::~WipedLimbs() { OPENSSL_cleanse(v.data(), v.size() * sizeof(uint64_t)); }

size_t LimbsFor(int bits) { return (static_cast<size_t>(bits) + 2 + kLimbBits - 1) / kLimbBits; }

bool LaneModulus(const BIGNUM* p, size_t n, size_t lane, uint64_t* limbs, uint64_t* rr, uint64_t* k0, BN_CTX* ctx) {
  const int bits = BN_num_bits(p);
  if (!BN_is_odd(p) || n < LimbsFor(bits) || n > kMaxLimbs) return false;
  const size_t bytes = (n * kLimbBits + 7) / 8;
  std::vector<uint8_t> buf(bytes);
  std::unique_ptr<BIGNUM, BnDeleter> r(BN_new()), pc(BN_dup(p));
  if (!r || !pc) return false;
  BN_set_flags(pc.get(), BN_FLG_CONSTTIME);
  bool ok = BN_bn2binpad(p, buf.data(), static_cast<int>(bytes)) == static_cast<int>(bytes);
  if (ok) BytesToLimbs(buf.data(), bytes, limbs + lane, n);
  // k0 = -p^-1 mod 2^52 (Newton: each step doubles the correct low bits, 3 -> 96).
  const uint64_t p0 = limbs[lane];
  uint64_t inv = p0;
  for (int i = 0; i < 5; i++) inv *= 2 - p0 * inv;
  k0[lane] = (0 - inv) & kLimbMask;
  ok = ok && BN_set_bit(r.get(), static_cast<int>(2 * kLimbBits * n)) && BN_mod(r.get(), r.get(), pc.get(), ctx) &&
       BN_bn2binpad(r.get(), buf.data(), static_cast<int>(bytes)) == static_cast<int>(bytes);
  if (ok) BytesToLimbs(buf.data(), bytes, rr + lane, n);
  OPENSSL_cleanse(buf.data(), buf.size());
  return ok;
}

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
  m->n_ = LimbsFor(bits);
  m->p_.assign(m->n_ * kLanes, 0);
  m->rr_.assign(m->n_ * kLanes, 0);
  std::unique_ptr<BN_CTX, CtxDeleter> ctx(BN_CTX_new());
  if (!ctx || !LaneModulus(p, m->n_, 0, m->p_.data(), m->rr_.data(), m->k0_, ctx.get())) return nullptr;
  for (size_t j = 0; j < m->n_; j++) {
    for (size_t l = 1; l < kLanes; l++) {
      m->p_[j * kLanes + l] = m->p_[j * kLanes];
      m->rr_[j * kLanes + l] = m->rr_[j * kLanes];
    }
  }
  for (size_t l = 1; l < kLanes; l++) m->k0_[l] = m->k0_[0];
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
