#!/usr/bin/env bash
# Where a worker's time goes per request, by library: perf samples the one
# nginx worker while wrk (-c32, as bench/run.sh) sends the same static file
# unprotected and protected, and the worker's CPU time over the requests wrk
# counted gives microseconds per request, split by the shares perf saw.
# callgrind (bench/profile.sh) counts instructions; this shows what they do not:
# the kernel's part, which grows when a slower server makes wrk sleep and every
# response has to wake it. Figures only, never a test.
#
#   bench/time_split.sh [/abs/path/module.so]   default: build/ngx_http_auth_m2m_module.so
#   SPLIT_TOKEN_CACHE=4m bench/time_split.sh    the token cache on (default: off, so every
#                                               protected request verifies its RS256 token)
#   SPLIT_SECONDS=5                             length of each wrk run
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=${1:-$top/build/ngx_http_auth_m2m_module.so}
seconds=${SPLIT_SECONDS:-5}
[ -f "$module" ] || { echo "no module at $module (run ./build.sh first)" >&2; exit 1; }
module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")
for tool in perf wrk curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install linux-perf wrk curl)" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/m2m-split.XXXXXX")
chmod 755 "$dir"
trap '[ -f "$dir/nginx.pid" ] && kill -QUIT "$(cat "$dir/nginx.pid")" 2>/dev/null; rm -rf "$dir"' EXIT
mkdir "$dir/html" && echo ok > "$dir/html/f.txt"

/usr/bin/python3 "$top/bench/one_token.py" "$dir"
chmod -R a+rX "$dir"

cache_directive=
if grep -qa 'auth_m2m_token_cache' "$module"; then
    cache_directive="auth_m2m_token_cache ${SPLIT_TOKEN_CACHE:-off};"
fi

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$dir/nginx.conf" <<CONF
load_module $module;
worker_processes 1;
error_log $dir/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    $cache_directive
    auth_m2m_issuer i { issuer https://issuer.test; jwks_file $dir/jwks.json; audience api; }
    server {
        listen 127.0.0.1:$port;
        location /open/ { alias $dir/html/; }
        location /p/ { alias $dir/html/; auth_m2m i; }
    }
}
CONF
/usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
token=$(cat "$dir/token")
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/open/f.txt" && break
    sleep 0.1
done
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/p/f.txt")
[ "$status" = 200 ] || { echo "protected request answered $status, not 200" >&2; exit 1; }
worker=$(pgrep -P "$(cat "$dir/nginx.pid")" | head -1)
ticks=$(getconf CLK_TCK)

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$worker/stat"; }

split() {    # name path
    local before after requests
    before=$(cpu_ticks)
    perf record -q -F 999 -p "$worker" -o "$dir/$1.perf" -- \
        wrk -t1 -c32 -d"${seconds}s" -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$port$2" >"$dir/$1.wrk" 2>/dev/null
    after=$(cpu_ticks)
    requests=$(awk '/requests in/ { print $1 }' "$dir/$1.wrk")
    perf report -q -i "$dir/$1.perf" --no-children --sort dso --stdio -g none 2>/dev/null \
        | awk -v name="$1" -v req="$requests" -v cpu="$(( after - before ))" -v hz="$ticks" \
              -v module="$(basename "$module")" '
            { pct = $1; sub(/%/, "", pct); dso = $2
              if (dso == module) dso = "module"
              sub(/^\[kernel\.kallsyms\]$/, "kernel", dso); sub(/\.so.*/, "", dso); sub(/^lib/, "", dso)
              if (dso ~ /^(kernel|nginx|c|crypto|jansson|module)$/) part[dso] += pct
              else part["other"] += pct }
            END {
              us = cpu / hz / req * 1e6
              printf "%-10s %9.0f req/s  %6.1f us/request:", name, req / '"$seconds"', us
              n = split("kernel nginx c module crypto jansson other", order, " ")
              for (i = 1; i <= n; i++) printf "  %s %.1f", order[i], us * part[order[i]] / 100
              printf "\n" }'
    # the part of the kernel's share that wakes wrk up for each response
    perf report -q -i "$dir/$1.perf" --no-children --sort symbol --stdio -g none 2>/dev/null \
        | awk -v req="$requests" -v cpu="$(( after - before ))" -v hz="$ticks" '
            / _raw_spin_unlock_irqrestore( |$)/ { pct = $1; sub(/%/, "", pct); wake += pct }
            END { printf "%-10s %28s  of the kernel: waking the client %.1f us (%.1f%%)\n", "", "",
                         cpu / hz / req * 1e6 * wake / 100, wake }'
}

echo "worker CPU per request, split by where perf saw it (us); wrk -t1 -c32, ${seconds}s each"
split plain /open/f.txt
split protected /p/f.txt
