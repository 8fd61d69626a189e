# Remote keys, the basics: a cold start waits for the first fetch and
# succeeds; a cold start against a failing key server answers 503 with
# Retry-After and $m2m_error=keys_unavailable, then recovers on its own;
# conditional requests (ETag / Last-Modified) end in 304 with the keys kept;
# Cache-Control max-age sets the next refresh, clamped to at least 60 s.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(time sleep);
use M2MTest qw(now json_text);
use JwksServer;

my $T0 = time;
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my $km = $t->ec_key('m1');
my $ks = $t->ec_key('s1');
my $kf = $t->ec_key('f1');
my $kc = $t->ec_key('c1');
my $kh = $t->ec_key('h1');
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => $_->{alg}) } @_ ] }) };

my $LM = now() - 3600;
my $srv = JwksServer->new(routes => {
    # the first fetch takes 0.5 s: the first request must wait for it
    '/main'    => { body => $jwks->($km), delay => 0.5, etag => 'v1', cache_control => 'max-age=120' },
    # a max-age under the 60 s floor; validator Last-Modified only
    '/short'   => { body => $jwks->($ks), last_modified => $LM, cache_control => 'max-age=10' },
    '/failing' => { status => 500 },
    # a crowd of requests arrives during a slow first fetch: they all join it
    '/crowd'   => { body => $jwks->($kc), delay => 1.5 },
    # a first fetch that never ends: bounded by fetch_timeout
    '/hanging' => { hang => 1 },
});
my $base = 'http://127.0.0.1:' . $srv->port;

(my $conf = <<'EOF') =~ s/%%SRV%%/$base/g;
    log_format m2merr '$request_uri $status m2m_error=$m2m_error';
    auth_m2m_issuer main {
        issuer https://main.example.test/;
        jwks_uri %%SRV%%/main;
        audience https://api.example.test;
    }
    auth_m2m_issuer short {
        issuer https://short.example.test/;
        jwks_uri %%SRV%%/short;
        audience https://api.example.test;
    }
    auth_m2m_issuer failing {
        issuer https://failing.example.test/;
        jwks_uri %%SRV%%/failing;
        audience https://api.example.test;
    }
    auth_m2m_issuer crowd {
        issuer https://crowd.example.test/;
        jwks_uri %%SRV%%/crowd;
        audience https://api.example.test;
    }
    auth_m2m_issuer hanging {
        issuer https://hanging.example.test/;
        jwks_uri %%SRV%%/hanging;
        audience https://api.example.test;
        fetch_timeout 1s;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        access_log %%DIR%%/m2m.log m2merr;
        location /main/    { auth_m2m main;    try_files /ok.txt =404; }
        location /short/   { auth_m2m short;   try_files /ok.txt =404; }
        location /failing/ { auth_m2m failing; try_files /ok.txt =404; }
        location /crowd/   { auth_m2m crowd;   try_files /ok.txt =404; }
        location /hanging/ { auth_m2m hanging; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
$t->config($conf);
$t->start;

sub tok {
    my ($key, $iss, %opt) = @_;
    return $t->mint(key => $key, %opt,
        claims => { iss => "https://$iss.example.test/", aud => $AUD, client_id => 'svc' });
}
my $n = 0;
sub req {
    my ($path, $token) = @_;
    my $r = $t->get("$path?n=" . ++$n, token => $token);
    $r->{n} = $n;
    return $r;
}
sub desc { return ((M2MTest::challenge($_[0], 'Bearer') // '') =~ /error_description="([^"]*)"/)[0] // '' }

my $TM = tok($km, 'main');

# The crowd: 20 clients at once, started now, while the first fetch of
# "crowd" (1.5 s) is running; their results are read further down.
my @crowd;
{
    my $TC = tok($kc, 'crowd');
    my $port = $t->port;
    for my $i (1 .. 20) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $r = HTTP::Tiny->new(keep_alive => 0, timeout => 10)->get("http://127.0.0.1:$port/crowd/x?c=$i",
                { headers => { Authorization => "Bearer $TC" } });
            $t->write_file("crowd.$i", sprintf "%d %.3f\n", $r->{status}, time);
            POSIX::_exit(0);
        }
        push @crowd, $pid;
    }
}

# ------------------------------------------------------------ cold start waits
{
    # The workers start fetching as soon as they run; send the first request
    # while that fetch is on the wire (the server holds it for 0.5 s).
    ok($srv->wait_for_count('/main', 1, 5), 'cold start: first fetch of "main" reached the server');
    my $sent = time;
    my $r = req('/main/x', $TM);
    my $done = time;
    my ($first) = $srv->requests('/main');
    is($r->{status}, 200, 'cold start: the first request succeeds') or diag $r->{content};
    cmp_ok($sent, '<', $first->{time} + 0.5, 'the request was sent while the fetch was in flight');
    cmp_ok($done, '>=', $first->{time} + 0.5 - 0.05,
        sprintf('and it waited for the fetch (answered %.2f s after the fetch began)', $done - $first->{time}));
    is($srv->count('/main'), 1, 'exactly one fetch for the cold start');
    ok(!exists $first->{headers}{'if-none-match'}, 'first fetch is unconditional (no If-None-Match)');
    is($first->{method}, 'GET', 'fetch is a GET');
    # HTTP/1.0 would meet 426 from Envoy-based front ends: see src/core/fetch/http_response.cpp
    is($first->{version}, 'HTTP/1.1', 'fetch asks in HTTP/1.1');

    my $s = $t->wait_issuer('main', sub { $_[0]{generation} >= 1 }, 5);
    ok($s, 'status: main has generation >= 1') or diag explain $t->status_json;
    $s //= {};
    is($s->{source}, 'jwks_uri', 'status: source jwks_uri');
    is($s->{location}, "$base/main", 'status: location is the URL');
    is_deeply($s->{keys}, [{ kid => 'm1', alg => 'ES256' }], 'status: key list');
    is($s->{generation}, 1, 'status: generation 1');
    is($s->{fetches}{ok}, 1, 'status: fetches.ok 1');
    is($s->{last_error}, undef, 'status: no last_error');
    ok($s->{last_success} && abs($s->{last_success} - now()) <= 5, 'status: last_success is now');
}

# ------------------------------------------------------------ cold start, failing server
{
    ok($t->wait_log('error.log',
        qr/\[error\].*auth_m2m_issuer "failing": key refresh from "\Q$base\E\/failing" failed: http_status_500; keeping 0 keys, next attempt in 1 s/),
        'failing: the first fetch failed, logged at error with the issuer, URL and reason');

    my $TF = tok($kf, 'failing');
    my $r = req('/failing/x', $TF);
    is($r->{status}, 503, 'cold start with a failing key server: 503');
    my $ra = $r->{headers}{'retry-after'};
    ok(defined $ra && !ref $ra && $ra =~ /^\d+$/ && $ra >= 1 && $ra <= 300, "Retry-After is 1..300 s ($ra)")
        or diag explain $r->{headers};
    my $id = $r->{n};
    my $line = $t->wait_log('m2m.log', qr{^/failing/x\?n=$id });
    like($line // '', qr{^/failing/x\?n=$id 503 m2m_error=keys_unavailable$}, '$m2m_error=keys_unavailable in the access log');
    ok(!grep({ /\?n=$id / } $t->grep_log(qr/m2m_error=(?!keys_unavailable)/, 'm2m.log')), 'no other error code for it');

    my $s = $t->issuer_status('failing') // {};
    is($s->{generation}, 0, 'failing: still generation 0');
    is($s->{last_error}, 'http_status_500', 'failing: last_error http_status_500');
    cmp_ok($s->{fetches}{failed} // 0, '>=', 1, 'failing: fetches.failed counted');
    is_deeply($s->{keys}, [], 'failing: no keys');

    # the server recovers: the module retries on its backoff schedule
    $srv->set_route('/failing', { body => $jwks->($kf) });
    my $t1 = time;
    my $last;
    my $ok = $t->poll(15, sub {
        $last = req('/failing/x', $TF);
        return 1 if $last->{status} == 200;
        sleep 0.2;
        return 0;
    });
    ok($ok, sprintf('failing: requests succeed once the server recovers (%.1f s)', time - $t1))
        or diag "last status $last->{status}";
    is(join(',', map { req('/failing/x', $TF)->{status} } 1 .. 6), join(',', (200) x 6), 'failing: keeps succeeding');
    $s = $t->issuer_status('failing') // {};
    is($s->{last_error}, 'http_status_500', 'failing: last_error stays recorded after recovery');
    ok(($s->{last_success} // 0) >= ($s->{last_error_time} // 9e9), 'failing: last_success after last_error_time');
}

# ------------------------------------------------------------ the crowd
{
    waitpid $_, 0 for @crowd;
    my @res = map { [split ' ', $t->read_file("crowd.$_")] } 1 .. 20;
    is(join(',', map { $_->[0] // '?' } @res), join(',', (200) x 20), 'crowd: 20 requests during the first fetch all succeed');
    is($srv->count('/crowd'), 1, 'crowd: they all joined the one fetch');
    my ($first) = $srv->requests('/crowd');
    my @early = grep { ($_->[1] // 0) < $first->{time} + 1.5 - 0.05 } @res;
    is(scalar @early, 0, 'crowd: none was answered before the fetch completed');
}

# ------------------------------------------------------------ cold start, hanging server
{
    my $t1 = time;
    my $r = req('/hanging/x', tok($kh, 'hanging'));
    my $took = time - $t1;
    is($r->{status}, 503, 'hanging: cold start request answered 503');
    cmp_ok($took, '<', 1 + 0.1 + 0.5, sprintf('hanging: within fetch_timeout 1s (+0.1 s) (%.2f s)', $took));
    ok($t->wait_log('error.log', qr/\[error\].*auth_m2m_issuer "hanging": key refresh from "[^"]+" failed: timeout;/, 3),
        'hanging: timeout logged');
}

# ------------------------------------------------------------ Cache-Control max-age
{
    my $m = $t->issuer_status('main') // {};
    my $d = ($m->{next_refresh} // 0) - ($m->{last_success} // 0);
    ok($d >= 120 * 0.9 - 1 && $d <= 120 * 1.1 + 1, "max-age=120 honoured: next refresh in $d s (refresh default 600)");

    my $s = $t->wait_issuer('short', sub { $_[0]{generation} >= 1 }, 5) // {};
    $d = ($s->{next_refresh} // 0) - ($s->{last_success} // 0);
    ok($d >= 54 && $d <= 66 + 1, "max-age=10 clamped to 60 s: next refresh in $d s");
}

# ------------------------------------------------------------ conditional requests
{
    # An unknown kid forces an immediate refetch, which must be conditional.
    my $before = $srv->count('/main');
    my $r = req('/main/x', tok($km, 'main', kid => 'not-there'));
    is($r->{status}, 401, 'unknown kid: 401 after the forced refetch');
    is(desc($r), 'unknown_kid', 'unknown kid: unknown_kid');
    is($srv->count('/main'), $before + 1, 'the unknown kid caused one fetch');
    my $q = $srv->last_request('/main');
    is($q->{headers}{'if-none-match'}, '"v1"', 'the refetch carries If-None-Match with the ETag');
    is($q->{status}, 304, 'and the server answered 304');

    my $s = $t->issuer_status('main') // {};
    is($s->{fetches}{not_modified}, 1, 'status: fetches.not_modified 1');
    is($s->{fetches}{kid_triggered}, 1, 'status: fetches.kid_triggered 1');
    is($s->{generation}, 1, '304: generation unchanged');
    is_deeply($s->{keys}, [{ kid => 'm1', alg => 'ES256' }], '304: keys kept');
    is($s->{last_error}, undef, '304 is not an error');
    is(join(',', map { req('/main/x', $TM)->{status} } 1 .. 6), join(',', (200) x 6), '304: old token still accepted');

    # Last-Modified only: If-Modified-Since
    $before = $srv->count('/short');
    $r = req('/short/x', tok($ks, 'short', kid => 'not-there'));
    is(desc($r), 'unknown_kid', 'short: unknown kid refused after the refetch');
    is($srv->count('/short'), $before + 1, 'short: one refetch');
    $q = $srv->last_request('/short');
    my ($sent_lm) = map { $_->{headers}{'if-modified-since'} } $q;
    ok(defined $sent_lm, 'the refetch carries If-Modified-Since') or diag $q->{head};
    is($q->{status}, 304, 'and gets 304');
    $s = $t->issuer_status('short') // {};
    is($s->{fetches}{not_modified}, 1, 'short: fetches.not_modified 1');
    is($s->{generation}, 1, 'short: generation unchanged');
    is(req('/short/x', tok($ks, 'short'))->{status}, 200, 'short: old token still accepted');
}

# Stop with no fetch on the wire: a worker exiting mid-fetch is a case of its
# own (t/15-reload.t), not to be hit here by chance. "hanging" now fails fast;
# wait until its last attempt has ended (an attempt starts at least 1 s after
# the failure before it, so last_attempt > last_error_time means in flight).
$srv->set_route('/hanging', { status => 500 });
ok($t->wait_issuer('hanging', sub { ($_[0]{last_error_time} // 0) >= ($_[0]{last_attempt} // 0) }, 5),
    'hanging: no fetch in flight before stopping');

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$srv->stop;
done_testing;
