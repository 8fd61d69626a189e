#!/usr/bin/env bash
# ./build.sh          build build/ngx_http_auth_m2m_module.so against Debian's nginx
# ./build.sh test     build, then run the Check unit tests and the t/ suite
# ./build.sh run      build, then start nginx.conf.example on 127.0.0.1:8080
# ./build.sh bench    build, then run bench/ (figures only; never a test)
# NGINX_SRC=/path/to/nginx-x.y.z ./build.sh   build against an upstream tree
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="$top/build"
module="$build/ngx_http_auth_m2m_module.so"

# Everything the build, the tests and the demo need, as Debian packages.
packages=(nginx nginx-dev build-essential pkg-config libssl-dev libjansson-dev
          libcjose-dev check libcrypt-jwt-perl python3-jwt python3-cryptography
          openssl curl libio-socket-ssl-perl libnet-dns-perl wrk)

log() { printf '>>> %s\n' "$*" >&2; }

install_missing() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # the nginx package would start a system nginx on port 80; we only need its binary
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configure is slow and only needs to run again when the source list changes.
configure_stamp() {
    { cat "$top/config"; echo "${NGINX_SRC:-debian}"; } | md5sum | cut -d' ' -f1
}

build_module() {
    install_missing
    # separate trees, so switching between the two does not reconfigure each time
    local nginx_build="$build/nginx${NGINX_SRC:+-upstream}" stamp
    stamp=$(configure_stamp)
    mkdir -p "$nginx_build"
    if [ -n "${NGINX_SRC:-}" ]; then
        if [ "$(cat "$nginx_build/.stamp" 2>/dev/null)" != "$stamp" ]; then
            log "configuring against $NGINX_SRC"
            (cd "$NGINX_SRC" && ./configure --with-compat --with-http_ssl_module \
                --add-dynamic-module="$top" --builddir="$nginx_build" >"$nginx_build/configure.log")
            echo "$stamp" > "$nginx_build/.stamp"
        fi
        make -s -f "$nginx_build/Makefile" -C "$NGINX_SRC" -j"$(nproc)" modules
    else
        local src=/usr/share/nginx/src
        if [ "$(cat "$nginx_build/.stamp" 2>/dev/null)" != "$stamp" ]; then
            log "configuring against Debian's nginx ($src)"
            (
                cd "$src"
                # shellcheck disable=SC1091
                . ./conf_flags
                ./configure \
                    --with-cc-opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)" \
                    --with-ld-opt="$(dpkg-buildflags --get LDFLAGS) -fPIC" \
                    "${NGX_CONF_FLAGS[@]}" \
                    --add-dynamic-module="$top" --builddir="$nginx_build" >"$nginx_build/configure.log"
            )
            echo "$stamp" > "$nginx_build/.stamp"
        fi
        make -s -f "$nginx_build/Makefile" -C "$src" -j"$(nproc)" modules
    fi
    cp "$nginx_build/ngx_http_auth_m2m_module.so" "$module"
    log "built $module"
}

run_tests() {
    local failed=0
    log "Check unit tests"
    make -s -C "$top/tests" BUILD="$build" -j"$(nproc)" check || failed=1
    log "integration tests (prove t/)"
    (cd "$top" && M2M_MODULE="$module" prove -r t/) || failed=1
    return $failed
}

# The demo: nginx.conf.example with local paths, a freshly generated issuer key
# and tokens minted by python3-jwt (never by the module under test).
run_demo() {
    local run="$build/run"
    mkdir -p "$run/logs"
    sed -e "s|/usr/lib/nginx/modules/ngx_http_auth_m2m_module.so|$module|" \
        -e "s|/etc/nginx/m2m/|$run/|g" \
        -e "s|/var/log/nginx/|$run/logs/|g" \
        "$top/nginx.conf.example" > "$run/nginx.conf"
    /usr/bin/python3 - "$run" <<'PY'
import json, os, sys, time
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

run = sys.argv[1]
key = ec.generate_private_key(ec.SECP256R1())
jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
jwk.update(kid="demo-1", use="sig", alg="ES256")
with open(os.path.join(run, "jwks.json"), "w") as f:
    json.dump({"keys": [jwk]}, f, indent=2)

now = int(time.time())
def mint(name, client, scope, **extra):
    claims = {"iss": "https://issuer.example.test", "aud": "tasks-api",
              "sub": client, "client_id": client, "scope": scope,
              "iat": now, "exp": now + 3600, "jti": os.urandom(8).hex()}
    claims.update(extra)
    tok = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "demo-1", "typ": "at+jwt"})
    with open(os.path.join(run, name + ".token"), "w") as f:
        f.write(tok)
mint("reader", "reporting-bot", "tasks:read")
mint("writer", "reminder-agent", "tasks:read tasks:write")
mint("expired", "reporting-bot", "tasks:read", iat=now - 7200, exp=now - 3600)
PY
    cat <<MSG

nginx is starting on 127.0.0.1:8080 with $run/nginx.conf (Ctrl-C stops it).
Access log: $run/logs/tasks-api.access.log    Tokens: $run/*.token

  # 200: a reader lists tasks
  curl -i -H "Authorization: Bearer \$(cat $run/reader.token)" http://127.0.0.1:8080/tasks
  # 201: a writer schedules the weekly reminder
  curl -i -X POST -H "Authorization: Bearer \$(cat $run/writer.token)" http://127.0.0.1:8080/reminders/weekly
  # 403 insufficient_scope: the reader may not write
  curl -i -X POST -H "Authorization: Bearer \$(cat $run/reader.token)" http://127.0.0.1:8080/reminders/weekly
  # 401 invalid_token, error_description="expired"
  curl -i -H "Authorization: Bearer \$(cat $run/expired.token)" http://127.0.0.1:8080/tasks
  # 401 with no token at all
  curl -i http://127.0.0.1:8080/tasks

MSG
    /usr/sbin/nginx -t -q -p "$run" -c "$run/nginx.conf"
    exec /usr/sbin/nginx -p "$run" -c "$run/nginx.conf" -g "daemon off; pid $run/nginx.pid; error_log stderr notice;"
}

case "${1:-build}" in
    build) build_module ;;
    test) build_module; run_tests ;;
    run) build_module; run_demo ;;
    bench) build_module; exec "$top/bench/run.sh" "$module" ;;
    *) echo "usage: $0 [build|test|run|bench]" >&2; exit 2 ;;
esac
