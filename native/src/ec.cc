// ECDH on the NIST prime curves: key generation (random or given scalar) and derivation of the
// shared x-coordinate. Scalars are secret: BN_FLG_CONSTTIME, single-point EC_POINT_mul (OpenSSL's
// constant-time ladder / nistz256 path), wiped after use. Sync and async on the pool.
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include <memory>

#include "common.h"

namespace oakley {

namespace {

struct Curve {
  const char* name;
  int nid;
};
constexpr Curve kCurves[] = {
    {"prime192v1", NID_X9_62_prime192v1}, {"secp224r1", NID_secp224r1}, {"prime256v1", NID_X9_62_prime256v1},
    {"secp384r1", NID_secp384r1},         {"secp521r1", NID_secp521r1},
};

int CurveNid(const std::string& name) {
  for (const Curve& c : kCurves) {
    if (name == c.name) return c.nid;
  }
  return NID_undef;
}

// Owns the OpenSSL objects of one operation; wipes the secret ones.
struct EcOp {
  EC_GROUP* group = nullptr;
  BN_CTX* ctx = nullptr;
  BIGNUM* k = nullptr;
  EC_POINT* pt = nullptr;
  EC_POINT* r = nullptr;
  BIGNUM* x = nullptr;
  ~EcOp() {
    BN_clear_free(x);
    EC_POINT_clear_free(r);
    EC_POINT_free(pt);
    BN_clear_free(k);
    BN_CTX_free(ctx);
    EC_GROUP_free(group);
  }
};

size_t FieldBytes(const EC_GROUP* g) { return (static_cast<size_t>(EC_GROUP_get_degree(g)) + 7) / 8; }

bool Setup(int nid, EcOp* op, CodedFailure* f) {
  op->group = EC_GROUP_new_by_curve_name(nid);
  op->ctx = BN_CTX_new();
  op->k = BN_secure_new();
  if (!op->group || !op->ctx || !op->k) {
    *f = {ErrKind::Plain, kErrNative, OpensslError("EC setup failed")};
    return false;
  }
  BN_set_flags(op->k, BN_FLG_CONSTTIME);
  return true;
}

// Loads a given scalar, which must lie in [1, n-1].
bool LoadScalar(EcOp* op, const SecureBytes& priv, CodedFailure* f) {
  const BIGNUM* n = EC_GROUP_get0_order(op->group);
  if (priv.empty() || priv.size() > static_cast<size_t>(BN_num_bytes(n)) ||
      !BN_bin2bn(priv.data(), static_cast<int>(priv.size()), op->k)) {
    *f = {ErrKind::Range, kErrBadArg, "private scalar has the wrong length"};
    return false;
  }
  if (BN_is_zero(op->k) || BN_cmp(op->k, n) >= 0) {
    *f = {ErrKind::Range, kErrBadArg, "private scalar must be in [1, n-1]"};
    return false;
  }
  return true;
}

// Keygen: fills priv (when empty, a random scalar) and pub = 04|x|y.
bool Keygen(int nid, SecureBytes* priv, SecureBytes* pub, CodedFailure* f) {
  EcOp op;
  if (!Setup(nid, &op, f)) return false;
  const BIGNUM* n = EC_GROUP_get0_order(op.group);
  if (priv->empty()) {
    do {
      if (!BN_priv_rand_range(op.k, n)) {
        *f = {ErrKind::Plain, kErrNative, OpensslError("BN_priv_rand_range failed")};
        return false;
      }
    } while (BN_is_zero(op.k));
  } else if (!LoadScalar(&op, *priv, f)) {
    return false;
  }
  op.r = EC_POINT_new(op.group);
  if (!op.r || !EC_POINT_mul(op.group, op.r, op.k, nullptr, nullptr, op.ctx)) {
    *f = {ErrKind::Plain, kErrNative, OpensslError("EC_POINT_mul failed")};
    return false;
  }
  size_t nlen = static_cast<size_t>(BN_num_bytes(n));
  SecureBytes k(nlen);
  SecureBytes p(1 + 2 * FieldBytes(op.group));
  if (BN_bn2binpad(op.k, k.data(), static_cast<int>(nlen)) < 0 ||
      EC_POINT_point2oct(op.group, op.r, POINT_CONVERSION_UNCOMPRESSED, p.data(), p.size(), op.ctx) != p.size()) {
    *f = {ErrKind::Plain, kErrNative, OpensslError("EC encoding failed")};
    return false;
  }
  *priv = std::move(k);
  *pub = std::move(p);
  return true;
}

// Derive: x-coordinate of priv * peer, left-padded to the field size. The peer point is checked
// to be an uncompressed point on the curve (also done in TypeScript before the call).
bool Derive(int nid, const SecureBytes& priv, const SecureBytes& peer, SecureBytes* out, CodedFailure* f) {
  EcOp op;
  if (!Setup(nid, &op, f) || !LoadScalar(&op, priv, f)) return false;
  size_t fl = FieldBytes(op.group);
  if (peer.size() != 1 + 2 * fl || peer.data()[0] != 4) {
    *f = {ErrKind::Range, kErrInvalidKe, "peer point must be uncompressed (04|x|y), " + std::to_string(1 + 2 * fl) + " bytes"};
    return false;
  }
  op.pt = EC_POINT_new(op.group);
  op.r = EC_POINT_new(op.group);
  op.x = BN_secure_new();
  if (!op.pt || !op.r || !op.x) {
    *f = {ErrKind::Plain, kErrNative, OpensslError("EC allocation failed")};
    return false;
  }
  // oct2point rejects coordinates >= p and points off the curve; is_on_curve double-checks.
  if (!EC_POINT_oct2point(op.group, op.pt, peer.data(), peer.size(), op.ctx) ||
      EC_POINT_is_on_curve(op.group, op.pt, op.ctx) != 1 || EC_POINT_is_at_infinity(op.group, op.pt)) {
    ERR_clear_error();
    *f = {ErrKind::Range, kErrInvalidKe, "peer point is not on the curve"};
    return false;
  }
  if (!EC_POINT_mul(op.group, op.r, nullptr, op.pt, op.k, op.ctx) || EC_POINT_is_at_infinity(op.group, op.r) ||
      !EC_POINT_get_affine_coordinates(op.group, op.r, op.x, nullptr, op.ctx)) {
    *f = {ErrKind::Plain, kErrNative, OpensslError("ECDH point multiplication failed")};
    return false;
  }
  SecureBytes x(fl);
  if (BN_bn2binpad(op.x, x.data(), static_cast<int>(fl)) < 0) {
    *f = {ErrKind::Plain, kErrNative, "BN_bn2binpad failed"};
    return false;
  }
  *out = std::move(x);
  return true;
}

Napi::Object KeyPair(Napi::Env env, const SecureBytes& priv, const SecureBytes& pub) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("privateKey", ToBuffer(env, priv));
  o.Set("publicKey", ToBuffer(env, pub));
  return o;
}

int NidArg(const Napi::CallbackInfo& info) {
  int nid = CurveNid(StringArg(info, 0, "curve"));
  if (nid == NID_undef) ThrowBadArg(info.Env(), "unsupported curve (prime192v1, secp224r1, prime256v1, secp384r1, secp521r1)");
  return nid;
}

SecureBytes PrivArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Buffer<uint8_t> b;
  if (!OptionalBufferArg(info, i, "private scalar", &b)) return SecureBytes();
  if (b.Length() == 0) ThrowRange(info.Env(), "private scalar must not be empty");
  return SecureBytes(b);
}

class EcJob : public CodedWorker {
 public:
  EcJob(Napi::Env env, int nid, SecureBytes priv, SecureBytes peer, bool derive)
      : CodedWorker(env), nid_(nid), priv_(std::move(priv)), peer_(std::move(peer)), derive_(derive) {}

 protected:
  void Run() override {
    CodedFailure f;
    bool ok = derive_ ? Derive(nid_, priv_, peer_, &out_, &f) : Keygen(nid_, &priv_, &out_, &f);
    if (!ok) Fail(f);
  }
  Napi::Value Result(Napi::Env env) override { return derive_ ? ToBuffer(env, out_) : KeyPair(env, priv_, out_); }

 private:
  int nid_;
  SecureBytes priv_;
  SecureBytes peer_;
  SecureBytes out_;
  bool derive_;
};

Napi::Value EcKeygen(const Napi::CallbackInfo& info) {
  int nid = NidArg(info);
  SecureBytes priv = PrivArg(info, 1);
  SecureBytes pub;
  CodedFailure f;
  if (!Keygen(nid, &priv, &pub, &f)) Throw(info.Env(), f);
  return KeyPair(info.Env(), priv, pub);
}

Napi::Value EcKeygenAsync(const Napi::CallbackInfo& info) {
  int nid = NidArg(info);
  auto* job = new EcJob(info.Env(), nid, PrivArg(info, 1), SecureBytes(), false);
  Napi::Promise p = job->Promise();
  job->Queue();
  return p;
}

Napi::Value EcDerive(const Napi::CallbackInfo& info) {
  int nid = NidArg(info);
  SecureBytes priv(BufferArg(info, 1, "private scalar"));
  SecureBytes peer(BufferArg(info, 2, "peer point"));
  SecureBytes out;
  CodedFailure f;
  if (!Derive(nid, priv, peer, &out, &f)) Throw(info.Env(), f);
  return ToBuffer(info.Env(), out);
}

Napi::Value EcDeriveAsync(const Napi::CallbackInfo& info) {
  int nid = NidArg(info);
  SecureBytes priv(BufferArg(info, 1, "private scalar"));
  SecureBytes peer(BufferArg(info, 2, "peer point"));
  auto* job = new EcJob(info.Env(), nid, std::move(priv), std::move(peer), true);
  Napi::Promise p = job->Promise();
  job->Queue();
  return p;
}

}  // namespace

void InitEc(Napi::Env env, Napi::Object exports) {
  exports.Set("ecKeygen", Napi::Function::New<EcKeygen>(env, "ecKeygen"));
  exports.Set("ecKeygenAsync", Napi::Function::New<EcKeygenAsync>(env, "ecKeygenAsync"));
  exports.Set("ecDerive", Napi::Function::New<EcDerive>(env, "ecDerive"));
  exports.Set("ecDeriveAsync", Napi::Function::New<EcDeriveAsync>(env, "ecDeriveAsync"));
}

}  // namespace oakley
