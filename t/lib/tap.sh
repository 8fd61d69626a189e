# TAP for the shell-run checks (t/deb/run, t/compat/run): numbered ok/not ok
# lines, the plan at the end, and the exit status prove expects.
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
