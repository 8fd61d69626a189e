#!/usr/bin/env bash
# ./build.sh          build build/ngx_http_auth_m2m_module.so against Debian's nginx,
#                     and build/m2m-clients (the client registry's tool)
# ./build.sh test     build, then run the Check unit tests and the t/ suite
# ./build.sh test --asan   the same with ASan + UBSan, all under build/asan/
# ./build.sh run      build, then start nginx.conf.example on 127.0.0.1:8080
# ./build.sh bench    build, then run bench/ (figures only; never a test)
# ./build.sh fuzz [SECONDS]   run each libFuzzer target in tests/fuzz/ (default 60 s)
# ./build.sh deb      build the Debian package (debian/) into build/*.deb
# ./build.sh deb-test build it if needed, then install it, serve one request
#                     through /etc/nginx/modules-enabled, and purge it (t/deb/run)
# NGINX_SRC=/path/to/nginx-x.y.z ./build.sh   build the module against an upstream tree
#                     (a release tarball's ./configure or a git checkout's auto/configure);
#                     with `test`, nginx itself is built from it too (build/nginx-upstream/nginx)
#                     and the Check suite and t/ run against that binary
# NGINX_CONFIGURE_ARGS='--with-... ...' or NGINX_BIN=/path/to/nginx (its `nginx -V`
#                     "configure arguments:"), with NGINX_SRC of the same version:
#                     configure with those flags (their --add-module, --add-dynamic-module
#                     and --with-*=dynamic dropped), so that that nginx loads the module
# ./build.sh compat-test   the two above for Debian's nginx, and for an nginx built
#                     without --with-compat from M2M_COMPAT_SRC=<tree> if given (t/compat/run)
# M2M_BUILD_DIR=DIR   build there instead of build/ (t/compat/run leaves build/ alone)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="$top/build"
if [ -n "${M2M_BUILD_DIR:-}" ]; then
    mkdir -p "$M2M_BUILD_DIR"
    build=$(cd "$M2M_BUILD_DIR" && pwd)    # make -C and the tests change directory
fi
module="$build/ngx_http_auth_m2m_module.so"

# --asan (with build or test): AddressSanitizer + UndefinedBehaviorSanitizer.
# Everything goes under build/asan/ (own configure tree, .so, Check objects);
# build/ngx_http_auth_m2m_module.so is left alone. See run_asan_tests.
asan=0 san_cc= san_ld=
for arg in "${@:2}"; do
    if [ "$arg" = --asan ]; then asan=1; fi
done
if [ "$asan" = 1 ]; then
    build="$build/asan"
    module="$build/ngx_http_auth_m2m_module.so"
    # no recovery: the first UBSan report ends the process, it cannot scroll by;
    # no _FORTIFY_SOURCE: __memcpy_chk & co. would bypass ASan's interceptors
    san_cc="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -U_FORTIFY_SOURCE"
    san_ld="-fsanitize=address,undefined"
    case "${1:-build}" in build|test) ;; *) echo "$0: --asan goes with build or test" >&2; exit 2 ;; esac
fi

# Everything the build, the tests and the demo need, as Debian packages.
packages=(nginx nginx-dev build-essential pkg-config libssl-dev libjansson-dev
          libcjose-dev check libcrypt-jwt-perl python3-jwt python3-cryptography
          openssl curl libio-socket-ssl-perl libnet-dns-perl wrk)
tree_version() { sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$1/src/core/nginx.h"; }
# nginx before 1.21.5 knows only the first PCRE (Debian 12's nginx-dev pulls in PCRE2)
if [ -n "${NGINX_SRC:-}" ] && dpkg --compare-versions "$(tree_version "$NGINX_SRC")" lt 1.21.5; then
    packages+=(libpcre3-dev)
fi

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
    { cat "$top/config"; echo "${NGINX_SRC:-debian}"; [ -z "$san_cc" ] || echo "$san_cc $san_ld"; } |
        md5sum | cut -d' ' -f1
}

# The nginx the tests run: Debian's, or the one built from NGINX_SRC.
nginx_bin=/usr/sbin/nginx
if [ -n "${NGINX_SRC:-}" ]; then
    NGINX_SRC=$(cd "$NGINX_SRC" && pwd)
    nginx_bin="$build/nginx-upstream/nginx"
fi

# The configure flags for an upstream tree, one per array element:
# NGINX_CONFIGURE_ARGS, else NGINX_BIN's `nginx -V`, else what t/ needs
# (ssl: t/ has TLS listeners and client certificates; http_v2: t/21-http2.t;
# error log on stderr as in Debian's build: t/ reads `nginx -t`'s notices and
# "[emerg] pid#0:" lines there, which otherwise go to PREFIX/logs/error.log only).
upstream_flags=()
upstream_configure_flags() {
    local args=${NGINX_CONFIGURE_ARGS:-} a
    if [ -z "$args" ] && [ -n "${NGINX_BIN:-}" ]; then
        local v src_v
        v=$("$NGINX_BIN" -V 2>&1 | sed -n 's|^nginx version: [^/]*/\([0-9.]*\).*|\1|p')
        src_v=$(tree_version "$NGINX_SRC")
        if [ "$v" != "$src_v" ]; then
            echo "build.sh: $NGINX_BIN is nginx $v, NGINX_SRC is $src_v: nginx loads only modules built from its own version" >&2
            return 1
        fi
        args=$("$NGINX_BIN" -V 2>&1 | sed -n 's/^configure arguments: //p')
    fi
    if [ -z "$args" ]; then
        upstream_flags=(--with-compat --with-http_ssl_module --with-http_v2_module --error-log-path=stderr)
        # nginx before 1.21.2 calls APIs that OpenSSL 3 deprecates, and builds with -Werror
        if dpkg --compare-versions "$(tree_version "$NGINX_SRC")" lt 1.21.2; then
            upstream_flags+=(--with-cc-opt=-Wno-deprecated-declarations)
        fi
        return 0
    fi
    # split as the shell would, without evaluating anything (xargs honours
    # the '...' and "..." quoting that `nginx -V` prints)
    local split=()
    mapfile -d '' split < <(printf '%s' "$args" | xargs printf '%s\0')
    for a in "${split[@]}"; do
        case "$a" in
            --add-module=*|--add-dynamic-module=*) ;;    # others' modules: not ours to build
            # other dynamic modules: they do not change the module signature,
            # and would need their libraries' headers (GeoIP, libgd, libxslt, perl)
            --with-*=dynamic) ;;
            --builddir=*) ;;
            *) upstream_flags+=("$a") ;;
        esac
    done
    # no --with-compat of our own: an nginx built without it checks every
    # signature bit, and a module with --with-compat's set is "not binary
    # compatible" with it (t/compat/run)
}

build_module() {
    install_missing
    # separate trees, so switching between the two does not reconfigure each time
    local nginx_build="$build/nginx${NGINX_SRC:+-upstream}" stamp
    if [ -n "${NGINX_SRC:-}" ]; then
        upstream_configure_flags
        if [ -n "$san_cc" ] && [ -n "${NGINX_CONFIGURE_ARGS:-}${NGINX_BIN:-}" ]; then
            echo "build.sh: --asan goes with NGINX_SRC's default flags only" >&2
            return 2
        fi
    fi
    stamp=$(configure_stamp)
    [ -z "${NGINX_SRC:-}" ] || stamp=$(printf '%s\n' "$stamp" "${upstream_flags[@]}" | md5sum | cut -d' ' -f1)
    mkdir -p "$nginx_build"
    if [ -n "${NGINX_SRC:-}" ]; then
        if [ "$(cat "$nginx_build/.stamp" 2>/dev/null)" != "$stamp" ]; then
            # a release tarball has ./configure, a git checkout only auto/configure;
            # both run from the tree's root
            local configure=./configure
            [ -x "$NGINX_SRC/configure" ] || configure=auto/configure
            log "configuring against $NGINX_SRC ($configure ${upstream_flags[*]})"
            (cd "$NGINX_SRC" && "$configure" "${upstream_flags[@]}" \
                ${san_cc:+"--with-cc-opt=$san_cc" "--with-ld-opt=$san_ld"} --add-dynamic-module="$top" --builddir="$nginx_build" >"$nginx_build/configure.log")
            echo "$stamp" > "$nginx_build/.stamp"
        fi
        if [ "$verb" = test ]; then
            # the tests need the nginx binary of this tree too
            make -s -f "$nginx_build/Makefile" -C "$NGINX_SRC" -j"$(nproc)" binary modules
            log "built $nginx_bin"
        else
            make -s -f "$nginx_build/Makefile" -C "$NGINX_SRC" -j"$(nproc)" modules
        fi
    else
        local src=/usr/share/nginx/src
        if [ "$(cat "$nginx_build/.stamp" 2>/dev/null)" != "$stamp" ]; then
            log "configuring against Debian's nginx ($src)"
            (
                cd "$src"
                # shellcheck disable=SC1091
                . ./conf_flags
                ./configure \
                    --with-cc-opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)${san_cc:+ $san_cc}" \
                    --with-ld-opt="$(dpkg-buildflags --get LDFLAGS) -fPIC${san_ld:+ $san_ld}" \
                    "${NGX_CONF_FLAGS[@]}" \
                    --add-dynamic-module="$top" --builddir="$nginx_build" >"$nginx_build/configure.log"
            )
            echo "$stamp" > "$nginx_build/.stamp"
        fi
        make -s -f "$nginx_build/Makefile" -C "$src" -j"$(nproc)" modules
    fi
    cp "$nginx_build/ngx_http_auth_m2m_module.so" "$module"
    # A core file left out of `config` links fine and fails only at
    # load_module: say so now.
    if nm -D --undefined-only "$module" | c++filt | grep -q 'm2m::'; then
        nm -D --undefined-only "$module" | c++filt | grep 'm2m::' >&2
        echo "build.sh: the module needs core functions it does not contain (a file missing from config?)" >&2
        return 1
    fi
    log "built $module"
    # the client registry's tool, beside the module (tests find it there)
    make -s -C "$top/src/cli" BUILD="$build" ${san_cc:+SAN="$san_cc"} -j"$(nproc)"
    log "built $build/m2m-clients"
}

run_tests() {
    local failed=0
    log "Check unit tests"
    make -s -C "$top/tests" BUILD="$build" -j"$(nproc)" check || failed=1
    log "integration tests (prove t/)"
    (cd "$top" && M2M_MODULE="$module" M2M_NGINX="$nginx_bin" prove -r t/) || failed=1
    return $failed
}

# ./build.sh test --asan. Sanitizer reports are written as files under
# build/asan/reports/ (log_path: workers have no terminal, and tests compare
# nginx's stderr); any file there at the end fails the run and is printed.
# - UBSan: -fno-sanitize-recover=all, abort_on_error=1 and ASan's handle_abort=1,
#   so every UBSan report ends in an ASan "ABRT" report in that directory, its
#   stack naming the check (__ubsan_handle_<check>_abort) and the line. UBSan's
#   own text goes to stderr whatever log_path says (GCC's libasan + libubsan
#   pair): the terminal for Check, the test's error.log for an nginx worker.
# - Check suite: LeakSanitizer on; each forked test child checks at its exit.
# - t/: Debian's /usr/sbin/nginx is not sanitized, so the ASan runtime has to be
#   loaded first: build/asan/nginx-asan (M2M_NGINX) preloads libasan, a copy of
#   UBSAN_OPTIONS (tests/asan/ubsan_options.c: libubsan would read it too late)
#   and libubsan, then execs nginx. Workers are forked and keep all three;
#   nginx's environment scrubbing comes after the runtimes have their options.
#   detect_leaks=0 for nginx: LeakSanitizer reports nginx's own allocations
#   (`nginx -s reload` leaks a pool block, then exits non-zero and fails the
#   reload tests; other nginx processes exit with pool blocks and OpenSSL
#   objects unfreed, and with them whatever of the module's those pools own).
#   nginx has no frame pointers: those stacks stop at ngx_alloc, so no
#   suppression list could keep the module's own leaks apart. M2M_ASAN=1 tells
#   tests they run under ASan (its quarantine holds 256 MB of freed memory).
run_asan_tests() {
    local failed=0 reports="$build/reports" wrapper="$build/nginx-asan" cxxflags f
    rm -rf "$reports"
    mkdir -p "$reports"
    chmod 1777 "$reports"    # workers run as nobody when we are root
    gcc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$build/libubsan_options.so" \
        "$top/tests/asan/ubsan_options.c"
    printf '#!/bin/sh\n# /usr/sbin/nginx with the sanitizer runtimes (./build.sh test --asan)\nLD_PRELOAD="%s %s %s${LD_PRELOAD:+ $LD_PRELOAD}"\nexport LD_PRELOAD\nexec %s "$@"\n' \
        "$(gcc -print-file-name=libasan.so)" "$build/libubsan_options.so" \
        "$(gcc -print-file-name=libubsan.so)" "$nginx_bin" > "$wrapper"
    chmod +x "$wrapper"

    log "Check unit tests (ASan + UBSan + LeakSanitizer)"
    # the Makefile's own CXXFLAGS, plus the sanitizers
    cxxflags=$(make -s --no-print-directory -C "$top/tests" \
        --eval 'print-cxxflags: ; @echo $(CXXFLAGS)' print-cxxflags)
    if make -s -C "$top/tests" BUILD="$build" CXXFLAGS="$cxxflags $san_cc" -j"$(nproc)"; then
        ASAN_OPTIONS="detect_leaks=1:handle_abort=1:log_path=$reports/check.asan" \
        UBSAN_OPTIONS="print_stacktrace=1:abort_on_error=1:log_path=$reports/check.ubsan" \
            "$build/tests/check_core" || failed=1
    else
        failed=1
    fi

    log "integration tests (prove t/) with the sanitized module"
    (cd "$top" && M2M_MODULE="$module" M2M_NGINX="$wrapper" M2M_ASAN=1 \
        ASAN_OPTIONS="detect_leaks=0:handle_abort=1:log_path=$reports/nginx.asan" \
        UBSAN_OPTIONS="print_stacktrace=1:abort_on_error=1:log_path=$reports/nginx.ubsan" \
        prove -r t/) || failed=1

    # A bug on a hot path crashes every worker: print one report of each kind
    # (error type and first frame in this tree), count them all; every
    # report stays in $reports.
    local n=0 kind
    local -A seen=()
    for f in "$reports"/*; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        kind=$({ sed -n 's/.*ERROR: \([A-Za-z]*Sanitizer: [A-Za-z-]*\).*/\1/p' "$f"
                 grep -m1 -F "$top/" "$f" | sed 's/^ *#[0-9]* 0x[0-9a-f]* //'; } || true)
        [ -n "$kind" ] || kind=$f    # cut short (a worker killed mid-report)
        if [ -z "${seen[$kind]:-}" ]; then
            seen[$kind]=1
            log "sanitizer report $f"
            cat "$f" >&2
        fi
    done
    if [ "$n" -gt 0 ]; then
        log "$n sanitizer report(s) in $reports, ${#seen[@]} kind(s) printed above"
        failed=1
    fi
    return $failed
}

# The demo: nginx.conf.example with local paths, a freshly generated issuer key
# and tokens minted by python3-jwt (never by the module under test).
run_demo() {
    local run="$build/run" m2m="$build/run/m2m" clients="$build/m2m-clients"
    mkdir -p "$run/logs" "$m2m"
    sed -e "s|/usr/lib/nginx/modules/ngx_http_auth_m2m_module.so|$module|" \
        -e "s|/etc/nginx/m2m/|$m2m/|g" \
        -e "s|/var/log/nginx/|$run/logs/|g" \
        "$top/nginx.conf.example" > "$run/nginx.conf"
    # The issuer's signing key, made once; the workers read it at start.
    [ -f "$m2m/signing.pem" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$m2m/signing.pem" 2>/dev/null
    chmod 644 "$m2m/signing.pem"
    # The clients API writes the registry: the workers' user must own its directory.
    [ "$(id -u)" -ne 0 ] || chown nobody:nogroup "$m2m"
    # Demo clients, made once; their secrets are shown only when made, so
    # the demo keeps them in demo-clients.env for the commands below.
    if [ ! -f "$m2m/demo-clients.env" ] || [ ! -f "$m2m/clients.json" ]; then
        rm -f "$m2m/clients.json" "$m2m/clients.json.lock"
        local who name scopes env=
        for who in "reporting-bot:tasks:read" "reminder-agent:tasks:read tasks:write" "admin:clients:admin"; do
            name=${who%%:*} scopes=${who#*:}
            env+=$("$clients" --file "$m2m/clients.json" create --name "$name" --scopes "$scopes" --json \
                | /usr/bin/python3 -c 'import json, sys; c = json.load(sys.stdin); n = sys.argv[1].upper().replace("-", "_"); print(n + "_ID=" + c["client_id"]); print(n + "_SECRET=" + c["client_secret"])' "$name")$'\n'
        done
        (umask 077; printf '%s' "$env" > "$m2m/demo-clients.env")
        chmod 644 "$m2m/clients.json"
    fi
    # shellcheck disable=SC1091
    . "$m2m/demo-clients.env"
    cat <<MSG

nginx is starting on 127.0.0.1:8080 with $run/nginx.conf (Ctrl-C stops it).
One nginx runs the token issuer and the tasks API it protects. Clients: $m2m/clients.json
(m2m-clients: $clients --file $m2m/clients.json list). Access log: $run/logs/tasks-api.access.log

  # 1. the reporting bot trades its client ID and secret for an access token
  TOKEN=\$(curl -s -u $REPORTING_BOT_ID:$REPORTING_BOT_SECRET -d grant_type=client_credentials \\
          http://127.0.0.1:8080/oauth2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  # 2. 200: it lists tasks
  curl -i -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8080/tasks
  # 3. 403 insufficient_scope: it may not post a reminder (no tasks:write)
  curl -i -X POST -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8080/reminders/weekly
  # 4. 401: no token at all
  curl -i http://127.0.0.1:8080/tasks
  # 5. the access log names the client
  tail -n 3 $run/logs/tasks-api.access.log

  # the reminder agent may write (tasks:read tasks:write):
  curl -s -u $REMINDER_AGENT_ID:$REMINDER_AGENT_SECRET -d grant_type=client_credentials http://127.0.0.1:8080/oauth2/token
  # an admin registers a new client over HTTP (the clients API, scope clients:admin):
  ADMIN=\$(curl -s -u $ADMIN_ID:$ADMIN_SECRET -d grant_type=client_credentials \\
          http://127.0.0.1:8080/oauth2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer \$ADMIN" -H 'Content-Type: application/json' \\
       -d '{"client_name":"billing-sync","scope":"tasks:read"}' http://127.0.0.1:8080/oauth2/clients
  # the issuer's public keys and metadata, for gateways elsewhere (jwks_uri / discovery):
  curl -s http://127.0.0.1:8080/.well-known/oauth-authorization-server

MSG
    "$nginx_bin" -t -q -p "$run" -c "$run/nginx.conf"
    exec "$nginx_bin" -p "$run" -c "$run/nginx.conf" -g "daemon off; pid $run/nginx.pid; error_log stderr notice;"
}

# ./build.sh fuzz [SECONDS]: builds tests/fuzz/ with clang and runs each
# libFuzzer target for SECONDS (default 60), one after the other, on a corpus
# under build/fuzz/corpus/ seeded from tests/fuzz/corpus/ (the checked-in one
# never grows; rm -rf build/fuzz/corpus starts afresh). Any crash, leak,
# timeout or broken invariant fails the run; its input is left in
# build/fuzz/artifacts/ and the end of its log is printed.
run_fuzz() {
    local seconds=${1:-60} out="$build/fuzz" failed=0 start=$SECONDS
    # libFuzzer reads a non-number as 0, which means "run forever"
    case "$seconds" in ''|*[!0-9]*|0) echo "usage: $0 fuzz [SECONDS]" >&2; return 2 ;; esac
    # local: install_missing reads `packages`, and only this verb needs clang
    # and libFuzzer's runtime (Debian 12: libclang_rt.fuzzer is in libclang-rt-14-dev)
    local packages=(clang libclang-rt-14-dev make pkg-config libssl-dev libjansson-dev libcjose-dev)
    install_missing
    make -s -C "$top/tests/fuzz" BUILD="$build" -j"$(nproc)"
    # inputs a little past each parser's own limits (8 KiB tokens)
    # (others: libFuzzer's default, 4096)
    local -A max_len=([token]=9000 [jwks]=16384 [http_response]=8192 [discovery]=4096 [differential]=2048 [signing_key]=8192 [registry]=16384 [form]=9000 [client_certificate]=8192 [dpop_proof]=9000)
    local t corpus logfile dict final verdict
    mkdir -p "$out/artifacts" "$out/logs"
    for t in $(make -s -C "$top/tests/fuzz" targets); do
        corpus="$out/corpus/$t" logfile="$out/logs/$t.log" dict=()
        mkdir -p "$corpus"
        cp "$top/tests/fuzz/corpus/$t/"* "$corpus/"
        [ -f "$top/tests/fuzz/$t.dict" ] && dict=("-dict=$top/tests/fuzz/$t.dict")
        log "fuzzing $t for ${seconds}s"
        verdict=ok
        if ! UBSAN_OPTIONS=print_stacktrace=1 "$out/bin/fuzz_$t" -max_total_time="$seconds" \
            -max_len="${max_len[$t]:-4096}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$out/artifacts/$t-" "${dict[@]}" "$corpus" >"$logfile" 2>&1; then
            failed=1 verdict=FAILED
            tail -n 40 "$logfile" >&2
            log "$t FAILED (log: $logfile)"
        fi
        final=$(grep -E '^#[0-9]+' "$logfile" | tail -n 1 || true)
        printf '%-14s %12s execs  cov %-6s ft %-7s %s\n' "$t" \
            "$(sed -n 's/^stat::number_of_executed_units: *//p' "$logfile")" \
            "$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$final")" \
            "$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$final")" \
            "$verdict"
    done
    log "fuzzing done in $((SECONDS - start))s"
    return $failed
}

# ./build.sh deb: dpkg-buildpackage on a copy of the tree under build/deb/,
# so the source tree gets no debian/ build products; the .deb (and its
# dbgsym, .buildinfo, .changes) land in build/, checked by lintian.
build_deb() {
    local packages=(nginx nginx-dev build-essential pkg-config libssl-dev libjansson-dev
                    libcjose-dev dpkg-dev debhelper fakeroot lintian)
    install_missing
    local work="$build/deb" name version
    name=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Source)
    version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
    rm -rf "$work"
    mkdir -p "$work/$name"
    # the tree as it is (committed or not), without build/ and git metadata
    tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$work/$name" -xf -
    log "dpkg-buildpackage -b in $work/$name"
    (cd "$work/$name" && dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1 || {
        tail -n 40 "$work/build.log" >&2
        log "dpkg-buildpackage failed (log: $work/build.log)"
        return 1
    }
    rm -f "$build/${name}"_*.deb "$build/${name}"-dbgsym_*.*deb \
        "$build/${name}"_*.buildinfo "$build/${name}"_*.changes
    mv "$work/${name}"*_"${version}_"*.*deb "$work/${name}_${version}_"*.buildinfo \
        "$work/${name}_${version}_"*.changes "$build/"
    log "built $(cd "$build" && ls "${name}_${version}_"*.deb)"
    log "lintian"
    # errors fail the build; warnings are printed and left to the reader
    lintian --fail-on error "$build/${name}_${version}_"*.changes
}

verb=${1:-build}
case "$verb" in
    build) build_module ;;
    test) build_module; if [ "$asan" = 1 ]; then run_asan_tests; else run_tests; fi ;;
    run) build_module; run_demo ;;
    bench) build_module; exec "$top/bench/run.sh" "$module" ;;
    fuzz) run_fuzz "${2:-60}"; exit ;;  # before bash reads on in a build.sh edited meanwhile
    deb) build_deb; exit ;;
    deb-test)
        ls "$build"/libnginx-mod-http-auth-m2m_*.deb >/dev/null 2>&1 || build_deb
        M2M_DEB_TEST=1 "$top/t/deb/run"; exit ;;
    compat-test) install_missing; M2M_COMPAT_TEST=1 "$top/t/compat/run"; exit ;;
    *) echo "usage: $0 [build|test [--asan]|run|bench|fuzz [SECONDS]|deb|deb-test|compat-test]" >&2; exit 2 ;;
esac
