# Algorithms: every RS/PS/ES variant with keys from the JWKS, the algorithms
# allow-list, key/alg agreement (kty, curve, the JWK's own alg, use), kid-less
# tokens (verified only when exactly one key fits), require_typ, crit, and headers that must never be followed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use M2MTest qw(now);

my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my $rsa = $t->rsa_key('r1');
my %ec = (
    'P-256' => $t->ec_key('e256', 'P-256'),
    'P-384' => $t->ec_key('e384', 'P-384'),
    'P-521' => $t->ec_key('e521', 'P-521'),
);
my $attacker = $t->rsa_key('r1');
my $attacker_ec = $t->ec_key('e256', 'P-256');

$t->write_jwks('keys.json',
    $rsa,
    $t->jwk($rsa, kid => 'r1-rs256', alg => 'RS256', use => 'sig'),
    $t->jwk($rsa, kid => 'r1-enc', use => 'enc'),
    $t->jwk($ec{'P-256'}, alg => 'ES256'),
    $ec{'P-384'},
    $ec{'P-521'},
);

$t->config(<<'EOF');
    auth_m2m_issuer all {
        issuer https://all.example.test/;
        jwks_file %%DIR%%/keys.json;
        audience https://api.example.test;
    }
    auth_m2m_issuer restricted {
        issuer https://restricted.example.test/;
        jwks_file %%DIR%%/keys.json;
        audience https://api.example.test;
        algorithms RS256 ES384;
    }
    auth_m2m_issuer typed {
        issuer https://typed.example.test/;
        jwks_file %%DIR%%/keys.json;
        audience https://api.example.test;
        require_typ at+jwt;
    }
    auth_m2m_issuer typed_long {
        issuer https://typed-long.example.test/;
        jwks_file %%DIR%%/keys.json;
        audience https://api.example.test;
        require_typ application/at+jwt;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        add_header X-Alg $m2m_header_alg always;
        location /all/ {
            auth_m2m all;
            try_files /ok.txt =404;
        }
        location /restricted/ {
            auth_m2m restricted;
            try_files /ok.txt =404;
        }
        location /typed/ {
            auth_m2m typed typed_long;
            try_files /ok.txt =404;
        }
    }
EOF
$t->start;

sub tok {
    my ($issuer, %opt) = @_;
    return $t->mint(%opt, claims => { iss => "https://$issuer.example.test/", aud => $AUD,
        client_id => 'svc-alg', %{ $opt{claims} // {} } });
}

sub check {
    my ($path, $token, $want, $name) = @_;
    my $r = $t->get($path, token => $token);
    if ($want =~ /^\d+$/) {
        is($r->{status}, $want, $name) or diag M2MTest::challenge($r, 'Bearer') // $r->{content};
        return $r;
    }
    is($r->{status}, 401, "$name: 401");
    is(M2MTest::challenge($r, 'Bearer'),
        qq{Bearer realm="api", error="invalid_token", error_description="$want"}, "$name: $want");
    return $r;
}

# ------------------------------------------------------------ every algorithm
for my $alg (qw(RS256 RS384 RS512 PS256 PS384 PS512)) {
    my $r = check('/all/x', tok('all', key => $rsa, alg => $alg), 200, "$alg with kid");
    is($r->{headers}{'x-alg'}, $alg, "$alg: \$m2m_header_alg");
    # Without a kid only the one key that fits may be tried: for RS256 both
    # r1 and r1-rs256 (pinned to RS256) fit, so which one is ambiguous.
    check('/all/x', tok('all', key => $rsa, alg => $alg, kid => undef), $alg eq 'RS256' ? 'unknown_kid' : 200,
        "$alg without kid");
}
for my $crv (sort keys %ec) {
    my $k = $ec{$crv};
    my $r = check('/all/x', tok('all', key => $k), 200, "$k->{alg} ($crv) with kid");
    is($r->{headers}{'x-alg'}, $k->{alg}, "$k->{alg}: \$m2m_header_alg");
    check('/all/x', tok('all', key => $k, kid => undef), 200, "$k->{alg} ($crv) without kid");
}

# ------------------------------------------------------------ key and alg must agree
check('/all/x', tok('all', key => $rsa, kid => 'r1-rs256'), 200, 'JWK alg RS256, token RS256');
check('/all/x', tok('all', key => $rsa, kid => 'r1-rs256', alg => 'RS384'), 'key_alg_mismatch',
    'JWK alg RS256, token RS384');
check('/all/x', tok('all', key => $rsa, kid => 'r1-rs256', alg => 'PS256'), 'key_alg_mismatch',
    'JWK alg RS256, token PS256');
check('/all/x', tok('all', key => $ec{'P-256'}, kid => 'e384'), 'key_alg_mismatch',
    'ES256 token naming a P-384 key');
check('/all/x', tok('all', key => $ec{'P-384'}, kid => 'e256'), 'key_alg_mismatch',
    'ES384 token naming a P-256 key with alg ES256');
check('/all/x', tok('all', key => $rsa, kid => 'e256'), 'key_alg_mismatch',
    'RS256 token naming an EC key');
check('/all/x', tok('all', key => $ec{'P-256'}, kid => 'r1'), 'key_alg_mismatch',
    'ES256 token naming an RSA key');
check('/all/x', tok('all', key => $rsa, kid => 'r1-enc'), 'unknown_kid', 'key with use "enc" is ignored');

# ------------------------------------------------------------ forgeries
check('/all/x', tok('all', key => $attacker), 'bad_signature', 'RSA key not in the JWKS, kid r1');
check('/all/x', tok('all', key => $attacker, kid => undef, alg => 'RS384'), 'bad_signature',
    'RSA key not in the JWKS, no kid');
check('/all/x', tok('all', key => $attacker_ec, kid => undef), 'bad_signature',
    'EC key not in the JWKS, no kid');
check('/all/x', tok('all', key => $attacker, kid => undef, alg => 'RS384', header => { jwk => $t->jwk($attacker) }),
    'bad_signature', 'embedded "jwk" header is not used');
check('/all/x', tok('all', key => $attacker, kid => 'remote',
        header => { jku => 'http://127.0.0.1:1/jwks.json' }), 'unknown_kid', '"jku" is not followed');
check('/all/x', tok('all', key => $attacker, kid => 'remote',
        header => { x5u => 'http://127.0.0.1:1/cert.pem' }), 'unknown_kid', '"x5u" is not followed');

# ------------------------------------------------------------ algorithms directive
check('/restricted/x', tok('restricted', key => $rsa), 200, 'allow-list: RS256 allowed');
check('/restricted/x', tok('restricted', key => $ec{'P-384'}), 200, 'allow-list: ES384 allowed');
for my $alg (qw(RS384 RS512 PS256 PS384 PS512)) {
    check('/restricted/x', tok('restricted', key => $rsa, alg => $alg), 'alg_not_allowed',
        "allow-list: $alg refused");
}
check('/restricted/x', tok('restricted', key => $ec{'P-256'}), 'alg_not_allowed', 'allow-list: ES256 refused');
check('/restricted/x', tok('restricted', key => $ec{'P-521'}), 'alg_not_allowed', 'allow-list: ES512 refused');

# ------------------------------------------------------------ require_typ
for my $typ ('at+jwt', 'application/at+jwt', 'AT+JWT', 'Application/At+Jwt') {
    check('/typed/x', tok('typed', key => $rsa, header => { typ => $typ }), 200,
        "require_typ at+jwt: typ \"$typ\"");
    check('/typed/x', tok('typed-long', key => $rsa, header => { typ => $typ }), 200,
        "require_typ application/at+jwt: typ \"$typ\"");
}
for my $typ ('JWT', 'jwt', 'at+jwt2', 'application/jwt', 'at') {
    check('/typed/x', tok('typed', key => $rsa, header => { typ => $typ }), 'wrong_typ',
        "require_typ at+jwt: typ \"$typ\"");
}
check('/typed/x', tok('typed', key => $rsa), 'wrong_typ', 'require_typ: no typ');
check('/typed/x', tok('typed-long', key => $rsa, header => { typ => 'JWT' }), 'wrong_typ',
    'require_typ application/at+jwt: typ "JWT"');
check('/all/x', tok('all', key => $rsa, header => { typ => 'JWT' }), 200, 'typ not checked by default');

# ------------------------------------------------------------ crit
check('/all/x', tok('all', key => $rsa, header => { crit => ['x-custom'], 'x-custom' => 1 }),
    'unsupported_crit', 'crit naming an unknown extension');
check('/all/x', tok('all', key => $rsa, header => { crit => ['exp'], exp => now() + 60 }),
    'unsupported_crit', 'crit naming a registered name');

$t->no_alerts_ok;
done_testing;
