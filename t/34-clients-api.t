# The clients API (auth_m2m_clients_api, issue 9): RFC 7591 registration and
# RFC 7592 management of the local issuer's registry over HTTP, guarded by
# this module itself. A first admin client is made with m2m-clients; its
# token (from the token endpoint) registers, reads, lists, updates, disables
# and deletes clients, and what it registers gets tokens at once. Issued
# tokens pass through the issuer's own keys, jwks_uri and discovery; secret
# rotation by m2m-clients with and without grace at the token endpoint. Writes
# from two workers and from m2m-clients at the same time all land while token
# requests go on, none failing. Secrets are shown once and never reach a log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Basename ();
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use POSIX ();
use M2MTest;

my $PY = '/usr/bin/python3';
my $HELPER = "$FindBin::Bin/lib/local_issuer.py";
plan skip_all => "$PY with jwt and cryptography needed"
    unless system($PY, '-c', 'import jwt, cryptography') == 0;

my $t = M2MTest->new;
my $CLI = File::Basename::dirname($t->{module}) . '/m2m-clients';
plan skip_all => "no m2m-clients beside the module ($CLI)" unless -x $CLI;

system($PY, $HELPER, 'keygen', 'ec', $t->path('signing.pem')) == 0 or BAIL_OUT('keygen failed');

# The workers (nobody, when the tests run as root) write the registry: its
# directory must be theirs to write in, as the README says.
my $reg_dir = $t->path('reg');
mkdir $reg_dir or die "$reg_dir: $!";
chmod 0777, $reg_dir;
my $REG = "$reg_dir/clients.json";

sub cli {
    my (@args) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec $CLI, '--file', $REG, @args or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

my ($rc, $out) = cli('create', '--name', 'admin', '--scopes', 'clients:admin', '--json');
is($rc, 0, 'm2m-clients makes the first admin client') or diag($out);
my $admin = decode_json($out);
($rc, $out) = cli('create', '--name', 'reader', '--scopes', 'tasks:read', '--json');
my $reader = decode_json($out);

my $LOCAL = <<'EOF';
    auth_m2m_issuer local {
        issuer https://issuer.example.test/;
        signing_key %%DIR%%/signing.pem;
        clients %%DIR%%/reg/clients.json;
        audience api://tasks;
    }
EOF

# ------------------------------------------------------------ configuration
for my $case (
    [ 'no auth_m2m in its location', 'location /c { auth_m2m_clients_api local; }',
      qr/"auth_m2m_clients_api" in \S+ needs "auth_m2m"/ ],
    [ 'an exact location', 'location = /c { auth_m2m local; auth_m2m_clients_api local; }',
      qr/must be in a prefix location/ ],
) {
    my ($name, $loc, $re) = @$case;
    my $res = $t->nginx_t("$LOCAL server { listen 127.0.0.1:%%PORT%%; $loc }");
    isnt($res->{rc}, 0, "nginx -t refuses the clients API in $name");
    like($res->{out}, $re, "... and says why ($name)");
}
{
    my $res = $t->nginx_t(<<'EOF');
    auth_m2m_issuer nofile { issuer https://n.test/; signing_key %%DIR%%/signing.pem; audience a; }
    server { listen 127.0.0.1:%%PORT%%;
        location /c { auth_m2m nofile; auth_m2m_clients_api nofile; } }
EOF
    isnt($res->{rc}, 0, 'nginx -t refuses the clients API of an issuer without a clients file');
    like($res->{out}, qr/no "clients" file to manage/, '... and says why');
}

# ------------------------------------------------------------ nginx
$t->config($LOCAL . <<'EOF');
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;

        location = /oauth2/token { auth_m2m_token_endpoint local; }
        location /oauth2/clients {
            auth_m2m local;
            auth_m2m_scope clients:admin;
            auth_m2m_clients_api local;
        }
        location /api/ { auth_m2m local; auth_m2m_scope tasks:read; try_files /ok.txt =404; }
        location = /.well-known/jwks.json { auth_m2m_jwks_endpoint local; }
        location = /.well-known/oauth-authorization-server { auth_m2m_metadata_endpoint local; }

        # the same issuer's tokens through its published keys, as another
        # gateway would take them
        location /via-jwks/ { auth_m2m by_jwks_uri; try_files /ok.txt =404; }
        location /via-discovery/ { auth_m2m by_discovery; try_files /ok.txt =404; }
    }
    auth_m2m_issuer by_jwks_uri {
        issuer https://issuer.example.test/;
        jwks_uri http://127.0.0.1:%%PORT%%/.well-known/jwks.json;
        audience api://tasks;
    }
    auth_m2m_issuer by_discovery {
        issuer https://issuer.example.test/;
        discovery http://127.0.0.1:%%PORT%%/.well-known/oauth-authorization-server;
        audience api://tasks;
    }
EOF
$t->start;
my $port = $t->port;
my $base = "http://127.0.0.1:$port";
my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10, agent => 'm2m-t/1');

sub token_for {
    my ($id, $secret) = @_;
    my $r = $http->request('POST', "$base/oauth2/token", {
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded',
                     Authorization => 'Basic ' . encode_base64("$id:$secret", '') },
        content => 'grant_type=client_credentials' });
    return $r->{status} == 200 ? decode_json($r->{content})->{access_token} : undef;
}

sub api {
    my ($method, $path, %o) = @_;
    my %h;
    $h{Authorization} = "Bearer $o{token}" if defined $o{token};
    $h{'Content-Type'} = 'application/json' if defined $o{body};
    my $r = $http->request($method, "$base/oauth2/clients$path",
        { headers => \%h, (defined $o{body} ? (content => $o{body}) : ()) });
    $r->{json} = eval { decode_json($r->{content}) } if ($r->{headers}{'content-type'} // '') eq 'application/json';
    return $r;
}

sub registry_file { return decode_json($t->read_file('reg/clients.json')) }
sub in_file { my ($id) = @_; return grep { $_->{client_id} eq $id } @{ registry_file()->{clients} } }

my $admin_token = token_for($admin->{client_id}, $admin->{client_secret});
ok($admin_token, 'the admin client gets a token');
my $reader_token = token_for($reader->{client_id}, $reader->{client_secret});

# an issued token through each key source: the issuer's own keys, its JWK
# Set fetched over HTTP, and its metadata's jwks_uri
is($t->get('/api/x', token => $reader_token)->{status}, 200, 'an issued token: accepted through auth_m2m local');
ok($t->poll(10, sub { $t->get('/via-jwks/x', token => $reader_token)->{status} == 200 }),
   '... through jwks_uri at the JWKS endpoint');
ok($t->poll(10, sub { $t->get('/via-discovery/x', token => $reader_token)->{status} == 200 }),
   '... through discovery at the metadata endpoint');
is($t->get('/via-jwks/x', token => $reader_token . 'x')->{status}, 401, '... and a changed one is refused there');

# ------------------------------------------------------------ guarded
is(api('GET', '')->{status}, 401, 'no token: 401');
is(api('GET', '', token => $reader_token)->{status}, 403, 'a token without clients:admin: 403');
is(api('POST', '', token => $reader_token, body => '{}')->{status}, 403, '... also for a registration');

# ------------------------------------------------------------ register
my $r = api('POST', '', token => $admin_token,
    body => encode_json({ client_name => 'reporting bot', scope => 'tasks:read tasks:write',
                          grant_types => ['client_credentials'], claims => { org_id => 'acme' } }));
is($r->{status}, 201, 'POST registers a client: 201');
my $new = $r->{json} // {};
like($new->{client_id} // '', qr/^m2m_[0-9a-f]{32}$/, 'it has a client_id');
like($new->{client_secret} // '', qr/^[A-Za-z0-9_-]{43}$/, 'and a 256-bit secret, shown this once');
is($new->{client_secret_expires_at}, 0, 'client_secret_expires_at 0: it does not expire');
ok(abs(($new->{client_id_issued_at} // 0) - time) < 60, 'client_id_issued_at is now');
my $uri = "$base/oauth2/clients/" . ($new->{client_id} // '');
is($new->{registration_client_uri}, $uri, 'registration_client_uri names it under the location');
is($r->{headers}{location}, $uri, 'Location says the same');
is($r->{headers}{'cache-control'}, 'no-store', 'Cache-Control: no-store (a secret is in the body)');
is($new->{scope}, 'tasks:read tasks:write', 'its scopes');
is_deeply($new->{grant_types}, ['client_credentials'], 'its grant type');
is($new->{claims}{org_id}, 'acme', 'its extra claims');

my ($entry) = in_file($new->{client_id});
ok($entry, 'the client is in the registry file');
unlike($t->read_file('reg/clients.json'), qr/\Q$new->{client_secret}\E/, 'its secret is not in the file');

# the new client trades its secret for a token, and the token works
my $new_token;
$t->poll(10, sub { $new_token = token_for($new->{client_id}, $new->{client_secret}) });
ok($new_token, 'the registered client gets a token without a reload');
is($t->get('/api/x', token => $new_token)->{status}, 200, 'and its token opens the API');
my (undef, $payload) = split /\./, $new_token // '';
$payload =~ tr/-_/+\//;
my $claims = eval { decode_json(decode_base64($payload . '=' x (-length($payload) % 4))) } // {};
is($claims->{org_id}, 'acme', 'the token carries the extra claim registered with it');
is($new->{tls_client_certificate_bound_access_tokens}, JSON::PP::false,
    'not certificate-bound unless asked (RFC 8705 §3.4 metadata shown)');

# a certificate-bound client (RFC 8705 §3.4): shown and kept as such, and
# refused tokens over this plain-HTTP endpoint (t/43 has the mTLS side)
{
    my $r = api('POST', '', token => $admin_token, body => encode_json({ client_name => 'bound',
        scope => 'tasks:read', tls_client_certificate_bound_access_tokens => JSON::PP::true }));
    is($r->{status}, 201, 'POST a certificate-bound client: 201');
    my $bound = $r->{json} // {};
    is($bound->{tls_client_certificate_bound_access_tokens}, JSON::PP::true, 'it is shown certificate-bound');
    my ($entry) = in_file($bound->{client_id} // '');
    ok($entry && $entry->{tls_client_certificate_bound_access_tokens}, 'and so written in the file');
    my $tr;
    $t->poll(10, sub {
        $tr = $http->request('POST', "$base/oauth2/token", {
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded',
                         Authorization => 'Basic ' . encode_base64("$bound->{client_id}:$bound->{client_secret}", '') },
            content => 'grant_type=client_credentials' });
        $tr->{status} != 401;    # until the workers have read the new registry
    });
    is($tr->{status}, 400, 'without a client certificate it gets no token: 400');
    like($tr->{content}, qr/"error":"unauthorized_client"/, '... unauthorized_client');
    $r = api('POST', '', token => $admin_token, body => encode_json({ client_name => 'x', scope => 'tasks:read',
        tls_client_certificate_bound_access_tokens => 'yes' }));
    is($r->{status}, 400, 'tls_client_certificate_bound_access_tokens not a boolean: 400');
    is(($r->{json} // {})->{error}, 'invalid_client_metadata', '... invalid_client_metadata');
}

# ------------------------------------------------------------ read
$r = api('GET', '', token => $admin_token);
is($r->{status}, 200, 'GET lists the clients');
my %listed = map { $_->{client_id} => $_ } @{ $r->{json}{clients} // [] };
ok($listed{$new->{client_id}} && $listed{ $admin->{client_id} } && $listed{ $reader->{client_id} },
   'the list has all three clients');
unlike($r->{content}, qr/client_secret"|sha256:/, 'the list shows no secret and no hash');
$r = api('GET', "/$new->{client_id}", token => $admin_token);
is($r->{status}, 200, 'GET one client');
is($r->{json}{client_name}, 'reporting bot', '... with its name');
ok(!exists $r->{json}{client_secret}, '... and without its secret');
is(scalar @{ $r->{json}{secrets} // [] }, 1, '... but with its secret\'s id and dates');
$r = api('GET', '/m2m_00000000000000000000000000000000', token => $admin_token);
is($r->{status}, 404, 'GET an unknown client: 404');
is(api('GET', "/$new->{client_id}/more", token => $admin_token)->{status}, 404, 'a deeper path: 404');

# ------------------------------------------------------------ refusals
for my $case (
    [ 'not JSON', 'name=x' ],
    [ 'a grant this issuer does not do', '{"grant_types":["authorization_code"]}' ],
    [ 'an auth method it does not do', '{"token_endpoint_auth_method":"private_key_jwt"}' ],
    [ 'a scope that is not a scope-token', '{"scope":"tasks:read bad\\"quote"}' ],
    [ 'claims that override iss', '{"claims":{"iss":"https://evil.test/"}}' ],
    [ 'a chosen client_id', '{"client_id":"m2m_mine"}' ],
) {
    my ($name, $body) = @$case;
    $r = api('POST', '', token => $admin_token, body => $body);
    is($r->{status}, 400, "POST with $name: 400");
    is($r->{json}{error}, 'invalid_client_metadata', "... invalid_client_metadata ($name)");
}
$r = api('POST', '', token => $admin_token, body => '{"client_name":"' . ('x' x 20000) . '"}');
is($r->{status}, 413, 'a body over 16 KiB: 413');
$r = api('PATCH', "/$new->{client_id}", token => $admin_token, body => '{}');
is($r->{status}, 405, 'PATCH: 405');
like($r->{headers}{allow} // '', qr/PUT/, '... with Allow');

# ------------------------------------------------------------ update
$r = api('PUT', "/$new->{client_id}", token => $admin_token,
    body => encode_json({ client_id => 'm2m_someone_else', client_name => 'x' }));
is($r->{status}, 400, 'PUT naming another client_id: 400');
$r = api('PUT', "/$new->{client_id}", token => $admin_token,
    body => encode_json({ client_id => $new->{client_id}, client_secret => 'not-its-secret' }));
is($r->{status}, 400, 'PUT with a secret that is not the client\'s: 400');
$r = api('PUT', "/$new->{client_id}", token => $admin_token,
    body => encode_json({ client_id => $new->{client_id}, client_secret => $new->{client_secret},
                          client_name => 'reporting bot v2', scope => 'tasks:read', enabled => JSON::PP::false }));
is($r->{status}, 200, 'PUT replaces the metadata: 200');
is($r->{json}{client_name}, 'reporting bot v2', '... the new name');
is($r->{json}{scope}, 'tasks:read', '... the new scopes');
ok(!exists $r->{json}{claims}, '... claims left out are gone (RFC 7592 §2.2)');
is($r->{json}{enabled}, JSON::PP::false, '... disabled');
($entry) = in_file($new->{client_id});
is($entry->{enabled}, JSON::PP::false, 'the file says disabled');
ok($t->poll(10, sub { !defined token_for($new->{client_id}, $new->{client_secret}) }),
   'a disabled client gets no token, without a reload');

# ------------------------------------------------------------ delete
is(api('DELETE', "/$new->{client_id}", token => $admin_token)->{status}, 204, 'DELETE: 204');
ok(!in_file($new->{client_id}), 'the client is gone from the file');
is(api('GET', "/$new->{client_id}", token => $admin_token)->{status}, 404, 'GET after DELETE: 404');
is(api('DELETE', "/$new->{client_id}", token => $admin_token)->{status}, 404, 'DELETE again: 404');

# ------------------------------------------------------------ secret rotation
# m2m-clients rotates a secret while nginx runs: with a grace period both
# secrets get tokens; without one the old secret stops within seconds.
{
    my ($crc, $cout) = cli('create', '--name', 'rotating', '--scopes', 'tasks:read', '--json');
    my $c = decode_json($cout);
    ok($t->poll(10, sub { defined token_for($c->{client_id}, $c->{client_secret}) }), 'rotation: the first secret works');
    ($crc, $cout) = cli('rotate-secret', $c->{client_id}, '--grace', '1h');
    is($crc, 0, 'rotate-secret --grace 1h') or diag($cout);
    my ($second) = $cout =~ /^client_secret:\s+(\S+)/m;
    ok($second && $t->poll(10, sub { defined token_for($c->{client_id}, $second) }),
       'with a grace period the new secret works');
    ok(defined token_for($c->{client_id}, $c->{client_secret}), '... and so does the old one, until the grace ends');
    ($crc, $cout) = cli('rotate-secret', $c->{client_id});
    my ($third) = $cout =~ /^client_secret:\s+(\S+)/m;
    ok($third && $t->poll(10, sub { defined token_for($c->{client_id}, $third) }),
       'rotate-secret without grace: the newest secret works');
    ok($t->poll(10, sub { !defined token_for($c->{client_id}, $second) && !defined token_for($c->{client_id}, $c->{client_secret}) }),
       '... and the older ones stop within seconds, without a reload');
}

# ------------------------------------------------------------ concurrent writers
# Two processes register through the API (two workers serve them) while
# m2m-clients creates clients in the same file, and a third keeps asking
# for tokens: every client lands, and no token request fails meanwhile.
my $before = scalar @{ registry_file()->{clients} };
my $stop_file = $t->path('stop-load');
my $load_pid = fork // die "fork: $!";
if (!$load_pid) {
    my ($ok, $failed) = (0, 0);
    until (-e $stop_file) {
        defined token_for($reader->{client_id}, $reader->{client_secret}) ? $ok++ : $failed++;
    }
    open my $fh, '>', $t->path('load-result') or POSIX::_exit(2);
    print $fh "$ok $failed\n";
    close $fh;
    POSIX::_exit(0);
}
my @pids;
for my $k (1 .. 2) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $h = HTTP::Tiny->new(keep_alive => 0, timeout => 20);
        my $bad = 0;
        for my $i (1 .. 10) {
            my $res = $h->request('POST', "$base/oauth2/clients", {
                headers => { Authorization => "Bearer $admin_token", 'Content-Type' => 'application/json' },
                content => encode_json({ client_name => "api-$k-$i", scope => 'tasks:read' }) });
            $bad++ unless $res->{status} == 201;
        }
        POSIX::_exit($bad ? 1 : 0);
    }
    push @pids, $pid;
}
my $cli_bad = 0;
for my $i (1 .. 10) {
    my ($crc) = cli('create', '--name', "cli-$i", '--scopes', 'tasks:read');
    $cli_bad++ if $crc;
}
my $api_bad = 0;
for my $pid (@pids) { waitpid($pid, 0); $api_bad++ if $? }
open my $stop, '>', $stop_file or die "$stop_file: $!";
close $stop;
waitpid($load_pid, 0);
my ($load_ok, $load_failed) = split ' ', ($t->read_file('load-result') // '0 1');
ok($load_ok > 0, "token requests were served during the writes ($load_ok)");
is($load_failed, 0, 'and none of them failed');
is($api_bad, 0, 'every API registration answered 201 while others wrote');
is($cli_bad, 0, 'every m2m-clients create succeeded meanwhile');
my $after = eval { registry_file() };
ok($after, 'the file is valid JSON after the concurrent writes');
is(scalar @{ $after->{clients} // [] }, $before + 30, 'all 30 new clients are in it: no update lost');

# ------------------------------------------------------------ logs
my $logs = $t->read_file('error.log') . $t->read_file('access.log');
unlike($logs, qr/\Q$new->{client_secret}\E/, 'the registered secret is in no log');
unlike($logs, qr/\Q$admin->{client_secret}\E/, 'nor the admin\'s');
like($t->read_file('error.log'), qr/auth_m2m_clients_api: client "\Q$new->{client_id}\E" registered/,
     'a registration is logged with the client id');
$t->no_alerts_ok;

$t->stop;
done_testing;
