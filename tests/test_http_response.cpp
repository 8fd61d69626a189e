// The key fetcher's HTTP/1.x response parser. Every response is parsed whole,
// one byte at a time and in many random splits, and all of them must agree:
// the socket decides where reads end, not the server.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fetch/http_response.h"
#include "test_suites.h"
#include "test_support.h"

using m2m::HttpResponseParser;
using Result = HttpResponseParser::Result;

namespace {

constexpr size_t kMaxBody = 1 << 20;

struct Outcome {
    Result result = Result::need_more;
    int status = 0;
    std::string body, etag, last_modified, error;
    std::optional<int64_t> max_age;
};

const char *result_name(Result r)
{
    switch (r) {
    case Result::need_more: return "need_more";
    case Result::done: return "done";
    case Result::error: return "error";
    }
    return "?";
}

struct Options {
    size_t max_body = kMaxBody;
    size_t max_header = 16384;
    bool close = false;  // the peer closes after the last byte: finish() is called
};

// Feeds `wire` cut at the given offsets (ascending), then finish() if asked.
Outcome run_cuts(const std::string &wire, const std::vector<size_t> &cuts, const Options &opt)
{
    HttpResponseParser p(opt.max_body, opt.max_header);
    Outcome o;
    size_t start = 0;
    for (size_t i = 0; i <= cuts.size(); i++) {
        const size_t end = i < cuts.size() ? cuts[i] : wire.size();
        if (end > start || (i == cuts.size() && wire.empty())) {
            o.result = p.feed(wire.data() + start, end - start);
        }
        start = end;
    }
    if (opt.close) {
        o.result = p.finish();
    }
    o.status = p.status();
    o.body = p.body();
    o.etag = p.etag();
    o.last_modified = p.last_modified();
    o.max_age = p.max_age();
    o.error = p.error() ? p.error() : "";
    ck_assert_msg((o.result == Result::error) == (p.error() != nullptr), "error() is %s with result %s",
                  p.error() ? p.error() : "null", result_name(o.result));
    return o;
}

void assert_same(const Outcome &a, const Outcome &b, const char *how)
{
    ck_assert_msg(a.result == b.result, "%s: result %s, whole: %s", how, result_name(b.result), result_name(a.result));
    ck_assert_msg(a.error == b.error, "%s: error \"%s\", whole: \"%s\"", how, b.error.c_str(), a.error.c_str());
    ck_assert_msg(a.status == b.status, "%s: status %d, whole: %d", how, b.status, a.status);
    ck_assert_msg(a.body == b.body, "%s: body differs (%zu vs %zu bytes)", how, b.body.size(), a.body.size());
    ck_assert_msg(a.etag == b.etag, "%s: etag differs", how);
    ck_assert_msg(a.last_modified == b.last_modified, "%s: last_modified differs", how);
    ck_assert_msg(a.max_age == b.max_age, "%s: max_age differs", how);
}

// Parses whole, byte by byte and in random splits; all must agree.
Outcome parse(const std::string &wire, const Options &opt = {})
{
    const Outcome whole = run_cuts(wire, {}, opt);

    std::vector<size_t> every;
    for (size_t i = 1; i < wire.size(); i++) {
        every.push_back(i);
    }
    assert_same(whole, run_cuts(wire, every, opt), "one byte at a time");

    std::mt19937 rng(static_cast<uint32_t>(wire.size() * 7919 + 17));
    for (int round = 0; round < 32 && wire.size() > 1; round++) {
        std::uniform_int_distribution<size_t> pieces(1, std::min<size_t>(wire.size() - 1, 12));
        std::uniform_int_distribution<size_t> at(1, wire.size() - 1);
        std::vector<size_t> cuts;
        for (size_t n = pieces(rng); n > 0; n--) {
            cuts.push_back(at(rng));
        }
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        assert_same(whole, run_cuts(wire, cuts, opt), "random split");
    }
    return whole;
}

Outcome parse_closed(const std::string &wire, Options opt = {})
{
    opt.close = true;
    return parse(wire, opt);
}

void assert_done(const Outcome &o, int status, const std::string &body)
{
    ck_assert_msg(o.result == Result::done, "result %s (error \"%s\"), want done", result_name(o.result),
                  o.error.c_str());
    ck_assert_int_eq(o.status, status);
    ck_assert_std_str_eq(o.body, body);
}

void assert_error(const Outcome &o, const char *error)
{
    ck_assert_msg(o.result == Result::error, "result %s, want error %s", result_name(o.result), error);
    ck_assert_std_str_eq(o.error, error);
}

// The wire for a failure message: CR and LF visible, long runs cut.
std::string shown(const std::string &wire)
{
    std::string out;
    for (char c : wire.substr(0, 120)) {
        out += c == '\r' ? std::string("\\r") : c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    return out;
}

void assert_error_for(const std::string &wire, const char *error, Options opt = {})
{
    const Outcome o = parse(wire, opt);
    ck_assert_msg(o.result == Result::error && o.error == error, "%s: result %s \"%s\", want error %s",
                  shown(wire).c_str(), result_name(o.result), o.error.c_str(), error);
}

std::string ok_with(const std::string &headers, const std::string &body = "")
{
    return "HTTP/1.1 200 OK\r\n" + headers + "\r\n" + body;
}

std::string chunked(const std::string &chunks) { return ok_with("Transfer-Encoding: chunked\r\n", chunks); }

std::optional<int64_t> max_age_of(const std::string &cache_control_lines)
{
    const Outcome o = parse(ok_with(cache_control_lines + "Content-Length: 0\r\n"));
    assert_done(o, 200, "");
    return o.max_age;
}

void assert_max_age(const std::string &value, std::optional<int64_t> want)
{
    const std::optional<int64_t> got = max_age_of("Cache-Control: " + value + "\r\n");
    ck_assert_msg(got == want, "Cache-Control: %s => %s%lld, want %s%lld", value.c_str(), got ? "" : "nullopt ",
                  static_cast<long long>(got.value_or(-1)), want ? "" : "nullopt ",
                  static_cast<long long>(want.value_or(-1)));
}

}  // namespace

START_TEST(test_content_length_body)
{
    const Outcome o = parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
                            "{\"keys\":[1]}\n");
    assert_done(o, 200, "{\"keys\":[1]}\n");
    ck_assert_std_str_eq(o.error, "");
    ck_assert(!o.max_age.has_value());
    ck_assert_std_str_eq(o.etag, "");
    ck_assert_std_str_eq(o.last_modified, "");
}
END_TEST

START_TEST(test_done_without_waiting_for_close)
{
    // A Content-Length body is complete at its last byte; the parser must
    // not need the peer to close (keep-alive servers never do).
    HttpResponseParser p(kMaxBody);
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    ck_assert(p.feed(head.data(), head.size()) == Result::need_more);
    ck_assert(p.feed("o", 1) == Result::need_more);
    ck_assert(p.feed("k", 1) == Result::done);
    ck_assert_std_str_eq(p.body(), "ok");
    ck_assert_ptr_null(p.error());
}
END_TEST

START_TEST(test_http10_close_delimited)
{
    const std::string wire = "HTTP/1.0 200 OK\r\nServer: tiny\r\n\r\n{\"keys\":[]}";
    const Outcome open = parse(wire);
    ck_assert_msg(open.result == Result::need_more, "close-delimited body done before close: %s",
                  result_name(open.result));
    assert_done(parse_closed(wire), 200, "{\"keys\":[]}");
    // And with no body at all.
    assert_done(parse_closed("HTTP/1.0 200 OK\r\n\r\n"), 200, "");
}
END_TEST

START_TEST(test_reason_phrase_optional)
{
    assert_done(parse("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx"), 200, "x");
    assert_done(parse("HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nx"), 200, "x");
    assert_done(parse("HTTP/1.1 404 Not Found Here\r\nContent-Length: 1\r\n\r\nx"), 404, "x");
    assert_done(parse("HTTP/1.0 503 Service\tUnavailable\r\nContent-Length: 1\r\n\r\nx"), 503, "x");
    assert_done(parse("HTTP/1.1 200 D\xc3\xa9j\xc3\xa0 vu\r\nContent-Length: 1\r\n\r\nx"), 200, "x");
}
END_TEST

START_TEST(test_status_codes)
{
    assert_done(parse("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"), 500, "oops");
    assert_done(parse("HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"), 301, "");
    assert_done(parse("HTTP/1.1 599 x\r\nContent-Length: 0\r\n\r\n"), 599, "");
}
END_TEST

START_TEST(test_header_names_case_insensitive)
{
    const Outcome o = parse("HTTP/1.1 200 OK\r\ncontent-LENGTH: 3\r\nETAG: \"v1\"\r\nlast-MODIFIED: Tue, 01 Jan 2030 "
                            "00:00:00 GMT\r\ncache-CONTROL: max-age=77\r\n\r\nabc");
    assert_done(o, 200, "abc");
    ck_assert_std_str_eq(o.etag, "\"v1\"");
    ck_assert_std_str_eq(o.last_modified, "Tue, 01 Jan 2030 00:00:00 GMT");
    ck_assert(o.max_age == std::optional<int64_t>(77));
    assert_done(parse(ok_with("TRANSFER-ENCODING: Chunked\r\n", "1\r\nz\r\n0\r\n\r\n")), 200, "z");
}
END_TEST

START_TEST(test_validators_verbatim)
{
    Outcome o = parse(ok_with("ETag: W/\"a-b\\\"c\"\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
                              "Content-Length: 0\r\n"));
    assert_done(o, 200, "");
    ck_assert_std_str_eq(o.etag, "W/\"a-b\\\"c\"");
    ck_assert_std_str_eq(o.last_modified, "Wed, 21 Oct 2015 07:28:00 GMT");

    // Optional whitespace around the value is not part of it; inner spaces are.
    o = parse(ok_with("ETag:   \"x y\" \t\r\nContent-Length: 0\r\n"));
    ck_assert_std_str_eq(o.etag, "\"x y\"");
    o = parse(ok_with("ETag:\"tight\"\r\nContent-Length: 0\r\n"));
    ck_assert_std_str_eq(o.etag, "\"tight\"");
}
END_TEST

START_TEST(test_chunked_body)
{
    assert_done(parse(chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")), 200, "hello world");
    // Hex in both cases, with leading zeros.
    const std::string sixteen = "0123456789abcdef";
    assert_done(parse(chunked("A\r\n0123456789\r\n006\r\nabcdef\r\n00\r\n\r\n")), 200, sixteen);
    assert_done(parse(chunked("10\r\n" + sixteen + "\r\n0\r\n\r\n")), 200, sixteen);
    assert_done(parse(chunked("a\r\n0123456789\r\nF\r\nabcdefghijklmno\r\n0\r\n\r\n")), 200,
                "0123456789abcdefghijklmno");
    // An empty chunked body.
    assert_done(parse(chunked("0\r\n\r\n")), 200, "");
    // Chunk data may contain CRLF and look like a chunk header.
    assert_done(parse(chunked("7\r\n0\r\n\r\nab\r\n0\r\n\r\n")), 200, "0\r\n\r\nab");
}
END_TEST

START_TEST(test_chunk_extensions)
{
    assert_done(parse(chunked("5;name=value\r\nhello\r\n0\r\n\r\n")), 200, "hello");
    assert_done(parse(chunked("5;a;b=\"q;x\"\r\nhello\r\n0;last=1\r\n\r\n")), 200, "hello");
    assert_done(parse(chunked("5 ;x=y\r\nhello\r\n0\t;z\r\n\r\n")), 200, "hello");
}
END_TEST

START_TEST(test_chunked_trailers)
{
    Outcome o = parse(ok_with("Transfer-Encoding: chunked\r\nETag: \"head\"\r\n",
                              "3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\nETag: \"tail\"\r\n"
                              "Cache-Control: no-store\r\n\r\n"));
    assert_done(o, 200, "abc");
    // Trailers are checked and dropped: they do not change what the headers said.
    ck_assert_std_str_eq(o.etag, "\"head\"");
    ck_assert(!o.max_age.has_value());

    // Not done until the blank line after the trailers.
    o = parse(ok_with("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\nX-A: 1\r\n"));
    ck_assert(o.result == Result::need_more);
    // Trailer lines may end in a bare LF, like header lines.
    assert_done(parse(chunked("3\r\nabc\r\n0\r\nX-A: 1\n\n")), 200, "abc");
}
END_TEST

START_TEST(test_chunked_wins_over_content_length)
{
    assert_done(parse(ok_with("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n")),
                200, "hello");
    assert_done(parse(ok_with("Transfer-Encoding: chunked\r\nContent-Length: 100\r\n", "2\r\nhi\r\n0\r\n\r\n")),
                200, "hi");
    // A Content-Length over max_body does not matter when chunked frames the body.
    Options small;
    small.max_body = 4;
    assert_done(parse(ok_with("Content-Length: 999999\r\nTransfer-Encoding: chunked\r\n", "2\r\nhi\r\n0\r\n\r\n"),
                      small),
                200, "hi");
}
END_TEST

START_TEST(test_unsupported_transfer_codings)
{
    assert_error_for(ok_with("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), "malformed_header");
    assert_error_for(ok_with("Transfer-Encoding: gzip\r\n", "abc"), "malformed_header");
    assert_error_for(ok_with("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"), "malformed_header");
    assert_error_for(ok_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
                     "malformed_header");
    assert_error_for(ok_with("Transfer-Encoding: identity\r\n", "abc"), "malformed_header");
    assert_error_for(ok_with("Transfer-Encoding:\r\n", "abc"), "malformed_header");
    assert_error_for(ok_with("Transfer-Encoding: chunked;q=1\r\n", "0\r\n\r\n"), "malformed_header");
    // Empty list elements are allowed by the list syntax.
    assert_done(parse(ok_with("Transfer-Encoding: , chunked ,\r\n", "1\r\nx\r\n0\r\n\r\n")), 200, "x");
}
END_TEST

START_TEST(test_304_and_204_have_no_body)
{
    // Done at the end of the headers, whatever Content-Length says (a 304
    // carries the length of the representation it stands for).
    Outcome o = parse("HTTP/1.1 304 Not Modified\r\nETag: \"v7\"\r\nCache-Control: max-age=900\r\n"
                      "Content-Length: 1234\r\n\r\n");
    assert_done(o, 304, "");
    ck_assert_std_str_eq(o.etag, "\"v7\"");
    ck_assert(o.max_age == std::optional<int64_t>(900));

    assert_done(parse("HTTP/1.1 304 Not Modified\r\n\r\n"), 304, "");
    assert_done(parse("HTTP/1.1 204 No Content\r\n\r\n"), 204, "");
    assert_done(parse("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"), 304, "");

    // Bytes after a 304 are not its body.
    o = parse("HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\n");
    assert_done(o, 304, "");
}
END_TEST

START_TEST(test_interim_responses_skipped)
{
    assert_done(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), 200, "ok");

    // Several, with headers; nothing of theirs leaks into the final response.
    const Outcome o = parse("HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 103 Early Hints\r\nLink: </keys>; rel=preload\r\nETag: \"early\"\r\n"
                            "Cache-Control: no-store\r\nLast-Modified: x\r\nContent-Length: 99\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert_done(o, 200, "ok");
    ck_assert_std_str_eq(o.etag, "");
    ck_assert_std_str_eq(o.last_modified, "");
    ck_assert(!o.max_age.has_value());

    // While only the interim response has arrived, there is no status yet.
    HttpResponseParser p(kMaxBody);
    const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
    ck_assert(p.feed(interim.data(), interim.size()) == Result::need_more);
    ck_assert_int_eq(p.status(), 0);
    // And a connection closed after it is truncated.
    ck_assert(p.finish() == Result::error);
    ck_assert_str_eq(p.error(), "truncated");
}
END_TEST

START_TEST(test_bytes_after_done_ignored)
{
    HttpResponseParser p(kMaxBody);
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA garbage\r\n\r\n";
    ck_assert(p.feed(wire.data(), wire.size()) == Result::done);
    ck_assert_std_str_eq(p.body(), "ok");
    ck_assert(p.feed("\x00\xff", 2) == Result::done);
    ck_assert(p.finish() == Result::done);
    ck_assert_std_str_eq(p.body(), "ok");
    ck_assert_ptr_null(p.error());

    // The split version agrees (trailing bytes arrive in later reads).
    assert_done(parse(wire), 200, "ok");
    assert_done(parse(chunked("1\r\na\r\n0\r\n\r\nHTTP/1.1 500 x\r\n\r\n")), 200, "a");
}
END_TEST

START_TEST(test_after_error_stays_error)
{
    HttpResponseParser p(kMaxBody);
    ck_assert(p.feed("XTTP", 4) == Result::error);
    ck_assert_str_eq(p.error(), "malformed_status");
    const std::string good = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    ck_assert(p.feed(good.data(), good.size()) == Result::error);
    ck_assert(p.finish() == Result::error);
    ck_assert_str_eq(p.error(), "malformed_status");
}
END_TEST

START_TEST(test_max_age_variants)
{
    assert_max_age("max-age=300", 300);
    assert_max_age("public, max-age=300", 300);
    assert_max_age("max-age=300, public", 300);
    assert_max_age("max-age=\"120\"", 120);
    assert_max_age("MAX-AGE=5", 5);
    assert_max_age("Max-Age=0", 0);
    assert_max_age("  max-age=45  ", 45);
    assert_max_age("public,max-age=30,must-revalidate", 30);
    assert_max_age("max-age=007", 7);
    assert_max_age("no-store", 0);
    assert_max_age("no-cache", 0);
    assert_max_age("NO-STORE", 0);
    assert_max_age("max-age=300, no-cache", 0);
    assert_max_age("no-store, max-age=300", 0);
    assert_max_age("s-maxage=10", std::nullopt);
    assert_max_age("s-maxage=10, max-age=20", 20);
    assert_max_age("public", std::nullopt);
    assert_max_age("", std::nullopt);
    // First valid max-age wins (RFC 9111 §4.2.1).
    assert_max_age("max-age=10, max-age=20", 10);
    // Values we cannot read are ignored, not errors.
    assert_max_age("max-age=abc", std::nullopt);
    assert_max_age("max-age=", std::nullopt);
    assert_max_age("max-age", std::nullopt);
    assert_max_age("max-age=-5", std::nullopt);
    assert_max_age("max-age=1.5", std::nullopt);
    assert_max_age("max-age=\"12", std::nullopt);
    assert_max_age("max-age=60 junk, public", std::nullopt);
    assert_max_age("max-age=abc, max-age=40", 40);
    assert_max_age("x-max-age=9", std::nullopt);
    assert_max_age("max-ages=9", std::nullopt);
    // A quoted comma or directive name is not a directive.
    assert_max_age("private=\"a, max-age=9\", max-age=30", 30);
    assert_max_age("ext=\"no-store\"", std::nullopt);
    assert_max_age("ext=\"x\\\", max-age=9\", max-age=31", 31);
    // Qualified no-cache covers only the named fields (RFC 9111 §5.2.2.4).
    assert_max_age("no-cache=\"Set-Cookie\", max-age=60", 60);
    // Too large to represent: 2^31 (RFC 9111 §1.2.2).
    assert_max_age("max-age=99999999999999999999999", 2147483648);
    assert_max_age("max-age=2147483647", 2147483647);
}
END_TEST

START_TEST(test_max_age_across_header_lines)
{
    ck_assert(max_age_of("") == std::nullopt);
    ck_assert(max_age_of("Cache-Control: public\r\nCache-Control: max-age=7\r\n") == std::optional<int64_t>(7));
    ck_assert(max_age_of("Cache-Control: max-age=7\r\nCache-Control: no-store\r\n") == std::optional<int64_t>(0));
    ck_assert(max_age_of("Cache-Control: max-age=7\r\nCache-Control: max-age=8\r\n") == std::optional<int64_t>(7));
    // Another header that merely contains the text is not Cache-Control.
    ck_assert(max_age_of("X-Cache-Control: max-age=7\r\n") == std::nullopt);
    ck_assert(max_age_of("Pragma: no-cache\r\n") == std::nullopt);
}
END_TEST

START_TEST(test_content_length_errors)
{
    for (const char *bad : {"abc", "-1", "+5", "5, 5", "", "1 2", "0x10", "5.0", "\xd9\xa5"}) {
        assert_error_for(ok_with(std::string("Content-Length: ") + bad + "\r\n", "hello"), "malformed_header");
    }
    assert_error_for(ok_with("Content-Length: 5\r\nContent-Length: 6\r\n", "hello"), "malformed_header");
    // Identical duplicates are harmless.
    assert_done(parse(ok_with("Content-Length: 5\r\nContent-Length: 5\r\n", "hello")), 200, "hello");
    assert_done(parse(ok_with("Content-Length: 5\r\nContent-Length: 005\r\n", "hello")), 200, "hello");
    // The error comes even when chunked would have framed the body.
    assert_error_for(ok_with("Transfer-Encoding: chunked\r\nContent-Length: x\r\n", "0\r\n\r\n"), "malformed_header");
}
END_TEST

START_TEST(test_malformed_status)
{
    for (const char *bad : {
             "HTTP/2 200 OK\r\n",
             "HTTP/2.0 200 OK\r\n",
             "http/1.1 200 OK\r\n",
             "HTTP/1.1 20 OK\r\n",
             "HTTP/1.1 2000 OK\r\n",
             "HTTP/1.1 200OK\r\n",
             "HTTP/1.1  200 OK\r\n",
             "HTTP/1.1 099 Low\r\n",
             "HTTP/1.1 600 High\r\n",
             "HTTP/1.1 abc OK\r\n",
             "HTTP/1.x 200 OK\r\n",
             "HTTP/1.1\r\n",
             "HTTP/1.1 \r\n",
             "ICY 200 OK\r\n",
             "\r\nHTTP/1.1 200 OK\r\n",
             " HTTP/1.1 200 OK\r\n",
             "HTTP/1.1 200 OK\x01\r\n",
             "HTTP/1.1 200 O\rK\r\n",
             "HTTP/1.1 200 OK\r\r\n",
             "\x16\x03\x01\x00\xa5",
         }) {
        assert_error_for(std::string(bad) + "Content-Length: 0\r\n\r\n", "malformed_status");
    }
    assert_error_for(std::string("HTTP/1.1 200 \0OK\r\n\r\n", 20), "malformed_status");
}
END_TEST

START_TEST(test_non_http_refused_early)
{
    // Garbage is refused at its first wrong byte, not after max_header bytes.
    HttpResponseParser p(kMaxBody);
    ck_assert(p.feed("HTTP/", 5) == Result::need_more);
    ck_assert(p.feed("2", 1) == Result::error);
    ck_assert_str_eq(p.error(), "malformed_status");

    HttpResponseParser ssh(kMaxBody);
    ck_assert(ssh.feed("S", 1) == Result::error);
    ck_assert_str_eq(ssh.error(), "malformed_status");
}
END_TEST

START_TEST(test_malformed_header)
{
    for (const char *bad : {
             "Content-Length 5\r\n",
             ": value\r\n",
             "Bad Name: x\r\n",
             "Name : x\r\n",
             "Name\t: x\r\n",
             " folded: x\r\n",
             "X-A: 1\r\n continued\r\n",
             "X-A: 1\r\n\tcontinued\r\n",
             "X(y): z\r\n",
             "X-A: a\rb\r\n",
             "X-A: a\x7f\r\n",
             "X-A: a\x1b[0m\r\n",
             "X-A: 1\r\r\n",
             "\xc3\xa9: x\r\n",
         }) {
        assert_error_for(ok_with(std::string(bad) + "Content-Length: 0\r\n"), "malformed_header");
    }
    assert_error_for(ok_with(std::string("X-A: a\0b\r\nContent-Length: 0\r\n", 30)), "malformed_header");
    // A bare CR cannot be used to smuggle a second header line.
    assert_error_for("HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 2\r\n\r\nok", "malformed_header");
    // RFC 9112 §6.1: chunked framing in an HTTP/1.0 response is faulty.
    assert_error_for("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "malformed_header");
    assert_done(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), 200, "abc");
    // Values may be empty and may carry obs-text.
    assert_done(parse(ok_with("X-Empty:\r\nX-Blank:   \r\nX-Text: caf\xc3\xa9\r\nContent-Length: 0\r\n")), 200, "");
}
END_TEST

START_TEST(test_lf_only_header_lines_tolerated)
{
    Outcome o = parse("HTTP/1.1 200 OK\nContent-Length: 2\nETag: \"lf\"\n\nok");
    assert_done(o, 200, "ok");
    ck_assert_std_str_eq(o.etag, "\"lf\"");
    assert_done(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok"), 200, "ok");
    assert_done(parse("HTTP/1.1 100 Continue\n\nHTTP/1.0 200 OK\nContent-Length: 1\r\n\nx"), 200, "x");
}
END_TEST

START_TEST(test_header_too_large)
{
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: 0123456789\r\n\r\n";
    Options opt;
    opt.max_header = head.size();
    assert_done(parse(head + "ok", opt), 200, "ok");
    opt.max_header = head.size() - 1;
    assert_error_for(head + "ok", "header_too_large", opt);

    // A status line that never ends.
    opt.max_header = 1024;
    assert_error_for("HTTP/1.1 200 " + std::string(5000, 'a'), "header_too_large", opt);
    // Endless headers.
    std::string many = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 200; i++) {
        many += "X-" + std::to_string(i) + ": y\r\n";
    }
    assert_error_for(many, "header_too_large", opt);
    // Interim responses count too: a server cannot stream 100 Continue forever.
    std::string interims;
    for (int i = 0; i < 100; i++) {
        interims += "HTTP/1.1 100 Continue\r\n\r\n";
    }
    assert_error_for(interims + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "header_too_large", opt);
    // The default limit is 16 KiB.
    assert_error_for(ok_with("X-Big: " + std::string(16384, 'b') + "\r\n"), "header_too_large");
    assert_done(parse(ok_with("X-Big: " + std::string(16000, 'b') + "\r\nContent-Length: 0\r\n")), 200, "");
}
END_TEST

START_TEST(test_trailers_bounded_and_checked)
{
    Options opt;
    opt.max_header = 256;
    std::string trailers;
    for (int i = 0; i < 40; i++) {
        trailers += "X-T" + std::to_string(i) + ": v\r\n";
    }
    assert_error_for(chunked("1\r\nx\r\n0\r\n" + trailers + "\r\n"), "header_too_large", opt);
    // The trailer budget is its own: headers near the limit leave trailers room.
    const std::string near_limit = "X-Pad: " + std::string(180, 'p') + "\r\n";
    assert_done(parse(ok_with("Transfer-Encoding: chunked\r\n" + near_limit, "1\r\nx\r\n0\r\nX-T: 1\r\n\r\n"), opt),
                200, "x");
    assert_error_for(chunked("1\r\nx\r\n0\r\nnot a field\r\n\r\n"), "malformed_header");
    assert_error_for(chunked("1\r\nx\r\n0\r\n folded: x\r\n\r\n"), "malformed_header");
}
END_TEST

START_TEST(test_body_too_large_content_length)
{
    Options opt;
    opt.max_body = 4;
    assert_done(parse(ok_with("Content-Length: 4\r\n", "abcd"), opt), 200, "abcd");
    assert_error_for(ok_with("Content-Length: 5\r\n", "abcde"), "body_too_large", opt);
    assert_error_for(ok_with("Content-Length: 99999999999999999999999999\r\n", "abcde"), "body_too_large", opt);

    // Refused at the end of the headers, before a byte of the body is read.
    HttpResponseParser p(4);
    const std::string head = ok_with("Content-Length: 5\r\n");
    ck_assert(p.feed(head.data(), head.size()) == Result::error);
    ck_assert_str_eq(p.error(), "body_too_large");
    ck_assert_std_str_eq(p.body(), "");
}
END_TEST

START_TEST(test_body_too_large_chunked)
{
    Options opt;
    opt.max_body = 10;
    assert_done(parse(chunked("6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n"), opt), 200, "abcdefghij");
    assert_error_for(chunked("6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n"), "body_too_large", opt);
    assert_error_for(chunked("ffffffffffffffffffffffffffffffff\r\nx\r\n"), "body_too_large", opt);

    // Known at the chunk-size line that announces too much.
    HttpResponseParser p(10);
    const std::string wire = chunked("6\r\nabcdef\r\n5\r\n");
    ck_assert(p.feed(wire.data(), wire.size()) == Result::error);
    ck_assert_str_eq(p.error(), "body_too_large");
}
END_TEST

START_TEST(test_body_too_large_close_delimited)
{
    Options opt;
    opt.max_body = 4;
    assert_done(parse_closed(ok_with("", "abcd"), opt), 200, "abcd");
    // Error at the fifth byte, without waiting for the close.
    assert_error_for(ok_with("", "abcde"), "body_too_large", opt);
    assert_error_for(ok_with("", std::string(100, 'z')), "body_too_large", opt);
    const Outcome closed = parse_closed(ok_with("", "abcde"), opt);
    assert_error(closed, "body_too_large");
}
END_TEST

START_TEST(test_bad_chunk)
{
    for (const char *bad : {
             "zz\r\nhello\r\n0\r\n\r\n",
             "\r\nhello\r\n0\r\n\r\n",
             "5\nhello\r\n0\r\n\r\n",
             "5\r\nhelloX\r\n0\r\n\r\n",
             "5\r\nhello\n0\r\n\r\n",
             "5\r\nhello\r\r\n0\r\n\r\n",
             "5\r\nhello0\r\n\r\n",
             "-5\r\nhello\r\n0\r\n\r\n",
             " 5\r\nhello\r\n0\r\n\r\n",
             "5 x\r\nhello\r\n0\r\n\r\n",
             "0x5\r\nhello\r\n0\r\n\r\n",
             "5;a\x01\r\nhello\r\n0\r\n\r\n",
             "5\r\r\nhello\r\n0\r\n\r\n",
             "5\r\nhello\r\n0\n\r\n",
             ";x\r\nhello\r\n0\r\n\r\n",
         }) {
        assert_error_for(chunked(bad), "bad_chunk");
    }
    // A chunk-size line that goes on and on.
    assert_error_for(chunked("5;" + std::string(5000, 'e') + "\r\nhello\r\n0\r\n\r\n"), "bad_chunk");
    assert_done(parse(chunked("5;" + std::string(4000, 'e') + "\r\nhello\r\n0\r\n\r\n")), 200, "hello");
}
END_TEST

START_TEST(test_truncated)
{
    const std::vector<std::string> cut_short = {
        "",
        "HTT",
        "HTTP/1.1 200 OK",
        "HTTP/1.1 200 OK\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhell",
        "HTTP/1.1 304 Not Modified\r\n",
        chunked(""),
        chunked("5"),
        chunked("5\r\nhel"),
        chunked("5\r\nhello"),
        chunked("5\r\nhello\r"),
        chunked("5\r\nhello\r\n"),
        chunked("5\r\nhello\r\n0\r\n"),
        chunked("5\r\nhello\r\n0\r\nX-T: 1\r\n"),
    };
    for (const std::string &wire : cut_short) {
        const Outcome o = parse_closed(wire);
        ck_assert_msg(o.result == Result::error && o.error == "truncated", "%s: %s \"%s\", want truncated",
                      shown(wire).c_str(), result_name(o.result), o.error.c_str());
    }
    // finish() after a complete message is no error.
    assert_done(parse_closed(ok_with("Content-Length: 2\r\n", "ok")), 200, "ok");
    assert_done(parse_closed(chunked("0\r\n\r\n")), 200, "");
}
END_TEST

START_TEST(test_large_body_random_splits)
{
    // A realistic key set size, chunked unevenly, parsed in many splits.
    std::string body;
    for (int i = 0; i < 6000; i++) {
        body += static_cast<char>('!' + (i * 31) % 90);
    }
    std::string chunks;
    std::mt19937 rng(4242);
    for (size_t at = 0; at < body.size();) {
        const size_t n = std::min<size_t>(body.size() - at, 1 + rng() % 700);
        char size[32];
        snprintf(size, sizeof size, "%zx", n);
        chunks += std::string(size) + (n % 3 == 0 ? ";ext=1" : "") + "\r\n" + body.substr(at, n) + "\r\n";
        at += n;
    }
    assert_done(parse(chunked(chunks + "0\r\n\r\n")), 200, body);
    assert_done(parse(ok_with("Content-Length: " + std::to_string(body.size()) + "\r\n", body)), 200, body);
    assert_done(parse_closed("HTTP/1.0 200 OK\r\n\r\n" + body), 200, body);
}
END_TEST

START_TEST(test_zero_length_feed)
{
    HttpResponseParser p(kMaxBody);
    ck_assert(p.feed("", 0) == Result::need_more);
    ck_assert(p.feed(nullptr, 0) == Result::need_more);
    const std::string wire = ok_with("Content-Length: 1\r\n", "x");
    ck_assert(p.feed(wire.data(), wire.size()) == Result::done);
    ck_assert(p.feed(nullptr, 0) == Result::done);
    ck_assert_std_str_eq(p.body(), "x");
}
END_TEST

Suite *http_response_suite()
{
    Suite *s = suite_create("http_response");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_content_length_body);
    tcase_add_test(tc, test_done_without_waiting_for_close);
    tcase_add_test(tc, test_http10_close_delimited);
    tcase_add_test(tc, test_reason_phrase_optional);
    tcase_add_test(tc, test_status_codes);
    tcase_add_test(tc, test_header_names_case_insensitive);
    tcase_add_test(tc, test_validators_verbatim);
    tcase_add_test(tc, test_chunked_body);
    tcase_add_test(tc, test_chunk_extensions);
    tcase_add_test(tc, test_chunked_trailers);
    tcase_add_test(tc, test_chunked_wins_over_content_length);
    tcase_add_test(tc, test_unsupported_transfer_codings);
    tcase_add_test(tc, test_304_and_204_have_no_body);
    tcase_add_test(tc, test_interim_responses_skipped);
    tcase_add_test(tc, test_bytes_after_done_ignored);
    tcase_add_test(tc, test_after_error_stays_error);
    tcase_add_test(tc, test_max_age_variants);
    tcase_add_test(tc, test_max_age_across_header_lines);
    tcase_add_test(tc, test_content_length_errors);
    tcase_add_test(tc, test_malformed_status);
    tcase_add_test(tc, test_non_http_refused_early);
    tcase_add_test(tc, test_malformed_header);
    tcase_add_test(tc, test_lf_only_header_lines_tolerated);
    tcase_add_test(tc, test_header_too_large);
    tcase_add_test(tc, test_trailers_bounded_and_checked);
    tcase_add_test(tc, test_body_too_large_content_length);
    tcase_add_test(tc, test_body_too_large_chunked);
    tcase_add_test(tc, test_body_too_large_close_delimited);
    tcase_add_test(tc, test_bad_chunk);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_large_body_random_splits);
    tcase_add_test(tc, test_zero_length_feed);
    suite_add_tcase(s, tc);
    return s;
}
