# The checks that need no key come before the signature (issue 8): an
# expired token, forged or not, is refused as expired without a key lookup,
# so its unknown kid never makes a worker fetch keys, an issuer that has no
# keys yet refuses it at once instead of answering 503, and its claims are
# never trusted (no client_id in the log). A token that passes them still
# meets the key and the signature.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use M2MTest qw(now json_text);
use JwksServer;

my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my %k = map { $_ => $t->ec_key($_) } qw(k1 other);
my $jwks = json_text({ keys => [ $t->jwk($k{k1}, alg => 'ES256') ] });

my $srv = JwksServer->new(routes => {
    '/keys' => { body => $jwks },
    '/slow' => { body => $jwks, delay => 3 },
});
my $base = 'http://127.0.0.1:' . $srv->port;

(my $conf = <<'EOF') =~ s/%%SRV%%/$base/g;
    auth_m2m_issuer main {
        issuer https://main.example.test/;
        jwks_uri %%SRV%%/keys;
        audience https://api.example.test;
        leeway 0;
        kid_refetch_cooldown 1s;
    }
    auth_m2m_issuer cold {
        issuer https://cold.example.test/;
        jwks_uri %%SRV%%/slow;
        audience https://api.example.test;
        fetch_timeout 10s;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /main/ { auth_m2m main; try_files /ok.txt =404; }
        location /cold/ { auth_m2m cold; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
$t->config($conf);
$t->start;

sub tok {
    my ($iss, $key, %opt) = @_;
    my $claims = { iss => "https://$iss.example.test/", aud => $AUD, client_id => "svc-$iss",
                   exp => now() + 300, %{ delete $opt{claims} // {} } };
    return $t->mint(key => $k{$key}, %opt, claims => $claims);
}
sub req { return $t->get("/$_[0]/x", token => $_[1]) }
sub desc { return ((M2MTest::challenge($_[0], 'Bearer') // '') =~ /error_description="([^"]*)"/)[0] // '' }

# The cold issuer's first fetch takes 3 s: a token meets it while it has no keys.
{
    my $t1 = time;
    my $r = req('cold', tok('cold', 'k1', claims => { exp => now() - 3600 }));
    my $took = time - $t1;
    is($r->{status}, 401, 'cold issuer, expired token: 401, not 503');
    is(desc($r), 'expired', 'cold issuer, expired token: expired');
    cmp_ok($took, '<', 1.5, sprintf('cold issuer, expired token: answered without waiting for keys (%.2f s)', $took));
    ok(!exists $r->{headers}{'retry-after'}, 'cold issuer, expired token: no Retry-After');
}

ok($t->wait_issuer('main', sub { $_[0]{generation} >= 1 }, 10), 'main: first keys loaded');

# An expired token with an unknown kid: refused as expired, no fetch.
{
    my $before = $srv->count('/keys');
    my @r = map { req('main', tok('main', 'k1', kid => "unknown-$_", claims => { exp => now() - 60 })) } 1 .. 5;
    is(join(',', map { $_->{status} . ' ' . desc($_) } @r), join(',', ('401 expired') x 5),
        'expired tokens with unknown kids: 401 expired');
    is($srv->count('/keys'), $before, 'expired tokens with unknown kids: no key fetch');
    is(($t->issuer_status('main') // {})->{fetches}{kid_triggered}, 0, 'main: fetches.kid_triggered 0');

    # the same kid on a token that is not expired does trigger the fetch,
    # so the one above was spared by the order, not by a cooldown
    my $r = req('main', tok('main', 'k1', kid => 'unknown-6'));
    is(desc($r), 'unknown_kid', 'a valid token with an unknown kid: unknown_kid');
    is($srv->count('/keys'), $before + 1, 'a valid token with an unknown kid: one fetch');
}

# A forged expired token (signed by a key the issuer never published, with the
# published kid): expired, and nothing of its claims is logged.
{
    my $r = req('main', tok('main', 'other', kid => 'k1', claims => { exp => now() - 60, client_id => 'forger' }));
    is($r->{status}, 401, 'forged expired token: 401');
    is(desc($r), 'expired', 'forged expired token: expired');
    # not expired, the same forgery meets the signature check
    $r = req('main', tok('main', 'other', kid => 'k1', claims => { client_id => 'forger' }));
    is(desc($r), 'bad_signature', 'forged live token: bad_signature');
    is(req('main', tok('main', 'k1'))->{status}, 200, 'a genuine token: 200');
    ok($t->wait_log('error.log', qr/access refused: bad_signature/), 'refusals logged');
    my @lines = grep { /access refused: expired/ } $t->log_lines('error.log');
    cmp_ok(scalar @lines, '>=', 7, 'every expired refusal logged');
    is(scalar(grep { /client_id/ } @lines), 0, 'no client_id on a token refused before its signature');
}

$t->stop;
$srv->stop;
done_testing;
