# Certificate-bound tokens (RFC 8705 §3): a token whose cnf has x5t#S256 is
# accepted only from a caller whose TLS client certificate has that SHA-256
# thumbprint; auth_m2m_certificate_bound on refuses tokens without one. The
# certificate comes from the connection (ssl_verify_client optional_no_ca,
# and on with a CA) or, behind a TLS-terminating proxy, from
# auth_m2m_client_certificate (a header set by a front nginx from
# $ssl_client_escaped_cert, and the header written here by hand).
# Certificates are made with `openssl`, thumbprints computed by `openssl
# dgst`, tokens minted by Crypt::JWT.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(time);
use M2MTest;
use ClientCerts;

BEGIN {
    plan skip_all => 'IO::Socket::SSL not installed (Debian: libio-socket-ssl-perl)'
        unless eval { require IO::Socket::SSL; 1 };
}

my $T0 = time;
my $ISS = 'https://idp.example.test/';
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my $cc = ClientCerts->new($t->path('certs'));
my $ca = $cc->self_signed('ca', ca => 1);
my %c = (
    a    => $cc->client('client-a', $ca),
    b    => $cc->client('client-b', $ca),
    self => $cc->self_signed('self'),
);
my $server = $cc->self_signed('localhost');
my %x5t = map { $_ => ClientCerts::x5t($c{$_}) } keys %c;
isnt($x5t{a}, $x5t{b}, 'two client certificates, two thumbprints');
like($x5t{a}, qr/^[A-Za-z0-9_-]{43}$/, 'a thumbprint is 43 base64url characters');
*escaped_pem = \&ClientCerts::escaped_pem;

my $key = $t->ec_key('k1');
$t->write_jwks('jwks.json', $key);

my $tls = <<"EOF";
        ssl_certificate $server->{cert};
        ssl_certificate_key $server->{key};
EOF
my $locations = <<'EOF';
        location /api/   { auth_m2m main; try_files /ok.txt =404; }
        location /bound/ { auth_m2m main; auth_m2m_certificate_bound on; try_files /ok.txt =404; }
EOF

$t->config(<<"EOF");
    auth_m2m_issuer main {
        issuer $ISS;
        jwks_file %%DIR%%/jwks.json;
        audience $AUD;
    }
    log_format cnf '\$request_uri \$status "\$m2m_error" "\$m2m_cnf_x5t"';
    access_log %%DIR%%/cnf.log cnf;
    root %%DIR%%/html;

    # the connection's certificate, any issuer (self-signed clients)
    server {
        listen 127.0.0.1:%%PORT_tls%% ssl;
$tls
        ssl_verify_client optional_no_ca;
$locations
        location /fwd/   { auth_m2m main; auth_m2m_client_certificate \$http_x_client_cert;
                           try_files /ok.txt =404; }
    }

    # the connection's certificate, verified against the CA
    server {
        listen 127.0.0.1:%%PORT_ca%% ssl;
$tls
        ssl_verify_client on;
        ssl_client_certificate $ca->{cert};
$locations
    }

    # plain HTTP behind a TLS-terminating proxy
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_m2m_client_certificate \$http_x_client_cert;
$locations
    }

    # that proxy: nginx forwarding its client's certificate
    server {
        listen 127.0.0.1:%%PORT_proxy%% ssl;
$tls
        ssl_verify_client optional_no_ca;
        access_log off;    # its requests are logged where they are judged
        location / {
            proxy_set_header X-Client-Cert \$ssl_client_escaped_cert;
            proxy_pass http://127.0.0.1:%%PORT%%;
        }
    }

    # no TLS and no auth_m2m_client_certificate: no certificate at all
    server {
        listen 127.0.0.1:%%PORT_bare%%;
$locations
    }
EOF
$t->start;

my $n = 0;

# GET over TLS (port name) or plain HTTP; opt: cert (a client certificate),
# token, headers. Each request is /<prefix>/case-N so that its access log
# line can be found; returns the response plus {log => that line}.
sub req {
    my ($port, $prefix, %opt) = @_;
    my $scheme = $port =~ /^(?:tls|ca|proxy)$/ ? 'https' : 'http';
    my %h = %{ $opt{headers} // {} };
    $h{Authorization} = "Bearer $opt{token}" if defined $opt{token};
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10, ClientCerts::http_options($opt{cert}));
    my $uri = "/$prefix/case-" . ++$n;
    my $r = $http->get("$scheme://127.0.0.1:" . $t->port($port) . $uri, { headers => \%h });
    $r->{log} = $t->wait_log('cnf.log', qr/^\Q$uri\E /) // '';
    return $r;
}

sub tok {
    my (%cnf) = @_;
    return $t->mint(key => $key, claims => { iss => $ISS, aud => $AUD, client_id => 'svc',
        %cnf ? (cnf => \%cnf) : () });
}
my %tok = map { $_ => tok('x5t#S256' => $x5t{$_}) } keys %x5t;
my $unbound = tok();

# 200, and the access log's $m2m_cnf_x5t is the token's
sub accepted {
    my ($r, $x5t, $what) = @_;
    is($r->{status}, 200, "$what: 200") or diag explain $r;
    like($r->{log}, qr/ 200 "-" "\Q$x5t\E"$/, "$what: \$m2m_cnf_x5t logged") if defined $x5t;
}

# 401 invalid_token with $m2m_error = $code
sub refused {
    my ($r, $code, $what) = @_;
    is($r->{status}, 401, "$what: 401") or diag explain $r;
    is(M2MTest::challenge($r, 'Bearer') // '',
        qq{Bearer realm="api", error="invalid_token", error_description="$code"},
        "$what: WWW-Authenticate invalid_token, $code");
    like($r->{log}, qr/ 401 "\Q$code\E" "-"$/, "$what: \$m2m_error=$code, no \$m2m_cnf_x5t");
}

# ------------------------------------------------------------ the connection's certificate
accepted(req('tls', 'api', cert => $c{a}, token => $tok{a}), $x5t{a}, 'bound to A, shown A');
accepted(req('tls', 'api', cert => $c{self}, token => $tok{self}), $x5t{self},
    'bound to a self-signed certificate, shown it (optional_no_ca)');
refused(req('tls', 'api', cert => $c{b}, token => $tok{a}), 'certificate_mismatch',
    'bound to A, shown B (the second certificate)');
refused(req('tls', 'api', cert => $c{self}, token => $tok{a}), 'certificate_mismatch',
    'bound to A, shown a self-signed one');
refused(req('tls', 'api', token => $tok{a}), 'certificate_mismatch', 'bound to A, no certificate');
refused(req('bare', 'api', token => $tok{a}), 'certificate_mismatch', 'bound to A, no TLS at all');

# a token whose cnf is not what RFC 8705 says is no token
refused(req('tls', 'api', cert => $c{a}, token => tok('x5t#S256' => substr($x5t{a}, 0, 42))),
    'malformed_claim', 'x5t#S256 of 42 characters');

# ------------------------------------------------------------ auth_m2m_certificate_bound
{
    my $r = req('tls', 'api', cert => $c{a}, token => $unbound);
    is($r->{status}, 200, 'unbound token, certificate_bound off: 200');
    like($r->{log}, qr/ 200 "-" "-"$/, 'unbound token: $m2m_cnf_x5t empty');
}
refused(req('tls', 'bound', cert => $c{a}, token => $unbound), 'unbound_token',
    'unbound token, certificate_bound on');
refused(req('bare', 'bound', token => $unbound), 'unbound_token', 'unbound token, certificate_bound on, no TLS');
accepted(req('tls', 'bound', cert => $c{a}, token => $tok{a}), $x5t{a}, 'certificate_bound on, bound to A, shown A');
refused(req('tls', 'bound', cert => $c{b}, token => $tok{a}), 'certificate_mismatch',
    'certificate_bound on, bound to A, shown B');

# ------------------------------------------------------------ ssl_verify_client on
accepted(req('ca', 'api', cert => $c{a}, token => $tok{a}), $x5t{a}, 'verified by the CA: bound to A, shown A');
refused(req('ca', 'api', cert => $c{b}, token => $tok{a}), 'certificate_mismatch',
    'verified by the CA: bound to A, shown B');
{
    # nginx itself refuses these before any access check
    my $r = req('ca', 'api', cert => $c{self}, token => $tok{self});
    is($r->{status}, 400, 'verified by the CA: a self-signed certificate is nginx\'s 400');
    is(req('ca', 'api', token => $tok{a})->{status}, 400, 'verified by the CA: no certificate is nginx\'s 400');
}

# ------------------------------------------------------------ behind a proxy: a real one
accepted(req('proxy', 'api', cert => $c{a}, token => $tok{a}), $x5t{a},
    'through the proxy ($ssl_client_escaped_cert): bound to A, shown A');
accepted(req('proxy', 'bound', cert => $c{self}, token => $tok{self}), $x5t{self},
    'through the proxy: self-signed, certificate_bound on');
refused(req('proxy', 'api', cert => $c{b}, token => $tok{a}), 'certificate_mismatch',
    'through the proxy: bound to A, shown B');
refused(req('proxy', 'api', token => $tok{a}), 'certificate_mismatch', 'through the proxy: no certificate');
# the proxy replaces the header (even with nothing): a client cannot forge it
refused(req('proxy', 'api', token => $tok{a}, headers => { 'X-Client-Cert' => escaped_pem($c{a}) }),
    'certificate_mismatch', 'through the proxy: no certificate, A\'s in a forged header');
refused(req('proxy', 'api', cert => $c{b}, token => $tok{a}, headers => { 'X-Client-Cert' => escaped_pem($c{a}) }),
    'certificate_mismatch', 'through the proxy: B, A\'s in a forged header');

# ------------------------------------------------------------ the header written by hand
my $hdr = sub { return { 'X-Client-Cert' => $_[0] } };
accepted(req('main', 'api', headers => $hdr->(escaped_pem($c{a})), token => $tok{a}), $x5t{a},
    'X-Client-Cert: URL-escaped PEM of A, bound to A');
refused(req('main', 'api', headers => $hdr->(escaped_pem($c{b})), token => $tok{a}), 'certificate_mismatch',
    'X-Client-Cert: B, bound to A');
{
    my $pem = ClientCerts::pem($c{a});
    (my $one_line = $pem) =~ s/\n/ /g;
    accepted(req('main', 'api', headers => $hdr->($one_line), token => $tok{a}), $x5t{a},
        'X-Client-Cert: unescaped PEM, lines joined by spaces');
}

# the variable replaces the connection's certificate, which is not looked at
refused(req('tls', 'fwd', cert => $c{a}, headers => $hdr->(escaped_pem($c{b})), token => $tok{a}),
    'certificate_mismatch', 'over TLS with A, X-Client-Cert B: the variable wins');
accepted(req('tls', 'fwd', cert => $c{b}, headers => $hdr->(escaped_pem($c{a})), token => $tok{a}), $x5t{a},
    'over TLS with B, X-Client-Cert A: the variable wins');

# malformed values: refused, the reason logged, never the certificate
{
    my $chain = escaped_pem($c{a}) . escaped_pem($c{b});
    my $body = (split /\n/, ClientCerts::pem($c{a}))[1];
    my %bad = (
        garbage   => ['garbage', 'not one PEM "CERTIFICATE" block'],
        escape    => [substr(escaped_pem($c{a}), 0, -2), 'a bad %-escape'],
        chain     => [$chain, 'more than one PEM block'],
        base64    => [escaped_pem($c{a}) =~ s/MII/M!I/r, 'bad base64 in the PEM body'],
        notx509   => ['-----BEGIN%20CERTIFICATE-----%0AaGVsbG8%3D%0A-----END%20CERTIFICATE-----',
                      'not an X.509 certificate'],
    );
    for my $k (sort keys %bad) {
        my ($value, $why) = @{ $bad{$k} };
        refused(req('main', 'api', headers => $hdr->($value), token => $tok{a}), 'certificate_mismatch',
            "X-Client-Cert $k");
        my $len = length $value;
        ok($t->wait_log('error.log', qr/\[info\] .*auth_m2m: auth_m2m_client_certificate value of \Q$len\E bytes refused: \Q$why\E/),
            "X-Client-Cert $k: logged at info: $why");
    }
    is(scalar($t->grep_log(qr/\Q$body\E|MII/)), 0, 'no certificate text in error.log');
}

# an unbound token never reads the header: no refusal logged for its garbage
{
    my $before = () = $t->grep_log(qr/auth_m2m_client_certificate value/);
    is(req('main', 'api', headers => $hdr->('garbage'), token => $unbound)->{status}, 200,
        'unbound token with a garbage X-Client-Cert: 200');
    my $after = () = $t->grep_log(qr/auth_m2m_client_certificate value/);
    is($after, $before, 'unbound token: the certificate was not parsed');
}

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
done_testing;
