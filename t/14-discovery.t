# `discovery URL`: the metadata document's "issuer" must equal the issuer's
# `issuer` exactly; its "jwks_uri" is then fetched (and shown on the status
# page). A mismatch is refused (discovery_issuer_mismatch): the jwks_uri it
# names is never fetched and requests get 503 on a cold start.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use M2MTest qw(now json_text);
use JwksServer;

my $T0 = time;
my $AUD = 'https://api.example.test';
my $WK = '/.well-known/openid-configuration';

my $t = M2MTest->new;
my %key = map { $_ => $t->ec_key("$_-1") } qw(disc bad slash split);
my $new = $t->ec_key('disc-2');
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => 'ES256') } @_ ] }) };

my $srv = JwksServer->new;
my $base = 'http://127.0.0.1:' . $srv->port;
$srv->set_routes(
    "/disc$WK"  => { json => { issuer => 'https://disc.example.test/', jwks_uri => "$base/disc/jwks",
                               token_endpoint => 'https://disc.example.test/token' } },
    '/disc/jwks' => { body => $jwks->($key{disc}) },
    "/bad$WK"   => { json => { issuer => 'https://evil.example.test/', jwks_uri => "$base/bad/jwks" } },
    '/bad/jwks'  => { body => $jwks->($key{bad}) },
    # the same issuer without its trailing slash: not equal
    "/slash$WK" => { json => { issuer => 'https://slash.example.test', jwks_uri => "$base/slash/jwks" } },
    '/slash/jwks' => { body => $jwks->($key{slash}) },
    # each stage well within fetch_timeout 1s, the two together not
    "/split$WK" => { json => { issuer => 'https://split.example.test/', jwks_uri => "$base/split/jwks" }, delay => 0.6 },
    '/split/jwks' => { body => $jwks->($key{split}), delay => 0.6 },
);

my $conf = '';
for my $n (qw(disc bad slash split)) {
    my $extra = $n eq 'split' ? 'fetch_timeout 1s;' : '';
    $conf .= <<"EOF";
    auth_m2m_issuer $n {
        issuer https://$n.example.test/;
        discovery $base/$n$WK;
        audience $AUD;
        $extra
    }
EOF
}
$conf .= <<'EOF';
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /disc/  { auth_m2m disc;  try_files /ok.txt =404; }
        location /bad/   { auth_m2m bad;   try_files /ok.txt =404; }
        location /slash/ { auth_m2m slash; try_files /ok.txt =404; }
        location /split/ { auth_m2m split; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
$t->config($conf);
$t->start;

sub tok {
    my ($key, $n) = @_;
    return $t->mint(key => $key, claims => { iss => "https://$n.example.test/", aud => $AUD, client_id => 'svc' });
}

# ------------------------------------------------------------ matching issuer
{
    my $s = $t->wait_issuer('disc', sub { $_[0]{generation} >= 1 }, 10);
    ok($s, 'disc: keys loaded through discovery') or diag explain $t->issuer_status('disc');
    $s //= {};
    is($s->{source}, 'discovery', 'disc: status source discovery');
    is($s->{location}, "$base/disc$WK", 'disc: status location is the discovery URL');
    is($s->{jwks_uri}, "$base/disc/jwks", 'disc: status jwks_uri is the discovered one');
    is_deeply($s->{keys}, [{ kid => 'disc-1', alg => 'ES256' }], 'disc: key listed');
    is($srv->count("/disc$WK"), 1, 'disc: discovery document fetched once');
    is($srv->count('/disc/jwks'), 1, 'disc: jwks_uri from it fetched once');
    my @order = map { $_->{path} } grep { $_->{path} =~ m{^/disc} } $srv->requests;
    is($order[0], "/disc$WK", 'disc: discovery first, then the JWK Set');
    is($t->get('/disc/x', token => tok($key{disc}, 'disc'))->{status}, 200, 'disc: token accepted');

    # the discovery document now names another jwks_uri, with a new key: an
    # unknown kid refetches both, and the new document is followed
    $srv->set_routes(
        "/disc$WK" => { json => { issuer => 'https://disc.example.test/', jwks_uri => "$base/disc/jwks2" } },
        '/disc/jwks2' => { body => $jwks->($new) },
    );
    my $r = $t->get('/disc/x', token => tok($new, 'disc'));
    is($r->{status}, 200, 'disc: key from the newly discovered jwks_uri accepted after the kid refetch')
        or diag explain [$r->{headers}, $t->grep_log(qr/auth_m2m_issuer "disc"/)];
    is($srv->count("/disc$WK"), 2, 'disc: discovery document refetched');
    is($srv->count('/disc/jwks2'), 1, 'disc: the new jwks_uri fetched');
    is($srv->count('/disc/jwks'), 1, 'disc: the old jwks_uri not fetched again');
    $s = $t->issuer_status('disc') // {};
    is($s->{jwks_uri}, "$base/disc/jwks2", 'disc: status shows the new jwks_uri');
    is_deeply($s->{keys}, [{ kid => 'disc-2', alg => 'ES256' }], 'disc: the key set is the new one');
}

# ------------------------------------------------------------ mismatched issuer
for my $n (qw(bad slash)) {
    my $line = $t->wait_log('error.log', qr/auth_m2m_issuer "$n": key refresh from /, 10);
    like($line // '', qr/\[error\] .*auth_m2m_issuer "$n": key refresh from "\Q$base\/$n$WK\E" failed: discovery_issuer_mismatch; keeping 0 keys/,
        "$n: discovery_issuer_mismatch logged at error, naming the discovery URL");
    my $r = $t->get("/$n/x", token => tok($key{$n}, $n));
    is($r->{status}, 503, "$n: request on a cold start answered 503");
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, "$n: Retry-After");
    my $s = $t->issuer_status($n) // {};
    is($s->{last_error}, 'discovery_issuer_mismatch', "$n: status last_error");
    is($s->{jwks_uri}, undef, "$n: status jwks_uri null (nothing discovered)");
    is($s->{generation}, 0, "$n: generation 0");
    cmp_ok($srv->count("/$n$WK"), '>=', 1, "$n: discovery document was fetched");
    is($srv->count("/$n/jwks"), 0, "$n: the jwks_uri it names was never fetched");
}

# ------------------------------------------------------------ fetch_timeout bounds both stages
{
    my $line = $t->wait_log('error.log', qr/auth_m2m_issuer "split": key refresh from /, 5);
    like($line // '', qr/\[error\] .*auth_m2m_issuer "split": key refresh from "[^"]+" failed: timeout;/,
        'split: discovery 0.6 s + JWK Set 0.6 s > fetch_timeout 1s: timeout');
    my ($d) = $srv->requests("/split$WK");
    my ($j) = $srv->requests('/split/jwks');
    ok($d && $j, 'split: both stages were started');
    my $s = $t->issuer_status('split') // {};
    is($s->{generation}, 0, 'split: no keys from the timed-out refresh');
    is($s->{last_error}, 'timeout', 'split: last_error timeout');
}

# Stop with no fetch on the wire (a worker exiting mid-fetch is tested in
# t/15-reload.t): "split" now fails fast; its last attempt has ended once
# last_error_time catches up with last_attempt.
$srv->set_route("/split$WK", { status => 500 });
ok($t->wait_issuer('split', sub { ($_[0]{last_error_time} // 0) >= ($_[0]{last_attempt} // 0) }, 5),
    'split: no fetch in flight before stopping');

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$srv->stop;
done_testing;
