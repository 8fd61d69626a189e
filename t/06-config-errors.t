# Configuration errors fail `nginx -t` with a message naming the directive
# and the file:line; a missing audience warns; a valid config passes (and
# serves).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use M2MTest qw(json_text);

my $t = M2MTest->new;
my $key = $t->rsa_key('k1');
my $ec = $t->ec_key('e1', 'P-256');
my $short = $t->rsa_key('short', 1024);
$t->write_jwks('good.json', $key, $ec);
$t->write_file('invalid.json', '{"keys": [ {"kty": "RSA", ');
$t->write_file('not-object.json', '[1, 2, 3]');
$t->write_file('no-keys.json', '{"foo": 1}');
$t->write_file('empty.json', '{"keys": []}');
$t->write_file('oct.json', json_text({ keys => [{ kty => 'oct', kid => 'h', k => 'c2VjcmV0LXNlY3JldC1zZWNyZXQ' }] }));
$t->write_jwks('enc.json', $t->jwk($key, use => 'enc'));
$t->write_jwks('short.json', $short);
$t->write_jwks('bad-member.json', { %{ $t->jwk($key) }, n => 'not base64url!' });
$t->write_jwks('okp.json', { kty => 'OKP', crv => 'Ed25519', kid => 'ed', x => '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' });

my $SERVER = <<'EOF';
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /api/ {
            auth_m2m main;
            try_files /ok.txt =404;
        }
    }
EOF

sub issuer {
    my ($extra, %opt) = @_;
    my $jwks = $opt{jwks} // '        jwks_file %%DIR%%/good.json;';
    my $iss = $opt{iss} // '        issuer https://idp.example.test/;';
    my $aud = $opt{aud} // '        audience https://api.example.test;';
    return "    auth_m2m_issuer main {\n$iss\n$jwks\n$aud\n" . ($extra // '') . "    }\n";
}

# Runs nginx -t; the expected line is the one marked "# HERE", or any line
# from "# HERE" to "# END" (errors found when a block closes).
sub fails_ok {
    my ($name, $http, $message_re, %opt) = @_;
    my $res = $t->nginx_t($http);
    isnt($res->{rc}, 0, "$name: nginx -t fails");
    my ($emerg) = grep { /\[emerg\]/ } split /\n/, $res->{out};
    ok(defined $emerg, "$name: [emerg] message") or return diag $res->{out};
    like($emerg, $message_re, "$name: message names the directive");
    like($emerg, qr/auth_m2m/, "$name: message names the module") unless $opt{core};
    my ($file, $line) = $emerg =~ / in (\S+):(\d+)\s*$/;
    is($file, $res->{file}, "$name: message names the file");
    my $from = $t->line_of($res->{file}, qr/# HERE/);
    my $to = $t->line_of($res->{file}, qr/# END/) // $from;
    ok(defined $line && $line >= $from && $line <= $to,
        "$name: line " . ($line // '?') . ($from == $to ? " is $from" : " in $from..$to"))
        or diag $emerg;
    unlike($res->{out}, qr/\[(alert|crit)\]/, "$name: no alert");
}

# ------------------------------------------------------------ issuer names
fails_ok('unknown issuer name', issuer() . <<'EOF', qr/nosuch/);
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            auth_m2m main nosuch;  # HERE
        }  # END
    }
EOF

fails_ok('duplicate issuer block name', issuer() . <<'EOF' . $SERVER, qr/duplicate/, core => 0);
    auth_m2m_issuer main {  # HERE
        issuer https://other.example.test/;
        jwks_file %%DIR%%/good.json;
        audience https://api.example.test;
    }  # END
EOF

# ------------------------------------------------------------ key files
for my $case (
    ['missing key file', 'missing.json'],
    ['key file not JSON', 'invalid.json'],
    ['key file not an object', 'not-object.json'],
    ['key file without "keys"', 'no-keys.json'],
    ['JWKS with no key', 'empty.json'],
    ['JWKS with only a symmetric key', 'oct.json'],
    ['JWKS with only an "enc" key', 'enc.json'],
    ['JWKS with only a 1024-bit RSA key', 'short.json'],
    ['JWKS with only a bad RSA modulus', 'bad-member.json'],
    ['JWKS with only an OKP key', 'okp.json'],
) {
    my ($name, $file) = @$case;
    # The error may be reported at the directive or when the block closes.
    my $http = issuer(undef, jwks => "        jwks_file %%DIR%%/$file;  # HERE") =~ s/^    \}$/    }  # END/mr;
    fails_ok($name, $http . $SERVER, qr/jwks_file/);
}

# ------------------------------------------------------------ algorithms
for my $algs ('none', 'HS256', 'HS384', 'HS512', 'FOO', 'RS256 HS256', 'rs256') {
    fails_ok("algorithms $algs", issuer("        algorithms $algs;  # HERE\n") . $SERVER,
        qr/algorithms.*(none|HS\d+|FOO|rs256)|(none|HS\d+|FOO|rs256).*algorithms/);
}

# ------------------------------------------------------------ duplicates
fails_ok('duplicate issuer', issuer("        issuer https://again.example.test/;  # HERE\n") . $SERVER,
    qr/"issuer".*duplicate/, core => 1);
fails_ok('duplicate jwks_file', issuer("        jwks_file %%DIR%%/good.json;  # HERE\n") . $SERVER,
    qr/"jwks_file".*duplicate/, core => 1);
fails_ok('duplicate leeway', issuer("        leeway 30s;\n        leeway 10s;  # HERE\n") . $SERVER,
    qr/"leeway".*duplicate/, core => 1);
fails_ok('duplicate audience', issuer("        audience https://other.example.test;  # HERE\n") . $SERVER,
    qr/"audience" directive is duplicate/, core => 1);
fails_ok('second key source', issuer("        jwks_uri https://idp.example.test/jwks;  # HERE\n") . $SERVER,
    qr/"jwks_uri" conflicts with another key source/);
for my $d (['auth_m2m_realm', 'auth_m2m_realm "a";'], ['auth_m2m_token', 'auth_m2m_token $http_x_t;'],
           ['auth_m2m', 'auth_m2m main;'])
{
    my ($name, $line) = @$d;
    fails_ok("duplicate $name", issuer() . <<"EOF", qr/"$name".*duplicate/);
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            $line
            $line  # HERE
        }
    }
EOF
}

# ------------------------------------------------------------ incomplete blocks
fails_ok('issuer block without issuer', <<'EOF' . $SERVER, qr/issuer/);
    auth_m2m_issuer main {  # HERE
        jwks_file %%DIR%%/good.json;
        audience https://api.example.test;
    }  # END
EOF
fails_ok('issuer block without jwks_file', <<'EOF' . $SERVER, qr/jwks_file/);
    auth_m2m_issuer main {  # HERE
        issuer https://idp.example.test/;
        audience https://api.example.test;
    }  # END
EOF

# ------------------------------------------------------------ other values
fails_ok('leeway not a time', issuer("        leeway soon;  # HERE\n") . $SERVER, qr/leeway/, core => 1);
fails_ok('unknown directive in an issuer block', issuer("        leway 30s;  # HERE\n") . $SERVER,
    qr/unknown directive "leway"/, core => 1);
fails_ok('leeway without a value', issuer("        leeway;  # HERE\n") . $SERVER,
    qr/invalid number of arguments in "leeway" directive/, core => 1);
fails_ok('audience without a value', issuer("        audience;  # HERE\n", aud => '') . $SERVER,
    qr/invalid number of arguments in "audience" directive/, core => 1);
fails_ok('fetch_timeout 0', issuer("        fetch_timeout 0;  # HERE\n") . $SERVER,
    qr/"fetch_timeout" directive invalid value/, core => 1);
fails_ok('jwks_max_size 0', issuer("        jwks_max_size 0;  # HERE\n") . $SERVER,
    qr/"jwks_max_size" directive invalid value/, core => 1);
fails_ok('refresh 0', issuer("        refresh 0;  # HERE\n") . $SERVER, qr/"refresh" must be at least 1s/);
fails_ok('auth_m2m_claim_set without $', "    auth_m2m_claim_set roles realm_access roles;  # HERE\n"
    . issuer() . $SERVER, qr/auth_m2m_claim_set|roles/, core => 1);
fails_ok('auth_m2m_scope without a scope', issuer() . <<'EOF', qr/auth_m2m_scope/);
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/ {
            auth_m2m main;
            auth_m2m_scope;  # HERE
        }
    }
EOF

# ------------------------------------------------------------ warnings and success
{
    my $res = $t->nginx_t(issuer(undef, aud => '') . $SERVER);
    is($res->{rc}, 0, 'no audience: nginx -t passes') or diag $res->{out};
    like($res->{out}, qr/\[warn\].*audience/, 'no audience: [warn] mentions audience');
    like($res->{out}, qr/\[warn\].*main/, 'no audience: [warn] names the issuer block');

    my $valid = issuer("        algorithms RS256 ES256;\n        leeway 30s;\n        require_typ at+jwt;\n"
            . "        client_id_claim client_id azp;\n        scope_claim scope scp;\n")
        . "    auth_m2m_claim_set \$roles realm_access roles;\n" . $SERVER;
    $res = $t->nginx_t($valid);
    is($res->{rc}, 0, 'valid config: nginx -t passes') or diag $res->{out};
    like($res->{out}, qr/syntax is ok/, 'valid config: syntax is ok');
    like($res->{out}, qr/test is successful/, 'valid config: test is successful');
    unlike($res->{out}, qr/\[(warn|emerg|alert|crit)\]/, 'valid config: no warning');

    # And it serves.
    $t->config($valid);
    $t->start;
    is($t->get('/api/x')->{status}, 401, 'valid config serves: no token 401');
    my $tok = $t->mint(key => $key, header => { typ => 'at+jwt' },
        claims => { iss => 'https://idp.example.test/', aud => 'https://api.example.test', azp => 'svc' });
    is($t->get('/api/x', token => $tok)->{status}, 200, 'valid config serves: token 200');
}

$t->no_alerts_ok;
done_testing;
