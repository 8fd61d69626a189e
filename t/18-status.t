# auth_m2m_status: the JSON document (every field, its type and value), the
# module counters (allowed, refused by reason) moving by exactly what was
# sent, the Prometheus text format (Content-Type, grammar, the same numbers),
# and the documented way to protect the location: the status location is the
# README's own example (its ```nginx block with auth_m2m_status), taken as it
# is, and the request is the one its Prometheus scrape config makes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Socket::IP;
use JSON::PP;
use Time::HiRes qw(time);
use M2MTest qw(now json_text);
use JwksServer;

my $T0 = time;
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my $km = $t->ec_key('m1');
my $kl = $t->ec_key('l1');
my $kd = $t->ec_key('d1');
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => 'ES256') } @_ ] }) };
$t->write_file('local.json', $jwks->($kl));

my $srv = JwksServer->new(routes => {
    '/jwks' => { body => $jwks->($km) },
    '/down' => { status => 500 },
});
my $base = 'http://127.0.0.1:' . $srv->port;

# The README's status location, verbatim.
my ($example) = grep { /auth_m2m_status;/ }
    ($t->read_file("$FindBin::Bin/../README.md") =~ /```nginx\n(.*?)```/sg);
ok($example, 'README has an nginx example with auth_m2m_status') or diag 'falling back to a location of our own';
$example //= "location = /m2m-status { auth_m2m_status; allow 127.0.0.1; deny all; }\n";
like($example, qr/allow\s+127\.0\.0\.1;/, 'the example allows 127.0.0.1');
like($example, qr/deny\s+all;/, 'the example denies all others');
my ($SP) = $example =~ /location\s+=?\s*(\/\S*)\s*\{/;
$SP //= '/m2m-status';
my ($scrape) = $t->read_file("$FindBin::Bin/../README.md") =~ /```yaml\n(.*?)```/s;
like($scrape // '', qr/metrics_path:\s*\Q$SP\E\s*\n/, "README scrape config scrapes $SP");
like($scrape // '', qr/format:\s*\[prometheus\]/, 'README scrape config asks for format=prometheus');
(my $status_loc = $example) =~ s/^/        /mg;

(my $conf = <<'EOF') =~ s/%%SRV%%/$base/g;
    auth_m2m_issuer main {
        issuer https://main.example.test/;
        jwks_uri %%SRV%%/jwks;
        audience https://api.example.test;
    }
    auth_m2m_issuer local {
        issuer https://local.example.test/;
        jwks_file %%DIR%%/local.json;
        audience https://api.example.test;
    }
    auth_m2m_issuer down {
        issuer https://down.example.test/;
        jwks_uri %%SRV%%/down;
        audience https://api.example.test;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /api/    { auth_m2m main;  try_files /ok.txt =404; }
        location /admin/  { auth_m2m main;  auth_m2m_scope admin; try_files /ok.txt =404; }
        location /local/  { auth_m2m local; try_files /ok.txt =404; }
%%STATUS%%
    }
EOF
$conf =~ s/%%STATUS%%\n/$status_loc/;
$t->config($conf);
$t->start;

sub tok {
    my ($key, $iss, %claims) = @_;
    return $t->mint(key => $key, claims => { iss => "https://$iss.example.test/", aud => $AUD,
        client_id => 'svc', scope => 'read', %claims });
}
sub get { my ($path, $token) = @_; return $t->get($path, token => $token)->{status} }

ok($t->wait_issuer('main', sub { $_[0]{generation} >= 1 }, 10, path => $SP), 'main: keys loaded');
ok($t->wait_issuer('down', sub { ($_[0]{fetches}{failed} // 0) >= 1 }, 10, path => $SP), 'down: first fetch failed');

# ------------------------------------------------------------ the JSON document
my $r = $t->get($SP);
is($r->{status}, 200, 'status: 200');
like($r->{headers}{'content-type'} // '', qr{^application/json\b}, 'status: Content-Type application/json');
my $s0 = eval { decode_json($r->{content}) };
ok($s0, 'status: valid JSON') or diag $r->{content};
$s0 //= {};
is_deeply([sort keys %$s0], ['issuers', 'requests', 'token_cache', 'token_endpoint'],
    'top level: requests, token_cache, token_endpoint, issuers');
is_deeply($s0->{token_endpoint}, { issued => 0, refused => 0, client_authentication_failed => 0 },
    'token_endpoint: issued, refused, client_authentication_failed, all 0 without a token endpoint');
is_deeply([sort keys %{ $s0->{token_cache} // {} }], [qw(evictions hits misses size)],
    'token_cache: size, hits, misses, evictions');
is($s0->{token_cache}{size}, 4 * 1024 * 1024, 'token_cache.size: the default, 4 MiB per worker');
is_deeply([sort keys %{ $s0->{requests} // {} }], ['allowed', 'refused'], 'requests: allowed, refused');
like($s0->{requests}{allowed} // '', qr/^\d+$/, 'requests.allowed is a number');
is(ref $s0->{requests}{refused}, 'HASH', 'requests.refused is an object');
is_deeply([sort keys %{ $s0->{issuers} // {} }], ['down', 'local', 'main'], 'issuers: all three, by name');

my @FIELDS = qw(fetches generation issuer jwks_uri keys last_attempt last_error last_error_time last_success
    location next_refresh source);
{
    my $m = $s0->{issuers}{main} // {};
    is_deeply([sort keys %$m], \@FIELDS, 'main: every field present');
    is($m->{issuer}, 'https://main.example.test/', 'main: issuer');
    is($m->{source}, 'jwks_uri', 'main: source');
    is($m->{location}, "$base/jwks", 'main: location');
    ok(!defined $m->{jwks_uri} || $m->{jwks_uri} eq "$base/jwks", 'main: jwks_uri null or the URL (nothing discovered)');
    is_deeply($m->{keys}, [{ kid => 'm1', alg => 'ES256' }], 'main: keys');
    is($m->{generation}, 1, 'main: generation');
    my $now = now();
    ok(abs(($m->{last_attempt} // 0) - $now) <= 10, 'main: last_attempt is a recent Unix time');
    ok(abs(($m->{last_success} // 0) - $now) <= 10, 'main: last_success is a recent Unix time');
    is($m->{last_error}, undef, 'main: last_error null');
    is($m->{last_error_time}, undef, 'main: last_error_time null');
    my $d = ($m->{next_refresh} // 0) - ($m->{last_success} // 0);
    ok($d >= 540 && $d <= 660, "main: next_refresh = last_success + 10m +-10% ($d s)");
    is_deeply($m->{fetches}, { ok => 1, failed => 0, not_modified => 0, kid_triggered => 0 }, 'main: fetches');

    my $l = $s0->{issuers}{local} // {};
    is_deeply([sort keys %$l], \@FIELDS, 'local: every field present');
    is($l->{source}, 'jwks_file', 'local: source jwks_file');
    is($l->{location}, $t->path('local.json'), 'local: location is the file');
    is_deeply($l->{keys}, [{ kid => 'l1', alg => 'ES256' }], 'local: keys');

    my $dn = $s0->{issuers}{down} // {};
    is($dn->{last_error}, 'http_status_500', 'down: last_error');
    ok(abs(($dn->{last_error_time} // 0) - $now) <= 10, 'down: last_error_time is a recent Unix time');
    is($dn->{last_success}, undef, 'down: last_success null (never)');
    is($dn->{generation}, 0, 'down: generation 0');
    is_deeply($dn->{keys}, [], 'down: no keys');
    cmp_ok($dn->{fetches}{failed}, '>=', 1, 'down: fetches.failed');
}

# ------------------------------------------------------------ counters
my %sent = (allowed => 0);
my %want_status;
sub send_as {
    my ($what, $want, $path, $token) = @_;
    my $st = get($path, $token);
    $want_status{"$what $st"}++;
    $sent{$what}++;
    is($st, $want, "$what: $want") if $sent{$what} == 1;
}
send_as('allowed', 200, '/api/x', tok($km, 'main')) for 1 .. 3;
send_as('allowed', 200, '/local/x', tok($kl, 'local')) for 1 .. 2;
send_as('expired', 401, '/api/x', tok($km, 'main', exp => now() - 3600, iat => now() - 7200)) for 1 .. 2;
send_as('missing_token', 401, '/api/x', undef);
send_as('unknown_kid', 401, '/api/x', $t->mint(key => $km, kid => 'nope',
    claims => { iss => 'https://main.example.test/', aud => $AUD }));
send_as('wrong_audience', 401, '/local/x', tok($kl, 'local', aud => 'https://other.test'));
send_as('insufficient_scope', 403, '/admin/x', tok($km, 'main'));
send_as('wrong_issuer', 401, '/api/x', tok($km, 'nobody'));
my @status_calls = map { $t->get($SP)->{status} } 1 .. 3;    # not counted themselves

my $s1 = $t->status_json(path => $SP) // {};
is(($s1->{requests}{allowed} // 0) - ($s0->{requests}{allowed} // 0), 5, 'requests.allowed went up by 5');
for my $reason (qw(expired missing_token unknown_kid wrong_audience insufficient_scope wrong_issuer)) {
    my $delta = ($s1->{requests}{refused}{$reason} // 0) - ($s0->{requests}{refused}{$reason} // 0);
    is($delta, $sent{$reason}, "requests.refused.$reason went up by $sent{$reason}");
}
my %known = map { $_ => 1 } qw(expired missing_token unknown_kid wrong_audience insufficient_scope wrong_issuer);
is(join(',', grep { !$known{$_} && ($s1->{requests}{refused}{$_} // 0) != ($s0->{requests}{refused}{$_} // 0) }
    sort keys %{ $s1->{requests}{refused} // {} }), '', 'no other refusal counter moved');
is($s1->{issuers}{main}{fetches}{kid_triggered}, 1, 'main: fetches.kid_triggered 1 (the unknown kid)');
is($s1->{issuers}{main}{fetches}{not_modified} + $s1->{issuers}{main}{fetches}{ok}, 2,
    'main: the kid refetch counted as ok or not_modified');

# ------------------------------------------------------------ Prometheus
{
    my $p = $t->get("$SP?format=prometheus");
    is($p->{status}, 200, 'prometheus: 200');
    is($p->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8', 'prometheus: Content-Type');
    my $text = $p->{content} // '';
    like($text, qr/\n\z/, 'prometheus: ends with a newline');
    my (%type, %help, %samples, @bad, $types_seen);
    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP (nginx_auth_m2m_\w+) \S/) {
            push @bad, "HELP twice: $line" if $help{$1}++;
        } elsif ($line =~ /^# TYPE (nginx_auth_m2m_\w+) (counter|gauge)$/) {
            push @bad, "TYPE twice: $line" if $type{$1};
            $type{$1} = $2;
        } elsif ($line =~ /^(nginx_auth_m2m_[a-zA-Z0-9_]+)(\{(?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\["\\n])*"(?:,|(?=\})))*\})? (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/) {
            my ($name, $labels, $value) = ($1, $2 // '', $3);
            push @bad, "sample before its TYPE: $line" unless $type{$name};
            push @bad, "counter not named _total: $line" if ($type{$name} // '') eq 'counter' && $name !~ /_total$/;
            push @bad, "duplicate sample: $line" if exists $samples{"$name$labels"};
            $samples{"$name$labels"} = $value;
        } else {
            push @bad, "bad line: $line";
        }
    }
    is(scalar @bad, 0, 'prometheus: every line is valid exposition format') or diag join "\n", @bad;
    my $st = $t->status_json(path => $SP) // {};
    my %want = (
        'nginx_auth_m2m_requests_allowed_total' => $st->{requests}{allowed},
        'nginx_auth_m2m_requests_refused_total{reason="expired"}' => $st->{requests}{refused}{expired},
        'nginx_auth_m2m_requests_refused_total{reason="unknown_kid"}' => $st->{requests}{refused}{unknown_kid},
        'nginx_auth_m2m_requests_refused_total{reason="insufficient_scope"}' => $st->{requests}{refused}{insufficient_scope},
        'nginx_auth_m2m_token_cache_size_bytes' => $st->{token_cache}{size},
        'nginx_auth_m2m_token_cache_hits_total' => $st->{token_cache}{hits},
        'nginx_auth_m2m_token_cache_misses_total' => $st->{token_cache}{misses},
        'nginx_auth_m2m_token_cache_evictions_total' => $st->{token_cache}{evictions},
        'nginx_auth_m2m_tokens_issued_total' => 0,
        'nginx_auth_m2m_token_requests_refused_total' => 0,
        'nginx_auth_m2m_client_authentication_failures_total' => 0,
        'nginx_auth_m2m_keys{issuer="main"}' => 1,
        'nginx_auth_m2m_keys{issuer="local"}' => 1,
        'nginx_auth_m2m_keys{issuer="down"}' => 0,
        'nginx_auth_m2m_key_generation{issuer="main"}' => $st->{issuers}{main}{generation},
        'nginx_auth_m2m_fetches_total{issuer="main",result="ok"}' => $st->{issuers}{main}{fetches}{ok},
        'nginx_auth_m2m_fetches_total{issuer="main",result="failed"}' => 0,
        'nginx_auth_m2m_fetches_total{issuer="main",result="not_modified"}' => $st->{issuers}{main}{fetches}{not_modified},
        'nginx_auth_m2m_fetches_total{issuer="down",result="failed"}' => $st->{issuers}{down}{fetches}{failed},
        'nginx_auth_m2m_kid_refetches_total{issuer="main"}' => 1,
        'nginx_auth_m2m_last_error_info{issuer="down",reason="http_status_500"}' => 1,
        'nginx_auth_m2m_last_success_timestamp_seconds{issuer="main"}' => $st->{issuers}{main}{last_success},
        'nginx_auth_m2m_last_success_timestamp_seconds{issuer="down"}' => 0,
    );
    for my $k (sort keys %want) {
        is($samples{$k}, $want{$k}, "prometheus: $k = " . ($want{$k} // 'undef'));
    }
    is($type{nginx_auth_m2m_requests_allowed_total}, 'counter', 'prometheus: allowed is a counter');
    is($type{nginx_auth_m2m_keys}, 'gauge', 'prometheus: keys is a gauge');
    my ($info) = grep { /^nginx_auth_m2m_issuer_info\{issuer="main",/ } keys %samples;
    like($info // '', qr/iss="https:\/\/main\.example\.test\/"/, 'prometheus: issuer_info carries iss');
    like($info // '', qr/source="jwks_uri"/, 'prometheus: issuer_info carries the source');
    ok(!grep({ /last_error_info\{issuer="main"/ } keys %samples), 'prometheus: no last_error_info for a healthy issuer');

    my $other = $t->get("$SP?format=json");
    like($other->{headers}{'content-type'} // '', qr{^application/json\b}, 'any other format is JSON');
}

# ------------------------------------------------------------ methods
{
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10);
    my $url = 'http://127.0.0.1:' . $t->port . $SP;
    my $h = $http->request('HEAD', $url);
    is($h->{status}, 200, "HEAD $SP: 200");
    is($h->{content} // '', '', "HEAD $SP: no body");
    is($http->request('POST', $url, { content => 'x' })->{status}, 405, "POST $SP: 405");
}

# ------------------------------------------------------------ protection: allow 127.0.0.1; deny all
SKIP: {
    my $probe = IO::Socket::IP->new(LocalHost => '127.0.0.2', PeerHost => '127.0.0.1', PeerPort => $t->port,
        Proto => 'tcp');
    skip 'cannot connect from 127.0.0.2 on this host', 3 unless $probe;
    close $probe;
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10, local_address => '127.0.0.2');
    my $d = $http->get('http://127.0.0.1:' . $t->port . $SP);
    is($d->{status}, 403, 'status from 127.0.0.2: 403 (deny all)');
    unlike($d->{content} // '', qr/generation|nginx_auth_m2m/, 'and nothing of the report leaks');
    is($http->get('http://127.0.0.1:' . $t->port . "$SP?format=prometheus")->{status}, 403,
        'prometheus from 127.0.0.2: 403');
}
is($t->get($SP)->{status}, 200, 'status from 127.0.0.1: 200 (allow)');

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$srv->stop;
done_testing;
