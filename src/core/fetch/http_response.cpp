// Why the fetcher asks in HTTP/1.1, so that this parser must read chunked
// bodies, their trailers and interim 1xx responses: issue 7 asked whether an
// HTTP/1.0 request, as nginx's own OCSP client sends, could drop them. It
// cannot, because Envoy refuses HTTP/1.0 unless told otherwise: its
// Http1ProtocolOptions.accept_http_10 is off by default and a 1.0 request
// gets "426 Upgrade Required" (envoyproxy/envoy#2792). Self-hosted issuers
// (Keycloak, in-house ones) commonly sit behind Envoy: an Istio ingress
// gateway ("HTTP/1.1 426 Upgrade Required", server: istio-envoy, in
// istio/istio#13085 and #23411), Azure Container Apps' ingress (Microsoft
// Q&A 1644933: HTTP/1.0 requests get 426), Google Cloud's regional external
// Application Load Balancer (its load-balancing features table accepts
// HTTP/1.0 from clients in the global and classic modes only), Envoy Gateway
// and kgateway (1.0 is opt-in: envoyproxy/gateway#2534,
// kgateway-dev/kgateway.dev#406). None of those would give a 1.0 client its
// keys. The hosted issuers' own edges (Auth0, Okta, Entra ID, Google,
// Cognito, Scalekit) were not measured: the machine this was decided on had
// no network.
// Some front ends would take 1.0: Cloudflare, which Auth0 documents as a
// reverse proxy for custom domains, sends chunked only to HTTP/1.1 clients
// (exebetche/vlsub#148). But one front end that refuses 1.0 is enough.
//
// A close-delimited body (no Content-Length, not chunked) ends where the
// peer closes, so a connection cut mid-body looks like the end of it. What
// we fetch is a JSON object (a JWK Set or a discovery document) whose closing
// brace comes last: a cut copy fails JSON parsing and is refused all the same.

#include "fetch/http_response.h"

#include <algorithm>
#include <limits>

#include "fetch/http_syntax.h"
#include "encoding.h"

namespace m2m {

using namespace http_syntax;

namespace {

// Chunk sizes come with at most a short extension in practice; a longer line
// is a server streaming garbage at us, not a chunk header.
constexpr size_t kMaxChunkLine = 4096;

// RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31.
constexpr int64_t kMaxDeltaSeconds = 2147483648;

}  // namespace

HttpResponseParser::HttpResponseParser(size_t max_body, size_t max_header) noexcept
    : max_body_(max_body), max_header_(max_header)
{
}

HttpResponseParser::Result HttpResponseParser::feed(const char *data, size_t len) noexcept
{
    try {
        size_t pos = 0;
        while (pos < len && state_ != State::done && state_ != State::error) {
            pos += step(data + pos, len - pos);
        }
    } catch (...) {
        fail("out_of_memory");
    }
    return result();
}

HttpResponseParser::Result HttpResponseParser::finish() noexcept
{
    if (state_ == State::body_until_close) {
        state_ = State::done;
    } else if (state_ != State::done && state_ != State::error) {
        fail("truncated");
    }
    return result();
}

std::optional<int64_t> HttpResponseParser::max_age() const noexcept
{
    if (no_cache_) {
        return 0;
    }
    return max_age_;
}

HttpResponseParser::Result HttpResponseParser::result() const noexcept
{
    switch (state_) {
    case State::done: return Result::done;
    case State::error: return Result::error;
    default: return Result::need_more;
    }
}

void HttpResponseParser::fail(const char *reason) noexcept
{
    state_ = State::error;
    error_ = reason;
    // A failed response's body is never used, and how much of it had
    // arrived would depend on how the reads were split.
    std::string().swap(body_);
}

void HttpResponseParser::reset_message() noexcept
{
    status_ = 0;
    chunked_ = false;
    transfer_encoding_seen_ = false;
    content_length_.reset();
    etag_.clear();
    last_modified_.clear();
    max_age_.reset();
    no_cache_ = false;
}

// Consumes at least one byte; returns how many.
size_t HttpResponseParser::step(const char *data, size_t len)
{
    const char c = data[0];
    switch (state_) {
    case State::status_line:
        if (line_byte(c, max_header_, &header_used_, "header_too_large")) {
            status_line_complete();
        } else if (state_ == State::status_line && line_.size() <= 7) {
            // Refuse a non-HTTP answer (a TLS alert, an SSH banner) now
            // rather than after max_header bytes of it.
            if (line_.back() != "HTTP/1."[line_.size() - 1]) {
                fail("malformed_status");
            }
        }
        return 1;

    case State::header_line:
        if (line_byte(c, max_header_, &header_used_, "header_too_large")) {
            header_line_complete();
        }
        return 1;

    case State::trailer_line:
        if (line_byte(c, max_header_, &trailer_used_, "header_too_large")) {
            trailer_line_complete();
        }
        return 1;

    case State::chunk_size_line:
        if (line_byte(c, kMaxChunkLine, &chunk_line_used_, "bad_chunk")) {
            chunk_line_used_ = 0;
            chunk_size_line_complete();
        }
        return 1;

    case State::body_counted:
    case State::chunk_data: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(len, remaining_));
        append_body(data, n);
        remaining_ -= n;
        if (remaining_ == 0) {
            state_ = state_ == State::body_counted ? State::done : State::chunk_data_cr;
        }
        return n;
    }

    case State::body_until_close:
        if (len > max_body_ - body_.size()) {
            fail("body_too_large");
        } else {
            append_body(data, len);
        }
        return len;

    case State::chunk_data_cr:
        if (c == '\r') {
            state_ = State::chunk_data_lf;
        } else {
            fail("bad_chunk");
        }
        return 1;

    case State::chunk_data_lf:
        if (c == '\n') {
            state_ = State::chunk_size_line;
        } else {
            fail("bad_chunk");
        }
        return 1;

    case State::done:
    case State::error:
        break;
    }
    return len;
}

// Adds one byte to the current line, counting it against `limit`. True when
// the byte was the LF that completes the line (line_ then holds it without LF).
bool HttpResponseParser::line_byte(char c, size_t limit, size_t *used, const char *too_long)
{
    if (++*used > limit) {
        fail(too_long);
        return false;
    }
    if (c == '\n') {
        return true;
    }
    line_.push_back(c);
    return false;
}

void HttpResponseParser::status_line_complete()
{
    std::string_view l(line_);
    strip_cr(&l, false);
    // "HTTP/1.x 200" then optionally " reason": nginx itself may omit the
    // reason phrase, and HTTP/1.0 servers still exist.
    if (l.size() < 12 || l.substr(0, 7) != "HTTP/1." || !is_digit(l[7]) || l[8] != ' ' || l[9] < '1' ||
        l[9] > '5' || !is_digit(l[10]) || !is_digit(l[11]) || (l.size() > 12 && l[12] != ' ') ||
        has_ctl(l)) {
        fail("malformed_status");
        return;
    }
    status_ = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    http10_ = l[7] == '0';
    line_.clear();
    state_ = State::header_line;
}

bool HttpResponseParser::parse_field(std::string_view *name, std::string_view *value)
{
    std::string_view l(line_);
    strip_cr(&l, false);
    // Leading whitespace is obs-fold (a continuation line), which RFC 9112
    // lets us refuse; no name may be followed by whitespace before the colon.
    const size_t colon = l.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return false;
    }
    *name = l.substr(0, colon);
    if (!std::all_of(name->begin(), name->end(), is_tchar)) {
        return false;
    }
    *value = trim_ows(l.substr(colon + 1));
    return !has_ctl(*value);
}

void HttpResponseParser::header_line_complete()
{
    std::string_view l(line_);
    strip_cr(&l, false);
    if (l.empty()) {
        line_.clear();
        headers_complete();
        return;
    }
    std::string_view name, value;
    if (!parse_field(&name, &value)) {
        fail("malformed_header");
        return;
    }
    header_field(name, value);
    line_.clear();
}

void HttpResponseParser::header_field(std::string_view name, std::string_view value)
{
    if (iequals(name, "content-length")) {
        content_length(value);
    } else if (iequals(name, "transfer-encoding")) {
        transfer_encoding(value);
    } else if (iequals(name, "etag")) {
        etag_.assign(value);
    } else if (iequals(name, "last-modified")) {
        last_modified_.assign(value);
    } else if (iequals(name, "cache-control")) {
        cache_control(value);
    }
}

void HttpResponseParser::content_length(std::string_view value)
{
    // No list form ("5, 5") and no sign: a framing header we cannot read
    // exactly is a framing header we must not guess at.
    uint64_t length = 0;
    if (!parse_decimal(value, std::numeric_limits<uint64_t>::max(), &length) ||
        (content_length_ && *content_length_ != length)) {
        fail("malformed_header");
        return;
    }
    content_length_ = length;
}

void HttpResponseParser::transfer_encoding(std::string_view value)
{
    // We never send TE or Accept-Encoding, so "chunked", once, is the only
    // coding a server may apply; anything else we could not decode.
    transfer_encoding_seen_ = true;
    while (!value.empty()) {
        const size_t comma = value.find(',');
        const std::string_view coding = trim_ows(value.substr(0, comma));
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        if (coding.empty()) {
            continue;
        }
        if (chunked_ || !iequals(coding, "chunked")) {
            fail("malformed_header");
            return;
        }
        chunked_ = true;
    }
}

// Cache-Control is advice: a directive we cannot read is skipped, never an
// error, so that an odd cache header cannot cost us a good key set.
void HttpResponseParser::cache_control(std::string_view value)
{
    size_t i = 0;
    const size_t n = value.size();
    while (i < n) {
        while (i < n && (is_ows(value[i]) || value[i] == ',')) {
            i++;
        }
        const size_t name_start = i;
        while (i < n && is_tchar(value[i])) {
            i++;
        }
        const std::string_view name = value.substr(name_start, i - name_start);
        std::string arg;
        bool has_arg = false;
        bool valid = !name.empty();
        if (i < n && value[i] == '=') {
            has_arg = true;
            i++;
            if (i < n && value[i] == '"') {
                // quoted-string, with quoted-pair; may contain commas.
                bool closed = false;
                for (i++; i < n; i++) {
                    if (value[i] == '\\' && i + 1 < n) {
                        arg.push_back(value[++i]);
                    } else if (value[i] == '"') {
                        closed = true;
                        i++;
                        break;
                    } else {
                        arg.push_back(value[i]);
                    }
                }
                valid = valid && closed;
            } else {
                const size_t arg_start = i;
                while (i < n && is_tchar(value[i])) {
                    i++;
                }
                arg.assign(value.substr(arg_start, i - arg_start));
            }
        }
        while (i < n && is_ows(value[i])) {
            i++;
        }
        if (i < n && value[i] != ',') {
            // Junk after the directive: skip it, and the directive with it.
            valid = false;
            while (i < n && value[i] != ',') {
                if (value[i] == '"') {
                    const size_t close = value.find('"', i + 1);
                    i = close == std::string_view::npos ? n : close;
                }
                i++;
            }
        }
        if (!valid) {
            continue;
        }
        if (iequals(name, "max-age")) {
            // RFC 9111 §4.2.1: with several max-age values, use the first.
            uint64_t seconds = 0;
            if (has_arg && !max_age_ && parse_decimal(arg, kMaxDeltaSeconds, &seconds)) {
                max_age_ = static_cast<int64_t>(seconds);
            }
        } else if (iequals(name, "no-store") || (iequals(name, "no-cache") && !has_arg)) {
            // no-cache="field" (RFC 9111 §5.2.2.4) restricts only those
            // fields, so it does not make the key set itself uncacheable.
            no_cache_ = true;
        }
    }
}

void HttpResponseParser::headers_complete()
{
    if (status_ < 200) {
        // An interim response (100 Continue, 103 Early Hints): the real one
        // follows on the same connection.
        reset_message();
        state_ = State::status_line;
        return;
    }
    // RFC 9112 §6.1: chunked framing does not exist in HTTP/1.0, so a 1.0
    // response that claims it has faulty framing.
    if (transfer_encoding_seen_ && (!chunked_ || http10_)) {
        fail("malformed_header");
        return;
    }
    if (status_ == 204 || status_ == 304) {
        state_ = State::done;
        return;
    }
    // Chunked wins over Content-Length (RFC 9112 §6.3): the length is a
    // leftover from a proxy, or a smuggling attempt, either way not framing.
    if (chunked_) {
        state_ = State::chunk_size_line;
        return;
    }
    if (content_length_) {
        if (*content_length_ > max_body_) {
            fail("body_too_large");
        } else if (*content_length_ == 0) {
            state_ = State::done;
        } else {
            remaining_ = *content_length_;
            state_ = State::body_counted;
        }
        return;
    }
    state_ = State::body_until_close;
}

void HttpResponseParser::chunk_size_line_complete()
{
    std::string_view l(line_);
    if (!strip_cr(&l, true)) {
        fail("bad_chunk");
        return;
    }
    // The size saturates just past what max_body allows, so an absurd
    // 40-digit size is "too large", not an overflow.
    const uint64_t cap = std::max<uint64_t>(max_body_, max_body_ + uint64_t{1});
    uint64_t size = 0;
    size_t i = 0;
    for (; i < l.size() && hex_value(l[i]) >= 0; i++) {
        const auto d = static_cast<uint64_t>(hex_value(l[i]));
        size = size > (cap - d) / 16 ? cap : size * 16 + d;
    }
    if (i == 0) {
        fail("bad_chunk");
        return;
    }
    // Chunk extensions (";name=value") carry nothing we use; they need only
    // be free of control characters. RFC 9112 §7.1.1 allows BWS before ';'.
    std::string_view rest = l.substr(i);
    while (!rest.empty() && is_ows(rest.front())) {
        rest.remove_prefix(1);
    }
    if ((!rest.empty() && rest.front() != ';') || has_ctl(rest)) {
        fail("bad_chunk");
        return;
    }
    line_.clear();
    if (size == 0) {
        trailer_used_ = 0;
        state_ = State::trailer_line;
    } else if (size > max_body_ - body_.size()) {
        fail("body_too_large");
    } else {
        remaining_ = size;
        state_ = State::chunk_data;
    }
}

void HttpResponseParser::trailer_line_complete()
{
    std::string_view l(line_);
    strip_cr(&l, false);
    if (l.empty()) {
        line_.clear();
        state_ = State::done;
        return;
    }
    // Trailers are checked like header fields, then dropped: a trailer must
    // not be able to change a validator or the cache lifetime after the fact.
    std::string_view name, value;
    if (!parse_field(&name, &value)) {
        fail("malformed_header");
        return;
    }
    line_.clear();
}

void HttpResponseParser::append_body(const char *data, size_t len)
{
    body_.append(data, len);
}

}  // namespace m2m
