# Inheritance and merging: http -> server -> location -> nested location,
# `auth_m2m off`, a location's own auth_m2m_scope replacing the inherited
# list, several issuers in one location, auth_m2m_token and auth_m2m_realm.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use M2MTest qw(now);

my %ISS = (a => 'https://a.example.test/', b => 'https://b.example.test/', c => 'https://c.example.test/');
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my $ka = $t->rsa_key('a1');
my $kb = $t->ec_key('b1', 'P-256');
my $kc = $t->alias_key($ka, 'c1');    # issuer c uses the same RSA key under another kid
$t->write_jwks('a.json', $ka);
$t->write_jwks('b.json', $kb);
$t->write_jwks('c.json', $kc);

$t->config(<<'EOF');
    auth_m2m_issuer a {
        issuer https://a.example.test/;
        jwks_file %%DIR%%/a.json;
        audience https://api.example.test;
    }
    auth_m2m_issuer b {
        issuer https://b.example.test/;
        jwks_file %%DIR%%/b.json;
        audience https://api.example.test;
    }
    auth_m2m_issuer c {
        issuer https://c.example.test/;
        jwks_file %%DIR%%/c.json;
        audience https://api.example.test;
    }

    # http level: inherited by the second server
    auth_m2m c;
    auth_m2m_realm "http-realm";

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        auth_m2m a;
        auth_m2m_scope api:read;
        auth_m2m_realm "tasks";
        add_header X-Issuer $m2m_issuer always;

        location /inherit/ {
            try_files /ok.txt =404;
            location /inherit/public/ {
                auth_m2m off;
                try_files /ok.txt =404;
            }
            location /inherit/nested/ {
                try_files /ok.txt =404;
            }
        }
        location /own-scope/ {
            auth_m2m_scope api:write;
            try_files /ok.txt =404;
        }
        location /multi/ {
            auth_m2m a b;
            try_files /ok.txt =404;
        }
        location /only-b/ {
            auth_m2m b;
            try_files /ok.txt =404;
        }
        location /header/ {
            auth_m2m_token $http_x_api_token;
            try_files /ok.txt =404;
        }
        location /cookie/ {
            auth_m2m_token $cookie_at;
            try_files /ok.txt =404;
        }
        location /realm/ {
            auth_m2m_realm "other realm";
            try_files /ok.txt =404;
        }
        location /off/ {
            auth_m2m off;
            try_files /ok.txt =404;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_second%%;
        root %%DIR%%/html;
        location / {
            try_files /ok.txt =404;
        }
        location /free/ {
            auth_m2m off;
            try_files /ok.txt =404;
        }
    }
EOF
$t->start;

my %KEY = (a => $ka, b => $kb, c => $kc);
sub tok {
    my ($issuer, %claims) = @_;
    return $t->mint(key => $KEY{$issuer}, claims => { iss => $ISS{$issuer}, aud => $AUD,
        client_id => "svc-$issuer", scope => 'api:read', %claims });
}

sub status_is {
    my ($path, $want, $name, %opt) = @_;
    my $r = $t->get($path, %opt);
    is($r->{status}, $want, $name) or diag $r->{content};
    return $r;
}

sub www_is {
    my ($r, $want, $name) = @_;
    is(M2MTest::challenge($r, 'Bearer'), $want, "$name: WWW-Authenticate");
}

my $A = tok('a');

# ------------------------------------------------------------ server -> location
{
    my $r = status_is('/inherit/x', 401, 'inherited from server: no token 401');
    www_is($r, 'Bearer realm="tasks"', 'inherited realm');
    status_is('/inherit/x', 200, 'inherited: token of a with api:read', token => $A);
    $r = status_is('/inherit/x', 403, 'inherited scope: token without api:read',
        token => tok('a', scope => 'api:write'));
    www_is($r, 'Bearer realm="tasks", error="insufficient_scope", scope="api:read"', 'inherited scope');

    status_is('/inherit/public/x', 200, 'nested location with auth_m2m off: no token 200');
    status_is('/inherit/public/x', 200, 'nested location with auth_m2m off: bad token ignored',
        headers => { Authorization => 'Bearer a b' });
    status_is('/inherit/nested/x', 401, 'nested location inherits: no token 401');
    status_is('/inherit/nested/x', 200, 'nested location inherits: token 200', token => $A);
    status_is('/off/x', 200, 'auth_m2m off in a location');
}

# ------------------------------------------------------------ own scope list replaces
{
    status_is('/own-scope/x', 200, 'own auth_m2m_scope: api:write alone is enough',
        token => tok('a', scope => 'api:write'));
    my $r = status_is('/own-scope/x', 403, 'own auth_m2m_scope: api:read alone is not', token => $A);
    www_is($r, 'Bearer realm="tasks", error="insufficient_scope", scope="api:write"',
        'own scope list names only its own scopes');
}

# ------------------------------------------------------------ several issuers
{
    my $r = status_is('/multi/x', 200, 'two issuers: token of a', token => $A);
    is($r->{headers}{'x-issuer'}, $ISS{a}, 'two issuers: $m2m_issuer is a');
    $r = status_is('/multi/x', 200, 'two issuers: token of b (EC key)', token => tok('b'));
    is($r->{headers}{'x-issuer'}, $ISS{b}, 'two issuers: $m2m_issuer is b');
    $r = status_is('/multi/x', 401, 'two issuers: token of c (defined, not listed)', token => tok('c'));
    www_is($r, 'Bearer realm="tasks", error="invalid_token", error_description="wrong_issuer"',
        'issuer not listed in the location');

    # iss picks the issuer, and only that issuer's keys are tried.
    my $cross = $t->mint(key => $kb, claims => { iss => $ISS{a}, aud => $AUD, client_id => 'x',
        scope => 'api:read' });
    $r = status_is('/multi/x', 401, 'iss of a, signed with b\'s key', token => $cross);
    www_is($r, 'Bearer realm="tasks", error="invalid_token", error_description="unknown_kid"',
        'keys of the issuer named by iss only');

    status_is('/only-b/x', 200, 'location with only b: token of b', token => tok('b'));
    $r = status_is('/only-b/x', 401, 'location with only b: token of a', token => $A);
    www_is($r, 'Bearer realm="tasks", error="invalid_token", error_description="wrong_issuer"',
        'server issuer replaced by the location list');
}

# ------------------------------------------------------------ auth_m2m_token
{
    status_is('/header/x', 200, 'auth_m2m_token $http_x_api_token', headers => { 'X-Api-Token' => $A });
    my $r = status_is('/header/x', 401, 'auth_m2m_token: Authorization is not used', token => $A);
    www_is($r, 'Bearer realm="tasks"', 'auth_m2m_token: empty variable is "no token"');
    $r = status_is('/header/x', 401, 'auth_m2m_token: bad token in the header',
        headers => { 'X-Api-Token' => 'not.a.token' });
    www_is($r, 'Bearer realm="tasks", error="invalid_token", error_description="malformed"',
        'auth_m2m_token: bad token');
    $r = status_is('/header/x', 401, 'auth_m2m_token: expired token in the header',
        headers => { 'X-Api-Token' => tok('a', exp => now() - 3600) });
    www_is($r, 'Bearer realm="tasks", error="invalid_token", error_description="expired"',
        'auth_m2m_token: expired');
    $r = status_is('/header/x', 403, 'auth_m2m_token: scopes still checked',
        headers => { 'X-Api-Token' => tok('a', scope => 'other') });

    status_is('/cookie/x', 200, 'auth_m2m_token $cookie_at', headers => { Cookie => "theme=dark; at=$A" });
    $r = status_is('/cookie/x', 401, 'auth_m2m_token $cookie_at: other cookies only',
        headers => { Cookie => 'theme=dark' });
    www_is($r, 'Bearer realm="tasks"', 'cookie missing');
}

# ------------------------------------------------------------ realm
{
    my $r = status_is('/realm/x', 401, 'location realm: no token');
    www_is($r, 'Bearer realm="other realm"', 'location realm');
    $r = status_is('/realm/x', 401, 'location realm: bad token', token => tok('a', exp => now() - 3600));
    www_is($r, 'Bearer realm="other realm", error="invalid_token", error_description="expired"',
        'location realm with error');
    $r = status_is('/realm/x', 403, 'location realm: scope', token => tok('a', scope => 'x'));
    www_is($r, 'Bearer realm="other realm", error="insufficient_scope", scope="api:read"',
        'location realm with insufficient_scope');
    $r = status_is('/realm/x', 400, 'location realm: malformed header',
        headers => { Authorization => 'Bearer' });
    www_is($r, 'Bearer realm="other realm", error="invalid_request", error_description="bad_authorization"',
        'location realm with invalid_request');
}

# ------------------------------------------------------------ http -> server
{
    my $r = status_is('/x', 401, 'http level auth_m2m inherited by a server', port => 'second');
    www_is($r, 'Bearer realm="http-realm"', 'http level realm');
    status_is('/x', 200, 'http level: token of c', port => 'second', token => tok('c'));
    $r = status_is('/x', 401, 'http level: token of a', port => 'second', token => $A);
    www_is($r, 'Bearer realm="http-realm", error="invalid_token", error_description="wrong_issuer"',
        'http level issuer only');
    status_is('/x', 200, 'http level: no scope inherited from the other server', port => 'second',
        token => tok('c', scope => ''));
    status_is('/free/x', 200, 'http level: auth_m2m off in a location', port => 'second');
}

$t->no_alerts_ok;
done_testing;
