// The IKE derivation chains (RFC 2409 §5, §5.5, App. B; RFC 7296 §2.13-2.18), each one native
// call built on HMAC (EVP_MAC) so a whole chain costs one JS->C++ crossing. Synchronous: a chain
// is a few microseconds, far below the thread hand-off cost of the pool.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include "common.h"

namespace oakley {

namespace {

constexpr size_t kMaxInput = 64 * 1024;
constexpr uint32_t kMaxKeymat = 64 * 1024;

struct KdfFail : std::runtime_error {
  ErrKind kind;
  const char* code;
  KdfFail(ErrKind k, const char* c, const std::string& m) : std::runtime_error(m), kind(k), code(c) {}
};

struct Bytes {
  const uint8_t* p;
  size_t n;
  Bytes(const uint8_t* data, size_t len) : p(data), n(len) {}
  Bytes(const SecureBytes& b) : p(b.data()), n(b.size()) {}  // NOLINT: implicit on purpose
};

struct Hash {
  const char* js;
  const char* ossl;
};
constexpr Hash kHashes[] = {{"md5", "MD5"},       {"sha1", "SHA1"},     {"sha224", "SHA2-224"},
                            {"sha256", "SHA2-256"}, {"sha384", "SHA2-384"}, {"sha512", "SHA2-512"}};

constexpr size_t kHashCount = sizeof kHashes / sizeof kHashes[0];

size_t HashIndex(const char* ossl) {
  for (size_t i = 0; i < kHashCount; i++) {
    if (kHashes[i].ossl == ossl) return i;  // the pointers HashArg hands out
  }
  for (size_t i = 0; i < kHashCount; i++) {
    if (std::strcmp(kHashes[i].ossl, ossl) == 0) return i;
  }
  throw KdfFail(ErrKind::Plain, kErrBadArg, std::string("unknown hash ") + ossl);
}

// The digest fetched once per thread and hash (see HmacPool).
const EVP_MD* CachedMd(const char* digest) {
  struct Md {
    EVP_MD* md = nullptr;
    ~Md() { EVP_MD_free(md); }
  };
  thread_local Md cache[kHashCount];
  Md& m = cache[HashIndex(digest)];
  if (!m.md) m.md = EVP_MD_fetch(nullptr, digest, nullptr);
  return m.md;
}

// Per thread and hash, HMAC contexts with the digest set, reused: fetching the HMAC implementation
// and the digest by name (OpenSSL 3 name map and method store, with their locks) and allocating a
// context (an HMAC_CTX and three EVP_MD_CTXs) cost most of a 3.5 us HMAC-SHA256 over 64 octets.
// A context goes back to its pool re-keyed with the empty key, so no key-derived state stays behind.
class HmacPool {
 public:
  ~HmacPool() {
    for (EVP_MAC_CTX* c : free_) EVP_MAC_CTX_free(c);
  }
  // A context for HMAC-`digest` (give it back with Put), and the output length; null on failure.
  EVP_MAC_CTX* Take(const char* digest, size_t* len) {
    if (len_ == 0) {
      const EVP_MD* md = CachedMd(digest);
      if (!md) return nullptr;
      len_ = static_cast<size_t>(EVP_MD_get_size(md));
    }
    *len = len_;
    if (!free_.empty()) {
      EVP_MAC_CTX* c = free_.back();
      free_.pop_back();
      return c;
    }
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_end()};
    if (ctx && !EVP_MAC_CTX_set_params(ctx, params)) {
      EVP_MAC_CTX_free(ctx);
      return nullptr;
    }
    return ctx;
  }
  void Put(EVP_MAC_CTX* c) {
    static const uint8_t kEmpty = 0;
    if (free_.size() < kKeep && EVP_MAC_init(c, &kEmpty, 0, nullptr)) {
      free_.push_back(c);
    } else {
      EVP_MAC_CTX_free(c);
    }
  }

 private:
  static constexpr size_t kKeep = 4;
  std::vector<EVP_MAC_CTX*> free_;
  size_t len_ = 0;
};

// HMAC-<hash> keyed once, evaluated on concatenations of parts.
class Prf {
 public:
  explicit Prf(const char* digest) {
    thread_local HmacPool pools[kHashCount];
    pool_ = &pools[HashIndex(digest)];
    ctx_ = pool_->Take(digest, &len_);
    if (!ctx_ || len_ == 0) throw KdfFail(ErrKind::Plain, kErrNative, OpensslError("HMAC setup failed"));
  }
  ~Prf() { pool_->Put(ctx_); }
  Prf(const Prf&) = delete;
  Prf& operator=(const Prf&) = delete;

  size_t size() const { return len_; }

  void SetKey(Bytes key) {
    static const uint8_t kEmpty = 0;  // HMAC with an empty key: pass a valid pointer
    if (!EVP_MAC_init(ctx_, key.n ? key.p : &kEmpty, key.n, nullptr)) {
      throw KdfFail(ErrKind::Plain, kErrNative, OpensslError("HMAC init failed"));
    }
  }

  // prf(key, parts[0] | parts[1] | ...) with the key of the last SetKey.
  SecureBytes Mac(std::initializer_list<Bytes> parts) {
    SecureBytes out(len_);
    size_t outLen = 0;
    bool ok = EVP_MAC_init(ctx_, nullptr, 0, nullptr);
    for (const Bytes& b : parts) ok = ok && (b.n == 0 || EVP_MAC_update(ctx_, b.p, b.n));
    ok = ok && EVP_MAC_final(ctx_, out.data(), &outLen, out.size()) && outLen == len_;
    if (!ok) throw KdfFail(ErrKind::Plain, kErrNative, OpensslError("HMAC failed"));
    return out;
  }

  SecureBytes KeyedMac(Bytes key, std::initializer_list<Bytes> parts) {
    SetKey(key);
    return Mac(parts);
  }

 private:
  HmacPool* pool_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
  size_t len_ = 0;
};

SecureBytes Digest(const char* digest, std::initializer_list<Bytes> parts) {
  const EVP_MD* md = CachedMd(digest);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  SecureBytes out(md ? static_cast<size_t>(EVP_MD_get_size(md)) : 0);
  unsigned int n = 0;
  bool ok = md && ctx && EVP_DigestInit_ex(ctx, md, nullptr);
  for (const Bytes& b : parts) ok = ok && EVP_DigestUpdate(ctx, b.p, b.n);
  ok = ok && EVP_DigestFinal_ex(ctx, out.data(), &n);
  EVP_MD_CTX_free(ctx);
  if (!ok) throw KdfFail(ErrKind::Plain, kErrNative, OpensslError("digest failed"));
  return out;
}

// prf+(K, S) = T1 | T2 | ...; T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), at most 255 blocks.
SecureBytes PrfPlus(Prf& prf, Bytes key, std::initializer_list<Bytes> seed, size_t length) {
  if (length > 255 * prf.size()) {
    throw KdfFail(ErrKind::Range, kErrBadArg, "prf+ output limited to 255 blocks (" + std::to_string(255 * prf.size()) + " bytes)");
  }
  prf.SetKey(key);
  SecureBytes s;
  for (const Bytes& b : seed) s.append(b.p, b.n);
  SecureBytes out, t;
  for (uint8_t n = 1; out.size() < length; n++) {
    t = prf.Mac({t, s, Bytes(&n, 1)});
    out.append(t);
  }
  out.resize(length);
  return out;
}

// ---- argument access ------------------------------------------------------------------------

const char* HashArg(const Napi::CallbackInfo& info) {
  std::string h = StringArg(info, 0, "hash");
  for (const Hash& x : kHashes) {
    if (h == x.js) return x.ossl;
  }
  ThrowBadArg(info.Env(), "unsupported hash '" + h + "' (md5, sha1, sha224, sha256, sha384, sha512)");
}

Bytes In(const Napi::CallbackInfo& info, size_t i, const char* what, size_t min = 0, size_t max = kMaxInput) {
  Napi::Buffer<uint8_t> b = BufferArg(info, i, what);
  if (b.Length() < min || b.Length() > max) {
    ThrowRange(info.Env(), std::string(what) + " must be " + std::to_string(min) + ".." + std::to_string(max) + " bytes");
  }
  return Bytes(b.Data(), b.Length());
}

Bytes OptIn(const Napi::CallbackInfo& info, size_t i, const char* what, bool* present) {
  *present = info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull();
  return *present ? In(info, i, what, 1) : Bytes(nullptr, 0);
}

// Runs a chain; KdfFail becomes a coded JS error.
template <typename F>
Napi::Value Guard(const Napi::CallbackInfo& info, F f) {
  try {
    return f();
  } catch (const KdfFail& e) {
    Throw(info.Env(), e.kind, e.code, e.what());
  }
}

// ---- the chains -----------------------------------------------------------------------------

// prf(hash, key, data)
Napi::Value PrfFn(const Napi::CallbackInfo& info) {
  const char* h = HashArg(info);
  Bytes key = In(info, 1, "key"), data = In(info, 2, "data");
  return Guard(info, [&]() -> Napi::Value {
    Prf prf(h);
    return ToBuffer(info.Env(), prf.KeyedMac(key, {data}));
  });
}

// prfPlus(hash, key, seed, length)
Napi::Value PrfPlusFn(const Napi::CallbackInfo& info) {
  const char* h = HashArg(info);
  Bytes key = In(info, 1, "key"), seed = In(info, 2, "seed");
  uint32_t length = Uint32Arg(info, 3, "length", 1, 255 * 64);
  return Guard(info, [&]() -> Napi::Value {
    Prf prf(h);
    return ToBuffer(info.Env(), PrfPlus(prf, key, {seed}, length));
  });
}

// ikev1Phase1(hash, auth, psk|null, ni, nr, ckyI, ckyR, gxy, encKeyLength, gxi|null, gxr|null, ivLength)
Napi::Value Ikev1Phase1Fn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* h = HashArg(info);
  std::string auth = StringArg(info, 1, "auth");
  if (auth != "psk" && auth != "sig" && auth != "pke") ThrowBadArg(env, "auth must be psk, sig or pke");
  bool hasPsk = false, hasGxi = false, hasGxr = false;
  Bytes psk = OptIn(info, 2, "psk", &hasPsk);
  if ((auth == "psk") != hasPsk) ThrowBadArg(env, "psk is required for (and only for) auth psk");
  Bytes ni = In(info, 3, "ni", 1), nr = In(info, 4, "nr", 1);
  Bytes ckyI = In(info, 5, "ckyI", 8, 8), ckyR = In(info, 6, "ckyR", 8, 8);
  Bytes gxy = In(info, 7, "gxy", 1);
  uint32_t encKeyLength = Uint32Arg(info, 8, "encKeyLength", 0, 1024);
  Bytes gxi = OptIn(info, 9, "gxi", &hasGxi), gxr = OptIn(info, 10, "gxr", &hasGxr);
  uint32_t ivLength = Uint32Arg(info, 11, "ivLength", 0, 64);
  if (ivLength > 0 && !(hasGxi && hasGxr)) ThrowBadArg(env, "ivLength needs gxi and gxr");
  return Guard(info, [&]() -> Napi::Value {
    Prf prf(h);
    if (ivLength > prf.size()) throw KdfFail(ErrKind::Range, kErrBadArg, "ivLength exceeds the hash length");
    SecureBytes skeyid;
    if (auth == "psk") {
      skeyid = prf.KeyedMac(psk, {ni, nr});
    } else if (auth == "sig") {
      SecureBytes nonces(ni.p, ni.n);
      nonces.append(nr.p, nr.n);
      skeyid = prf.KeyedMac(nonces, {gxy});
    } else {
      SecureBytes hn = Digest(h, {ni, nr});
      skeyid = prf.KeyedMac(hn, {ckyI, ckyR});
    }
    const uint8_t c0 = 0, c1 = 1, c2 = 2;
    prf.SetKey(skeyid);
    SecureBytes d = prf.Mac({gxy, ckyI, ckyR, Bytes(&c0, 1)});
    SecureBytes a = prf.Mac({d, gxy, ckyI, ckyR, Bytes(&c1, 1)});
    SecureBytes e = prf.Mac({a, gxy, ckyI, ckyR, Bytes(&c2, 1)});
    Napi::Object out = Napi::Object::New(env);
    if (encKeyLength > 0) {
      SecureBytes key;
      if (encKeyLength <= e.size()) {
        key = SecureBytes(e.data(), encKeyLength);
      } else {  // Appendix B: K1 = prf(SKEYID_e, 0x00), Kn = prf(SKEYID_e, Kn-1)
        prf.SetKey(e);
        SecureBytes k = prf.Mac({Bytes(&c0, 1)});
        key.append(k);
        while (key.size() < encKeyLength) {
          k = prf.Mac({k});
          key.append(k);
        }
        key.resize(encKeyLength);
      }
      out.Set("encKey", ToBuffer(env, key));
    }
    if (ivLength > 0) {
      SecureBytes iv = Digest(h, {gxi, gxr});
      iv.resize(ivLength);
      out.Set("iv", ToBuffer(env, iv));
    }
    out.Set("skeyid", ToBuffer(env, skeyid));
    out.Set("skeyidD", ToBuffer(env, d));
    out.Set("skeyidA", ToBuffer(env, a));
    out.Set("skeyidE", ToBuffer(env, e));
    return out;
  });
}

// ikev1Keymat(hash, skeyidD, gqmxy|null, protocol, spi, ni, nr, length)
// K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b), Kn = prf(SKEYID_d, Kn-1 | same)
Napi::Value Ikev1KeymatFn(const Napi::CallbackInfo& info) {
  const char* h = HashArg(info);
  Bytes skeyidD = In(info, 1, "skeyidD", 1);
  bool pfs = false;
  Bytes gqm = OptIn(info, 2, "gqmxy", &pfs);
  uint8_t protocol = static_cast<uint8_t>(Uint32Arg(info, 3, "protocol", 0, 255));
  Bytes spi = In(info, 4, "spi", 1), ni = In(info, 5, "ni", 1), nr = In(info, 6, "nr", 1);
  uint32_t length = Uint32Arg(info, 7, "length", 1, kMaxKeymat);
  return Guard(info, [&]() -> Napi::Value {
    Prf prf(h);
    prf.SetKey(skeyidD);
    SecureBytes out, k;
    while (out.size() < length) {
      k = prf.Mac({k, gqm, Bytes(&protocol, 1), spi, ni, nr});
      out.append(k);
    }
    out.resize(length);
    return ToBuffer(info.Env(), out);
  });
}

// ikev2Sa(hash, ni, nr, gir, spiI, spiR, length): SKEYSEED = prf(Ni | Nr, g^ir),
// DKM = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
Napi::Value Ikev2SaFn(const Napi::CallbackInfo& info) {
  const char* h = HashArg(info);
  Bytes ni = In(info, 1, "ni", 1), nr = In(info, 2, "nr", 1), gir = In(info, 3, "gir", 1);
  Bytes spiI = In(info, 4, "spiI", 8, 8), spiR = In(info, 5, "spiR", 8, 8);
  uint32_t length = Uint32Arg(info, 6, "length", 1, 255 * 64);
  return Guard(info, [&]() -> Napi::Value {
    Prf prf(h);
    SecureBytes nonces(ni.p, ni.n);
    nonces.append(nr.p, nr.n);
    SecureBytes skeyseed = prf.KeyedMac(nonces, {gir});
    SecureBytes dkm = PrfPlus(prf, skeyseed, {ni, nr, spiI, spiR}, length);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("skeyseed", ToBuffer(info.Env(), skeyseed));
    out.Set("dkm", ToBuffer(info.Env(), dkm));
    return out;
  });
}

// ikev2Child(hash, skD, girNew|null, ni, nr, length): prf+(SK_d, [g^ir (new) |] Ni | Nr)
Napi::Value Ikev2ChildFn(const Napi::CallbackInfo& info) {
  const char* h = HashArg(info);
  Bytes skD = In(info, 1, "skD", 1);
  bool pfs = false;
  Bytes gir = OptIn(info, 2, "girNew", &pfs);
  Bytes ni = In(info, 3, "ni", 1), nr = In(info, 4, "nr", 1);
  uint32_t length = Uint32Arg(info, 5, "length", 1, 255 * 64);
  return Guard(info, [&]() -> Napi::Value {
    Prf prf(h);
    return ToBuffer(info.Env(), PrfPlus(prf, skD, {gir, ni, nr}, length));
  });
}

// ikev2Rekey(hash, skDOld, girNew, ni, nr): SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)
Napi::Value Ikev2RekeyFn(const Napi::CallbackInfo& info) {
  const char* h = HashArg(info);
  Bytes skD = In(info, 1, "skDOld", 1), gir = In(info, 2, "girNew", 1);
  Bytes ni = In(info, 3, "ni", 1), nr = In(info, 4, "nr", 1);
  return Guard(info, [&]() -> Napi::Value {
    Prf prf(h);
    return ToBuffer(info.Env(), prf.KeyedMac(skD, {gir, ni, nr}));
  });
}

}  // namespace

void InitKdf(Napi::Env env, Napi::Object exports) {
  exports.Set("prf", Napi::Function::New<PrfFn>(env, "prf"));
  exports.Set("prfPlus", Napi::Function::New<PrfPlusFn>(env, "prfPlus"));
  exports.Set("ikev1Phase1", Napi::Function::New<Ikev1Phase1Fn>(env, "ikev1Phase1"));
  exports.Set("ikev1Keymat", Napi::Function::New<Ikev1KeymatFn>(env, "ikev1Keymat"));
  exports.Set("ikev2Sa", Napi::Function::New<Ikev2SaFn>(env, "ikev2Sa"));
  exports.Set("ikev2Child", Napi::Function::New<Ikev2ChildFn>(env, "ikev2Child"));
  exports.Set("ikev2Rekey", Napi::Function::New<Ikev2RekeyFn>(env, "ikev2Rekey"));
}

}  // namespace oakley
