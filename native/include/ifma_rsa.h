// Batched RSA private operations (two-prime CRT) through the AVX-512 IFMA kernel: the
// `IfmaRsaKey` export (native/src/ifma_rsa.cc).
#pragma once

#include "common.h"

namespace oakley {

void InitIfmaRsa(Napi::Env env, Napi::Object exports);

}  // namespace oakley
