# Last known good: with keys loaded, every kind of failed refresh keeps the
# old keys (the old token is still accepted), is logged once per failure at
# level error with the issuer and the exact reason, shows up on the status
# page (last_error, fetches.failed), and is retried with backoff 1 s, 2 s,
# 4 s, ... Answers that are not faults (chunked, close-delimited without
# Content-Length) must succeed.
#
# One issuer per fault, all with `refresh 1s; fetch_timeout 1s;`, so that all
# faults run at the same time and the file stays short. The zone is small
# (auth_m2m_zone 128k) so that a key set too big for it is one of the faults.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use M2MTest qw(now json_text);
use JwksServer;

my $T0 = time;
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my @FAULTS = (
    # name, behaviour after the switch, expected reason
    [slow    => { delay => 3 },                                           'timeout'],
    [hang    => { hang => 1 },                                            'timeout'],
    [e500    => { status => 500 },                                        'http_status_500'],
    [cut     => { body => 'JWKS', close_mid_body => 1 },                  'truncated'],
    [garbage => { garbage => 1 },                                         'malformed_status'],
    [huge    => { body => 'JWKS', size => 5 * 1024 * 1024 },              'body_too_large'],
    [badjson => { body => '{"keys": [ {"kty": "EC", "crv": ' },           'jwks_malformed'],
    [nokey   => { json => { keys => [{ kty => 'oct', kid => 'sym', k => 'c2VjcmV0c2VjcmV0' }] } },
                                                                          'jwks_no_usable_key'],
    [refused => undef,                                                    'connect_failed'],
    # close-delimited, cut in half: on the wire it ends like a whole body, but
    # a JSON object cut short never parses (see src/core/fetch/http_response.cpp)
    [cutclose => { body => 'JWKS', no_length => 1, close_mid_body => 1 }, 'jwks_malformed'],
    # chunked, cut inside a chunk
    [cutchunk => { body => 'JWKS', chunked => 4, close_mid_body => 1 },   'truncated'],
    # every read is quick, the whole answer is not: fetch_timeout bounds it all
    [trickle => { body => 'JWKS', chunked => 5, chunk_delay => 0.4 },     'timeout'],
    # under jwks_max_size, but more than the shared zone (auth_m2m_zone 128k) holds
    [zonefull => { body => 'JWKS', size => 300 * 1024 },                  'zone_full'],
);
my @OK = (
    [chunked => { chunked => 4 }],
    [nolen   => { no_length => 1 }],
);
my @NAMES = ((map { $_->[0] } @FAULTS), (map { $_->[0] } @OK));
my %REASON = map { $_->[0] => $_->[2] } @FAULTS;

my %key = map { $_ => $t->ec_key("$_-1") } @NAMES;
my %key2 = map { $_->[0] => $t->ec_key("$_->[0]-2") } @OK;
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => 'ES256') } @_ ] }) };

my $srv = JwksServer->new(routes => { map { ("/$_" => { body => $jwks->($key{$_}) }) } @NAMES });
my $gone = JwksServer->new(routes => { '/refused' => { body => $jwks->($key{refused}) } });
my %url = map { $_ => 'http://127.0.0.1:' . $srv->port . "/$_" } @NAMES;
$url{refused} = $gone->url('/refused');

my $conf = "    auth_m2m_zone m2m:128k;\n";
for my $n (@NAMES) {
    $conf .= <<"EOF";
    auth_m2m_issuer $n {
        issuer https://$n.example.test/;
        jwks_uri $url{$n};
        audience $AUD;
        refresh 1s;
        fetch_timeout 1s;
        jwks_max_size 1m;
    }
EOF
}
$conf .= "    server {\n        listen 127.0.0.1:%%PORT%%;\n        root %%DIR%%/html;\n";
$conf .= "        location /$_/ { auth_m2m $_; try_files /ok.txt =404; }\n" for @NAMES;
$conf .= "        location = /status { auth_m2m_status; }\n    }\n";
$t->config($conf);
$t->start;

my %TOK = map {
    $_ => $t->mint(key => $key{$_}, claims => { iss => "https://$_.example.test/", aud => $AUD, client_id => 'svc' })
} @NAMES;
sub statuses {
    my ($n, $times) = @_;
    return join ',', map { $t->get("/$n/x", token => $TOK{$n})->{status} } 1 .. ($times // 6);
}

# ------------------------------------------------------------ keys loaded
my %before;
{
    my $st;
    ok($t->poll(10, sub {
        $st = $t->status_json or return 0;
        return !grep { ($st->{issuers}{$_}{generation} // 0) < 1 } @NAMES;
    }), 'every issuer has its first keys') or diag explain $st;
    for my $n (@NAMES) {
        is(statuses($n, 2), '200,200', "$n: token accepted before the fault");
        $before{$n} = $st->{issuers}{$n};
    }
}

# ------------------------------------------------------------ switch on the faults
my %switch_count;
{
    my %routes;
    for my $f (@FAULTS) {
        my ($n, $b) = @$f;
        next unless $b;
        my %b = %$b;
        $b{body} = $jwks->($key{$n}) if ($b{body} // '') eq 'JWKS';
        $routes{"/$n"} = \%b;
    }
    $routes{"/$_->[0]"} = { %{ $_->[1] }, body => $jwks->($key{ $_->[0] }, $key2{ $_->[0] }) } for @OK;
    $srv->set_routes(%routes);
    $gone->stop;
    %switch_count = map { $_ => $srv->count("/$_") } @NAMES;
}
my $t_switch = time;

# failure lines of an issuer: [reason, keys kept, next attempt]
sub failures {
    my ($n) = @_;
    return map { [ /failed: (.*?); keeping (\d+) keys, next attempt in (\d+) s$/ ] }
        $t->grep_log(qr/auth_m2m_issuer "\Q$n\E": key refresh from /);
}

my $all3 = $t->poll(20, sub {
    return !grep { failures($_) < 3 } map { $_->[0] } @FAULTS;
});
ok($all3, sprintf('every fault failed three times (%.1f s after the switch)', time - $t_switch))
    or diag explain { map { $_->[0] => scalar(failures($_->[0])) } @FAULTS };

for my $f (@FAULTS) {
    my ($n, undef, $reason) = @$f;
    subtest "fault $n ($reason)" => sub {
        my @lines = $t->grep_log(qr/auth_m2m_issuer "\Q$n\E": key refresh from /);
        my @fail = failures($n);
        ok(@fail >= 3, 'three failures logged') or diag join "\n", @lines;
        like($_, qr/\[error\] \d+#\d+: auth_m2m_issuer "\Q$n\E": key refresh from "\Q$url{$n}\E" failed: /,
            'line at level error naming issuer and URL') for @lines[0 .. 0];
        is(scalar(grep { !/\[error\]/ } @lines), 0, 'all of them at level error');
        is(join(',', map { $_->[0] // '?' } @fail), join(',', ($reason) x @fail), "reason is exactly $reason");
        is(join(',', map { $_->[1] // '?' } @fail), join(',', (1) x @fail), 'keeping 1 keys');
        my @next = map { $_->[2] // '?' } @fail;
        is(join(',', @next[0 .. 2]), '1,2,4', 'backoff: next attempt in 1 s, 2 s, 4 s');

        is(statuses($n), join(',', (200) x 6), 'old keys kept: the old token is accepted');

        my $s = $t->issuer_status($n) // {};
        is($s->{last_error}, $reason, "status: last_error $reason");
        ok($s->{last_error_time} && $s->{last_error_time} >= int($t_switch), 'status: last_error_time after the switch');
        my $failed = ($s->{fetches}{failed} // 0) - ($before{$n}{fetches}{failed} // 0);
        my $logged = failures($n);
        cmp_ok($failed, '>=', 3, "status: fetches.failed went up by $failed");
        ok(abs($failed - $logged) <= 1, "one log line per failed fetch ($logged lines, $failed failures)");
        is($s->{generation}, $before{$n}{generation}, 'status: generation unchanged');
        is_deeply($s->{keys}, [{ kid => "$n-1", alg => 'ES256' }], 'status: the old key still listed');
        is($s->{fetches}{ok}, $before{$n}{fetches}{ok}, 'status: fetches.ok unchanged');
        if ($n ne 'refused') {
            my $attempts = $srv->count("/$n") - $switch_count{$n};
            ok($attempts >= $logged && $attempts <= $logged + 1,
                "one server request per attempt ($attempts requests, $logged failures)");
        }
    };
}

# ------------------------------------------------------------ not faults: these succeed
for my $ok (@OK) {
    my $n = $ok->[0];
    my $s = $t->wait_issuer($n, sub { $_[0]{generation} > $before{$n}{generation} }, 5) // {};
    ok($s->{generation}, "$n: the answer was taken (generation moved)")
        or diag explain [$t->issuer_status($n), $t->grep_log(qr/auth_m2m_issuer "$n"/)];
    is($s->{last_error}, undef, "$n: no last_error");
    is($s->{fetches}{failed}, 0, "$n: no failed fetch");
    is_deeply([sort map { $_->{kid} } @{ $s->{keys} // [] }], ["$n-1", "$n-2"], "$n: both keys listed");
    my $tok2 = $t->mint(key => $key2{$n}, claims => { iss => "https://$n.example.test/", aud => $AUD });
    is(join(',', map { $t->get("/$n/x", token => $tok2)->{status} } 1 .. 6), join(',', (200) x 6),
        "$n: the new key is accepted");
    is(statuses($n), join(',', (200) x 6), "$n: the first key too");
    is(scalar($t->grep_log(qr/auth_m2m_issuer "$n": key refresh/)), 0, "$n: no failure logged");
}

# Stop with no fetch on the wire (a worker exiting mid-fetch is tested in
# t/15-reload.t): the slow faults now fail fast, and their last attempt has
# ended once last_error_time catches up with last_attempt.
$srv->set_routes(map { ("/$_" => { status => 500 }) } qw(slow hang trickle));
for my $n (qw(slow hang trickle)) {
    ok($t->wait_issuer($n, sub { ($_[0]{last_error_time} // 0) >= ($_[0]{last_attempt} // 0) }, 5),
        "$n: no fetch in flight before stopping");
}

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$srv->stop;
done_testing;
