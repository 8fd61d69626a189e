# The local issuer's certificate-bound tokens (RFC 8705 §3, issue 10): a
# client registered with tls_client_certificate_bound_access_tokens gets a
# token whose cnf.x5t#S256 is the thumbprint of the TLS client certificate
# it requested the token with, and no token without one (unauthorized_client).
# Other clients' tokens are never bound. The issued token is then accepted by
# a location of the same nginx with that certificate and refused with another.
# Thumbprints by `openssl dgst`, tokens checked by PyJWT (t/lib/local_issuer.py),
# the registry written here, and a bound client also made by m2m-clients.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Basename qw(dirname);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time);
use M2MTest qw(now b64u);
use ClientCerts;

my $PY = '/usr/bin/python3';
my $HELPER = "$FindBin::Bin/lib/local_issuer.py";
plan skip_all => "$PY with jwt and cryptography needed"
    unless system($PY, '-c', 'import jwt, cryptography') == 0;
plan skip_all => 'IO::Socket::SSL not installed (Debian: libio-socket-ssl-perl)'
    unless eval { require IO::Socket::SSL; 1 };

my $T0 = time;
my $ISS = 'https://issuer.example.test/';
my $t = M2MTest->new;
my $json = JSON::PP->new->canonical;
my $CLI = dirname($t->{module}) . '/m2m-clients';
BAIL_OUT("m2m-clients not built: $CLI (run ./build.sh)") unless -x $CLI;

system($PY, $HELPER, 'keygen', 'ec', $t->path('signing.pem')) == 0 or BAIL_OUT('keygen failed');

my $cc = ClientCerts->new($t->path('certs'));
my $ca = $cc->self_signed('ca', ca => 1);
my %c = (a => $cc->client('client-a', $ca), b => $cc->client('client-b', $ca), self => $cc->self_signed('self'));
my $server = $cc->self_signed('localhost');
my %x5t = map { $_ => ClientCerts::x5t($c{$_}) } keys %c;

# ------------------------------------------------------------ the registry, as registry.h describes it
my %client;
my @clients;
for my $spec (['bound', 1], ['plain', 0]) {
    my ($name, $bound) = @$spec;
    my ($entry, $id, $secret) = M2MTest::registry_client(name => $name,
        ($bound ? (tls_client_certificate_bound_access_tokens => JSON::PP::true) : ()));
    $client{$name} = { id => $id, secret => $secret };
    push @clients, $entry;
}
$t->write_registry('clients.json', @clients);

# a third, certificate-bound client made by m2m-clients
{
    open my $fh, '-|', $CLI, '--file', $t->path('clients.json'), 'create', '--name', 'cli-bound',
        '--scopes', 'tasks:read', '--certificate-bound', '--json' or die "$CLI: $!";
    my $out = do { local $/; <$fh> };
    close $fh;
    is($?, 0, 'm2m-clients create --certificate-bound: exit 0');
    my $made = eval { decode_json($out) } // {};
    $client{cli} = { id => $made->{client_id}, secret => $made->{client_secret} };
    my $file = decode_json($t->read_file('clients.json'));
    my ($entry) = grep { $_->{client_id} eq ($made->{client_id} // '') } @{ $file->{clients} };
    ok($entry && $entry->{tls_client_certificate_bound_access_tokens},
        'm2m-clients: tls_client_certificate_bound_access_tokens in the file');
    my $show = qx{'$CLI' --file '@{[$t->path('clients.json')]}' show $made->{client_id}};
    like($show, qr/^cert-bound: yes$/m, 'm2m-clients show: cert-bound: yes');
}

# ------------------------------------------------------------ nginx
my $tls = <<"EOF";
        ssl_certificate $server->{cert};
        ssl_certificate_key $server->{key};
        ssl_verify_client optional_no_ca;
EOF
$t->config(<<"EOF");
    auth_m2m_issuer local {
        issuer $ISS;
        signing_key %%DIR%%/signing.pem;
        clients %%DIR%%/clients.json;
        token_lifetime 10m;
        audience api://tasks;
    }
    log_format cnf '\$request_uri \$status "\$m2m_error" "\$m2m_cnf_x5t"';
    access_log %%DIR%%/cnf.log cnf;
    root %%DIR%%/html;

    server {
        listen 127.0.0.1:%%PORT_tls%% ssl;
$tls
        location = /oauth/token { auth_m2m_token_endpoint local; }
        location = /jwks { auth_m2m_jwks_endpoint local; }
        location /api/ { auth_m2m local; try_files /ok.txt =404; }
        location /bound/ { auth_m2m local; auth_m2m_certificate_bound on; try_files /ok.txt =404; }
    }

    # plain HTTP: no certificate, unless a proxy forwards one
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /oauth/token { auth_m2m_token_endpoint local; }
        location = /proxied/token {
            auth_m2m_client_certificate \$http_x_client_cert;
            auth_m2m_token_endpoint local;
        }
    }
EOF
$t->start;

sub https { return "https://127.0.0.1:" . $t->port('tls') }
sub http { return "http://127.0.0.1:" . $t->port }

# POST client credentials (Basic) to $url, showing $cert over TLS.
sub token_request {
    my ($name, $url, %o) = @_;
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10, ClientCerts::http_options($o{cert}));
    my $auth = 'Basic ' . encode_base64("$client{$name}{id}:$client{$name}{secret}", '');
    my $r = $http->post($url, { headers => { Authorization => $auth,
        'Content-Type' => 'application/x-www-form-urlencoded', %{ $o{headers} // {} } },
        content => 'grant_type=client_credentials' });
    $r->{json} = eval { decode_json($r->{content}) } // {};
    return $r;
}

# PyJWT's claims of a token signed by the issuer's key ({} if it does not verify)
sub claims_of {
    my ($token) = @_;
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10, ClientCerts::http_options());
    $t->write_file('jwks.json', $http->get(https() . '/jwks')->{content});
    open my $fh, '-|', $PY, $HELPER, 'verify', $token // '', $t->path('jwks.json'), $t->path('signing.pem')
        or die "$PY: $!";
    my $out = do { local $/; <$fh> };
    close $fh;
    return $? == 0 ? decode_json($out)->{claims} : {};
}

my $n = 0;
# GET $prefix with the token, showing $cert; the response and its access log line
sub use_token {
    my ($prefix, $token, $cert) = @_;
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10, ClientCerts::http_options($cert));
    my $uri = "/$prefix/case-" . ++$n;
    my $r = $http->get(https() . $uri, { headers => { Authorization => "Bearer $token" } });
    $r->{log} = $t->wait_log('cnf.log', qr/^\Q$uri\E /) // '';
    return $r;
}

sub issued_ok {
    my ($r, $what) = @_;
    is($r->{status}, 200, "$what: 200") or diag $r->{content};
    is($r->{json}{token_type}, 'Bearer', "$what: token_type Bearer (RFC 8705 keeps the scheme)");
    return $r->{json}{access_token};
}

sub unauthorized_ok {
    my ($r, $what) = @_;
    is($r->{status}, 400, "$what: 400") or diag $r->{content};
    is($r->{json}{error}, 'unauthorized_client', "$what: unauthorized_client");
    like($r->{json}{error_description} // '', qr/certificate-bound/, "$what: the description says why");
    ok(!exists $r->{json}{access_token}, "$what: no token");
}

# ------------------------------------------------------------ a bound client, over mTLS
my $bound = issued_ok(token_request('bound', https() . '/oauth/token', cert => $c{a}), 'bound client with A');
{
    my $claims = claims_of($bound);
    is_deeply($claims->{cnf}, { 'x5t#S256' => $x5t{a} }, 'its token: cnf.x5t#S256 is A\'s thumbprint (openssl)');
    is($claims->{client_id}, $client{bound}{id}, 'its token: the client');
}
{
    my $r = use_token('api', $bound, $c{a});
    is($r->{status}, 200, 'the bound token with A: 200');
    like($r->{log}, qr/ 200 "-" "\Q$x5t{a}\E"$/, 'the bound token with A: $m2m_cnf_x5t logged');
    is(use_token('bound', $bound, $c{a})->{status}, 200, 'the bound token with A, certificate_bound on: 200');
    for my $case (['B', $c{b}], ['a self-signed one', $c{self}], ['no certificate', undef]) {
        my ($what, $cert) = @$case;
        my $r = use_token('api', $bound, $cert);
        is($r->{status}, 401, "the bound token with $what: 401");
        like(M2MTest::challenge($r, 'Bearer') // '', qr/error="invalid_token", error_description="certificate_mismatch"/,
            "the bound token with $what: certificate_mismatch");
    }
}
{
    my $self = issued_ok(token_request('bound', https() . '/oauth/token', cert => $c{self}),
        'bound client with a self-signed certificate');
    is_deeply(claims_of($self)->{cnf}, { 'x5t#S256' => $x5t{self} }, 'bound to the self-signed one');
    is(use_token('api', $self, $c{self})->{status}, 200, 'accepted with it');
    is(use_token('api', $self, $c{a})->{status}, 401, 'refused with A');
}

# ------------------------------------------------------------ a bound client without a certificate
unauthorized_ok(token_request('bound', https() . '/oauth/token'), 'bound client over TLS, no certificate');
unauthorized_ok(token_request('bound', http() . '/oauth/token'), 'bound client over plain HTTP');
{
    my $r = token_request('bound', https() . '/oauth/token', cert => $c{a},
        headers => { Authorization => 'Basic ' . encode_base64("$client{bound}{id}:wrong", '') });
    is($r->{status}, 401, 'bound client, wrong secret, with A: 401');
    is($r->{json}{error}, 'invalid_client', 'bound client, wrong secret: invalid_client first');
}

# ------------------------------------------------------------ a client that is not certificate-bound
{
    my $plain = issued_ok(token_request('plain', https() . '/oauth/token', cert => $c{a}), 'unbound client with A');
    my $claims = claims_of($plain);
    ok(%$claims && !exists $claims->{cnf}, 'its token has no cnf');
    is(use_token('api', $plain, $c{b})->{status}, 200, 'its token with B: 200');
    is(use_token('api', $plain, undef)->{status}, 200, 'its token without a certificate: 200');
    is(use_token('bound', $plain, $c{a})->{status}, 401, 'its token where certificate_bound is on: 401');
}

# ------------------------------------------------------------ m2m-clients' bound client
{
    my $cli = issued_ok(token_request('cli', https() . '/oauth/token', cert => $c{b}), 'm2m-clients\' client with B');
    is_deeply(claims_of($cli)->{cnf}, { 'x5t#S256' => $x5t{b} }, 'bound to B');
    unauthorized_ok(token_request('cli', https() . '/oauth/token'), 'm2m-clients\' client, no certificate');
}

# ------------------------------------------------------------ behind a proxy: auth_m2m_client_certificate
{
    my $proxied = issued_ok(token_request('bound', http() . '/proxied/token',
        headers => { 'X-Client-Cert' => ClientCerts::escaped_pem($c{b}) }), 'bound client, X-Client-Cert B');
    is_deeply(claims_of($proxied)->{cnf}, { 'x5t#S256' => $x5t{b} }, 'bound to the forwarded B');
    is(use_token('api', $proxied, $c{b})->{status}, 200, 'accepted with B');
    is(use_token('api', $proxied, $c{a})->{status}, 401, 'refused with A');
    unauthorized_ok(token_request('bound', http() . '/proxied/token', headers => { 'X-Client-Cert' => 'garbage' }),
        'bound client, X-Client-Cert garbage');
}

# ------------------------------------------------------------ unbinding takes effect without a reload
{
    my ($out) = qx{'$CLI' --file '@{[$t->path('clients.json')]}' unbind-certificate $client{cli}{id} 2>&1};
    is($?, 0, 'm2m-clients unbind-certificate: exit 0') or diag $out;
    my $r;
    $t->poll(5, sub { $r = token_request('cli', https() . '/oauth/token'); $r->{status} == 200 });
    is($r->{status}, 200, 'the unbound client gets a token without a certificate');
    ok(!exists claims_of($r->{json}{access_token})->{cnf}, 'and it has no cnf');
}
{
    my $file = $t->path('clients.json');
    my $out = qx{'$CLI' --file '$file' bind-certificate $client{cli}{id} 2>&1};
    is($?, 0, 'm2m-clients bind-certificate: exit 0') or diag $out;
    my $r;
    $t->poll(5, sub { $r = token_request('cli', https() . '/oauth/token'); $r->{status} == 400 });
    unauthorized_ok($r, 'bound again, no certificate');
    $out = qx{'$CLI' --file '$file' disable --certificate-bound $client{cli}{id} 2>&1};
    is($? >> 8, 2, 'm2m-clients: --certificate-bound goes with create only (exit 2)');
    like($out, qr/disable takes no --certificate-bound/, '... and says so');
}

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
done_testing;
