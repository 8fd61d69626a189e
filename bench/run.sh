#!/usr/bin/env bash
# Throughput of ngx_http_auth_m2m_module's access phase, measured with wrk
# against one local nginx. Figures only: this is not a test and CI must never
# run it. See bench/README.md.
#
#   ./build.sh bench                      build, then run this with the fresh module
#   bench/run.sh [/abs/path/module.so]    default: build/ngx_http_auth_m2m_module.so
#
# Environment: BENCH_SECONDS (per wrk run, default 5), BENCH_ROUNDS (interleaved
# rounds, default 2), BENCH_KEEP=1 (keep the temp dir and print its path).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=${1:-$top/build/ngx_http_auth_m2m_module.so}
seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-2}
nginx_bin=/usr/sbin/nginx
python=/usr/bin/python3

log() { printf '>>> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer, not '$seconds'"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, not '$rounds'"
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
nginx_pid=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -TERM "$nginx_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$nginx_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
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
# Minted by python3-jwt, an implementation independent of the module. The
# private keys stay in Python's memory; only the JWKS and the tokens are written.
mkdir -p "$dir/html" "$dir/tmp"
printf 'ok' > "$dir/html/ok.txt"
"$python" - "$dir" <<'PY'
import json, os, socket, sys, time, uuid
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

d = sys.argv[1]
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec_key = ec.generate_private_key(ec.SECP256R1())

rsa_jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
rsa_jwk.update(kid="rsa1", use="sig", alg="RS256")
ec_jwk = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
ec_jwk.update(kid="ec1", use="sig", alg="ES256")
with open(os.path.join(d, "jwks.json"), "w") as f:
    json.dump({"keys": [rsa_jwk, ec_jwk]}, f, indent=2)

now = int(time.time())

# The claims of a realistic client-credentials access token (shaped after what
# Keycloak/Auth0-style issuers put in a service-account token), ~900 bytes.
def claims(iat, exp):
    client = "reminder-agent"
    return {
        "iss": "https://issuer.test",
        "aud": "api",
        "sub": "svc-" + client + "@clients.issuer.test",
        "client_id": client,
        "azp": client,
        "scope": "tasks:read tasks:write",
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "jti": str(uuid.uuid4()),
        "typ": "Bearer",
        "gty": "client-credentials",
        "acr": "1",
        "sid": str(uuid.uuid4()),
        "tenant_id": "6f1c2a4e-91d3-4b8a-a0de-3c5b7e9f2d14",
        "org_id": "org_8Hq2LxTz4WmN0pVr",
        "preferred_username": "service-account-" + client,
        "clientHost": "10.42.17.203",
        "clientAddress": "10.42.17.203",
        "allowed-origins": ["https://tasks.internal.example"],
        "realm_access": {"roles": ["default-roles-services", "offline_access",
                                   "uma_authorization"]},
        "resource_access": {
            "api": {"roles": ["tasks.reader", "tasks.writer", "reminders.scheduler"]},
            "account": {"roles": ["manage-account", "view-profile"]},
        },
        "permissions": ["tasks:read", "tasks:write"],
        "ver": "2.0",
    }

def mint(name, key, alg, kid, iat, exp):
    body = claims(iat, exp)
    tok = jwt.encode(body, key, algorithm=alg, headers={"kid": kid, "typ": "at+jwt"})
    with open(os.path.join(d, name + ".token"), "w") as f:
        f.write(tok)
    with open(os.path.join(d, "claims.size"), "w") as f:
        f.write(str(len(json.dumps(body, separators=(",", ":")))))

long_lived = now + 7 * 86400
mint("rs256", rsa_key, "RS256", "rsa1", now, long_lived)
mint("es256", ec_key, "ES256", "ec1", now, long_lived)
# Expired an hour ago (well past any leeway), signed correctly with the RSA key.
mint("expired", rsa_key, "RS256", "rsa1", now - 7200, now - 3600)

# A free loopback port for nginx.
s = socket.socket()
s.bind(("127.0.0.1", 0))
with open(os.path.join(d, "port"), "w") as f:
    f.write(str(s.getsockname()[1]))
s.close()
PY
chmod -R a+rX "$dir"
port=$(cat "$dir/port")
tok_rs256=$(cat "$dir/rs256.token")
tok_es256=$(cat "$dir/es256.token")
tok_expired=$(cat "$dir/expired.token")

# ------------------------------------------------------------------ nginx
# Every case serves the same 2-byte file through the same static handler;
# only the access phase differs. (`return 200` would run in the rewrite phase,
# before the access phase, and measure nothing.)
cat > "$dir/nginx.conf" <<EOF
load_module $module;
daemon off;
worker_processes 1;
error_log $dir/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;

    auth_m2m_issuer demo {
        issuer https://issuer.test;
        jwks_file $dir/jwks.json;
        audience api;
    }

    server {
        listen 127.0.0.1:$port;
        location /open/    { alias $dir/html/; }
        location /rs256/   { alias $dir/html/; auth_m2m demo; }
        location /es256/   { alias $dir/html/; auth_m2m demo; }
        location /refused/ { alias $dir/html/; auth_m2m demo; }
    }
}
EOF

"$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
nginx_pid=$!

# Wait until nginx accepts connections: poll the port, bounded (10 s).
up=0
for _ in $(seq 200); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
    sleep 0.05
done
if [ $up -ne 1 ]; then
    cat "$dir/error.log" >&2 2>/dev/null || true
    die "nginx did not come up on 127.0.0.1:$port"
fi

# ------------------------------------------------------------------ cases
# name | path | token. The baseline sends the RS256 token too, so every case
# carries the same request bytes and only the module's work differs.
cases=(baseline rs256 es256 refused)
declare -A path token want
path[baseline]=/open/ok.txt;   token[baseline]=$tok_rs256;   want[baseline]=200
path[rs256]=/rs256/ok.txt;     token[rs256]=$tok_rs256;      want[rs256]=200
path[es256]=/es256/ok.txt;     token[es256]=$tok_es256;      want[es256]=200
path[refused]=/refused/ok.txt; token[refused]=$tok_expired;  want[refused]=401

url() { printf 'http://127.0.0.1:%s%s' "$port" "${path[$1]}"; }

# Check each case answers as expected before timing it.
for c in "${cases[@]}"; do
    got=$(curl -s -o "$dir/body" -D "$dir/headers" -w '%{http_code}' \
        -H "Authorization: Bearer ${token[$c]}" "$(url "$c")") || got="curl failed"
    [ "$got" = "${want[$c]}" ] || die "case $c: expected ${want[$c]}, got $got"
done
grep -qi '^WWW-Authenticate:.*error_description="expired"' "$dir/headers" \
    || die "case refused: no WWW-Authenticate with error_description=\"expired\""
[ "$(cat "$dir/body" 2>/dev/null)" != ok ] || die "case refused: served the file"

run_wrk() {    # case seconds -> prints "req/s non2xx errors"
    local c=$1 s=$2 out
    out=$(wrk -t1 -c32 -d"${s}s" -H "Authorization: Bearer ${token[$c]}" "$(url "$c")" 2>&1) \
        || { printf '%s\n' "$out" >&2; die "wrk failed for $c"; }
    printf '%s\n' "$out" | awk '
        /^Requests\/sec:/        { rps = $2 }
        /Non-2xx or 3xx/         { non2xx = $NF }
        /Socket errors:/         { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
        END { printf "%s %d %d\n", (rps == "" ? "0" : rps), non2xx, err }'
}

median() { tr -s ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ------------------------------------------------------------------ context
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
[ -n "$cpu" ] || cpu=$(lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print $2; exit }')
echo "== ngx_http_auth_m2m_module benchmark"
echo "date:    $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr)"
echo "nginx:   $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'), worker_processes 1, access_log off"
echo "wrk:     $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), -t1 -c32 -d${seconds}s, $rounds rounds interleaved"
echo "module:  $module"
echo "tokens:  claims $(cat "$dir/claims.size") bytes of JSON; RS256 ${#tok_rs256} bytes, ES256 ${#tok_es256} bytes, expired (RS256) ${#tok_expired} bytes"
echo

# ------------------------------------------------------------------ warm-up, then timed rounds
log "warm-up: 1 s per case"
for c in "${cases[@]}"; do run_wrk "$c" 1 >/dev/null; done

declare -A results bad
for r in $(seq "$rounds"); do
    for c in "${cases[@]}"; do
        log "round $r/$rounds: $c (${seconds}s)"
        line=$(run_wrk "$c" "$seconds")
        read -r rps non2xx errs <<<"$line"
        results[$c]+="$rps "
        if [ "${want[$c]}" = 200 ] && [ "$non2xx" -ne 0 ]; then bad[$c]+="round $r: $non2xx non-2xx; "; fi
        if [ "${want[$c]}" != 200 ] && [ "$non2xx" -eq 0 ]; then bad[$c]+="round $r: no refusals; "; fi
        if [ "$errs" -ne 0 ]; then bad[$c]+="round $r: $errs socket errors; "; fi
    done
done

# ------------------------------------------------------------------ openssl speed
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

# ------------------------------------------------------------------ table
base=$(median "${results[baseline]}")
printf '%-10s %12s %9s %14s   %s\n' case 'requests/s' 'vs base' 'added us/req' "per round (req/s)"
for c in "${cases[@]}"; do
    m=$(median "${results[$c]}")
    ratio=$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
    added=$(awk -v a="$m" -v b="$base" 'BEGIN {
        if (a > 0 && b > 0) printf "%.1f", 1e6 / a - 1e6 / b; else print "n/a" }')
    [ "$c" = baseline ] && added=-
    printf '%-10s %12.0f %9s %14s   %s\n' "$c" "$m" "$ratio" "$added" "${results[$c]% }"
done
echo
echo "cases: baseline = static file, no auth_m2m (same Authorization header sent);"
echo "       rs256/es256 = same file behind auth_m2m with a valid token;"
echo "       refused = same file behind auth_m2m with an expired RS256 token -> 401"
echo "       (the signature is checked before exp, so this includes one RSA verify)."
echo "added us/req = 1e6/(case req/s) - 1e6/(baseline req/s): the worker's extra time"
echo "       per request, meaningful while the single worker is the bottleneck."
echo
printf 'openssl speed (one core): rsa2048 verify/s %s (%s us each), ecdsap256 verify/s %s (%s us each)\n' \
    "${rsa_verify:-?}" "$(awk -v v="${rsa_verify:-0}" 'BEGIN { if (v > 0) printf "%.1f", 1e6 / v; else print "?" }')" \
    "${ec_verify:-?}" "$(awk -v v="${ec_verify:-0}" 'BEGIN { if (v > 0) printf "%.1f", 1e6 / v; else print "?" }')"

warned=0
for c in "${cases[@]}"; do
    if [ -n "${bad[$c]:-}" ]; then
        echo "WARNING: $c: ${bad[$c]}" >&2
        warned=1
    fi
done
if grep -q '\[\(alert\|crit\|emerg\)\]' "$dir/error.log" 2>/dev/null; then
    echo "WARNING: nginx logged alerts:" >&2
    grep '\[\(alert\|crit\|emerg\)\]' "$dir/error.log" | head -5 >&2
    warned=1
fi
[ $warned -eq 0 ] || echo "WARNING: the figures above are suspect (see warnings)" >&2
