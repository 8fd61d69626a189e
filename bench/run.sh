#!/usr/bin/env bash
# Throughput of ngx_http_auth_m2m_module's access phase, measured with wrk
# against one local nginx, and the worker's memory over many requests.
# Figures only: this is not a test and CI must never run it. See bench/README.md.
#
#   ./build.sh bench                      build, then run this with the fresh module
#   bench/run.sh [/abs/path/module.so]    default: build/ngx_http_auth_m2m_module.so
#
# Environment: BENCH_SECONDS (per wrk run, default 5), BENCH_ROUNDS (interleaved
# rounds, default 3), BENCH_MEMORY_REQUESTS (mixed requests of the memory
# check, default 1000000, 0 skips it), BENCH_KEEP=1 (keep the temp dir).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=${1:-$top/build/ngx_http_auth_m2m_module.so}
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
mem_requests=${BENCH_MEMORY_REQUESTS:-1000000}
nginx_bin=/usr/sbin/nginx
python=/usr/bin/python3
conns=32       # wrk -c
threads=1      # wrk -t; feed.lua gives each thread its own slice of tokens
started=$SECONDS

log() { printf '>>> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer, not '$seconds'"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, not '$rounds'"
[[ $mem_requests =~ ^[0-9]+$ ]] || die "BENCH_MEMORY_REQUESTS must be a number (0 skips), not '$mem_requests'"
[ -f "$module" ] || die "no module at $module (run ./build.sh first, or pass the .so path)"
module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")
[ -x "$nginx_bin" ] || die "$nginx_bin not found (Debian package nginx)"

# ------------------------------------------------------------------ tools
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
"$python" -c 'import jwt, cryptography' 2>/dev/null || {
    have_pkg python3-jwt || need+=(python3-jwt)
    have_pkg python3-cryptography || need+=(python3-cryptography)
}
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing ${need[*]}; install them (apt-get install ${need[*]})"
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ------------------------------------------------------------------ temp dir, cleanup
dir=$(mktemp -d "${TMPDIR:-/tmp}/m2m-bench.XXXXXX")
chmod 755 "$dir"    # nginx workers run as "nobody" when started by root
nginx_pid= nocache_pid= mint_pid= wrk_pid=

stop_pid() {    # pid: TERM, wait up to 5 s, then KILL
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$wrk_pid"
    stop_pid "$nginx_pid"
    stop_pid "$nocache_pid"
    stop_pid "$mint_pid"
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "kept $dir"
    else
        rm -rf "$dir"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ keys and tokens
# bench/mint.py, with python3-jwt / python3-cryptography (never the module),
# makes the keys, the JWKS and the warm token, then stays up as a coprocess and
# mints batches of distinct tokens on request, so the private keys never touch
# the disk and tokens are signed only as many as the runs need.
mkdir -p "$dir/html" "$dir/tmp"
printf 'ok' > "$dir/html/ok.txt"
coproc MINT { exec "$python" "$top/bench/mint.py" "$dir"; }
mint_pid=$MINT_PID
mint_in=${MINT[1]} mint_out=${MINT[0]}
read -r ready <&"$mint_out" && [ "$ready" = ready ] || die "bench/mint.py did not start"
chmod -R a+rX "$dir"
read -r port port_nocache < "$dir/ports"
tok_warm=$(cat "$dir/rs256.token")

declare -A minted reclen next
mint_seconds=0
mint() {    # kind count: append count new tokens to $dir/kind.tokens
    local t0=$SECONDS k total len
    log "minting $2 $1 tokens"
    echo "mint $1 $2" >&"$mint_in"
    read -r k total len <&"$mint_out" || die "bench/mint.py failed"
    minted[$1]=$total reclen[$1]=$len
    mint_seconds=$((mint_seconds + SECONDS - t0))
}
ensure() {    # kind count: at least count unused tokens of kind
    local have=$(( ${minted[$1]:-0} - ${next[$1]:-0} ))
    [ "$have" -ge "$2" ] || mint "$1" $(( $2 - have ))
}

# ------------------------------------------------------------------ nginx
write_conf() {    # name port extra-http-directive
    cat > "$dir/$1.conf" <<EOF
load_module $module;
daemon off;
worker_processes 1;
error_log $dir/$1.error.log warn;
pid $dir/$1.pid;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    $3

    auth_m2m_issuer demo {
        issuer https://issuer.test;
        jwks_file $dir/jwks.json;
        audience api;
    }

    server {
        listen 127.0.0.1:$2;
        location /open/ { alias $dir/html/; }
        location /auth/ { alias $dir/html/; auth_m2m demo; }
    }
}
EOF
}

# Does this module have the verified-token cache? Ask nginx -t.
write_conf probe "$port" 'auth_m2m_token_cache 1m;'
if "$nginx_bin" -t -q -p "$dir" -c "$dir/probe.conf" -e "$dir/probe.error.log" 2>"$dir/probe.out"; then
    has_cache=1
elif grep -q 'unknown directive "auth_m2m_token_cache"' "$dir/probe.out" "$dir/probe.error.log" 2>/dev/null; then
    has_cache=0
else
    cat "$dir/probe.out" >&2
    die "nginx -t failed on the probe configuration"
fi

start_nginx() {    # name port -> pid in $started_pid
    "$nginx_bin" -p "$dir" -c "$dir/$1.conf" -e "$dir/$1.error.log" &
    started_pid=$!
    # Wait until nginx accepts connections: poll the port, bounded (10 s).
    local up=0
    for _ in $(seq 200); do
        kill -0 "$started_pid" 2>/dev/null || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then up=1; break; fi
        sleep 0.05
    done
    if [ $up -ne 1 ]; then
        cat "$dir/$1.error.log" >&2 2>/dev/null || true
        die "nginx ($1) did not come up on 127.0.0.1:$2"
    fi
}

# The measured nginx: the module's defaults (the cache on, if it has one).
write_conf main "$port" ''
start_nginx main "$port"; nginx_pid=$started_pid
# The "warm, cache off" case needs the cache off, an http-level setting: a
# second nginx, idle except during that case's runs.
if [ "$has_cache" = 1 ]; then
    write_conf nocache "$port_nocache" 'auth_m2m_token_cache off;'
    start_nginx nocache "$port_nocache"; nocache_pid=$started_pid
fi

# ------------------------------------------------------------------ cases
# Every case serves the same 2-byte file through the same static handler;
# only the access phase differs. (`return 200` would run in the rewrite phase,
# before the access phase, and measure nothing.) Every request carries an
# Authorization header of about the same size, built by bench/feed.lua.
#   src: repeat (one token) | walk KIND (each token once) | garbage
#   lim: the combined limit the case is held against (rs, es), or -
cases=(baseline warm)
[ "$has_cache" = 1 ] && cases+=(warm-nocache)
cases+=(cold-rs256 cold-es256 bad-sig garbage expired)
declare -A where src kind want lim
where[baseline]=$port/open/ok.txt;  src[baseline]=repeat;  want[baseline]=200;  lim[baseline]=-
where[warm]=$port/auth/ok.txt;      src[warm]=repeat;      want[warm]=200;      lim[warm]=-
where[warm-nocache]=$port_nocache/auth/ok.txt; src[warm-nocache]=repeat; want[warm-nocache]=200; lim[warm-nocache]=-
where[cold-rs256]=$port/auth/ok.txt; src[cold-rs256]=walk; want[cold-rs256]=200; lim[cold-rs256]=rs
where[cold-es256]=$port/auth/ok.txt; src[cold-es256]=walk; want[cold-es256]=200; lim[cold-es256]=es
where[bad-sig]=$port/auth/ok.txt;   src[bad-sig]=walk;     want[bad-sig]=401;   lim[bad-sig]=rs
where[garbage]=$port/auth/ok.txt;   src[garbage]=garbage;  want[garbage]=401;   lim[garbage]=-
where[expired]=$port/auth/ok.txt;   src[expired]=walk;     want[expired]=401;   lim[expired]=-
walkers=(cold-rs256 cold-es256 bad-sig expired)

garbage_len=${#tok_warm}
nonce_n=0
source_arg() {    # case -> the feed.lua SOURCE for it (walk: from next[case] to the end of the file)
    local c=$1 p=${where[$1]#*/}
    case ${src[$c]} in
        repeat)  printf 'repeat,/%s,%s' "$p" "$dir/rs256.token" ;;
        walk)    printf 'walk,/%s,%s,%s,%s,%s' "$p" "$dir/$c.tokens" "${reclen[$c]}" "${next[$c]}" "${minted[$c]}" ;;
        garbage) nonce_n=$((nonce_n + 1)); printf 'garbage,/%s,%s,g%07d' "$p" "$garbage_len" "$nonce_n" ;;
    esac
}

# Check each case answers as expected before timing it. A walking case spends
# its first token here.
for c in "${walkers[@]}"; do ensure "$c" 1; next[$c]=0; done
for c in "${cases[@]}"; do
    case ${src[$c]} in
        repeat)  tok=$tok_warm ;;
        walk)    tok=$(head -c "$((reclen[$c] - 1))" "$dir/$c.tokens"); next[$c]=1 ;;
        garbage) tok=$(openssl rand -base64 1500 | tr -d '\n=/+' | cut -c1-"$garbage_len") ;;
    esac
    got=$(curl -s -o "$dir/body" -D "$dir/headers.$c" -w '%{http_code}' \
        -H "Authorization: Bearer $tok" "http://127.0.0.1:${where[$c]}") || got="curl failed"
    [ "$got" = "${want[$c]}" ] || die "case $c: expected ${want[$c]}, got $got"
    if [ "${want[$c]}" != 200 ] && [ "$(cat "$dir/body" 2>/dev/null)" = ok ]; then die "case $c: served the file"; fi
done
grep -qi '^WWW-Authenticate:.*error_description="expired"' "$dir/headers.expired" \
    || die "case expired: no WWW-Authenticate with error_description=\"expired\""
refusal() { sed -n 's/^WWW-Authenticate: *//Ip' "$dir/headers.$1" | tr -d '\r' | cut -c1-90; }

# wrk with bench/feed.lua. -> $wrk_line "req/s non2xx errors requests exhausted handed next"
declare -A served answered
run_wrk() {    # case seconds [limit done-file]
    local c=$1 s=$2 limit=${3:-0} donefile=${4:--} out feed
    wrk -t$threads -c$conns -d"${s}s" -s "$top/bench/feed.lua" "http://127.0.0.1:${where[$c]}" \
        -- "127.0.0.1:${where[$c]%%/*}" $threads "$limit" "$donefile" "$(source_arg "$c")" \
        >"$dir/wrk.out" 2>&1 &
    wrk_pid=$!
    if [ "$donefile" != - ]; then    # stop wrk once the thread has sent its requests
        while kill -0 "$wrk_pid" 2>/dev/null && [ ! -e "$donefile.0" ]; do sleep 0.2; done
        kill -INT "$wrk_pid" 2>/dev/null || true
    fi
    wait "$wrk_pid" || { cat "$dir/wrk.out" >&2; wrk_pid=; die "wrk failed for $c"; }
    wrk_pid=
    out=$(cat "$dir/wrk.out")
    feed=$(printf '%s\n' "$out" | grep '^FEED ') || { printf '%s\n' "$out" >&2; die "no FEED line from feed.lua ($c)"; }
    wrk_line=$(printf '%s\n' "$out" | awk '
        /^Requests\/sec:/        { rps = $2 }
        /Non-2xx or 3xx/         { non2xx = $NF }
        /Socket errors:/         { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
        /^FEED / { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
        END {
            split(f["src1"], h, ":")
            # a thread that ran out of tokens stopped early: wrk divides by -d,
            # so take the rate over the time the thread actually ran
            if (f["exhausted"] > 0 && f["elapsed_us"] > 0) rps = f["requests"] / (f["elapsed_us"] / 1e6)
            printf "%s %d %d %d %d %d %d\n", (rps == "" ? "0" : rps), non2xx, err, f["requests"],
                f["exhausted"], h[1], h[2] }')
    local handed nx
    read -r _ _ _ req _ handed nx <<<"$wrk_line"
    served[$c]=$(( ${served[$c]:-0} + handed ))
    answered[$c]=$(( ${answered[$c]:-0} + req ))
    [ "${src[$c]}" = walk ] && next[$c]=$nx
    return 0
}

median() { tr -s ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { $1 }"; }

# ------------------------------------------------------------------ openssl speed
# Measured first, while nothing else of ours runs.
log "openssl speed -seconds 1 rsa2048 ecdsap256"
speed=$(openssl speed -seconds 1 rsa2048 ecdsap256 2>/dev/null)
# The verify/s column counted from the right of its header line, so extra
# columns in newer OpenSSL versions (encaps/decaps) do not shift it.
verify_per_s() {
    printf '%s\n' "$speed" | awk -v pat="$1" '
        / sign\/s / { for (i = 1; i <= NF; i++) if ($i == "verify/s") back = NF - i }
        $0 ~ pat && back != "" { print $(NF - back); exit }'
}
rsa_verify=$(verify_per_s '^rsa 2048 bits')
ec_verify=$(verify_per_s 'ecdsa \\(nistp256\\)')
[ -n "$rsa_verify" ] && [ -n "$ec_verify" ] || die "could not read openssl speed's verify/s"

# ------------------------------------------------------------------ context
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
[ -n "$cpu" ] || cpu=$(lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print $2; exit }')
echo "== ngx_http_auth_m2m_module benchmark"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nginx:   $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'), worker_processes 1, access_log off"
echo "wrk:     $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), -t$threads -c$conns -d${seconds}s, bench/feed.lua, $rounds rounds interleaved"
echo "module:  $module"
if [ "$has_cache" = 1 ]; then
    echo "cache:   auth_m2m_token_cache accepted; cases run with the module's default, warm-nocache with 'off' (a second nginx)"
else
    echo "cache:   this module has no auth_m2m_token_cache directive (nginx -t refused it): no warm-nocache case"
fi
echo "tokens:  claims $(cat "$dir/claims.size") bytes of JSON; RS256 $((reclen[cold-rs256] - 1)) bytes, ES256 $((reclen[cold-es256] - 1)) bytes, garbage $garbage_len bytes"
echo

# ------------------------------------------------------------------ warm-up, then timed rounds
# Tokens for a walking case are minted before each round (nginx idle): 1.25 x
# the fastest rate seen so far for the case x the run's length, + 2000. For the
# warm-up the guess is the combined limit (cold-*, bad-sig), or the baseline
# (expired: a module may refuse it before any signature check); a warm-up that
# runs out stops early, which is harmless, and its rate still counts.
declare -A est
est_need() { calc "printf \"%d\", 1.25 * $1 * $2 + 2000"; }
topup() {    # seconds
    for c in "${walkers[@]}"; do ensure "$c" "$(est_need "${est[$c]}" "$1")"; done
}

log "warm-up: 1 s per case"
run_wrk baseline 1
read -r base0 _ <<<"$wrk_line"
rs_lim0=$(calc "printf \"%d\", 1 / (1 / $base0 + 1 / $rsa_verify)")
es_lim0=$(calc "printf \"%d\", 1 / (1 / $base0 + 1 / $ec_verify)")
est[cold-rs256]=$rs_lim0 est[bad-sig]=$rs_lim0 est[cold-es256]=$es_lim0 est[expired]=${base0%.*}
topup 1
declare -A results bad
note_run() {    # case round-label
    local c=$1 rps non2xx errs req ex
    read -r rps non2xx errs req ex _ <<<"$wrk_line"
    if [ "${src[$c]}" = walk ]; then
        # the warm-up replaces the guess; a round only raises the estimate
        if [ "$2" = warm-up ]; then est[$c]=${rps%.*}
        else est[$c]=$(calc "printf \"%d\", ($rps > ${est[$c]} ? $rps : ${est[$c]})"); fi
        [ "$ex" -eq 0 ] || [ "$2" = warm-up ] || bad[$c]+="$2: ran out of tokens after $req requests, stopped early (rate over the time it ran); "
    fi
    if [ "${want[$c]}" = 200 ] && [ "$non2xx" -ne 0 ]; then bad[$c]+="$2: $non2xx non-2xx; "; fi
    if [ "${want[$c]}" != 200 ] && [ "$non2xx" -lt $((req - conns)) ]; then bad[$c]+="$2: only $non2xx of $req refused; "; fi
    if [ "$errs" -ne 0 ]; then bad[$c]+="$2: $errs socket errors; "; fi
    return 0
}
note_run baseline warm-up
for c in "${cases[@]:1}"; do run_wrk "$c" 1; note_run "$c" warm-up; done

for r in $(seq "$rounds"); do
    topup "$seconds"
    for c in "${cases[@]}"; do
        log "round $r/$rounds: $c (${seconds}s)"
        run_wrk "$c" "$seconds"
        note_run "$c" "round $r"
        results[$c]+="${wrk_line%% *} "
    done
done

# ------------------------------------------------------------------ table
base=$(median "${results[baseline]}")
rs_lim=$(calc "printf \"%.0f\", 1 / (1 / $base + 1 / $rsa_verify)")
es_lim=$(calc "printf \"%.0f\", 1 / (1 / $base + 1 / $ec_verify)")
declare -A limit_of=([rs]=$rs_lim [es]=$es_lim)
printf '%-13s %11s %8s %9s %13s   %s\n' case 'requests/s' 'vs base' 'vs limit' 'added us/req' "per round (req/s)"
for c in "${cases[@]}"; do
    m=$(median "${results[$c]}")
    ratio=$(calc "printf \"%.3f\", ($base > 0 ? $m / $base : 0)")
    vlim=-
    [ "${lim[$c]}" = - ] || vlim=$(calc "printf \"%.3f\", $m / ${limit_of[${lim[$c]}]}")
    added=$(calc "if ($m > 0 && $base > 0) printf \"%.1f\", 1e6 / $m - 1e6 / $base; else print \"n/a\"")
    [ "$c" = baseline ] && added=-
    printf '%-13s %11.0f %8s %9s %13s   %s\n' "$c" "$m" "$ratio" "$vlim" "$added" "${results[$c]% }"
done
echo
printf 'openssl speed (one core): rsa2048 verify/s %.0f (%.1f us each), ecdsap256 verify/s %.0f (%.1f us each)\n' \
    "$rsa_verify" "$(calc "print 1e6 / $rsa_verify")" "$ec_verify" "$(calc "print 1e6 / $ec_verify")"
echo "combined limit 1/(1/baseline + 1/verify): RS256 $rs_lim req/s, ES256 $es_lim req/s"
echo "  (one worker doing nginx's baseline work plus one bare verify per request;"
echo "   'vs limit' of cold-rs256 and bad-sig is against RS256's, of cold-es256 against ES256's)"
echo
echo "cases (every request: the same 2-byte file, an Authorization header of ~${garbage_len} bytes):"
echo "  baseline     /open/, no auth_m2m; the warm token sent and ignored"
echo "  warm         one valid RS256 token on every request"
[ "$has_cache" = 1 ] && echo "  warm-nocache the same, on a second nginx with auth_m2m_token_cache off"
echo "  cold-rs256   a valid RS256 token never sent before, on every request"
echo "  cold-es256   a valid ES256 token never sent before, on every request"
echo "  bad-sig      a never-sent RS256 token, valid claims, signature a random number below n -> $(refusal bad-sig)"
echo "  garbage      a never-sent random non-JWT string -> $(refusal garbage)"
echo "  expired      a never-sent ES256 token, signed, expired 1 h ago -> $(refusal expired)"
echo "added us/req = 1e6/(case req/s) - 1e6/(baseline req/s): the worker's extra time per request."
echo
echo "distinct tokens (each walking case's tokens are records 0..N-1 of its file, checked by bench/mint.py):"
for c in "${walkers[@]}" garbage; do
    if [ "$c" = garbage ]; then
        printf '  %-11s %9d requests answered, %9d strings sent, all distinct by construction (run nonce + counter)\n' \
            "$c" "${answered[$c]}" "${served[$c]}"
        continue
    fi
    echo "unique $c ${next[$c]}" >&"$mint_in"
    read -r _ n distinct <&"$mint_out" || die "bench/mint.py failed"
    printf '  %-11s %9d requests answered, %9d tokens sent (+1 by the check), %9d distinct of %d used%s\n' \
        "$c" "${answered[$c]}" "${served[$c]}" "$distinct" "$n" \
        "$([ "$distinct" = "$n" ] && [ $((served[$c] + 1)) -le "$n" ] && echo ": no repeats" || echo ": REPEATS")"
    [ "$distinct" = "$n" ] || bad[$c]+="tokens repeated ($distinct distinct of $n); "
done

# ------------------------------------------------------------------ memory check
# The measured worker's RSS before and after BENCH_MEMORY_REQUESTS requests that
# take turns: warm RS256, cold ES256 (never sent before; ES256 because it is
# ten times cheaper to mint than RS256), bad-sig, garbage. Measured halfway too,
# so a cache filling up once can be told from steady growth.
if [ "$mem_requests" -gt 0 ]; then
    echo
    worker=$(cat "/proc/$nginx_pid/task/$nginx_pid/children" 2>/dev/null | awk '{ print $1 }')
    [ -n "$worker" ] || die "no worker process under nginx $nginx_pid"
    rss() { awk '/^(VmRSS|RssAnon|RssFile):/ { printf "%s ", $2 }' "/proc/$worker/status"; }
    half=$(( (mem_requests + 1) / 2 ))
    quarter=$(( (half + 3) / 4 ))
    mem_t0=$SECONDS mint_before=$mint_seconds
    ensure cold-es256 $((2 * quarter + 2 * conns))
    ensure bad-sig $((2 * quarter + 2 * conns))
    where[mix]=$port/auth/ok.txt
    rss0=$(rss) mem_sent=0 mem_answered=0 mem_non2xx=0
    rss_mid=
    run_t0=$SECONDS
    for part in 1 2; do
        log "memory check: $half mixed requests (part $part of 2)"
        rm -f "$dir/mix.done".*
        mix_sources=("repeat,/auth/ok.txt,$dir/rs256.token"
            "walk,/auth/ok.txt,$dir/cold-es256.tokens,${reclen[cold-es256]},${next[cold-es256]},${minted[cold-es256]}"
            "walk,/auth/ok.txt,$dir/bad-sig.tokens,${reclen[bad-sig]},${next[bad-sig]},${minted[bad-sig]}"
            "garbage,/auth/ok.txt,$garbage_len,m$(printf '%07d' $part)")
        wrk -t$threads -c$conns -d3600s -s "$top/bench/feed.lua" "http://127.0.0.1:$port/auth/ok.txt" \
            -- "127.0.0.1:$port" $threads "$half" "$dir/mix.done" "${mix_sources[@]}" >"$dir/wrk.out" 2>&1 &
        wrk_pid=$!
        while kill -0 "$wrk_pid" 2>/dev/null && [ ! -e "$dir/mix.done.0" ]; do sleep 0.2; done
        kill -INT "$wrk_pid" 2>/dev/null || true
        wait "$wrk_pid" || { cat "$dir/wrk.out" >&2; wrk_pid=; die "wrk failed in the memory check"; }
        wrk_pid=
        feed=$(grep '^FEED ' "$dir/wrk.out") || { cat "$dir/wrk.out" >&2; die "no FEED line in the memory check"; }
        for kv in $feed; do
            case $kv in
                src2=*) next[cold-es256]=${kv##*:} ;;
                src3=*) next[bad-sig]=${kv##*:} ;;
                exhausted=[1-9]*) die "memory check ran out of tokens (a bug in the count)" ;;
                requests=*) mem_answered=$((mem_answered + ${kv#requests=})) ;;
            esac
        done
        mem_non2xx=$((mem_non2xx + $(awk '/Non-2xx or 3xx/ { print $NF }' "$dir/wrk.out") + 0))
        [ "$part" = 1 ] && rss_mid=$(rss)
    done
    run_secs=$((SECONDS - run_t0))
    rss1=$(rss)
    mib() { calc "printf \"%.1f\", $1 / 1024"; }
    # VmRSS = RssAnon (heap: what a leak or a cache grows) + RssFile (mapped
    # binaries and libraries, which the kernel may drop while nginx idles, e.g.
    # while tokens are minted) + RssShmem.
    read -r v0 a0 f0 <<<"$rss0"; read -r vm am fm <<<"$rss_mid"; read -r v1 a1 f1 <<<"$rss1"
    echo "memory check: worker $worker, $mem_answered mixed requests answered (warm RS256, cold ES256,"
    echo "  bad-sig, garbage in turn; $mem_non2xx refused, expected about half) in ${run_secs} s, plus $((mint_seconds - mint_before)) s minting:"
    echo "  VmRSS   before $(mib "$v0") MiB, halfway $(mib "$vm") MiB, after $(mib "$v1") MiB:" \
        "growth $(mib $((v1 - v0))) MiB ($(mib $((vm - v0))) in the first half, $(mib $((v1 - vm))) in the second)"
    echo "  RssAnon before $(mib "$a0") MiB, halfway $(mib "$am") MiB, after $(mib "$a1") MiB:" \
        "growth $(mib $((a1 - a0))) MiB ($(mib $((am - a0))) in the first half, $(mib $((a1 - am))) in the second)"
    echo "  RssFile before $(mib "$f0") MiB, after $(mib "$f1") MiB (library pages, not the module's memory)"
else
    echo
    echo "memory check skipped (BENCH_MEMORY_REQUESTS=0)"
fi

echo
echo "run time: $((SECONDS - started)) s, of which minting tokens $mint_seconds s"

warned=0
for c in "${cases[@]}"; do
    if [ -n "${bad[$c]:-}" ]; then
        echo "WARNING: $c: ${bad[$c]}" >&2
        warned=1
    fi
done
for f in "$dir"/main.error.log "$dir"/nocache.error.log; do
    if grep -q '\[\(alert\|crit\|emerg\)\]' "$f" 2>/dev/null; then
        echo "WARNING: nginx logged alerts in $(basename "$f"):" >&2
        grep '\[\(alert\|crit\|emerg\)\]' "$f" | head -5 >&2
        warned=1
    fi
done
[ $warned -eq 0 ] || echo "WARNING: the figures above are suspect (see warnings)" >&2
