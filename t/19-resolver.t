# nginx's `resolver`: with it set in the http block, key server host names
# are resolved at run time through it (ngx_resolve_name), so names nobody
# can resolve at start work, a discovered jwks_uri may name another host,
# an unresolvable name fails the refresh with resolve_failed, and IP
# literals need no query at all. Without it, names are resolved once at
# start and a discovered jwks_uri must be on the discovery URL's host
# (jwks_uri_host_needs_resolver).
#
# A DNS server of the test's own (t/lib/TestDns.pm, 127.0.0.1, UDP) answers
# *.m2m.test -> 127.0.0.1 and NXDOMAIN otherwise, and counts the queries, so
# the test sees that nginx really asked it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use M2MTest qw(now json_text);
use JwksServer;
use TestDns;

my $T0 = time;
my $AUD = 'https://api.example.test';
my $WK = '/.well-known/openid-configuration';

my $dns = TestDns->new;
my $DNSPORT = $dns->port;
my $srv = JwksServer->new;
my $SP = $srv->port;

my $t = M2MTest->new;
my %key = map { $_ => $t->ec_key("$_-1") } qw(keys disc nx ip);
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => 'ES256') } @_ ] }) };

my $KEYS_URL = "http://keys.m2m.test:$SP/c1/jwks";
my $DISC_URL = "http://idp.m2m.test:$SP$WK";
my $DISC_JWKS = "http://keys2.m2m.test:$SP/jwks";
my $NX_URL = "http://nx.m2m.invalid:$SP/nx/jwks";
my $IP_URL = "http://127.0.0.1:$SP/ip/jwks";

$srv->set_routes(
    # the first fetch takes 0.5 s: the first request must wait for it
    '/c1/jwks' => { body => $jwks->($key{keys}), delay => 0.5 },
    # the discovery document names a jwks_uri on another host
    $WK        => { json => { issuer => 'https://idp.m2m.test/', jwks_uri => $DISC_JWKS } },
    '/jwks'    => { body => $jwks->($key{disc}) },
    '/nx/jwks' => { body => $jwks->($key{nx}) },
    '/ip/jwks' => { body => $jwks->($key{ip}) },
);

my %ISS = (
    keys => 'https://keys.m2m.test/',
    disc => 'https://idp.m2m.test/',
    nx   => 'https://nx.example.test/',
    ip   => 'https://ip.example.test/',
);

sub tok {
    my ($name, %opt) = @_;
    return $t->mint(key => $key{$name}, %opt,
        claims => { iss => $ISS{$name}, aud => $AUD, client_id => 'svc' });
}

sub locations {
    return join '', map { "        location /$_/ { auth_m2m $_; try_files /ok.txt =404; }\n" } @_;
}

my $conf_resolver = <<"EOF";
    resolver 127.0.0.1:$DNSPORT valid=1s ipv6=off;
    auth_m2m_issuer keys {
        issuer $ISS{keys};
        jwks_uri $KEYS_URL;
        audience $AUD;
        kid_refetch_cooldown 1s;
    }
    auth_m2m_issuer disc {
        issuer $ISS{disc};
        discovery $DISC_URL;
        audience $AUD;
    }
    auth_m2m_issuer nx {
        issuer $ISS{nx};
        jwks_uri $NX_URL;
        audience $AUD;
    }
    auth_m2m_issuer ip {
        issuer $ISS{ip};
        jwks_uri $IP_URL;
        audience $AUD;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
@{[ locations(qw(keys disc nx ip)) ]}
        location = /status { auth_m2m_status; }
    }
EOF

# With a resolver nothing is resolved at start: nginx -t passes although no
# name but 127.0.0.1 resolves outside the test's DNS server.
{
    my $r = $t->nginx_t($conf_resolver);
    is($r->{rc}, 0, 'resolver: nginx -t passes with *.m2m.test and nx.m2m.invalid key servers')
        or diag $r->{out};
    is($dns->count, 0, 'resolver: nginx -t asked the DNS server nothing');
}

$t->config($conf_resolver);
$t->start;

# ------------------------------------------------------------ 1. jwks_uri on a name
{
    ok($srv->wait_for_count('/c1/jwks', 1, 5), 'keys: the first fetch reached the key server')
        or diag $t->read_file('error.log');
    my $sent = time;
    my $r = $t->get('/keys/x', token => tok('keys'));
    my $done = time;
    my ($first) = $srv->requests('/c1/jwks');
    is($r->{status}, 200, 'keys: a token verifies with keys fetched from keys.m2m.test')
        or diag explain [$r->{headers}, $t->grep_log(qr/auth_m2m|resolv/)];
    cmp_ok($sent, '<', $first->{time} + 0.5, 'keys: the request was sent while the first fetch was in flight');
    cmp_ok($done, '>=', $first->{time} + 0.5 - 0.05,
        sprintf('keys: and it waited for that fetch (answered %.2f s after it began)', $done - $first->{time}));

    my @q = $dns->queries('keys.m2m.test');
    cmp_ok(scalar @q, '>=', 1, 'keys: the DNS server was asked for keys.m2m.test');
    is(join(',', map { "$_->{type}/$_->{rcode}/$_->{answers}" } $q[0] // ()), 'A/NOERROR/1',
        'keys: an A query, answered with one record');
    ok(@q && $q[0]{time} <= $first->{time}, 'keys: the name was resolved before the key server was asked');
    is($first->{headers}{host}, "keys.m2m.test:$SP", "keys: the key server got Host: keys.m2m.test:$SP");
    is($first->{path}, '/c1/jwks', 'keys: path from the URL');

    my $s = $t->issuer_status('keys') // {};
    is($s->{location}, $KEYS_URL, 'keys: status location is the URL with the name');
    is_deeply($s->{keys}, [{ kid => 'keys-1', alg => 'ES256' }], 'keys: status key list');

    # valid=1s: a later fetch resolves the name again. Unknown kids force
    # fetches (kid_refetch_cooldown 1s) until the DNS server sees a second query.
    $srv->set_route('/c1/jwks', { body => $jwks->($key{keys}) });
    my $fetches = $srv->count('/c1/jwks');
    my $ok = $t->poll(8, sub {
        $t->get('/keys/x', token => tok('keys', kid => 'not-there'));
        return $dns->count('keys.m2m.test') >= 2;
    });
    ok($ok, sprintf('keys: a later fetch resolved keys.m2m.test through the DNS server again (%.1f s later)', time - $done))
        or diag explain [$dns->queries, $t->issuer_status('keys')];
    cmp_ok($srv->count('/c1/jwks'), '>', $fetches, 'keys: and refetched from keys.m2m.test');
    is($srv->last_request('/c1/jwks')->{headers}{host}, "keys.m2m.test:$SP", 'keys: again with Host: keys.m2m.test');
    is($t->get('/keys/x', token => tok('keys'))->{status}, 200, 'keys: the token still verifies');
}

# ------------------------------------------------------------ 2. discovery, jwks_uri on another host
{
    my $s = $t->wait_issuer('disc', sub { $_[0]{generation} >= 1 }, 10);
    ok($s, 'disc: keys loaded through discovery with a resolver')
        or diag explain [$t->issuer_status('disc'), $t->grep_log(qr/auth_m2m_issuer "disc"/)];
    $s //= {};
    is($s->{source}, 'discovery', 'disc: status source discovery');
    is($s->{location}, $DISC_URL, 'disc: status location is the discovery URL');
    is($s->{jwks_uri}, $DISC_JWKS, 'disc: status shows the discovered jwks_uri on keys2.m2m.test');
    is($s->{last_error}, undef, 'disc: no last_error');
    is_deeply($s->{keys}, [{ kid => 'disc-1', alg => 'ES256' }], 'disc: key listed');
    is($t->get('/disc/x', token => tok('disc'))->{status}, 200, 'disc: token accepted');

    cmp_ok($dns->count('idp.m2m.test', 'A'), '>=', 1, 'disc: the DNS server was asked for idp.m2m.test');
    cmp_ok($dns->count('keys2.m2m.test', 'A'), '>=', 1, 'disc: and for keys2.m2m.test');
    my ($d) = $srv->requests($WK);
    my ($j) = $srv->requests('/jwks');
    is($d && $d->{headers}{host}, "idp.m2m.test:$SP", 'disc: discovery fetched with Host: idp.m2m.test');
    is($j && $j->{headers}{host}, "keys2.m2m.test:$SP", 'disc: JWK Set fetched with Host: keys2.m2m.test');
}

# ------------------------------------------------------------ 4. NXDOMAIN
{
    my $line = $t->wait_log('error.log', qr/auth_m2m_issuer "nx": key refresh from /, 10);
    like($line // '', qr/\[error\] .*auth_m2m_issuer "nx": key refresh from "\Q$NX_URL\E" failed: resolve_failed; keeping 0 keys/,
        'nx: resolve_failed logged at error, naming the URL');
    ok($t->wait_log('error.log', qr/nx\.m2m\.invalid could not be resolved \(3: Host not found\)/, 2),
        'nx: the resolver said why (3: Host not found)');
    my @q = $dns->queries('nx.m2m.invalid');
    cmp_ok(scalar @q, '>=', 1, 'nx: the DNS server was asked for nx.m2m.invalid');
    is($q[0] && $q[0]{rcode}, 'NXDOMAIN', 'nx: and answered NXDOMAIN');

    my $r = $t->get('/nx/x', token => tok('nx'));
    is($r->{status}, 503, 'nx: a request on a cold start gets 503');
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, 'nx: with Retry-After');
    my $s = $t->issuer_status('nx') // {};
    is($s->{last_error}, 'resolve_failed', 'nx: status last_error resolve_failed');
    is($s->{generation}, 0, 'nx: generation 0');
    cmp_ok($s->{fetches}{failed} // 0, '>=', 1, 'nx: fetches.failed counted');
    is($srv->count('/nx/jwks'), 0, 'nx: nothing reached the key server');
    my @bad = $t->grep_log(qr/\[(alert|crit|emerg)\]/);
    ok(!@bad, 'nx: no [alert]/[crit] in error.log') or diag join "\n", @bad;
}

# ------------------------------------------------------------ 5. IP literal with a resolver
{
    my $s = $t->wait_issuer('ip', sub { $_[0]{generation} >= 1 }, 10);
    ok($s, 'ip: keys loaded from an IP literal with a resolver set')
        or diag explain [$t->issuer_status('ip'), $t->grep_log(qr/auth_m2m_issuer "ip"/)];
    is($s && $s->{location}, $IP_URL, 'ip: status location');
    is($t->get('/ip/x', token => tok('ip'))->{status}, 200, 'ip: token accepted');
    my ($q) = $srv->requests('/ip/jwks');
    is($q && $q->{headers}{host}, "127.0.0.1:$SP", "ip: Host: 127.0.0.1:$SP");
    is(scalar(grep { $_->{name} =~ /^127\.0\.0\.1$|in-addr\.arpa$/ } $dns->queries), 0,
        'ip: the DNS server was never asked about 127.0.0.1');
}

# every query nginx sent was for a configured or discovered name, type A (ipv6=off)
{
    my %expect = map { $_ => 1 } qw(keys.m2m.test idp.m2m.test keys2.m2m.test nx.m2m.invalid);
    my @other = grep { !$expect{ $_->{name} } || $_->{type} ne 'A' } $dns->queries;
    is(scalar @other, 0, 'DNS: only A queries for the key server names')
        or diag explain \@other;
}

# Stop with no fetch on the wire: "nx" retries on its backoff; wait until its
# last attempt has ended.
ok($t->wait_issuer('nx', sub { ($_[0]{last_error_time} // 0) >= ($_[0]{last_attempt} // 0) }, 5),
    'nx: no fetch in flight before stopping');
$t->no_alerts_ok;

# ------------------------------------------------------------ 3. no resolver
my $t2 = M2MTest->new;
my $LOCAL_DISC = "http://localhost:$SP$WK";
my $conf_plain = <<"EOF";
    auth_m2m_issuer disc {
        issuer $ISS{disc};
        discovery $LOCAL_DISC;
        audience $AUD;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
@{[ locations('disc') ]}
        location = /status { auth_m2m_status; }
    }
EOF
{
    my $r = $t2->nginx_t($conf_plain);
    is($r->{rc}, 0, 'no resolver: nginx -t passes (localhost resolves at start)') or diag $r->{out};

    $srv->clear_requests;
    my $dns_before = $dns->count;
    $t2->config($conf_plain);
    $t2->start;

    my $line = $t2->wait_log('error.log', qr/auth_m2m_issuer "disc": key refresh from /, 10);
    like($line // '', qr/\[error\] .*auth_m2m_issuer "disc": key refresh from "\Q$LOCAL_DISC\E" failed: jwks_uri_host_needs_resolver; keeping 0 keys/,
        'no resolver: jwks_uri on another host fails with jwks_uri_host_needs_resolver')
        or diag $t2->read_file('error.log');

    my $q = $t2->get('/disc/x', token => $t2->mint(key => $key{disc},
        claims => { iss => $ISS{disc}, aud => $AUD, client_id => 'svc' }));
    is($q->{status}, 503, 'no resolver: a request on a cold start gets 503');
    like($q->{headers}{'retry-after'} // '', qr/^\d+$/, 'no resolver: with Retry-After');

    my $s = $t2->issuer_status('disc') // {};
    is($s->{last_error}, 'jwks_uri_host_needs_resolver', 'no resolver: status last_error');
    is($s->{generation}, 0, 'no resolver: generation 0');
    my ($d) = $srv->requests($WK);
    is($d && $d->{headers}{host}, "localhost:$SP", 'no resolver: the discovery document was fetched from localhost');
    is($srv->count('/jwks'), 0, 'no resolver: the jwks_uri on keys2.m2m.test was never fetched');
    is($dns->count, $dns_before, 'no resolver: the test DNS server was never asked');

    ok($t2->wait_issuer('disc', sub { ($_[0]{last_error_time} // 0) >= ($_[0]{last_attempt} // 0) }, 5),
        'no resolver: no fetch in flight before stopping');
}

cmp_ok(time - $T0, '<', 20, sprintf('file took %.1f s', time - $T0));
$t2->no_alerts_ok;
$dns->stop;
$srv->stop;
done_testing;
