# https key servers: a CA generated here (trusted_certificate) is trusted;
# a certificate from another CA is refused (tls_verify_failed), and so is a
# certificate of our CA for another host name (tls_host_mismatch). Refused
# issuers never get keys: their requests are answered 503 on a cold start.
# The module sends SNI (a server that picks its certificate by SNI, as CDNs
# in front of IdPs do, serves the right one only when asked by name).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use M2MTest qw(now json_text);
use JwksServer;

BEGIN {
    plan skip_all => 'IO::Socket::SSL not installed (Debian: libio-socket-ssl-perl)'
        unless eval { require IO::Socket::SSL; 1 };
}

my $T0 = time;
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my $certs = $t->path('certs');
my $ca = JwksServer::make_ca($certs, 'ca');
my $other = JwksServer::make_ca($certs, 'other');
my $cert = JwksServer::make_cert($certs, $ca, 'localhost', ['localhost']);
my $wrong = JwksServer::make_cert($certs, $ca, 'wrong.test', ['wrong.test']);
chmod 0755, $certs;

my %key = map { $_ => $t->ec_key("$_-1") } qw(good wrongca wronghost sni);
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => 'ES256') } @_ ] }) };

# one server per issuer, so that each counts its own connections
my $srv = JwksServer->new(tls => $cert, routes => { '/good' => { body => $jwks->($key{good}) } });
my $srv1 = JwksServer->new(tls => $cert, routes => { '/wrongca' => { body => $jwks->($key{wrongca}) } });
my $srv2 = JwksServer->new(tls => $wrong, routes => { '/wronghost' => { body => $jwks->($key{wronghost}) } });
# by SNI: "localhost" gets the right certificate, no SNI the one for wrong.test
# (IO::Socket::SSL takes hashes of host name => file for this)
my $srv3 = JwksServer->new(
    tls => { cert => { '' => $wrong->{cert}, localhost => $cert->{cert} },
             key  => { '' => $wrong->{key},  localhost => $cert->{key} } },
    routes => { '/sni' => { body => $jwks->($key{sni}) } });
my %url = (
    good      => $srv->url('/good', 'localhost'),
    wrongca   => $srv1->url('/wrongca', 'localhost'),
    wronghost => $srv2->url('/wronghost', 'localhost'),
    sni       => $srv3->url('/sni', 'localhost'),
);
my %ca = (good => $ca->{ca_cert}, wrongca => $other->{ca_cert}, wronghost => $ca->{ca_cert}, sni => $ca->{ca_cert});

my $conf = '';
for my $n (qw(good wrongca wronghost sni)) {
    $conf .= <<"EOF";
    auth_m2m_issuer $n {
        issuer https://$n.example.test/;
        jwks_uri $url{$n};
        trusted_certificate $ca{$n};
        audience $AUD;
        fetch_timeout 3s;
    }
EOF
}
$conf .= <<'EOF';
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /good/      { auth_m2m good;      try_files /ok.txt =404; }
        location /wrongca/   { auth_m2m wrongca;   try_files /ok.txt =404; }
        location /wronghost/ { auth_m2m wronghost; try_files /ok.txt =404; }
        location /sni/       { auth_m2m sni;       try_files /ok.txt =404; }
        location = /status  { auth_m2m_status; }
    }
EOF
$t->config($conf);
$t->start;

sub tok {
    my ($n) = @_;
    return $t->mint(key => $key{$n}, claims => { iss => "https://$n.example.test/", aud => $AUD, client_id => 'svc' });
}

# ------------------------------------------------------------ trusted CA
{
    my $s = $t->wait_issuer('good', sub { $_[0]{generation} >= 1 }, 10);
    ok($s, 'good: keys fetched over https with the test CA')
        or diag explain [$t->issuer_status('good'), $t->grep_log(qr/auth_m2m_issuer "good"/)];
    is_deeply(($s // {})->{keys}, [{ kid => 'good-1', alg => 'ES256' }], 'good: key listed');
    is(($s // {})->{location}, $url{good}, 'good: location is the https URL');
    is($t->get('/good/x', token => tok('good'))->{status}, 200, 'good: token accepted');
    my $r = $srv->last_request('/good');
    ok($r && $r->{tls}, 'good: the key server saw the request over TLS');
    is(($r // {})->{headers}{host}, 'localhost:' . $srv->port, 'good: Host header names the URL host');
    is(scalar($t->grep_log(qr/auth_m2m_issuer "good": key refresh/)), 0, 'good: no failure logged');
}

# ------------------------------------------------------------ SNI
{
    my $s = $t->wait_issuer('sni', sub { $_[0]{generation} >= 1 || $_[0]{last_error} }, 10) // {};
    is($s->{last_error}, undef, 'sni: no error (the module asked for "localhost" by SNI)')
        or diag join "\n", $t->grep_log(qr/auth_m2m_issuer "sni"/);
    is($s->{generation}, 1, 'sni: keys fetched from the SNI-selecting server');
    is($t->get('/sni/x', token => tok('sni'))->{status}, 200, 'sni: token accepted');
}

# ------------------------------------------------------------ refused certificates
for my $case (['wrongca', 'tls_verify_failed', $srv1], ['wronghost', 'tls_host_mismatch', $srv2]) {
    my ($n, $reason, $server) = @$case;
    my $line = $t->wait_log('error.log', qr/auth_m2m_issuer "\Q$n\E": key refresh from /, 10);
    like($line // '', qr/\[error\] .*auth_m2m_issuer "\Q$n\E": key refresh from "\Q$url{$n}\E" failed: \Q$reason\E; keeping 0 keys, next attempt in \d+ s$/,
        "$n: $reason logged at error");
    my @reasons = map { /failed: (\w+);/ ? $1 : '?' } $t->grep_log(qr/auth_m2m_issuer "\Q$n\E": key refresh from /);
    is(join(',', @reasons), join(',', ($reason) x @reasons), "$n: only $reason");

    my $r = $t->get("/$n/x", token => tok($n));
    is($r->{status}, 503, "$n: cold start request answered 503");
    like($r->{headers}{'retry-after'} // '', qr/^\d+$/, "$n: with Retry-After");

    my $s = $t->issuer_status($n) // {};
    is($s->{last_error}, $reason, "$n: status last_error $reason");
    is($s->{generation}, 0, "$n: no keys ever loaded");
    is_deeply($s->{keys}, [], "$n: no keys listed");
    is($server->count("/$n"), 0, "$n: no HTTP request was sent over the refused connection");
    # (with TLS 1.3 the server may finish its side of the handshake before the
    # client refuses the certificate: count connections, not tls_errors)
    ok($server->connections >= 1, "$n: but a TCP connection was made (refused at the TLS layer)");
}

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$_->stop for $srv, $srv1, $srv2, $srv3;
done_testing;
