// Multi-buffer Montgomery exponentiation with AVX-512 IFMA (vpmadd52luq/vpmadd52huq): eight
// independent base^exp mod p with one modulus, one per 64-bit lane of a zmm register.
//
// Two translation units:
//   ifma_kernel.cc  compiled with -mavx512f -mavx512vl -mavx512ifma (its own static library in
//                   binding.gyp); only entered after IfmaCpuSupported() said yes.
//   ifma.cc         portable: CPU detection, modulus set-up (OpenSSL BN), byte <-> limb conversion.
// The kernel TU includes no C++ library header with inline functions or templates: an inline
// function instantiated there would be compiled with AVX-512 and could be the copy the linker
// keeps for every other TU, which then faults on CPUs without it. Its interface is plain C types.
#pragma once

#include <cstddef>
#include <cstdint>

namespace oakley {
namespace ifma {

constexpr size_t kLanes = 8;
constexpr unsigned kLimbBits = 52;
constexpr uint64_t kLimbMask = (uint64_t{1} << kLimbBits) - 1;
// 8192-bit moduli need 158 limbs (R = 2^(52n) > 4p); one spare.
constexpr size_t kMaxLimbs = 160;
constexpr unsigned kWindow = 5;  // fixed window: 32-entry table per lane

// The moduli of the 8 lanes (one per lane: a MODP group repeats its prime, an RSA batch has the
// CRT primes), in 52-bit little-endian limbs, lane-interleaved like the operands. Every lane has
// the same limb count n.
struct KernelModulus {
  size_t n;            // limbs; R = 2^(52n) > 4p for every lane's p
  const uint64_t* k0;  // [8]: -p^-1 mod 2^52
  const uint64_t* p;   // [n*8]
  const uint64_t* rr;  // [n*8]: R^2 mod p
};

// out = base^exp mod p for the 8 lanes, fully reduced.
// Layouts are lane-interleaved: limb j of lane l at [j*8 + l]; exponent word w (64 bits,
// little-endian) of lane l at exp[w*8 + l], expWords = ceil(expBits/64) + 1 words (the last one
// zero, so a window never reads past the end). base < p per lane (the lane's p). expBits is PUBLIC: every lane
// is processed to exactly that length, whatever its value (constant time). Returns false only when
// the workspace cannot be allocated. All scratch is wiped before it is freed.
bool Kernel8(const KernelModulus& m, const uint64_t* base, const uint64_t* exp, size_t expBits, uint64_t* out);

}  // namespace ifma
}  // namespace oakley
