// RSA keys as native handles (EVP_PKEY) and the raw RSA operations (RSA_NO_PADDING): the private
// op uses OpenSSL's CRT with blinding and runs on the pool; EMSA encoding happens in TypeScript.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>

#include "common.h"

namespace oakley {

namespace {

constexpr size_t kMaxDer = 64 * 1024;

struct PkeyRef {
  EVP_PKEY* pkey = nullptr;
  explicit PkeyRef(EVP_PKEY* k) : pkey(k) {
    if (pkey) EVP_PKEY_up_ref(pkey);
  }
  ~PkeyRef() { EVP_PKEY_free(pkey); }
  PkeyRef(const PkeyRef&) = delete;
  PkeyRef& operator=(const PkeyRef&) = delete;
};

// in^d mod n (private) or in^e mod n (public); `in` must be exactly |n| bytes and below n.
bool RawOp(EVP_PKEY* pkey, bool priv, const SecureBytes& in, SecureBytes* out, CodedFailure* f) {
  size_t n = static_cast<size_t>(EVP_PKEY_get_size(pkey));
  if (in.size() != n) {
    *f = {ErrKind::Range, kErrBadArg, "RSA input block must be exactly " + std::to_string(n) + " bytes"};
    return false;
  }
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(pkey, nullptr);
  SecureBytes res(n);
  size_t outLen = n;
  bool ok = ctx && (priv ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx)) > 0 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0 &&
            (priv ? EVP_PKEY_decrypt(ctx, res.data(), &outLen, in.data(), in.size())
                  : EVP_PKEY_encrypt(ctx, res.data(), &outLen, in.data(), in.size())) > 0;
  EVP_PKEY_CTX_free(ctx);
  if (!ok) {
    // The only caller-caused failure left after the length check: block >= n.
    *f = {ErrKind::Range, kErrBadArg, OpensslError("raw RSA operation failed (block not below the modulus?)")};
    return false;
  }
  if (outLen < n) {  // left-pad to |n|
    SecureBytes padded(n);
    std::copy(res.data(), res.data() + outLen, padded.data() + (n - outLen));
    res = std::move(padded);
  }
  res.resize(n);
  *out = std::move(res);
  return true;
}

class RsaPrivateJob : public CodedWorker {
 public:
  RsaPrivateJob(Napi::Env env, EVP_PKEY* pkey, const Napi::Buffer<uint8_t>& block)
      : CodedWorker(env), key_(pkey), in_(block) {}

 protected:
  void Run() override {
    CodedFailure f;
    if (!RawOp(key_.pkey, true, in_, &out_, &f)) Fail(f);
  }
  Napi::Value Result(Napi::Env env) override { return ToBuffer(env, out_); }

 private:
  PkeyRef key_;  // own reference: dispose() on the JS side cannot pull the key from under the job
  SecureBytes in_;
  SecureBytes out_;
};

class RsaKey : public Napi::ObjectWrap<RsaKey> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RsaKey",
                       {InstanceMethod<&RsaKey::PrivateRaw>("privateRaw"),
                        InstanceMethod<&RsaKey::PublicRaw>("publicRaw"),
                        InstanceMethod<&RsaKey::Dispose>("dispose"),
                        InstanceAccessor<&RsaKey::Bits>("bits"),
                        InstanceAccessor<&RsaKey::IsPrivate>("isPrivate")});
  }

  // new RsaKey(der, isPrivate): private keys PKCS#1 or PKCS#8 DER; public keys SPKI or PKCS#1 DER.
  explicit RsaKey(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RsaKey>(info) {
    Napi::Env env = info.Env();
    Napi::Buffer<uint8_t> der = BufferArg(info, 0, "key DER");
    if (info.Length() < 2 || !info[1].IsBoolean()) ThrowBadArg(env, "isPrivate must be a boolean");
    private_ = info[1].As<Napi::Boolean>().Value();
    if (der.Length() == 0 || der.Length() > kMaxDer) ThrowRange(env, "key DER must be 1..65536 bytes");
    SecureBytes copy(der);
    const unsigned char* p = copy.data();
    long len = static_cast<long>(copy.size());
    if (private_) {
      pkey_ = d2i_AutoPrivateKey(nullptr, &p, len);
    } else {
      pkey_ = d2i_PUBKEY(nullptr, &p, len);
      if (!pkey_) {
        ERR_clear_error();
        p = copy.data();
        pkey_ = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, len);
      }
    }
    if (!pkey_ || p != copy.data() + copy.size()) {
      Throw(env, ErrKind::Type, kErrBadKey, OpensslError(private_ ? "cannot parse RSA private key DER" : "cannot parse RSA public key DER"));
    }
    if (EVP_PKEY_get_base_id(pkey_) != EVP_PKEY_RSA) Throw(env, ErrKind::Type, kErrBadKey, "not an RSA key");
  }
  ~RsaKey() override { EVP_PKEY_free(pkey_); }

 private:
  EVP_PKEY* Key(Napi::Env env) {
    if (!pkey_) Throw(env, ErrKind::Plain, kErrBadKey, "RSA key was disposed");
    return pkey_;
  }

  Napi::Value PrivateRaw(const Napi::CallbackInfo& info) {
    EVP_PKEY* k = Key(info.Env());
    if (!private_) ThrowBadArg(info.Env(), "not a private key");
    auto* job = new RsaPrivateJob(info.Env(), k, BufferArg(info, 0, "block"));
    Napi::Promise p = job->Promise();
    job->Queue();
    return p;
  }

  Napi::Value PublicRaw(const Napi::CallbackInfo& info) {
    EVP_PKEY* k = Key(info.Env());
    SecureBytes in(BufferArg(info, 0, "block"));
    SecureBytes out;
    CodedFailure f;
    if (!RawOp(k, false, in, &out, &f)) Throw(info.Env(), f);
    return ToBuffer(info.Env(), out);
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    EVP_PKEY_free(pkey_);
    pkey_ = nullptr;
    return info.Env().Undefined();
  }

  Napi::Value Bits(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), EVP_PKEY_get_bits(Key(info.Env())));
  }
  Napi::Value IsPrivate(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), private_); }

  EVP_PKEY* pkey_ = nullptr;
  bool private_ = false;
};

}  // namespace

void InitRsa(Napi::Env env, Napi::Object exports) {
  exports.Set("RsaKey", RsaKey::Define(env));
}

}  // namespace oakley
