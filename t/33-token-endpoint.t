# The local issuer's token endpoint (auth_m2m_token_endpoint, issue 9):
# client credentials with HTTP Basic and in the body, form-encoded ids and
# secrets, every RFC 6749 §5.2 error with its status and headers, scope
# down-selection and escalation, audience selection, 405, oversized bodies
# (by Content-Length, chunked, and in a temporary file), a repeated
# parameter, both authentication methods at once. Issued tokens are checked
# by PyJWT (signature with the key from the JWKS endpoint and with the PEM,
# typ at+jwt, kid the RFC 7638 thumbprint computed in Python, the RFC 9068
# claims exactly) and by the module itself on auth_m2m locations. A client
# disabled, deleted or whose secret expires in the registry file is refused
# within seconds without a reload. No secret reaches error.log or
# access.log, and the status page counts what happened.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Digest::SHA qw(sha256);
use File::Basename ();
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use M2MTest qw(now b64u json_text);

my $PY = '/usr/bin/python3';
my $HELPER = "$FindBin::Bin/lib/local_issuer.py";
plan skip_all => "$PY with jwt and cryptography needed"
    unless system($PY, '-c', 'import jwt, cryptography') == 0;

my $ISS = 'https://issuer.example.test/';
my $t = M2MTest->new;
my $json = JSON::PP->new->canonical;

system($PY, $HELPER, 'keygen', 'ec', $t->path('signing.pem')) == 0 or BAIL_OUT('keygen failed');
system($PY, $HELPER, 'keygen', 'rsa', $t->path('other.pem')) == 0 or BAIL_OUT('keygen failed');

# ------------------------------------------------------------ the registry
# Written here as registry.h describes the file, secrets hashed here, so the
# test does not rely on the module's own code to make its clients.

sub random_bytes {
    my ($n) = @_;
    open my $fh, '<', '/dev/urandom' or die "/dev/urandom: $!";
    my $bytes = '';
    read($fh, $bytes, $n) == $n or die 'short read';
    return $bytes;
}
sub random_b64u { return b64u(random_bytes($_[0])) }
sub random_hex { return unpack 'H*', random_bytes($_[0]) }

sub secret_hash {
    my ($secret) = @_;
    my $salt = random_bytes(16);
    return 'sha256:' . b64u($salt) . ':' . b64u(sha256($salt . $secret));
}

my %client;    # name => { id, secret, scopes, ... } as the test knows them
sub make_client {
    my ($name, %o) = @_;
    my $c = {
        id      => $o{id} // 'm2m_' . random_hex(16),
        secret  => $o{secret} // random_b64u(32),
        scopes  => $o{scopes} // [],
        claims  => $o{claims},
        enabled => $o{enabled} // JSON::PP::true,
        expires => $o{expires},
    };
    $client{$name} = $c;
    return $c;
}

sub write_registry {
    my (@names) = @_;
    my @clients;
    for my $name (@names) {
        my $c = $client{$name};
        my $secret = { id => 'sec_' . random_hex(8), hash => secret_hash($c->{secret}), created_at => now() - 60 };
        $secret->{expires_at} = $c->{expires} if defined $c->{expires};
        push @clients, {
            client_id  => $c->{id},
            name       => $name,
            scopes     => $c->{scopes},
            (defined $c->{claims} ? (claims => $c->{claims}) : ()),
            enabled    => $c->{enabled},
            created_at => now() - 60,
            secrets    => [$secret],
        };
    }
    $t->write_file('clients.json', $json->pretty->encode({ version => 1, clients => \@clients }));
}

make_client('reader', scopes => ['tasks:read', 'tasks:write'], claims => { org_id => 'org_42', tier => 3 });
make_client('poster', scopes => ['tasks:read']);
make_client('noscope', scopes => []);
# Ids are URI-unreserved characters (registry.h); a secret is whatever the
# client presents, only its hash is kept: this one needs the form-encoding.
make_client('special', id => 'svc.reports~1-x_y', secret => 'se:cr+et %2B&=/?~', scopes => ['tasks:read']);
make_client('victim', scopes => ['tasks:read']);      # disabled, then deleted, while nginx runs
make_client('expiring', scopes => ['tasks:read'], expires => now() + 4);
my @ALL = qw(reader poster noscope special victim expiring);
write_registry(@ALL);

# ------------------------------------------------------------ nginx -t
sub fails_like {
    my ($name, $http, $re) = @_;
    my $res = $t->nginx_t($http);
    isnt($res->{rc}, 0, "$name: nginx -t fails");
    like($res->{out}, $re, "$name: message") or diag $res->{out};
}
my $LOCAL = "auth_m2m_issuer local { issuer $ISS; signing_key %%DIR%%/signing.pem; "
    . "clients %%DIR%%/clients.json; audience api://tasks; }";
{
    my $ok = $t->nginx_t("$LOCAL server { listen 127.0.0.1:%%PORT%%; "
        . "location = /t { auth_m2m_token_endpoint local; } }");
    is($ok->{rc}, 0, 'nginx -t: a token endpoint of a local issuer') or diag $ok->{out};
}
$t->write_jwks('remote.json', $t->ec_key('remote'));
fails_like('the issuer is not local',
    "auth_m2m_issuer remote { issuer $ISS; jwks_file %%DIR%%/remote.json; audience a; } "
    . "server { listen 127.0.0.1:%%PORT%%; location = /t { auth_m2m_token_endpoint remote; } }",
    qr/\[emerg\] .*"auth_m2m_token_endpoint" in \S+:\d+ names auth_m2m_issuer "remote", which has no "signing_key"/);
fails_like('the issuer has no audience',
    "auth_m2m_issuer local { issuer $ISS; signing_key %%DIR%%/signing.pem; } "
    . "server { listen 127.0.0.1:%%PORT%%; location = /t { auth_m2m_token_endpoint local; } }",
    qr/\[emerg\] .*"auth_m2m_token_endpoint" in \S+:\d+ names auth_m2m_issuer "local", which has no "audience"/);
fails_like('auth_m2m in the endpoint\'s own location',
    "$LOCAL server { listen 127.0.0.1:%%PORT%%; location = /t { auth_m2m local; auth_m2m_token_endpoint local; } }",
    qr/\[emerg\] .*"auth_m2m" cannot protect the token endpoint in \S+:\d+/);
fails_like('an unknown issuer',
    "$LOCAL server { listen 127.0.0.1:%%PORT%%; location = /t { auth_m2m_token_endpoint nobody; } }",
    qr/\[emerg\] .*unknown issuer "nobody"/);
fails_like('two endpoints in one location',
    "$LOCAL server { listen 127.0.0.1:%%PORT%%; location = /t { auth_m2m_token_endpoint local; "
    . "auth_m2m_jwks_endpoint local; } }",
    qr/\[emerg\] .*"auth_m2m_jwks_endpoint": this location already serves "auth_m2m_token_endpoint"/);
fails_like('a name that cannot be a realm',
    "$LOCAL server { listen 127.0.0.1:%%PORT%%; location = /t { auth_m2m_token_endpoint 'lo\"cal'; } }",
    qr/\[emerg\] .*auth_m2m_token_endpoint: the issuer name "lo"cal" is the Basic realm/);
fails_like('at server level', "$LOCAL server { listen 127.0.0.1:%%PORT%%; auth_m2m_token_endpoint local; }",
    qr/\[emerg\] .*"auth_m2m_token_endpoint" directive is not allowed here/);

# ------------------------------------------------------------ nginx
$t->config(<<'EOF');
    auth_m2m_issuer local {
        issuer https://issuer.example.test/;
        signing_key %%DIR%%/signing.pem;
        clients %%DIR%%/clients.json;
        token_lifetime 10m;
        audience api://tasks api://billing;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        # outer protection does not reach the endpoint itself
        auth_m2m local;

        location = /oauth/token { auth_m2m_token_endpoint local; }
        location = /oauth/token-small {
            client_body_buffer_size 1k;
            auth_m2m_token_endpoint local;
        }
        location = /jwks { auth_m2m_jwks_endpoint local; }
        location = /status { auth_m2m off; auth_m2m_status; }
        location /api/ { try_files /ok.txt =404; }
        location /write/ { auth_m2m_scope tasks:write; try_files /ok.txt =404; }
    }
EOF
$t->start;

my $port = $t->port;
my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10, agent => 'm2m-t/1');
my $FORM = 'application/x-www-form-urlencoded';

# form-encoding (RFC 6749 appendix B), every byte but the unreserved ones
sub enc { my ($s) = @_; $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge; return $s }
sub basic { my ($id, $secret) = @_; return 'Basic ' . encode_base64(enc($id) . ':' . enc($secret), '') }
sub form { my (@kv) = @_; my @p; push @p, enc(shift @kv) . '=' . enc(shift @kv) while @kv; return join '&', @p }

# What the status page should show, from the answers seen.
my %count = (issued => 0, refused => 0, client_authentication_failed => 0);
sub count_answer {
    my ($r) = @_;
    return if $r->{status} == 599;    # HTTP::Tiny's own error: nginx never answered
    if ($r->{status} == 200) {
        $count{issued}++;
        return;
    }
    $count{refused}++;
    $count{client_authentication_failed}++
        if ($r->{json}{error_description} // '') eq 'client authentication failed';
}

# POST to the token endpoint: content (a string, or a code ref: chunked),
# headers; basic => client name; method, path.
sub token {
    my (%o) = @_;
    my %h = (%{ $o{headers} // {} });
    $h{'Content-Type'} //= $FORM unless exists $o{headers}{'Content-Type'};
    delete $h{'Content-Type'} unless defined $h{'Content-Type'};
    $h{Authorization} = basic($client{ $o{basic} }{id}, $client{ $o{basic} }{secret}) if $o{basic};
    my $r = $http->request($o{method} // 'POST', "http://127.0.0.1:$port" . ($o{path} // '/oauth/token'),
        { headers => \%h, (defined $o{content} ? (content => $o{content}) : ()) });
    $r->{json} = eval { decode_json($r->{content}) } if ($r->{headers}{'content-type'} // '') =~ m{^application/json};
    count_answer($r);
    return $r;
}

sub grant_body { my (%p) = @_; return form(grant_type => 'client_credentials', %p) }
sub post_auth { my ($name, @more) = @_; return form(grant_type => 'client_credentials',
    client_id => $client{$name}{id}, client_secret => $client{$name}{secret}, @more) }


# the headers of every answer, and the JSON error of a refusal
sub refused_ok {
    my ($r, $status, $error, $name) = @_;
    is($r->{status}, $status, "$name: $status") or diag $r->{content};
    is($r->{json}{error} // '', $error, "$name: error $error");
    like($r->{json}{error_description} // '', qr/^[\x20\x21\x23-\x5b\x5d-\x7e]+$/,
        "$name: error_description in the RFC 6749 §5.2 characters");
    is($r->{headers}{'cache-control'}, 'no-store', "$name: Cache-Control: no-store");
    is($r->{headers}{pragma}, 'no-cache', "$name: Pragma: no-cache");
    if ($status == 401) {
        is($r->{headers}{'www-authenticate'}, 'Basic realm="local"', "$name: WWW-Authenticate: Basic");
    } else {
        ok(!exists $r->{headers}{'www-authenticate'}, "$name: no WWW-Authenticate");
    }
    ok(!exists $r->{json}{access_token}, "$name: no token");
}

# PyJWT's verdict: {header, claims, thumbprint}, or undef (the reason on
# stderr, which prove shows).
sub verify_token {
    my ($token) = @_;
    my $jwks = $t->get('/jwks');
    $t->write_file('jwks.json', $jwks->{content});
    open my $fh, '-|', $PY, $HELPER, 'verify', $token // '', $t->path('jwks.json'), $t->path('signing.pem')
        or die "$PY: $!";
    my $out = do { local $/; <$fh> };
    close $fh;
    return $? == 0 ? decode_json($out) : undef;
}
sub claims_of { my $v = verify_token(@_); return $v ? $v->{claims} : {} }

sub granted_ok {
    my ($r, $name, %want) = @_;
    is($r->{status}, 200, "$name: 200") or diag $r->{content};
    is($r->{headers}{'cache-control'}, 'no-store', "$name: Cache-Control: no-store");
    is($r->{headers}{pragma}, 'no-cache', "$name: Pragma: no-cache");
    like($r->{headers}{'content-type'} // '', qr{^application/json}, "$name: JSON");
    my $j = $r->{json} // {};
    is_deeply([sort keys %$j], [qw(access_token expires_in scope token_type)], "$name: the RFC 6749 §5.1 members");
    is($j->{token_type}, 'Bearer', "$name: token_type Bearer");
    is($j->{expires_in}, 600, "$name: expires_in is token_lifetime");
    is($j->{scope}, $want{scope}, "$name: scope $want{scope}") if defined $want{scope};
    return $j->{access_token};
}

# ------------------------------------------------------------ success, both methods
my $tok = granted_ok(token(basic => 'reader', content => grant_body()), 'Basic',
    scope => 'tasks:read tasks:write');
my $post = granted_ok(token(content => post_auth('poster')), 'client_secret_post', scope => 'tasks:read');
granted_ok(token(basic => 'reader', content => grant_body(client_id => $client{reader}{id})),
    'Basic with the same client_id in the body', scope => 'tasks:read tasks:write');
granted_ok(token(basic => 'reader', content => grant_body(), headers => { 'Content-Type' => "$FORM; charset=UTF-8" }),
    'Content-Type with a charset');

# ------------------------------------------------------------ the token, independently
{
    my $v = verify_token($tok);
    ok($v, 'PyJWT verifies the token with the JWKS endpoint key and with the PEM');
    $v //= { header => {}, claims => {} };
    is($v->{header}{typ}, 'at+jwt', 'header typ at+jwt (RFC 9068 §2.1)');
    is($v->{header}{alg}, 'ES256', 'header alg ES256 for a P-256 key');
    is($v->{header}{kid}, $v->{thumbprint}, 'header kid is the RFC 7638 thumbprint of the signing key');
    my $c = $v->{claims};
    is_deeply([sort keys %$c], [sort qw(iss sub client_id aud iat nbf exp jti scope org_id tier)],
        'claims: RFC 9068 §2.2 ones plus the client extras, nothing else');
    is($c->{iss}, $ISS, 'iss');
    is($c->{sub}, $client{reader}{id}, 'sub = client_id');
    is($c->{client_id}, $client{reader}{id}, 'client_id');
    is($c->{aud}, 'api://tasks', 'aud: the first audience by default');
    ok(abs($c->{iat} - now()) <= 5, 'iat is now');
    is($c->{nbf}, $c->{iat}, 'nbf = iat');
    is($c->{exp}, $c->{iat} + 600, 'exp = iat + token_lifetime');
    like($c->{jti} // '', qr/^[0-9a-f]{32}$/, 'jti: 128 bits, hex');
    is($c->{scope}, 'tasks:read tasks:write', 'scope, space-separated');
    is($c->{org_id}, 'org_42', 'extra claim org_id');
    is($c->{tier}, 3, 'extra claim tier, a number');
    isnt(claims_of($post)->{jti} // '', $c->{jti} // '', 'each token its own jti');
}

# ------------------------------------------------------------ accepted by the module
is($t->get('/api/x', token => $tok)->{status}, 200, 'auth_m2m local accepts the issued token');
is($t->get('/write/x', token => $tok)->{status}, 200, 'a location needing tasks:write accepts it');
is($t->get('/write/x', token => $post)->{status}, 403, 'a token without tasks:write is refused there (403)');
is($t->get('/api/x')->{status}, 401, 'no token: 401');

# ------------------------------------------------------------ form-encoded credentials
{
    my $r = token(basic => 'special', content => grant_body());
    granted_ok($r, 'Basic, id and a secret holding : + space % & = / ? form-encoded', scope => 'tasks:read');
    is(claims_of($r->{json}{access_token})->{client_id}, $client{special}{id}, 'the id is the client_id claim');
    granted_ok(token(content => post_auth('special')), 'the same in the body');
    # enc() escapes every byte but the unreserved ones; an id's unreserved
    # characters escaped as well decode to the same.
    my $all = join '', map { sprintf '%%%02X', ord } split //, $client{special}{id};
    granted_ok(token(headers => { Authorization => 'Basic ' . encode_base64("$all:" . enc($client{special}{secret}), '') },
        content => grant_body()), 'Basic with every character of the id percent-encoded');
    # Sent without the form-encoding, '+' is a space and "%2B" a '+'.
    my $raw = 'Basic ' . encode_base64("$client{special}{id}:$client{special}{secret}", '');
    my $x = token(headers => { Authorization => $raw }, content => grant_body());
    refused_ok($x, 401, 'invalid_client', 'Basic with the secret not form-encoded');
}

# ------------------------------------------------------------ scope and audience
granted_ok(token(basic => 'reader', content => grant_body(scope => 'tasks:read')), 'scope down-selection',
    scope => 'tasks:read');
{
    my $r = token(basic => 'reader', content => grant_body(scope => 'tasks:write tasks:read'));
    granted_ok($r, 'two scopes in the order asked', scope => 'tasks:write tasks:read');
    my $down = token(basic => 'reader', content => grant_body(scope => 'tasks:read'));
    is($t->get('/write/x', token => $down->{json}{access_token})->{status}, 403,
        'a down-selected token cannot write');
}
{
    my $r = token(basic => 'reader', content => grant_body(audience => 'api://billing'));
    granted_ok($r, 'audience=api://billing');
    is(claims_of($r->{json}{access_token})->{aud}, 'api://billing', 'aud as asked (audience)');
    $r = token(basic => 'reader', content => grant_body(resource => 'api://billing'));
    granted_ok($r, 'resource=api://billing');
    is(claims_of($r->{json}{access_token})->{aud}, 'api://billing', 'aud as asked (resource)');
}

# ------------------------------------------------------------ every RFC 6749 §5.2 error
refused_ok(token(basic => 'reader', content => form(scope => 'tasks:read')), 400, 'invalid_request',
    'no grant_type');
refused_ok(token(basic => 'reader', content => grant_body() . '&grant_type=client_credentials'), 400,
    'invalid_request', 'a repeated parameter');
is(token(basic => 'reader', content => grant_body() . '&grant_type=client_credentials')->{json}{error_description},
    'parameter grant_type is repeated', 'the repeated parameter is named');
refused_ok(token(basic => 'reader', content => grant_body(client_secret => $client{reader}{secret})), 400,
    'invalid_request', 'Basic and client_secret at once');
refused_ok(token(basic => 'reader', content => grant_body(client_id => $client{poster}{id})), 400,
    'invalid_request', 'Basic and another client_id');
refused_ok(token(basic => 'reader', content => grant_body() . '&x=%zz'), 400, 'invalid_request',
    'a bad percent escape');
refused_ok(token(basic => 'reader', content => grant_body(), headers => { 'Content-Type' => 'application/json' }),
    400, 'invalid_request', 'Content-Type application/json');
refused_ok(token(basic => 'reader', content => grant_body(), headers => { 'Content-Type' => undef }),
    400, 'invalid_request', 'no Content-Type');
refused_ok(token(basic => 'reader', content => grant_body(audience => 'api://tasks', resource => 'api://tasks')),
    400, 'invalid_request', 'audience and resource at once');

refused_ok(token(content => grant_body()), 401, 'invalid_client', 'no client authentication');
refused_ok(token(headers => { Authorization => 'Bearer x.y.z' }, content => grant_body()), 401, 'invalid_client',
    'a Bearer token at the token endpoint');
for my $case (['a wrong secret', basic($client{reader}{id}, 'not-the-secret')],
              ['an unknown client', basic('m2m_' . '0' x 32, $client{reader}{secret})],
              ['another client\'s secret', basic($client{reader}{id}, $client{poster}{secret})]) {
    my $r = token(headers => { Authorization => $case->[1] }, content => grant_body());
    refused_ok($r, 401, 'invalid_client', $case->[0]);
    is($r->{json}{error_description}, 'client authentication failed', "$case->[0]: says nothing more");
}
{
    my $r = token(content => form(grant_type => 'client_credentials', client_id => $client{poster}{id},
        client_secret => 'wrong'));
    refused_ok($r, 401, 'invalid_client', 'a wrong client_secret in the body');
}
refused_ok(token(basic => 'noscope', content => grant_body()), 400, 'unauthorized_client',
    'a client registered with no scope');
refused_ok(token(basic => 'reader', content => form(grant_type => 'password', username => 'u', password => 'p')),
    400, 'unsupported_grant_type', 'grant_type=password');
{
    my $r = token(basic => 'reader', content => grant_body(scope => 'tasks:read tasks:admin'));
    refused_ok($r, 400, 'invalid_scope', 'scope escalation');
    is($r->{json}{error_description}, 'scope tasks:admin is not allowed for this client', 'the scope is named');
}
refused_ok(token(basic => 'reader', content => grant_body(audience => 'api://other')), 400, 'invalid_target',
    'an audience the issuer does not issue for');

# ------------------------------------------------------------ 405 and bodies over the limit
for my $m (qw(GET PUT DELETE)) {
    my $r = token(method => $m, basic => 'reader', content => $m eq 'GET' ? undef : grant_body());
    refused_ok($r, 405, 'invalid_request', "$m");
    is($r->{headers}{allow}, 'POST', "$m: Allow: POST");
}
{
    my $r = token(method => 'HEAD');
    is($r->{status}, 405, 'HEAD: 405');
    is($r->{headers}{allow}, 'POST', 'HEAD: Allow: POST');
    is($r->{headers}{'cache-control'}, 'no-store', 'HEAD: Cache-Control: no-store');
}
my $pad = 'x' x 9000;
refused_ok(token(basic => 'reader', content => grant_body(pad => $pad)), 400, 'invalid_request',
    'a body over 8 KiB (by Content-Length)');
{
    my @chunks = (grant_body() . '&pad=', ('y' x 1000) x 10);
    refused_ok(token(basic => 'reader', content => sub { shift @chunks }), 400, 'invalid_request',
        'a chunked body over 8 KiB');
    @chunks = (grant_body(), '&pad=', 'z' x 100);
    granted_ok(token(basic => 'reader', content => sub { shift @chunks }), 'a small chunked body');
    refused_ok(token(path => '/oauth/token-small', basic => 'reader', content => grant_body(pad => 'p' x 2000)),
        400, 'invalid_request', 'a body in a temporary file (client_body_buffer_size 1k)');
    granted_ok(token(path => '/oauth/token-small', basic => 'reader', content => grant_body()),
        'a body within client_body_buffer_size 1k');
}

# ------------------------------------------------------------ status page
# Exact, before the polling below makes requests the test does not count.
{
    my $e = ($t->status_json // {})->{token_endpoint} // {};
    is($e->{issued}, $count{issued}, "status: issued = the tokens sent ($count{issued})");
    is($e->{refused}, $count{refused}, "status: refused = the refusals sent ($count{refused})");
    is($e->{client_authentication_failed}, $count{client_authentication_failed},
        "status: client_authentication_failed ($count{client_authentication_failed})");
    my @failed = $t->grep_log(qr/token request refused: client authentication failed/);
    is(scalar @failed, $count{client_authentication_failed}, 'each failed client authentication logged once');
}

# ------------------------------------------------------------ registry changes without reload
granted_ok(token(basic => 'victim', content => grant_body()), 'victim, before');
$client{victim}{enabled} = JSON::PP::false;
write_registry(@ALL);
{
    my $last;
    ok($t->poll(10, sub { $last = token(basic => 'victim', content => grant_body()); $last->{status} == 401 }),
        'a disabled client is refused within seconds, without reload');
    refused_ok($last, 401, 'invalid_client', 'disabled client');
}
$client{victim}{enabled} = JSON::PP::true;
write_registry(@ALL);
ok($t->poll(10, sub { token(basic => 'victim', content => grant_body())->{status} == 200 }),
    'enabled again, it gets tokens again');
write_registry(grep { $_ ne 'victim' } @ALL);
ok($t->poll(10, sub { token(basic => 'victim', content => grant_body())->{status} == 401 }),
    'a deleted client is refused within seconds, without reload');
{
    my $ok = token(basic => 'expiring', content => grant_body());
    my $before = now() < $client{expiring}{expires};
    ok($before ? $ok->{status} == 200 : 1, 'a secret before its expiry works');
    ok($t->poll(10, sub { token(basic => 'expiring', content => grant_body())->{status} == 401 }),
        'the secret is refused once expired, without reload');
}

# ------------------------------------------------------------ the m2m-clients CLI on the same file
SKIP: {
    my $cli = ($ENV{M2M_MODULE} ? File::Basename::dirname($ENV{M2M_MODULE}) : "$FindBin::Bin/../build")
        . '/m2m-clients';
    skip "no $cli (./build.sh builds it)", 4 unless -x $cli;
    my $out = `$cli --file @{[ $t->path('clients.json') ]} create --name cli --scopes "tasks:read tasks:write" --json`;
    my $made = eval { decode_json($out) } // {};
    ok($made->{client_id} && $made->{client_secret}, 'm2m-clients create --json: an id and a secret') or diag $out;
    $client{cli} = { id => $made->{client_id} // 'none', secret => $made->{client_secret} // 'none' };
    my $last;
    ok($t->poll(10, sub { $last = token(basic => 'cli', content => grant_body()); $last->{status} == 200 }),
        'a client made by m2m-clients gets a token within seconds, without reload');
    is(claims_of($last->{json}{access_token})->{client_id}, $made->{client_id}, 'its client_id in the token');
    system($cli, '--file', $t->path('clients.json'), 'disable', $made->{client_id} // 'none');
    ok($t->poll(10, sub { token(basic => 'cli', content => grant_body())->{status} == 401 }),
        'm2m-clients disable: refused within seconds, without reload');
}

# ------------------------------------------------------------ logs
my @failed = $t->grep_log(qr/token request refused: client authentication failed/);
ok((grep { /client_id "\Q$client{reader}{id}\E"/ } @failed), 'the log line names the client id');
my ($one) = grep { /client_id "\Q$client{reader}{id}\E"/ } @failed;
unlike($one // '', qr/not-the-secret/, 'the log line has no secret');
for my $file ('error.log', 'access.log') {
    my $text = $t->read_file($file);
    my @leaked = grep { index($text, $client{$_}{secret}) >= 0 || index($text, enc($client{$_}{secret})) >= 0 }
        keys %client;
    is("@leaked", '', "no client secret in $file");
    ok(defined $tok && index($text, $tok) < 0, "no issued token in $file");
}

$t->no_alerts_ok;
done_testing;
