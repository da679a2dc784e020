// CBC without padding for ISAKMP payloads: AES and 3DES through EVP; DES and Blowfish through
// OpenSSL's low-level DES_/BF_ functions, because node's EVP refuses them without the legacy
// provider. Synchronous: cheap per-packet work.
#include <openssl/blowfish.h>
#include <openssl/des.h>
#include <openssl/evp.h>

#include <cstring>

#include "common.h"

// The DES_/BF_ low-level API is deprecated in OpenSSL 3.0; it is the only way to these two legacy
// ciphers inside node's OpenSSL. Only this file suppresses the warning.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace oakley {

namespace {

constexpr size_t kMaxData = 1 << 20;

// Explicitly fetched once: EVP_aes_128_cbc() and friends make every EVP_CipherInit_ex fetch the
// provider's implementation by name (OpenSSL 3 name-map and method-store locks, string compares),
// most of the cost of a 256-octet CBC call.
enum CipherIndex { kAes128, kAes192, kAes256, k3Des, kCipherCount };
constexpr const char* kCipherNames[kCipherCount] = {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC", "DES-EDE3-CBC"};

const EVP_CIPHER* Fetched(CipherIndex i) {
  struct Cache {
    EVP_CIPHER* c[kCipherCount] = {};
    ~Cache() {
      for (EVP_CIPHER* x : c) EVP_CIPHER_free(x);
    }
  };
  thread_local Cache cache;
  if (!cache.c[i]) cache.c[i] = EVP_CIPHER_fetch(nullptr, kCipherNames[i], nullptr);
  return cache.c[i];
}

const EVP_CIPHER* AesCbc(size_t keyLen) {
  switch (keyLen) {
    case 16: return Fetched(kAes128);
    case 24: return Fetched(kAes192);
    case 32: return Fetched(kAes256);
    default: return nullptr;
  }
}

void Evp(Napi::Env env, const EVP_CIPHER* c, bool enc, const uint8_t* key, const uint8_t* iv, const uint8_t* in,
         size_t len, uint8_t* out) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n1 = 0, n2 = 0;
  bool ok = c && ctx && EVP_CipherInit_ex(ctx, c, nullptr, key, iv, enc ? 1 : 0) && EVP_CIPHER_CTX_set_padding(ctx, 0) &&
            EVP_CipherUpdate(ctx, out, &n1, in, static_cast<int>(len)) && EVP_CipherFinal_ex(ctx, out + n1, &n2) &&
            static_cast<size_t>(n1 + n2) == len;
  EVP_CIPHER_CTX_free(ctx);  // cleanses the key schedule
  if (!ok) Throw(env, ErrKind::Plain, kErrNative, OpensslError("EVP cipher failed"));
}

void Des(bool enc, const uint8_t* key, const uint8_t* iv, const uint8_t* in, size_t len, uint8_t* out) {
  DES_key_schedule ks;
  DES_cblock k, ivec;
  std::memcpy(k, key, 8);
  std::memcpy(ivec, iv, 8);
  DES_set_key_unchecked(&k, &ks);  // IKE does not check DES parity bits
  DES_ncbc_encrypt(in, out, static_cast<long>(len), &ks, &ivec, enc ? DES_ENCRYPT : DES_DECRYPT);
  OPENSSL_cleanse(&ks, sizeof ks);
  OPENSSL_cleanse(k, sizeof k);
}

void Blowfish(bool enc, const uint8_t* key, size_t keyLen, const uint8_t* iv, const uint8_t* in, size_t len,
              uint8_t* out) {
  BF_KEY ks;
  unsigned char ivec[8];
  std::memcpy(ivec, iv, 8);
  BF_set_key(&ks, static_cast<int>(keyLen), key);
  BF_cbc_encrypt(in, out, static_cast<long>(len), &ks, ivec, enc ? BF_ENCRYPT : BF_DECRYPT);
  OPENSSL_cleanse(&ks, sizeof ks);
}

// cbc(alg, encrypt, key, iv, data) with alg 'aes' | '3des' | 'des' | 'blowfish'.
Napi::Value Cbc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string alg = StringArg(info, 0, "alg");
  if (info.Length() < 2 || !info[1].IsBoolean()) ThrowBadArg(env, "encrypt must be a boolean");
  bool enc = info[1].As<Napi::Boolean>().Value();
  Napi::Buffer<uint8_t> key = BufferArg(info, 2, "key");
  Napi::Buffer<uint8_t> iv = BufferArg(info, 3, "iv");
  Napi::Buffer<uint8_t> data = BufferArg(info, 4, "data");
  size_t block = alg == "aes" ? 16 : 8;
  if (data.Length() % block != 0 || data.Length() > kMaxData) {
    ThrowRange(env, "data must be a multiple of the " + std::to_string(block) + "-byte block (no padding)");
  }
  if (iv.Length() != block) ThrowRange(env, "iv must be " + std::to_string(block) + " bytes");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, data.Length());
  if (data.Length() == 0) return out;
  // Work on an owned copy so in-place or overlapping JS buffers cannot alias the output.
  SecureBytes in(data);
  if (alg == "aes") {
    const EVP_CIPHER* c = AesCbc(key.Length());
    if (!c) ThrowRange(env, "AES key must be 16, 24 or 32 bytes");
    Evp(env, c, enc, key.Data(), iv.Data(), in.data(), in.size(), out.Data());
  } else if (alg == "3des") {
    if (key.Length() != 24) ThrowRange(env, "3DES key must be 24 bytes");
    Evp(env, Fetched(k3Des), enc, key.Data(), iv.Data(), in.data(), in.size(), out.Data());
  } else if (alg == "des") {
    if (key.Length() != 8) ThrowRange(env, "DES key must be 8 bytes");
    Des(enc, key.Data(), iv.Data(), in.data(), in.size(), out.Data());
  } else if (alg == "blowfish") {
    if (key.Length() < 5 || key.Length() > 56) ThrowRange(env, "Blowfish key must be 5..56 bytes");
    Blowfish(enc, key.Data(), key.Length(), iv.Data(), in.data(), in.size(), out.Data());
  } else {
    ThrowBadArg(env, "unsupported cipher '" + alg + "' (aes, 3des, des, blowfish)");
  }
  return out;
}

}  // namespace

void InitCipher(Napi::Env env, Napi::Object exports) {
  exports.Set("cbc", Napi::Function::New<Cbc>(env, "cbc"));
}

}  // namespace oakley
