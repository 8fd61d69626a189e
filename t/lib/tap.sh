# What the shell-run checks (t/deb/run, t/compat/run) share: TAP (numbered
# ok/not ok lines, the plan at the end, the exit status prove expects), a
# free loopback port, and waiting for an nginx to answer on one.
n=0 failed=0
ok() {    # ok DESCRIPTION COMMAND...
    local what=$1
    shift
    n=$((n + 1))
    if "$@"; then
        echo "ok $n - $what"
    else
        echo "not ok $n - $what"
        failed=$((failed + 1))
        return 1    # so that `ok ... || show-why` can follow
    fi
}
is() {    # is GOT EXPECTED DESCRIPTION
    n=$((n + 1))
    if [ "$1" = "$2" ]; then
        echo "ok $n - $3"
    else
        echo "not ok $n - $3"
        echo "#   got:      '$1'"
        echo "#   expected: '$2'"
        failed=$((failed + 1))
        return 1
    fi
}
done_testing() {
    echo "1..$n"
    [ "$failed" -eq 0 ] || echo "# $failed of $n failed"
    exit $((failed > 0))
}

free_port() {    # a port nothing listens on now, from the kernel
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() {    # wait_http PORT: until 127.0.0.1:PORT answers HTTP, 10 s at most
    local _
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    return 1
}
