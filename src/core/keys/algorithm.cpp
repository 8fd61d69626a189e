#include "keys/algorithm.h"

#include <array>

namespace m2m {

namespace {

struct AlgorithmInfo {
    Algorithm alg;
    const char *name;
    KeyType kty;
    Curve crv;
};

constexpr std::array<AlgorithmInfo, 9> kAlgorithms = {{
    {Algorithm::RS256, "RS256", KeyType::RSA, Curve::none},
    {Algorithm::RS384, "RS384", KeyType::RSA, Curve::none},
    {Algorithm::RS512, "RS512", KeyType::RSA, Curve::none},
    {Algorithm::PS256, "PS256", KeyType::RSA, Curve::none},
    {Algorithm::PS384, "PS384", KeyType::RSA, Curve::none},
    {Algorithm::PS512, "PS512", KeyType::RSA, Curve::none},
    {Algorithm::ES256, "ES256", KeyType::EC, Curve::P256},
    {Algorithm::ES384, "ES384", KeyType::EC, Curve::P384},
    {Algorithm::ES512, "ES512", KeyType::EC, Curve::P521},
}};

const AlgorithmInfo &info(Algorithm alg) noexcept
{
    return kAlgorithms[static_cast<size_t>(alg)];
}

}  // namespace

std::optional<Algorithm> algorithm_from_name(std::string_view name) noexcept
{
    for (const auto &a : kAlgorithms) {
        if (name == a.name) {
            return a.alg;
        }
    }
    return std::nullopt;
}

const char *algorithm_name(Algorithm alg) noexcept { return info(alg).name; }
KeyType key_type_for(Algorithm alg) noexcept { return info(alg).kty; }
Curve curve_for(Algorithm alg) noexcept { return info(alg).crv; }

bool algorithm_is_forbidden(std::string_view name) noexcept
{
    return name == "none" || name == "HS256" || name == "HS384" || name == "HS512";
}

AlgorithmSet AlgorithmSet::all_asymmetric() noexcept
{
    AlgorithmSet set;
    for (const auto &a : kAlgorithms) {
        set.add(a.alg);
    }
    return set;
}

std::optional<std::string> AlgorithmSet::names() const noexcept
{
    try {
        std::string out;
        for (const auto &a : kAlgorithms) {
            if (contains(a.alg)) {
                if (!out.empty()) {
                    out += ' ';
                }
                out += a.name;
            }
        }
        return out;
    } catch (...) {
        return std::nullopt;
    }
}

}  // namespace m2m
