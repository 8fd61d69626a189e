#!/usr/bin/env bash
# Where a worker spends its instructions on a protected request: one nginx
# process under callgrind (instruction counts, repeatable on a noisy machine),
# a few seconds of RS256 requests from wrk on one connection, then the top
# functions by inclusive count. Figures only, never a test.
#
#   bench/profile.sh [/abs/path/module.so]      default: build/ngx_http_auth_m2m_module.so
#   PROFILE_TOKEN_CACHE=4m bench/profile.sh     profile cache hits instead: by default the
#                                               token cache is off (where the module has it),
#                                               so that every request verifies its token
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=${1:-$top/build/ngx_http_auth_m2m_module.so}
[ -f "$module" ] || { echo "no module at $module (run ./build.sh first)" >&2; exit 1; }
for tool in valgrind callgrind_annotate wrk curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install valgrind wrk curl)" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/m2m-profile.XXXXXX")
chmod 755 "$dir"
trap '[ -f "$dir/nginx.pid" ] && kill -QUIT "$(cat "$dir/nginx.pid")" 2>/dev/null; rm -rf "$dir"' EXIT
mkdir "$dir/html" && echo ok > "$dir/html/f.txt"

/usr/bin/python3 "$top/bench/one_token.py" "$dir"

# A module from before the token cache refuses the directive: leave it out.
cache_directive=
if grep -qa 'auth_m2m_token_cache' "$module"; then
    cache_directive="auth_m2m_token_cache ${PROFILE_TOKEN_CACHE:-off};"
fi

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$dir/nginx.conf" <<CONF
load_module $module;
error_log $dir/error.log warn;
pid $dir/nginx.pid;
events {}
http {
    access_log off;
    $cache_directive
    auth_m2m_issuer i { issuer https://issuer.test; jwks_file $dir/jwks.json; audience api; }
    server {
        listen 127.0.0.1:$port;
        location /p/ { alias $dir/html/; auth_m2m i; }
    }
}
CONF

valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" /usr/sbin/nginx -p "$dir" \
    -c "$dir/nginx.conf" -g 'daemon off; master_process off;' >"$dir/valgrind.log" 2>&1 &
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/p/f.txt" && break
    sleep 0.2
done
token=$(cat "$dir/token")
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/p/f.txt")
[ "$status" = 200 ] || { echo "protected request answered $status, not 200" >&2; exit 1; }
wrk -t1 -c1 -d"${PROFILE_SECONDS:-5}"s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/p/f.txt" | grep 'requests in'
kill -QUIT "$(cat "$dir/nginx.pid")"
wait
rm -f "$dir/nginx.pid"
callgrind_annotate --inclusive=yes --auto=no "$dir/callgrind.out" 2>/dev/null \
    | grep -E 'ngx_http_core_access_phase|m2m::screen\(|m2m::authenticate\(|m2m::authorize\(|TokenCache::find\(|ngx_http_auth_m2m_token\(|verify_signature|RSA_verify|Token::parse|base64url_decode|json_loadb|ngx_http_auth_m2m_variable|PROGRAM TOTALS' \
    | sed -E 's/ \[[^]]*\]$//' | cut -c1-150
