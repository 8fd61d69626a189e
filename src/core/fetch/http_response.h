// The key fetcher's HTTP/1.x response parser. It is fed whatever each read
// returned, so it never assumes a line, a header or a chunk arrives whole:
// every byte moves one state machine, and the verdict is the same however the
// stream was split.
//
// Line endings: the status line, header fields, trailer fields and the blank
// lines ending them accept CRLF or a bare LF, as nginx's own upstream parser
// does (a few small servers and test rigs send LF only, and nothing is gained
// by refusing their keys). A CR anywhere else in those lines is malformed:
// CR-only line breaks are how header smuggling starts. Chunked framing (the
// chunk-size line and the CRLF after chunk data) requires CRLF, since every
// server that implements chunked encoding sends it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace m2m {

class HttpResponseParser {
public:
    enum class Result { need_more, done, error };

    // max_header bounds everything before the body (interim 1xx responses
    // included) and, separately, the trailers of a chunked body.
    explicit HttpResponseParser(size_t max_body, size_t max_header = 16384) noexcept;

    Result feed(const char *data, size_t len) noexcept;  // once done, further bytes are ignored
    // The peer closed: done if the body was close-delimited (no
    // Content-Length, not chunked), else error "truncated".
    Result finish() noexcept;

    int status() const noexcept { return status_; }
    const std::string &body() const noexcept { return body_; }  // empty after an error
    const std::string &etag() const noexcept { return etag_; }                    // verbatim, may be W/".."
    const std::string &last_modified() const noexcept { return last_modified_; }  // verbatim
    // Cache-Control max-age (the first valid one), 0 for no-cache or no-store,
    // nullopt when the server said nothing usable.
    std::optional<int64_t> max_age() const noexcept;
    // nullptr unless Result::error: "malformed_status", "malformed_header",
    // "header_too_large", "body_too_large", "bad_chunk", "truncated", or
    // "out_of_memory" if a buffer could not grow.
    const char *error() const noexcept { return error_; }

private:
    enum class State {
        status_line,
        header_line,
        body_counted,
        body_until_close,
        chunk_size_line,
        chunk_data,
        chunk_data_cr,
        chunk_data_lf,
        trailer_line,
        done,
        error,
    };

    size_t step(const char *data, size_t len);
    bool line_byte(char c, size_t limit, size_t *used, const char *too_long);
    void status_line_complete();
    void header_line_complete();
    void headers_complete();
    void chunk_size_line_complete();
    void trailer_line_complete();
    bool parse_field(std::string_view *name, std::string_view *value);
    void header_field(std::string_view name, std::string_view value);
    void cache_control(std::string_view value);
    void transfer_encoding(std::string_view value);
    void content_length(std::string_view value);
    void append_body(const char *data, size_t len);
    void fail(const char *reason) noexcept;
    void reset_message() noexcept;
    Result result() const noexcept;

    const size_t max_body_;
    const size_t max_header_;
    State state_ = State::status_line;
    const char *error_ = nullptr;

    std::string line_;          // the line being accumulated, without its LF
    size_t header_used_ = 0;    // bytes of status lines and headers so far
    size_t trailer_used_ = 0;   // bytes of chunked trailers so far
    size_t chunk_line_used_ = 0;

    int status_ = 0;
    bool chunked_ = false;
    bool http10_ = false;
    bool transfer_encoding_seen_ = false;
    std::optional<uint64_t> content_length_;
    uint64_t remaining_ = 0;    // of the Content-Length body or the current chunk

    std::string body_;
    std::string etag_;
    std::string last_modified_;
    std::optional<int64_t> max_age_;
    bool no_cache_ = false;
};

}  // namespace m2m
