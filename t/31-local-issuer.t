# The local issuer's keys and public endpoints (issue 9): `signing_key`
# PEM files (RSA 2048+, EC P-256, P-384) are read at configuration, their
# public JWK Set is served by auth_m2m_jwks_endpoint and their RFC 8414
# metadata by auth_m2m_metadata_endpoint, and `auth_m2m NAME` accepts tokens
# signed with any of them with no fetch. Everything independent comes from
# /usr/bin/python3 (cryptography, PyJWT): the keys, their public members,
# the RFC 7638 thumbprints and the tokens. A second nginx, a gateway, reads
# the first through jwks_uri and through discovery.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Socket::IP;
use JSON::PP;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use POSIX ();
use M2MTest qw(now json_text);

my $PY = '/usr/bin/python3';
plan skip_all => "$PY with jwt and cryptography needed"
    unless system($PY, '-c', 'import jwt, cryptography') == 0;

my $t = M2MTest->new;
my $AUD = 'https://api.example.test';
my $ISS = 'http://127.0.0.1:' . $t->port;

$t->write_file('keys.py', <<'EOF');
import base64, hashlib, json, sys
import jwt
from cryptography.hazmat.primitives import serialization as s
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()

def int_bytes(n, size=None):
    return n.to_bytes(size or (n.bit_length() + 7) // 8, 'big')

def load(path):
    return s.load_pem_private_key(open(path, 'rb').read(), password=None)

CURVES = {'secp256r1': ('P-256', 32, 'ES256'), 'secp384r1': ('P-384', 48, 'ES384')}

def public_jwk(key):
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.public_key().public_numbers()
        return {'kty': 'RSA', 'n': b64u(int_bytes(n.n)), 'e': b64u(int_bytes(n.e))}, 'RS256'
    crv, size, alg = CURVES[key.curve.name]
    n = key.public_key().public_numbers()
    return {'kty': 'EC', 'crv': crv, 'x': b64u(int_bytes(n.x, size)), 'y': b64u(int_bytes(n.y, size))}, alg

# RFC 7638 §3: the required members, sorted, no whitespace, SHA-256
def thumbprint(jwk):
    required = {'RSA': ('e', 'kty', 'n'), 'EC': ('crv', 'kty', 'x', 'y')}[jwk['kty']]
    canonical = json.dumps({k: jwk[k] for k in required}, sort_keys=True, separators=(',', ':'))
    return b64u(hashlib.sha256(canonical.encode()).digest())

cmd = sys.argv[1]
if cmd == 'gen':
    kind, path, fmt = sys.argv[2], sys.argv[3], sys.argv[4]
    key = {'rsa2048': lambda: rsa.generate_private_key(65537, 2048),
           'rsa1024': lambda: rsa.generate_private_key(65537, 1024),
           'p256': lambda: ec.generate_private_key(ec.SECP256R1()),
           'p384': lambda: ec.generate_private_key(ec.SECP384R1()),
           'p521': lambda: ec.generate_private_key(ec.SECP521R1()),
           'ed25519': lambda: ed25519.Ed25519PrivateKey.generate()}[kind]()
    if fmt == 'public':
        pem = key.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)
    else:
        pem = key.private_bytes(s.Encoding.PEM,
                                s.PrivateFormat.TraditionalOpenSSL if fmt == 'traditional' else s.PrivateFormat.PKCS8,
                                s.BestAvailableEncryption(b'passphrase') if fmt == 'encrypted' else s.NoEncryption())
    open(path, 'wb').write(pem)
elif cmd == 'info':
    jwk, alg = public_jwk(load(sys.argv[2]))
    print(json.dumps({'jwk': jwk, 'alg': alg, 'kid': thumbprint(jwk)}))
elif cmd == 'thumbprint':
    print(thumbprint(json.loads(sys.argv[2])))
elif cmd == 'mint':
    key = load(sys.argv[2])
    jwk, alg = public_jwk(key)
    kid = sys.argv[4] if len(sys.argv) > 4 else thumbprint(jwk)
    print(jwt.encode(json.loads(sys.argv[3]), key, algorithm=alg, headers={'kid': kid, 'typ': 'at+jwt'}))
EOF

# Runs the helper; its stdout without the trailing newline.
sub py {
    my @args = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        exec $PY, $t->path('keys.py'), @args or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    die "keys.py @args failed: $?" if $?;
    $out =~ s/\n\z//;
    return $out;
}

sub gen {
    my ($kind, $file, $fmt) = @_;
    make_path(dirname($t->path($file)));
    py('gen', $kind, $t->path($file), $fmt // 'pkcs8');
    return $t->path($file);
}
sub info { return decode_json(py('info', $_[0])) }

sub mint {
    my ($pem, %opt) = @_;
    my $claims = { iss => $ISS, aud => $AUD, sub => 'svc-1', client_id => 'svc-1', scope => 'tasks:read',
        iat => now(), exp => now() + 600, %{ $opt{claims} // {} } };
    return py('mint', $pem, json_text($claims), defined $opt{kid} ? ($opt{kid}) : ());
}

# The oracle first: the helper's thumbprint is RFC 7638 §3.1's.
is(py('thumbprint', json_text({ kty => 'RSA', e => 'AQAB', alg => 'RS256', kid => '2011-04-29',
    n => '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw' })),
    'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', 'python thumbprint agrees with RFC 7638 §3.1');

my %pem = (
    rsa   => gen('rsa2048', 'keys/rsa.pem', 'pkcs8'),
    p256  => gen('p256', 'keys/p256.pem', 'traditional'),
    p384  => gen('p384', 'keys/p384.pem', 'pkcs8'),
    next  => gen('p256', 'keys/next.pem', 'pkcs8'),
    other => gen('rsa2048', 'other.pem', 'pkcs8'),
);
my %info = map { $_ => info($pem{$_}) } keys %pem;
chmod 0600, values %pem;    # nginx's master reads them, as root or as us

# ------------------------------------------------------------ nginx -t errors
{
    my %bad = (
        rsa1024   => [gen('rsa1024', 'bad/rsa1024.pem'), qr/is an RSA key of 1024 bits: at least 2048 are needed/],
        p521      => [gen('p521', 'bad/p521.pem'), qr/is an EC key on curve secp521r1: use P-256 or P-384/],
        ed25519   => [gen('ed25519', 'bad/ed25519.pem'), qr/is a ED25519 key: use RSA \(2048 bits or more\), EC P-256 or EC P-384/],
        public    => [gen('rsa2048', 'bad/public.pem', 'public'), qr/holds no private key/],
        encrypted => [gen('p256', 'bad/encrypted.pem', 'encrypted'), qr/holds an encrypted private key: nginx cannot ask for a passphrase/],
        garbage   => [$t->write_file('bad/garbage.pem', "this is not a key\n"), qr/is not PEM/],
        empty     => [$t->write_file('bad/empty.pem', ''), qr/is not PEM/],
        two       => [$t->write_file('bad/two.pem', $t->read_file($pem{p256}) . $t->read_file($pem{p384})),
                      qr/holds more than one private key/],
        missing   => [$t->path('bad/missing.pem'), qr/"signing_key" open\(\) "\Q${\ $t->path('bad\/missing.pem')}\E" failed \(2: No such file or directory\)/],
    );
    for my $name (sort keys %bad) {
        my ($file, $re) = @{ $bad{$name} };
        my $res = $t->nginx_t(<<"EOF");
    auth_m2m_issuer local {
        issuer $ISS;
        audience $AUD;
        signing_key $pem{rsa} $file;
    }
EOF
        isnt($res->{rc}, 0, "$name: nginx -t fails");
        like($res->{out}, qr/\[emerg\] .*auth_m2m_issuer "local": "signing_key" (?:open\(\) )?"\Q$file\E" /,
            "$name: the message names the issuer, the directive and the file");
        like($res->{out}, $re, "$name: and says what is wrong") or diag $res->{out};
        # no line of any key's body in the output
        my @body = grep { length > 20 && !/^-----/ } map { split /\n/, $t->read_file($_) } $file, $pem{rsa};
        ok(!grep({ index($res->{out}, substr($_, 0, 20)) >= 0 } @body), "$name: no key material in the output");
    }
}

sub fails_like {
    my ($name, $http, $re) = @_;
    my $res = $t->nginx_t($http);
    isnt($res->{rc}, 0, "$name: nginx -t fails");
    like($res->{out}, $re, "$name: message") or diag $res->{out};
}

my $LOCAL = "issuer $ISS; audience $AUD;";
fails_like('signing_key then jwks_uri', "auth_m2m_issuer l { $LOCAL signing_key $pem{rsa}; jwks_uri http://127.0.0.1:1/k; }",
    qr/auth_m2m_issuer "l": "jwks_uri" conflicts with another key source: use exactly one of jwks_file, jwks_uri, discovery and signing_key/);
$t->write_file('one.json', json_text({ keys => [ $info{other}{jwk} ] }));
fails_like('jwks_file then signing_key', "auth_m2m_issuer l { $LOCAL jwks_file %%DIR%%/one.json; signing_key $pem{rsa}; }",
    qr/"signing_key" conflicts with another key source/);
fails_like('discovery then clients', "auth_m2m_issuer l { $LOCAL discovery http://127.0.0.1:1/d; clients %%DIR%%/c.json; }",
    qr/"clients" conflicts with another key source/);
fails_like('clients alone', "auth_m2m_issuer l { $LOCAL clients %%DIR%%/c.json; }",
    qr/auth_m2m_issuer "l" has "clients" or "token_lifetime" but no "signing_key"/);
fails_like('signing_key twice', "auth_m2m_issuer l { $LOCAL signing_key $pem{rsa}; signing_key $pem{p256}; }",
    qr/"signing_key" directive is duplicate: list every key in one "signing_key"/);
fails_like('the same key twice', "auth_m2m_issuer l { $LOCAL signing_key $pem{rsa} keys/../keys/rsa.pem; }",
    qr/"signing_key" "\S+keys\/\.\.\/keys\/rsa\.pem" holds the same key as "\Q$pem{rsa}\E"/);
fails_like('token_lifetime 0', "auth_m2m_issuer l { $LOCAL signing_key $pem{rsa}; token_lifetime 0s; }",
    qr/"token_lifetime" must be between 1s and 1d/);
fails_like('token_lifetime 2d', "auth_m2m_issuer l { $LOCAL signing_key $pem{rsa}; token_lifetime 2d; }",
    qr/"token_lifetime" must be between 1s and 1d/);
fails_like('algorithms without the key\'s', "auth_m2m_issuer l { $LOCAL signing_key $pem{p256} $pem{rsa}; algorithms ES256; }",
    qr/"signing_key" "\Q$pem{rsa}\E" signs tokens \(alg RS256, typ at\+jwt\) that this block refuses: alg_not_allowed/);
fails_like('require_typ without at+jwt', "auth_m2m_issuer l { $LOCAL signing_key $pem{rsa}; require_typ JWT; }",
    qr/signs tokens \(alg RS256, typ at\+jwt\) that this block refuses: wrong_typ/);
fails_like('jwks endpoint of a jwks_file issuer', <<'EOF', qr/"auth_m2m_jwks_endpoint" in \S+:\d+ names auth_m2m_issuer "f", which has no "signing_key"/);
    auth_m2m_issuer f { issuer https://f.example/; jwks_file %%DIR%%/one.json; audience a; }
    server { listen 127.0.0.1:%%PORT%%; location /k { auth_m2m_jwks_endpoint f; } }
EOF
fails_like('metadata endpoint of an unknown issuer', <<'EOF', qr/names unknown issuer "nope"/);
    server { listen 127.0.0.1:%%PORT%%; location /m { auth_m2m_metadata_endpoint nope; } }
EOF
fails_like('metadata endpoint parameter', <<"EOF", qr/invalid parameter "token=oauth2\/token": not a path/);
    auth_m2m_issuer l { $LOCAL signing_key $pem{rsa}; }
    server { listen 127.0.0.1:%%PORT%%; location /m { auth_m2m_metadata_endpoint l token=oauth2/token; } }
EOF
fails_like('metadata endpoint unknown parameter', <<"EOF", qr/invalid parameter "issuer=\/x": expected token=, jwks= or registration=/);
    auth_m2m_issuer l { $LOCAL signing_key $pem{rsa}; }
    server { listen 127.0.0.1:%%PORT%%; location /m { auth_m2m_metadata_endpoint l issuer=/x; } }
EOF
fails_like('two endpoints in one location', <<"EOF", qr/"auth_m2m_metadata_endpoint": this location already serves "auth_m2m_jwks_endpoint"/);
    auth_m2m_issuer l { $LOCAL signing_key $pem{rsa}; }
    server { listen 127.0.0.1:%%PORT%%; location /m { auth_m2m_jwks_endpoint l; auth_m2m_metadata_endpoint l; } }
EOF
for my $url ('auth.example.com', 'https://auth.example.com/?x=1', 'https://auth example.com', 'ftp://auth.example.com') {
    fails_like("auth_m2m_base_url $url", "auth_m2m_base_url \"$url\";",
        qr/auth_m2m_base_url "\Q$url\E" is not an http:\/\/ or https:\/\/ URL/);
}
{
    # relative paths are relative to the configuration's directory
    my $res = $t->nginx_t("auth_m2m_issuer l { $LOCAL signing_key keys/rsa.pem keys/p256.pem; token_lifetime 1d; }");
    is($res->{rc}, 0, 'relative signing_key paths, token_lifetime 1d: nginx -t passes') or diag $res->{out};
}

# ------------------------------------------------------------ the issuer
my $ISSUER_CONF = <<"EOF";
    auth_m2m_issuer local {
        issuer $ISS;
        audience $AUD;
        signing_key %%KEYS%%;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        auth_m2m local;                      # the endpoints stay public
        location = /.well-known/jwks.json { auth_m2m_jwks_endpoint local; }
        location = /.well-known/oauth-authorization-server { auth_m2m_metadata_endpoint local; }
        location = /proxied/metadata {
            auth_m2m_metadata_endpoint local token=/auth/token jwks=https://keys.example.com/jwks.json registration=off;
        }
        location = /protected/jwks.json { auth_m2m_jwks_endpoint local; auth_m2m local; }
        location /api/ { try_files /ok.txt =404; }
        location = /status { auth_m2m off; auth_m2m_status; }
    }
    server {
        listen 127.0.0.1:%%PORT_proxy%%;
        auth_m2m_base_url https://auth.example.com/m2m/;
        location = /.well-known/oauth-authorization-server { auth_m2m_metadata_endpoint local; }
        location = /other { auth_m2m_metadata_endpoint local; auth_m2m_base_url http://10.0.0.1:8080; }
    }
EOF
sub issuer_conf {
    my (@keys) = @_;
    (my $c = $ISSUER_CONF) =~ s/%%KEYS%%/join ' ', map { $pem{$_} } @keys/e;
    return $c;
}
$t->config(issuer_conf(qw(rsa p256 p384)));
$t->start;

sub request {
    my ($method, $path, %opt) = @_;
    my $port = $t->port($opt{port} // 'main');
    return HTTP::Tiny->new(keep_alive => 0, timeout => 10)->request($method, "http://127.0.0.1:$port$path",
        { headers => $opt{headers} // {} });
}

# A GET with a Host of our choosing (HTTP::Tiny always writes its own).
sub get_with_host {
    my ($path, $host, $port) = @_;
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port // $t->port, Proto => 'tcp')
        or die "connect: $!";
    print $s "GET $path HTTP/1.1\r\n" . (defined $host ? "Host: $host\r\n" : '') . "Connection: close\r\n\r\n";
    local $/;
    my $reply = <$s> // '';
    my ($status) = $reply =~ m{^HTTP/1\.1 (\d{3})};
    my ($body) = $reply =~ /\r\n\r\n(.*)\z/s;
    return ($status // 0, $body // '');
}

# ---- JWKS
my ($etag, @kids);
{
    my $r = $t->get('/.well-known/jwks.json');
    is($r->{status}, 200, 'jwks: 200 without a token, though the server requires one');
    is($r->{headers}{'content-type'}, 'application/json', 'jwks: application/json');
    is($r->{headers}{'cache-control'}, 'max-age=300', 'jwks: Cache-Control: max-age=300');
    $etag = $r->{headers}{etag} // '';
    like($etag, qr/^"[0-9a-f]{32}"$/, 'jwks: ETag');
    my $set = eval { decode_json($r->{content}) } // {};
    my @keys = @{ $set->{keys} // [] };
    is(scalar @keys, 3, 'jwks: three keys, in signing_key order');
    for my $i (0 .. 2) {
        my $name = (qw(rsa p256 p384))[$i];
        my $k = $keys[$i] // {};
        my $want = $info{$name};
        is_deeply($k, { %{ $want->{jwk} }, kid => $want->{kid}, alg => $want->{alg}, use => 'sig' },
            "jwks: $name is exactly its public JWK, kid = RFC 7638 thumbprint, alg $want->{alg}, use sig");
        push @kids, $k->{kid};
    }

    $r = $t->get('/.well-known/jwks.json', headers => { 'If-None-Match' => $etag });
    is($r->{status}, 304, 'jwks: If-None-Match with its ETag: 304');
    $r = $t->get('/.well-known/jwks.json', headers => { 'If-None-Match' => '"0123"' });
    is($r->{status}, 200, 'jwks: another ETag: 200');
    $r = request('HEAD', '/.well-known/jwks.json');
    is($r->{status}, 200, 'jwks: HEAD 200');
    is($r->{content} // '', '', 'jwks: HEAD has no body');
    for my $m (qw(POST PUT DELETE)) {
        $r = request($m, '/.well-known/jwks.json');
        is($r->{status}, 405, "jwks: $m 405");
        is($r->{headers}{allow}, 'GET, HEAD', "jwks: $m names the allowed methods");
    }
    is($t->get('/protected/jwks.json')->{status}, 401, 'jwks: a location that sets auth_m2m itself requires a token');
}

# ---- metadata
sub metadata_ok {
    my ($name, $body, $base, %over) = @_;
    my $doc = eval { decode_json($body) } // {};
    is_deeply($doc, {
        issuer => $ISS,
        token_endpoint => "$base/oauth2/token",
        jwks_uri => "$base/.well-known/jwks.json",
        registration_endpoint => "$base/oauth2/clients",
        response_types_supported => [],
        grant_types_supported => ['client_credentials'],
        token_endpoint_auth_methods_supported => ['client_secret_basic', 'client_secret_post'],
        tls_client_certificate_bound_access_tokens => JSON::PP::true,
        dpop_signing_alg_values_supported => [qw(RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512)],
        %over,
    }, "metadata: $name") or diag $body;
}
{
    my $r = $t->get('/.well-known/oauth-authorization-server');
    is($r->{status}, 200, 'metadata: 200 without a token');
    is($r->{headers}{'content-type'}, 'application/json', 'metadata: application/json');
    is($r->{headers}{'cache-control'}, 'max-age=300', 'metadata: Cache-Control');
    metadata_ok('from the request\'s scheme and Host', $r->{content}, $ISS);

    my ($status, $body) = get_with_host('/.well-known/oauth-authorization-server', 'gw.example.test:8443');
    is($status, 200, 'metadata: another Host');
    metadata_ok('URLs follow the Host', $body, 'http://gw.example.test:8443');
    ($status, $body) = get_with_host('/.well-known/oauth-authorization-server', '[::1]:' . $t->port);
    metadata_ok('an IPv6 Host', $body, 'http://[::1]:' . $t->port);
    ($status) = get_with_host('/.well-known/oauth-authorization-server', 'a"b');
    is($status, 400, 'metadata: a Host that cannot be part of a URL: 400');

    $r = $t->get('/.well-known/oauth-authorization-server', port => 'proxy');
    metadata_ok('auth_m2m_base_url (server level, trailing / dropped)', $r->{content}, 'https://auth.example.com/m2m');
    $r = $t->get('/other', port => 'proxy');
    metadata_ok('auth_m2m_base_url set again in the location', $r->{content}, 'http://10.0.0.1:8080');
    $r = $t->get('/proxied/metadata');
    my $doc = eval { decode_json($r->{content}) } // {};
    is($doc->{token_endpoint}, "$ISS/auth/token", 'metadata: token= path');
    is($doc->{jwks_uri}, 'https://keys.example.com/jwks.json', 'metadata: jwks= absolute URL');
    ok(!exists $doc->{registration_endpoint}, 'metadata: registration=off');
    ok(!exists $doc->{scopes_supported}, 'metadata: no scopes_supported without a registry');
    $r = request('POST', '/.well-known/oauth-authorization-server');
    is($r->{status}, 405, 'metadata: POST 405');
    is($r->{headers}{allow}, 'GET, HEAD', 'metadata: Allow');
}

# ---- tokens
for my $name (qw(rsa p256 p384)) {
    my $token = mint($pem{$name});
    my $r = $t->get('/api/x', token => $token);
    is($r->{status}, 200, "auth_m2m local: a PyJWT token signed with the $name key ($info{$name}{alg}) is accepted");
}
{
    my $r = $t->get('/api/x', token => mint($pem{other}));
    is($r->{status}, 401, 'auth_m2m local: a key not listed: 401');
    like(M2MTest::challenge($r, 'Bearer') // '', qr/unknown_kid/, '... unknown_kid');
    $r = $t->get('/api/x', token => mint($pem{other}, kid => $info{rsa}{kid}));
    is($r->{status}, 401, 'auth_m2m local: another key under a listed kid: 401');
    like(M2MTest::challenge($r, 'Bearer') // '', qr/bad_signature/, '... bad_signature');
    $r = $t->get('/api/x', token => mint($pem{rsa}, claims => { iss => 'https://someone.else/' }));
    is($r->{status}, 401, 'auth_m2m local: another iss: 401');
}

# ---- status page
{
    my $s = $t->issuer_status('local') // {};
    is($s->{source}, 'local', 'status: source local');
    is($s->{location}, join(' ', @pem{qw(rsa p256 p384)}), 'status: location lists the key files');
    is_deeply($s->{keys}, [ map { { kid => $info{$_}{kid}, alg => $info{$_}{alg} } } qw(rsa p256 p384) ],
        'status: the three keys');
    is($s->{generation}, 1, 'status: generation 1');
}

# ------------------------------------------------------------ a gateway reads the issuer
my $g = M2MTest->new;
my $IP = $t->port;
$g->config(<<"EOF");
    auth_m2m_issuer viauri {
        issuer $ISS;
        audience $AUD;
        jwks_uri http://127.0.0.1:$IP/.well-known/jwks.json;
        kid_refetch_cooldown 1s;
    }
    auth_m2m_issuer viadisc {
        issuer $ISS;
        audience $AUD;
        discovery http://127.0.0.1:$IP/.well-known/oauth-authorization-server;
        kid_refetch_cooldown 1s;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /uri/  { auth_m2m viauri;  try_files /ok.txt =404; }
        location /disc/ { auth_m2m viadisc; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
$g->start;

for my $name (qw(rsa p256 p384)) {
    my $token = mint($pem{$name});
    is($g->get('/uri/x', token => $token)->{status}, 200, "gateway jwks_uri: the $name key's token accepted");
    is($g->get('/disc/x', token => $token)->{status}, 200, "gateway discovery: the $name key's token accepted");
}
is($g->get('/uri/x', token => mint($pem{other}))->{status}, 401, 'gateway jwks_uri: a key not listed: 401');
is($g->get('/disc/x', token => mint($pem{other}))->{status}, 401, 'gateway discovery: a key not listed: 401');
{
    my $s = $g->issuer_status('viadisc') // {};
    is($s->{jwks_uri}, "$ISS/.well-known/jwks.json", 'gateway discovery: jwks_uri from the metadata');
    is_deeply([ map { $_->{kid} } @{ $s->{keys} // [] } ], \@kids, 'gateway discovery: the same kids');
}

# ------------------------------------------------------------ rotation: a key added by reload
{
    my $token = mint($pem{next});
    is($t->get('/api/x', token => $token)->{status}, 401, 'rotation: the new key before the reload: 401');
    $t->config(issuer_conf(qw(next rsa p256 p384)));
    ok($t->reload(until => sub { $t->get('/api/x', token => $token)->{status} == 200 }),
        'rotation: after the reload the new key\'s token is accepted');
    is($t->get('/api/x', token => mint($pem{rsa}))->{status}, 200, 'rotation: the old key\'s still is');
    my $r = $t->get('/.well-known/jwks.json');
    my @now = map { $_->{kid} } @{ (eval { decode_json($r->{content}) } // {})->{keys} // [] };
    is_deeply(\@now, [ $info{next}{kid}, @kids ], 'rotation: the JWK Set has the new key first');
    isnt($r->{headers}{etag}, $etag, 'rotation: the ETag changed');
    my $ok = $g->poll(10, sub { $g->get('/uri/x', token => $token)->{status} == 200
                                && $g->get('/disc/x', token => $token)->{status} == 200 });
    ok($ok, 'rotation: the gateway accepts the new key (unknown kid refetch) through jwks_uri and discovery');
}

$g->no_alerts_ok;
$t->no_alerts_ok;
unlike($t->read_file('error.log') . $g->read_file('error.log'), qr/PRIVATE KEY/, 'no key in either error.log');
done_testing;
