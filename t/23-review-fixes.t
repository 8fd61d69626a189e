# Regression tests for the faults an adversarial review found (issue 6),
# each against a real nginx:
#  1. an EC key whose "x" holds an embedded '=' used to abort nginx inside
#     cjose's base64 decoder, from jwks_file (nginx -t) and from jwks_uri;
#  2. a kid-less token costs one signature check: with several fitting keys
#     it is refused as unknown_kid without trying them;
#  3. 100 reloads that alternate an issuer's key URL fit in the smallest zone;
#  4. DEL, U+0085 and U+2028 in a claim never reach an upstream header or a
#     log line raw;
#  5. configurations that deserve a word: a kid_refetch_cooldown below 1s,
#     two issuer blocks with the same "issuer" in one auth_m2m, plain http
#     key sources, a key URL's query (kept out of logs and the status page);
#  6. auth_m2m_log_level puts refusals above "info", where nginx itself logs
#     a duplicate Authorization header in full.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use M2MTest qw(now json_text);
use JwksServer;
use JSON::PP;
use Crypt::JWT qw(encode_jwt);

my $T0 = time;
my $AUD = 'https://api.example.test';
my $CRASH_X = 'AAAAA=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

my $t = M2MTest->new(workers => 1);
my $good = $t->ec_key('good');
my $bad = $t->ec_key('bad');
my $rsa1 = $t->rsa_key('r1');
my $rsa2 = $t->rsa_key('r2');
my $crash_jwk = { %{ $t->jwk($bad) }, x => $CRASH_X };
$t->write_jwks('crash.json', $crash_jwk, $good);
$t->write_jwks('two-rsa.json', $rsa1, $rsa2);

my %ka = (a => $t->ec_key('kid-a'), b => $t->ec_key('kid-b'));
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => 'ES256') } @_ ] }) };
my $srv = JwksServer->new(routes => {
    '/crash' => { body => json_text({ keys => [ $crash_jwk, $t->jwk($good, alg => 'ES256') ] }) },
    '/a'     => { body => $jwks->($ka{a}) },
    '/b'     => { body => $jwks->($ka{b}) },
    '/q'     => { status => 500 },
});

sub conf {
    my ($extra) = @_;
    my $crash = $srv->url('/crash');
    my $q = $srv->url('/q?api_key=SECRET-IN-QUERY');
    $extra //= '';
    return <<"EOF";
    log_format claims escape=none '\$m2m_claim_note|\$m2m_client_id';
    auth_m2m_issuer file {
        issuer https://file.example.test/;
        jwks_file %%DIR%%/crash.json;
        audience $AUD;
    }
    auth_m2m_issuer tworsa {
        issuer https://tworsa.example.test/;
        jwks_file %%DIR%%/two-rsa.json;
        audience $AUD;
    }
    auth_m2m_issuer remote {
        issuer https://remote.example.test/;
        jwks_uri $crash;
        audience $AUD;
    }
    auth_m2m_issuer query {
        issuer https://query.example.test/;
        jwks_uri $q;
        audience $AUD;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /file/ { auth_m2m file; try_files /ok.txt =404; }
        location /tworsa/ { auth_m2m tworsa; try_files /ok.txt =404; }
        location /remote/ { auth_m2m remote; try_files /ok.txt =404; }
        location /notice/ { auth_m2m file; auth_m2m_log_level notice; try_files /ok.txt =404; }
        location /echo/ {
            auth_m2m file;
            access_log %%DIR%%/claims.log claims;
            proxy_set_header X-Note \$m2m_claim_note;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
        }
        location = /status { auth_m2m_status; }
    }
$extra
EOF
}
my $echo = $t->echo_server('echo', 'X-Note');

sub tok {
    my ($iss, $key, %opt) = @_;
    return $t->mint(key => $key, %opt,
        claims => { iss => "https://$iss.example.test/", aud => $AUD, client_id => 'svc', %{ $opt{claims} // {} } });
}
# Claims with non-ASCII characters, \uXXXX-escaped in the payload's JSON.
sub tok_ascii {
    my ($key, %claims) = @_;
    my %all = (iss => 'https://file.example.test/', aud => $AUD, exp => now() + 600, iat => now(), %claims);
    return encode_jwt(payload => JSON::PP->new->canonical->ascii->encode(\%all), key => $key->{pk},
        alg => $key->{alg}, extra_headers => { kid => $key->{kid} });
}
sub desc {
    my ($r) = @_;
    my ($d) = (M2MTest::challenge($r, 'Bearer') // '') =~ /error_description="([^"]*)"/;
    return $d // '';
}

# ---------------------------------------------------------------- 1. nginx -t
{
    my $r = $t->nginx_t(conf($echo));
    is($r->{rc}, 0, '1: nginx -t passes with the crashing EC key in jwks_file') or diag $r->{out};
    unlike($r->{out}, qr/signal|Assertion|abort/i, '1: nginx -t did not abort');
    like($r->{out}, qr/\[warn\] .*auth_m2m_issuer "file": "jwks_file" ".*crash\.json": key ignored: kid "bad": EC "x" is not base64url/,
        '1: the key is skipped with a warning');
}

$t->config(conf($echo));
$t->start;

{
    is($t->get('/file/x', token => tok('file', $good))->{status}, 200, '1: jwks_file: the good key beside it works');
    my $r = $t->get('/file/x', token => tok('file', $bad));
    is($r->{status} . ' ' . desc($r), '401 unknown_kid', '1: jwks_file: the skipped key is unknown');
    my $s = $t->wait_issuer('remote', sub { $_[0]{generation} >= 1 || $_[0]{last_error} }, 10) // {};
    is($s->{generation}, 1, '1: jwks_uri: the set with the crashing key was stored');
    is_deeply($s->{keys}, [{ kid => 'good', alg => 'ES256' }], '1: jwks_uri: only the good key');
    is($t->get('/remote/x', token => tok('remote', $good))->{status}, 200, '1: jwks_uri: good token accepted');
    ok($t->wait_log('error.log', qr/auth_m2m_issuer "remote": key from ".*\/crash" ignored: kid "bad": EC "x" is not base64url/),
        '1: jwks_uri: the key is skipped with a warning');
    my @dead = $t->grep_log(qr/exited on signal|Assertion/);
    ok(!@dead, '1: no worker died') or diag join "\n", @dead;
}

# ---------------------------------------------------------------- 2. kid-less tokens
{
    is($t->get('/tworsa/x', token => tok('tworsa', $rsa1))->{status}, 200, '2: with its kid the token verifies');
    my $r = $t->get('/tworsa/x', token => tok('tworsa', $rsa1, kid => undef));
    is($r->{status} . ' ' . desc($r), '401 unknown_kid', '2: without a kid and two fitting keys: unknown_kid');
    $r = $t->get('/file/x', token => tok('file', $good, kid => undef));
    is($r->{status}, 200, '2: without a kid and exactly one fitting key: verified');
}

# ---------------------------------------------------------------- 4. line breakers in claims
{
    my %cases = (del => "a\x7fb", nel => "a\x{85}b", ls => "a\x{2028}b", ps => "a\x{2029}b");
    my %want = (del => '"a\u007fb"', nel => '"a\u0085b"', ls => '"a\u2028b"', ps => '"a\u2029b"');
    for my $name (sort keys %cases) {
        my $r = $t->get("/echo/$name", token => tok_ascii($good,
            note => $cases{$name}, client_id => "id$cases{$name}", azp => 'clean'));
        is($r->{status}, 200, "4 $name: accepted");
        my $got = M2MTest::parse_echo($r->{content})->{'x-note'} // '';
        is($got, $want{$name}, "4 $name: upstream header carries the escaped JSON $want{$name}");
    }
    my @lines;
    $t->poll(5, sub { @lines = $t->log_lines('claims.log'); @lines >= 4 });
    is(scalar @lines, 4, '4: four lines in the escape=none access log');
    my @raw = grep { /\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]/ } @lines;
    ok(!@raw, '4: no raw DEL, C1 or U+2028/2029 in the log') or diag explain \@lines;
    is(scalar(grep { /\|clean$/ } @lines), 4, '4: such a client_id is skipped for the next claim (azp)');
}

# ---------------------------------------------------------------- 5. config words
{
    my $cooldown = <<'EOF';
    auth_m2m_issuer x {
        issuer https://x.example.test/;
        jwks_uri https://127.0.0.1:1/jwks;
        audience https://api.example.test;
        kid_refetch_cooldown 0s;
    }
EOF
    my $r = $t->nginx_t($cooldown);
    isnt($r->{rc}, 0, '5: kid_refetch_cooldown 0s refused');
    like($r->{out}, qr/\[emerg\] \d+#\d+: auth_m2m_issuer "x": "kid_refetch_cooldown" must be at least 1s/,
        '5: with the reason') or diag $r->{out};
    (my $one = $cooldown) =~ s/ 0s;/ 1s;/;
    is($t->nginx_t($one)->{rc}, 0, '5: kid_refetch_cooldown 1s accepted');

    my $same = <<'EOF';
    auth_m2m_issuer a1 { issuer https://same.example.test/; jwks_file %%DIR%%/two-rsa.json; audience https://one; }
    auth_m2m_issuer a2 { issuer https://same.example.test/; jwks_file %%DIR%%/two-rsa.json; audience https://two; }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /one/ { auth_m2m a1; }
        location /two/ { auth_m2m a2; }
        %%BOTH%%
    }
EOF
    (my $apart = $same) =~ s/%%BOTH%%//;
    $r = $t->nginx_t($apart);
    is($r->{rc}, 0, '5: the same "issuer" in two blocks used by different locations is fine') or diag $r->{out};
    (my $both = $same) =~ s/%%BOTH%%/location \/both\/ { auth_m2m a1 a2; }/;
    $r = $t->nginx_t($both);
    isnt($r->{rc}, 0, '5: one auth_m2m listing two blocks with the same "issuer" is refused');
    like($r->{out}, qr/\[emerg\] \d+#\d+: auth_m2m lists auth_m2m_issuer "a1" and "a2", which have the same "issuer" "https:\/\/same\.example\.test\/"/,
        '5: naming both blocks') or diag $r->{out};

    my $http = <<'EOF';
    auth_m2m_issuer plain { issuer https://p.example.test/; jwks_uri http://127.0.0.1:1/jwks?k=SECRET1; audience https://a; }
    auth_m2m_issuer disc { issuer https://d.example.test/; discovery http://127.0.0.1:1/.well-known/openid-configuration; audience https://a; }
    auth_m2m_issuer tls { issuer https://t.example.test/; jwks_uri https://127.0.0.1:1/jwks; audience https://a; }
EOF
    $r = $t->nginx_t($http);
    is($r->{rc}, 0, '5: plain http key sources are accepted') or diag $r->{out};
    like($r->{out}, qr/\[warn\] \d+#\d+: auth_m2m_issuer "plain": keys come over plain http from "http:\/\/127\.0\.0\.1:1\/jwks": anyone on the network path can supply keys/,
        '5: with a warning for jwks_uri, its query left out');
    like($r->{out}, qr/\[warn\] \d+#\d+: auth_m2m_issuer "disc": keys come over plain http/, '5: and for discovery');
    unlike($r->{out}, qr/auth_m2m_issuer "tls": keys come over plain http/, '5: none for https');
    unlike($r->{out}, qr/SECRET1/, '5: the query is not shown');

    my $line = $t->wait_log('error.log', qr/auth_m2m_issuer "query": key refresh from /, 10);
    like($line // '', qr/key refresh from "http:\/\/127\.0\.0\.1:\d+\/q" failed: http_status_500/,
        '5: a failed refresh is logged without the query');
    my $s = $t->issuer_status('query') // {};
    is($s->{location}, $srv->url('/q'), '5: status page location without the query');
    my $page = $t->get('/status')->{content} // '';
    unlike($page, qr/SECRET-IN-QUERY/, '5: the query is nowhere on the status page');
    my @leak = $t->grep_log(qr/SECRET-IN-QUERY/);
    ok(!@leak, '5: nor in error.log') or diag join "\n", @leak;
    is($srv->last_request('/q?api_key=SECRET-IN-QUERY') ? 1 : 0, 1, '5: though the key server got the query');
}

# ---------------------------------------------------------------- 6. log level
{
    my $expired = tok('file', $good, claims => { exp => now() - 100 });
    $t->get('/file/x', token => $expired);
    $t->get('/notice/x', token => $expired);
    my @lines;
    $t->poll(5, sub { @lines = $t->grep_log(qr/auth_m2m: access refused: expired/); @lines >= 2 });
    is(scalar @lines, 2, '6: two refusals logged');
    like($lines[0] // '', qr/\[info\] .*access refused: expired.*request: "GET \/file\/x/, '6: info by default');
    like($lines[1] // '', qr/\[notice\] .*access refused: expired.*request: "GET \/notice\/x/,
        '6: notice under auth_m2m_log_level notice');
    my $r = $t->nginx_t("server { listen 127.0.0.1:%%PORT%%; auth_m2m_log_level debug; }");
    like($r->{out}, qr/\[emerg\] \d+#\d+: invalid value "debug"/, '6: an unknown level is refused');
}

# ---------------------------------------------------------------- 3. key URL changes
# Its own nginx with the smallest zone nginx allows (8 pages): one issuer's
# entry takes a page, so before the fix every URL change leaked one and the
# third reload on failed.
{
    my $tr = M2MTest->new(workers => 1);
    my $conf_r = sub {
        my ($route) = @_;
        my $url = $srv->url("/$route");
        return <<"EOF";
    auth_m2m_zone m2m:32k;
    auth_m2m_issuer rot {
        issuer https://rot.example.test/;
        jwks_uri $url;
        audience $AUD;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /rot/ { auth_m2m rot; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
    };
    $tr->config($conf_r->('a'));
    $tr->start;
    ok($tr->wait_issuer('rot', sub { $_[0]{generation} >= 1 }, 10), '3: keys from /a loaded');
    my %tokr = map { $_ => $tr->mint(key => $ka{$_},
        claims => { iss => 'https://rot.example.test/', aud => $AUD, client_id => 'svc' }) } qw(a b);
    my $cur = 'a';
    my ($reloads, $failed) = (0, '');
    for my $round (1 .. 100) {
        my $next = $cur eq 'a' ? 'b' : 'a';
        $tr->config($conf_r->($next));
        my $ok = $tr->reload(until => sub { $tr->get('/rot/x', token => $tokr{$next})->{status} == 200 });
        if (!$ok) {
            $failed = "reload $round to /$next";
            last;
        }
        $reloads++;
        $cur = $next;
    }
    is($failed, '', '3: every reload took effect and the new key URL\'s token was accepted');
    is($reloads, 100, '3: 100 reloads alternating the key URL in a 32k zone');
    my @full = $tr->grep_log(qr/too small|no memory|zone_full/);
    ok(!@full, '3: the zone never filled') or diag join "\n", @full[0 .. ($#full > 4 ? 4 : $#full)];
    my $r = $tr->get('/rot/x', token => $tokr{ $cur eq 'a' ? 'b' : 'a' });
    is($r->{status} . ' ' . desc($r), '401 unknown_kid', '3: the other URL\'s key is not used');
    is_deeply(($tr->issuer_status('rot') // {})->{keys}, [{ kid => "kid-$cur", alg => 'ES256' }],
        '3: status lists only the current URL\'s key');
    $tr->no_alerts_ok;
}

cmp_ok(time - $T0, '<', 90, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$srv->stop;
done_testing;
