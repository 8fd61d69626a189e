# The local issuer's DPoP-bound tokens (RFC 9449 §5, issue 10): a token
# request with a valid DPoP proof gets token_type DPoP and a token whose
# cnf.jkt is the proof key's RFC 7638 thumbprint; a bad or replayed proof
# gets 400 invalid_dpop_proof; no proof, a bearer token. The issued token is
# then accepted by a location of the same nginx with a proof of that key, and
# refused as Bearer or with another key's proof. Proofs and thumbprints by
# PyJWT and cryptography (t/lib/dpop.py), tokens checked by PyJWT
# (t/lib/local_issuer.py).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use DpopMint;
use M2MTest qw(now b64u);

my $PY = '/usr/bin/python3';
plan skip_all => "$PY with jwt and cryptography needed"
    unless system($PY, '-c', 'import jwt, cryptography') == 0;

my $ISS = 'https://issuer.example.test/';
my $t = M2MTest->new(workers => 2);

my $MINT = DpopMint->new;
sub py { return $MINT->call(@_) }
my %key = (ec => py(op => 'key', name => 'ec', kind => 'ec'), rsa => py(op => 'key', name => 'rsa', kind => 'rsa'),
    other => py(op => 'key', name => 'other', kind => 'ec'));
sub proof { return py(op => 'proof', @_)->{proof} }

system($PY, "$FindBin::Bin/lib/local_issuer.py", 'keygen', 'ec', $t->path('signing.pem')) == 0
    or BAIL_OUT('keygen failed');

# ------------------------------------------------------------ one client, as registry.h describes it
my ($CLIENT, $ID, $SECRET) = M2MTest::registry_client(name => 'dpop-client');
$t->write_registry('clients.json', $CLIENT);

$t->config(<<'EOF');
    auth_m2m_issuer local {
        issuer https://issuer.example.test/;
        signing_key %%DIR%%/signing.pem;
        clients %%DIR%%/clients.json;
        token_lifetime 10m;
        audience api://tasks;
    }
    log_format dpop '$request_uri|$status|$m2m_error|$m2m_token_type|$m2m_dpop_jkt';
    access_log %%DIR%%/dpop.log dpop;
    root %%DIR%%/html;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /oauth/token { auth_m2m_token_endpoint local; }
        location = /plain/token { auth_m2m_token_endpoint local; auth_m2m_dpop off; }
        location = /gw/token {
            auth_m2m_base_url https://auth.example.test;
            auth_m2m_token_endpoint local;
        }
        location = /jwks { auth_m2m_jwks_endpoint local; }
        location /api/ { auth_m2m local; try_files /ok.txt =404; }
    }
EOF
$t->start;

my $BASE = 'http://127.0.0.1:' . $t->port;

# POST client credentials to $path with the given DPoP header(s)
sub token_request {
    my ($path, $dpop) = @_;
    my %h = (Authorization => 'Basic ' . encode_base64("$ID:$SECRET", ''),
        'Content-Type' => 'application/x-www-form-urlencoded');
    $h{DPoP} = $dpop if defined $dpop;
    my $r = HTTP::Tiny->new(keep_alive => 0, timeout => 10)->post("$BASE$path",
        { headers => \%h, content => 'grant_type=client_credentials' });
    $r->{json} = eval { decode_json($r->{content}) } // {};
    return $r;
}

sub token_proof {
    my ($path, %o) = @_;
    return proof(key => 'ec', htm => 'POST', htu => "$BASE$path", %o);
}

# PyJWT's claims of a token the issuer signed ({} if it does not verify)
sub claims_of {
    my ($token) = @_;
    $t->write_file('jwks.json', HTTP::Tiny->new->get("$BASE/jwks")->{content});
    open my $fh, '-|', $PY, "$FindBin::Bin/lib/local_issuer.py", 'verify', $token // '', $t->path('jwks.json'),
        $t->path('signing.pem') or die "$PY: $!";
    my $out = do { local $/; <$fh> };
    close $fh;
    return $? == 0 ? decode_json($out)->{claims} : {};
}

my $n = 0;
# GET /api/ with the token: as "DPoP" with a proof of `key` unless scheme Bearer
sub use_token {
    my ($token, %o) = @_;
    my $uri = '/api/case-' . ++$n;
    my %h = (Authorization => ($o{scheme} // 'DPoP') . " $token");
    if (($o{scheme} // 'DPoP') eq 'DPoP') {
        $h{DPoP} = proof(key => $o{key} // 'ec', htm => 'GET', htu => "$BASE$uri", token => $token);
    }
    my $r = HTTP::Tiny->new(keep_alive => 0, timeout => 10)->get("$BASE$uri", { headers => \%h });
    my $line = $t->wait_log('dpop.log', qr/^\Q$uri\E\|/) // '';
    my @f = split /\|/, $line, -1;
    $r->{error} = $f[2];
    $r->{type} = $f[3];
    $r->{jkt} = $f[4];
    return $r;
}

sub refused_ok {
    my ($r, $code, $what) = @_;
    is($r->{status}, 400, "$what: 400") or diag $r->{content};
    is($r->{json}{error}, 'invalid_dpop_proof', "$what: invalid_dpop_proof");
    is($r->{json}{error_description}, $code, "$what: $code");
    ok(!exists $r->{json}{access_token}, "$what: no token");
}

# ------------------------------------------------------------ a DPoP-bound token
my $bound;
{
    my $r = token_request('/oauth/token', token_proof('/oauth/token'));
    is($r->{status}, 200, 'token request with a proof: 200') or diag $r->{content};
    is($r->{json}{token_type}, 'DPoP', 'token_type DPoP (RFC 9449 §5)');
    $bound = $r->{json}{access_token};
    my $claims = claims_of($bound);
    is_deeply($claims->{cnf}, { jkt => $key{ec}{jkt} }, 'its token: cnf.jkt is the proof key\'s thumbprint (PyJWT)');
    is($claims->{client_id}, $ID, 'its token: the client');
}
{
    my $r = use_token($bound);
    is($r->{status}, 200, 'the bound token with a proof of its key: 200');
    is($r->{type}, 'DPoP', '$m2m_token_type DPoP');
    is($r->{jkt}, $key{ec}{jkt}, '$m2m_dpop_jkt is the key\'s thumbprint');
    $r = use_token($bound, scheme => 'Bearer');
    is($r->{status}, 401, 'the bound token as Bearer: 401');
    is($r->{error}, 'dpop_bound_bearer', 'the bound token as Bearer: dpop_bound_bearer');
    $r = use_token($bound, key => 'other');
    is($r->{status}, 401, 'the bound token with another key\'s proof: 401');
    is($r->{error}, 'dpop_key_mismatch', 'another key: dpop_key_mismatch');
}
{
    my $r = token_request('/oauth/token', token_proof('/oauth/token', key => 'rsa'));
    is($r->{status}, 200, 'an RS256 proof: 200') or diag $r->{content};
    is_deeply(claims_of($r->{json}{access_token})->{cnf}, { jkt => $key{rsa}{jkt} }, 'RS256 proof: cnf.jkt of the RSA key');
}
{
    my $r = token_request('/gw/token', proof(key => 'ec', htm => 'POST', htu => 'https://auth.example.test/gw/token'));
    is($r->{status}, 200, 'htu from auth_m2m_base_url: 200') or diag $r->{content};
    is($r->{json}{token_type}, 'DPoP', 'htu from auth_m2m_base_url: DPoP');
}

# ------------------------------------------------------------ no proof, or DPoP off: a bearer token
{
    my $r = token_request('/oauth/token');
    is($r->{status}, 200, 'no DPoP header: 200');
    is($r->{json}{token_type}, 'Bearer', 'no DPoP header: token_type Bearer');
    ok(!exists claims_of($r->{json}{access_token})->{cnf}, 'no DPoP header: no cnf');
    is(use_token($r->{json}{access_token}, scheme => 'Bearer')->{status}, 200, 'its token as Bearer: 200');

    $r = token_request('/plain/token', token_proof('/plain/token'));
    is($r->{status}, 200, 'auth_m2m_dpop off: 200');
    is($r->{json}{token_type}, 'Bearer', 'auth_m2m_dpop off: the proof is ignored, Bearer');
}

# ------------------------------------------------------------ bad proofs
refused_ok(token_request('/oauth/token', token_proof('/oauth/token', htm => 'GET')), 'dpop_proof_wrong_method',
    'a proof for GET');
refused_ok(token_request('/oauth/token', token_proof('/other/token')), 'dpop_proof_wrong_uri', 'a proof for another URI');
refused_ok(token_request('/oauth/token', token_proof('/oauth/token', iat => now() - 3600)), 'dpop_proof_stale',
    'a stale proof');
refused_ok(token_request('/oauth/token', token_proof('/oauth/token', alg => 'none')), 'dpop_proof_alg_not_allowed',
    'alg none');
refused_ok(token_request('/oauth/token', token_proof('/oauth/token', jwk => 'private')), 'dpop_proof_private_key',
    'a private jwk');
refused_ok(token_request('/oauth/token', token_proof('/oauth/token', jwk => 'other')), 'dpop_proof_bad_signature',
    'signed by a key other than its jwk');
refused_ok(token_request('/oauth/token', [token_proof('/oauth/token'), token_proof('/oauth/token')]),
    'dpop_proof_multiple', 'two DPoP headers');
{
    my $p = token_proof('/oauth/token');
    is(token_request('/oauth/token', $p)->{status}, 200, 'a proof, first use: 200');
    refused_ok(token_request('/oauth/token', $p), 'dpop_proof_replayed', 'the same proof again');
}
{
    # a bad client is refused as such: its proof is never looked at
    my $r = HTTP::Tiny->new(keep_alive => 0)->post("$BASE/oauth/token", { headers => {
        Authorization => 'Basic ' . encode_base64("$ID:wrong", ''), DPoP => 'garbage',
        'Content-Type' => 'application/x-www-form-urlencoded' }, content => 'grant_type=client_credentials' });
    is($r->{status}, 401, 'wrong secret with a garbage proof: 401');
    like($r->{content}, qr/"invalid_client"/, 'wrong secret with a garbage proof: invalid_client');
}
ok($t->wait_log('error.log', qr/token request refused: invalid_dpop_proof \(dpop_proof_replayed\), issuer "local"/),
    'the refusal is logged with its reason');

$t->no_alerts_ok;
done_testing;
