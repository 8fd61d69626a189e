# A bound token's claims are not the caller's to use before the access phase
# either: a variable read earlier (a limit_req key in preaccess, `set` in the
# rewrite phase) must see the binding's verdict, not only the token's times.
# Otherwise a stolen DPoP- or certificate-bound token, presented without its
# key, still spends its owner's limit_req budget and steers claim-based
# rewrites. Tokens and proofs by PyJWT (t/lib/dpop.py).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IPC::Open2 qw(open2);
use JSON::PP;
use M2MTest;

my $ISS = 'https://idp.example.test/';
my $AUD = 'https://api.example.test';

my $pid = open2(my $py_out, my $py_in, '/usr/bin/python3', "$FindBin::Bin/lib/dpop.py")
    or BAIL_OUT('cannot start t/lib/dpop.py');
END { close $py_in if $py_in; waitpid($pid, 0) if $pid }
my $json = JSON::PP->new->canonical;
sub py {
    my (%cmd) = @_;
    print $py_in $json->encode(\%cmd), "\n";
    my $line = <$py_out> // BAIL_OUT('dpop.py died');
    my $answer = $json->decode($line);
    BAIL_OUT("dpop.py $cmd{op}: $answer->{error}") if $answer->{error};
    return $answer;
}

my $t = M2MTest->new(workers => 1);
my $dir = $t->dir;

py(op => 'key', name => 'issuer', kind => 'ec');
py(op => 'key', name => 'client_ec', kind => 'ec');
py(op => 'jwks', names => ['issuer'], path => "$dir/jwks.json");

my $DPOP_BOUND = py(op => 'token', key => 'issuer', bind => 'client_ec',
    claims => { iss => $ISS, aud => $AUD, client_id => 'victim' })->{token};
# bound to a certificate this test never shows
my $CERT_BOUND = py(op => 'token', key => 'issuer',
    claims => { iss => $ISS, aud => $AUD, client_id => 'cert-victim', cnf => { 'x5t#S256' => 'A' x 43 } })->{token};
my $PLAIN = py(op => 'token', key => 'issuer', claims => { iss => $ISS, aud => $AUD, client_id => 'plain' })->{token};

$t->config(<<'EOF');
    log_format early '$request_uri|$status|$early|$m2m_error';
    limit_req_zone $m2m_client_id zone=per_client:1m rate=1r/m;
    auth_m2m_issuer main {
        issuer https://idp.example.test/;
        jwks_file %%DIR%%/jwks.json;
        audience https://api.example.test;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        access_log %%DIR%%/early.log early;

        location /limited/ {
            auth_m2m main;
            limit_req zone=per_client;
            try_files /ok.txt =404;
        }
        # the same URI, routed by its query (which htu leaves out) to a
        # location with a longer window
        location /api/ {
            if ($arg_wide) {
                rewrite ^/api/(.*)$ /wide/$1 last;
            }
            auth_m2m main;
            try_files /ok.txt =404;
        }
        location /wide/ {
            auth_m2m main;
            auth_m2m_dpop_window 300s;
            try_files /ok.txt =404;
        }
        location /early/ {
            auth_m2m main;
            set $early $m2m_client_id;
            try_files /ok.txt =404;
        }
    }
EOF
$t->start;

my $BASE = 'http://127.0.0.1:' . $t->port;
my $n = 0;

sub req {
    my ($path, %h) = @_;
    my $id = ++$n;
    my $query = delete $h{wide} ? "wide=1&n=$id" : "n=$id";
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10);
    my $r = $http->get("$BASE$path?$query", { headers => \%h });
    $r->{n} = $id;
    return $r;
}

sub logged {
    my ($id) = @_;
    my $line = $t->wait_log('early.log', qr/[?&]n=$id\|/) // return {};
    my @f = split /\|/, $line, -1;
    return { status => $f[1], early => $f[2], error => $f[3] };
}

sub dpop_headers {
    my ($path, $token) = @_;
    my $p = py(op => 'proof', key => 'client_ec', htm => 'GET', htu => "$BASE$path", token => $token)->{proof};
    return (Authorization => "DPoP $token", DPoP => $p);
}

# ---------------------------------------------------------------- rewrite phase
{
    my $r = req('/early/x', Authorization => "Bearer $DPOP_BOUND");
    is($r->{status}, 401, 'a DPoP-bound token as Bearer: 401');
    my $l = logged($r->{n});
    is($l->{early}, '', 'set in the rewrite phase saw no client_id for a DPoP-bound token as Bearer');
    is($l->{error}, 'dpop_bound_bearer', '$m2m_error dpop_bound_bearer');

    $r = req('/early/x', Authorization => "Bearer $CERT_BOUND");
    is($r->{status}, 401, 'a certificate-bound token without the certificate: 401');
    $l = logged($r->{n});
    is($l->{early}, '', 'set in the rewrite phase saw no client_id for a certificate-bound token without it');
    is($l->{error}, 'certificate_mismatch', '$m2m_error certificate_mismatch');

    $r = req('/early/x', dpop_headers('/early/x', $DPOP_BOUND));
    is($r->{status}, 200, 'the DPoP-bound token with its proof: 200');
    $l = logged($r->{n});
    is($l->{early}, 'victim', 'set in the rewrite phase saw its client_id');
    is($l->{error}, '-', 'no $m2m_error (the proof checked early is no replay in the access phase)');

    $r = req('/early/x', Authorization => "Bearer $PLAIN");
    is($r->{status}, 200, 'an unbound token as Bearer: 200');
    is(logged($r->{n})->{early}, 'plain', 'set in the rewrite phase saw its client_id');
}

# ---------------------------------------------------------------- preaccess
{
    # the thief's requests must not spend the owner's one request a minute
    for (1 .. 3) {
        my $r = req('/limited/x', Authorization => "Bearer $DPOP_BOUND");
        is($r->{status}, 401, "stolen DPoP-bound token as Bearer ($_): 401, not counted as the owner");
    }
    my $r = req('/limited/x', dpop_headers('/limited/x', $DPOP_BOUND));
    is($r->{status}, 200, 'the owner, with its proof, still has its request');
    $r = req('/limited/x', dpop_headers('/limited/x', $DPOP_BOUND));
    is($r->{status}, 503, 'and the limit holds for the owner (the key was its client_id)');
}

# ---------------------------------------------------------------- windows
# A proof accepted where the window is 60 s must not pass again, once those
# 60 s (and the leeway) are over, where the same URI meets a 300 s window.
{
    my $t0 = time;
    my $p = py(op => 'proof', key => 'client_ec', htm => 'GET', htu => "$BASE/api/x", token => $DPOP_BOUND,
        iat => $t0 - 63)->{proof};
    my $r = req('/api/x', Authorization => "DPoP $DPOP_BOUND", DPoP => $p);
    is($r->{status}, 200, 'a proof 63 s old in the 60 s (+5 s leeway) window: 200');
    # wait until the 60 s window's own expiry (iat + 65) is behind us
    select(undef, undef, undef, 0.2) while time <= $t0 - 63 + 65;
    $r = req('/api/x', wide => 1, Authorization => "DPoP $DPOP_BOUND", DPoP => $p);
    is($r->{status}, 401, 'the same proof, after that window, through the 300 s location: refused');
    is(logged($r->{n})->{error}, 'dpop_proof_replayed', '$m2m_error dpop_proof_replayed');
}

$t->no_alerts_ok;
done_testing;
