// Eight-lane Montgomery exponentiation with AVX-512 IFMA. The only file built with
// -mavx512f -mavx512vl -mavx512ifma (static library `oakley_ifma` in binding.gyp); see ifma.h for
// why it includes no C++ library header.
//
// Representation: a number is n vectors; vector j holds limb j (52 bits) of the 8 lanes; so does
// the modulus (each lane may have its own).
//
// Constant time by construction:
//   - loop counts depend only on n and the public exponent length, never on values;
//   - the window value of each lane selects a table entry through masked blends over ALL 32
//     entries (every entry is loaded every time, in the same order);
//   - the final subtraction of p is computed for every lane and kept or dropped with a mask;
//   - the almost-Montgomery product (inputs and outputs < 2p, R = 2^(52n) > 4p) needs no
//     data-dependent correction step inside the exponentiation.
// GCC 12's AVX-512 headers initialise `_mm512_undefined_*` from themselves, which -Werror turns
// into a false "may be used uninitialized" once the intrinsics are inlined here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <stdlib.h>

#include "ifma.h"

namespace oakley {
namespace ifma {

namespace {

typedef __m512i V;

inline V Bcast(uint64_t x) { return _mm512_set1_epi64(static_cast<long long>(x)); }

// r = a*b/R mod p, "almost": r < 2p whenever a, b < 2p. Limbs of a, b < 2^52 (normalised).
// t: n vectors of scratch, distinct from a, b, r. r may alias a and/or b (written last).
//
// Operand scanning with the reduction folded into the same pass (one row per limb of a): the
// accumulators are not normalised inside the loops; each of them sums at most 4n products
// below 2^52 plus one carry, < 2^62 for n <= 160, so 64-bit lanes never overflow.
void Amm(const V* a, const V* b, const V* p, V k0, size_t n, V* t, V* r) {
  const V zero = _mm512_setzero_si512();
  for (size_t j = 0; j < n; j++) t[j] = zero;
  const V p0 = p[0];
  for (size_t i = 0; i < n; i++) {
    const V ai = a[i];
    V bPrev = b[0];
    V x0 = _mm512_madd52lo_epu64(t[0], ai, bPrev);
    // m = x0 * (-p^-1) mod 2^52: vpmadd52luq reads only the low 52 bits of x0.
    const V m = _mm512_madd52lo_epu64(zero, x0, k0);
    x0 = _mm512_madd52lo_epu64(x0, m, p0);  // low 52 bits are now zero
    const V carry = _mm512_srli_epi64(x0, kLimbBits);
    V pPrev = p0;
    if (n > 1) t[1] = _mm512_add_epi64(t[1], carry);
    for (size_t j = 1; j < n; j++) {
      const V bj = b[j];
      const V pj = p[j];
      V x = _mm512_madd52lo_epu64(t[j], ai, bj);
      x = _mm512_madd52hi_epu64(x, ai, bPrev);
      x = _mm512_madd52lo_epu64(x, m, pj);
      x = _mm512_madd52hi_epu64(x, m, pPrev);
      t[j - 1] = x;  // the division by 2^52 of this row is the shift by one vector
      bPrev = bj;
      pPrev = pj;
    }
    V top = _mm512_madd52hi_epu64(zero, ai, bPrev);
    t[n - 1] = _mm512_madd52hi_epu64(top, m, pPrev);
  }
  // Normalise: the value is < 2p < 2^(52n), so nothing is carried out of the top limb.
  const V mask = Bcast(kLimbMask);
  V c = zero;
  for (size_t j = 0; j < n; j++) {
    const V x = _mm512_add_epi64(t[j], c);
    c = _mm512_srli_epi64(x, kLimbBits);
    r[j] = _mm512_and_si512(x, mask);
  }
}

// The 5-bit window of every lane's exponent starting at bit `pos` (public).
V Window(const uint64_t* exp, size_t pos) {
  const size_t w = pos / 64;
  const unsigned off = static_cast<unsigned>(pos % 64);
  V v = _mm512_srl_epi64(_mm512_loadu_si512(exp + w * kLanes), _mm_cvtsi64_si128(off));
  if (off > 64 - kWindow) {
    const V hi = _mm512_loadu_si512(exp + (w + 1) * kLanes);
    v = _mm512_or_si512(v, _mm512_sll_epi64(hi, _mm_cvtsi64_si128(64 - off)));
  }
  return _mm512_and_si512(v, Bcast((1u << kWindow) - 1));
}

// r = tbl[idx] per lane: every entry is read, and kept in the lanes whose index matches.
void Lookup(const V* tbl, size_t n, V idx, V* r) {
  constexpr unsigned kEntries = 1u << kWindow;
  __mmask8 hit[kEntries];
  for (unsigned e = 0; e < kEntries; e++) hit[e] = _mm512_cmpeq_epi64_mask(idx, Bcast(e));
  for (size_t j = 0; j < n; j++) {
    V x = _mm512_setzero_si512();
    for (unsigned e = 0; e < kEntries; e++) x = _mm512_mask_mov_epi64(x, hit[e], tbl[e * n + j]);
    r[j] = x;
  }
  volatile __mmask8* vh = hit;
  for (unsigned e = 0; e < kEntries; e++) vh[e] = 0;
}

void Wipe(void* p, size_t bytes) {
  volatile uint64_t* w = static_cast<volatile uint64_t*>(p);
  for (size_t i = 0; i < bytes / 8; i++) w[i] = 0;
}

// The kernel's workspace (38 vectors per limb: 97 KB for 2048-bit moduli), kept per thread: a
// fresh aligned_alloc per run cost a glibc malloc_consolidate each time. Wiped after every run.
class Workspace {
 public:
  ~Workspace() {
    if (p_) free(p_);
  }
  V* Get(size_t bytes) {
    if (bytes > bytes_) {
      if (p_) free(p_);
      p_ = static_cast<V*>(aligned_alloc(64, bytes));
      bytes_ = p_ ? bytes : 0;
    }
    return p_;
  }

 private:
  V* p_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace

bool Kernel8(const KernelModulus& m, const uint64_t* base, const uint64_t* exp, size_t expBits, uint64_t* out) {
  const size_t n = m.n;
  if (n == 0 || n > kMaxLimbs || expBits == 0) return false;
  constexpr size_t kEntries = size_t{1} << kWindow;
  const size_t vecs = (kEntries + 6) * n;
  const size_t bytes = vecs * sizeof(V);
  thread_local Workspace workspace;
  V* ws = workspace.Get(bytes);
  if (!ws) return false;
  V* tbl = ws;               // 32 entries, Montgomery form
  V* acc = tbl + kEntries * n;
  V* sel = acc + n;          // looked-up entry / input base
  V* t = sel + n;            // Amm scratch
  V* rr = t + n;
  V* one = rr + n;
  V* p = one + n;
  const V k0 = _mm512_loadu_si512(m.k0);
  const V zero = _mm512_setzero_si512();
  for (size_t j = 0; j < n; j++) {
    p[j] = _mm512_loadu_si512(m.p + j * kLanes);
    rr[j] = _mm512_loadu_si512(m.rr + j * kLanes);
    one[j] = j == 0 ? Bcast(1) : zero;
    sel[j] = _mm512_loadu_si512(base + j * kLanes);
  }
  Amm(rr, one, p, k0, n, t, tbl);          // R mod p: Montgomery 1
  Amm(sel, rr, p, k0, n, t, tbl + n);      // base * R mod p
  for (size_t e = 2; e < kEntries; e++) Amm(tbl + (e - 1) * n, tbl + n, p, k0, n, t, tbl + e * n);

  // Left to right over a fixed number of windows: the top one may be partial (zero-filled).
  const size_t windows = (expBits + kWindow - 1) / kWindow;
  Lookup(tbl, n, Window(exp, (windows - 1) * kWindow), acc);
  for (size_t w = windows - 1; w-- > 0;) {
    for (unsigned s = 0; s < kWindow; s++) Amm(acc, acc, p, k0, n, t, acc);
    Lookup(tbl, n, Window(exp, w * kWindow), sel);
    Amm(acc, sel, p, k0, n, t, acc);
  }
  Amm(acc, one, p, k0, n, t, acc);  // out of Montgomery form: now <= p

  // acc - p in every lane; keep acc where that borrowed (acc < p).
  const V mask = Bcast(kLimbMask);
  V borrow = zero;
  for (size_t j = 0; j < n; j++) {
    const V d = _mm512_sub_epi64(_mm512_sub_epi64(acc[j], p[j]), borrow);
    borrow = _mm512_srli_epi64(d, 63);
    sel[j] = _mm512_and_si512(d, mask);
  }
  const __mmask8 keep = _mm512_cmpneq_epi64_mask(borrow, zero);
  for (size_t j = 0; j < n; j++) _mm512_storeu_si512(out + j * kLanes, _mm512_mask_mov_epi64(sel[j], keep, acc[j]));

  Wipe(ws, bytes);
  return true;
}

}  // namespace ifma
}  // namespace oakley
