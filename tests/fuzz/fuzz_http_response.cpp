// The key fetcher's HTTP response parser, fed the same stream three ways:
// whole, byte by byte, and in chunks whose sizes come from the input. Its
// header promises the same verdict however the stream was split, so any
// difference between the three is a finding, as is any crash.
//
// Input: byte 0 picks the limits (bits 0-2 max_body, bits 3-5 max_header)
// and whether the peer then closes (bit 6, finish()); byte 1 seeds the chunk
// sizes; the rest is the response as a server sends it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "fuzz_support.h"
#include "fetch/http_response.h"

namespace {

using Parser = m2m::HttpResponseParser;

const size_t kMaxBody[8] = {0, 1, 16, 100, 1000, 65536, 1 << 20, std::numeric_limits<size_t>::max()};
const size_t kMaxHeader[8] = {0, 1, 12, 64, 256, 1024, 16384, 1 << 20};

struct Run {
    Parser parser;
    Parser::Result result = Parser::Result::need_more;

    Run(size_t max_body, size_t max_header) : parser(max_body, max_header) {}

    void feed(std::string_view chunk)
    {
        const Parser::Result now = parser.feed(chunk.data(), chunk.size());
        // A verdict, once given, is final.
        if (result != Parser::Result::need_more && now != result) {
            fuzz::fail("the parser changed its verdict");
        }
        result = now;
    }

    void finish(bool peer_closed)
    {
        if (!peer_closed) {
            return;
        }
        const Parser::Result now = parser.finish();
        if (result != Parser::Result::need_more && now != result) {
            fuzz::fail("finish() changed a verdict");
        }
        result = now;
    }
};

void check_alone(const Run &run, size_t max_body)
{
    const Parser &p = run.parser;
    switch (run.result) {
    case Parser::Result::error:
        if (!p.error() || !p.body().empty()) {
            fuzz::fail("an error without a reason, or with a body");
        }
        break;
    case Parser::Result::done:
        if (p.error() || p.status() < 200 || p.status() > 599) {
            fuzz::fail("done with an error or with an interim status");
        }
        break;
    case Parser::Result::need_more:
        if (p.error()) {
            fuzz::fail("need_more with an error");
        }
        break;
    }
    if (p.body().size() > max_body) {
        fuzz::fail("body over max_body");
    }
}

void check_same(const Run &a, const Run &b)
{
    const Parser &x = a.parser;
    const Parser &y = b.parser;
    const bool same_error = x.error() && y.error() ? strcmp(x.error(), y.error()) == 0 : x.error() == y.error();
    if (a.result != b.result || !same_error || x.status() != y.status() || x.body() != y.body() ||
        x.etag() != y.etag() || x.last_modified() != y.last_modified() || x.max_age() != y.max_age()) {
        fuzz::fail("the verdict depends on how the stream was split");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    const size_t max_body = kMaxBody[data[0] & 7];
    const size_t max_header = kMaxHeader[(data[0] >> 3) & 7];
    const bool peer_closed = (data[0] & 0x40) != 0;
    const std::string_view stream(reinterpret_cast<const char *>(data) + 2, size - 2);

    Run whole(max_body, max_header);
    whole.feed(stream);
    whole.finish(peer_closed);

    Run bytes(max_body, max_header);
    for (size_t i = 0; i < stream.size(); i++) {
        bytes.feed(stream.substr(i, 1));
    }
    bytes.finish(peer_closed);

    // Chunk sizes from 1 to 64, or an empty read now and then.
    Run chunks(max_body, max_header);
    uint32_t state = (data[1] * 2654435761u) | 1;  // xorshift never leaves 0
    for (size_t pos = 0; pos < stream.size();) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        const size_t n = (state >> 8) % 65;
        chunks.feed(stream.substr(pos, n));
        pos += n;
    }
    chunks.finish(peer_closed);

    check_alone(whole, max_body);
    check_same(whole, bytes);
    check_same(whole, chunks);
    return 0;
}
