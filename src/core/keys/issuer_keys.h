// One issuer's keys as one worker holds them: the set it verifies with now
// and the generation that set belongs to. Not configuration: a key source
// replaces the set while the configuration stays as it is. A verified token
// records the generation it was checked under.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "keys/jwks.h"

namespace m2m {

struct IssuerKeys {
    std::shared_ptr<const KeySet> set;  // null until a key source gave one

    // 0: no set yet. The set never changes within one generation; the
    // generation may move on alone when the source has nothing this worker
    // can import for it (the worker keeps the set it has).
    uint64_t generation = 0;

    // The one way a worker takes new keys: the set and its generation
    // together, so that a generation always names one set.
    void replace(std::shared_ptr<const KeySet> keys, uint64_t to) noexcept
    {
        set = std::move(keys);
        generation = to;
    }
};

}  // namespace m2m
