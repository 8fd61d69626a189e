// The JWS signature algorithms we accept, and which key each one needs.
// HMAC and "none" are deliberately absent: an API gateway must never share
// a secret with every client, and "none" is not a signature.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace m2m {

enum class Algorithm : uint8_t { RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 };

// For tables indexed by algorithm.
constexpr size_t kAlgorithmCount = static_cast<size_t>(Algorithm::ES512) + 1;

enum class KeyType : uint8_t { RSA, EC };

enum class Curve : uint8_t { none, P256, P384, P521 };

std::optional<Algorithm> algorithm_from_name(std::string_view name) noexcept;
const char *algorithm_name(Algorithm alg) noexcept;
KeyType key_type_for(Algorithm alg) noexcept;
Curve curve_for(Algorithm alg) noexcept;  // Curve::none for RSA algorithms

// Names a JOSE algorithm we know but refuse by design ("none", HS*), so that
// configuration errors can say why rather than "unknown".
bool algorithm_is_forbidden(std::string_view name) noexcept;

class AlgorithmSet {
public:
    static AlgorithmSet all_asymmetric() noexcept;
    void add(Algorithm alg) noexcept { bits_ |= bit(alg); }
    bool contains(Algorithm alg) const noexcept { return (bits_ & bit(alg)) != 0; }
    bool empty() const noexcept { return bits_ == 0; }
    // Space-separated, for logs and status pages; empty optional if memory
    // ran out.
    std::optional<std::string> names() const noexcept;

private:
    static uint16_t bit(Algorithm alg) noexcept { return static_cast<uint16_t>(1u << static_cast<unsigned>(alg)); }
    uint16_t bits_ = 0;
};

}  // namespace m2m
