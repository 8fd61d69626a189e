// Owning handles for OpenSSL 3 objects, so that every key, context and
// digest the core makes is freed on every path, and a Key can be moved.
#pragma once

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

namespace m2m {

struct OpenSslDeleter {
    void operator()(EVP_PKEY *p) const noexcept { EVP_PKEY_free(p); }
    void operator()(EVP_PKEY_CTX *p) const noexcept { EVP_PKEY_CTX_free(p); }
    void operator()(EVP_MD *p) const noexcept { EVP_MD_free(p); }
    void operator()(EVP_MD_CTX *p) const noexcept { EVP_MD_CTX_free(p); }
    void operator()(OSSL_PARAM_BLD *p) const noexcept { OSSL_PARAM_BLD_free(p); }
    void operator()(OSSL_PARAM *p) const noexcept { OSSL_PARAM_free(p); }
    void operator()(BIGNUM *p) const noexcept { BN_free(p); }
    void operator()(BIO *p) const noexcept { BIO_free(p); }
    void operator()(ECDSA_SIG *p) const noexcept { ECDSA_SIG_free(p); }
    void operator()(X509 *p) const noexcept { X509_free(p); }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter>;
using EvpMdPtr = std::unique_ptr<EVP_MD, OpenSslDeleter>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter>;
using ParamBuilderPtr = std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, OpenSslDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpenSslDeleter>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter>;

// Errors that OpenSSL queues while this lives are dropped when it ends;
// errors queued before are kept. A refused signature queues one (RSA
// "padding check failed"), and nginx's next TLS call on this worker would log
// any leftover as an [alert] "ignoring stale global SSL error": forged-token
// floods over HTTPS would fill the error log.
class OpenSslErrorScope {
public:
    OpenSslErrorScope() noexcept { ERR_set_mark(); }
    ~OpenSslErrorScope() { ERR_pop_to_mark(); }
    OpenSslErrorScope(const OpenSslErrorScope &) = delete;
    OpenSslErrorScope &operator=(const OpenSslErrorScope &) = delete;
};

}  // namespace m2m
