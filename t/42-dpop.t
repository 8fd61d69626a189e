# DPoP (RFC 9449): tokens bound to a key (cnf.jkt) and the proofs that come
# with them, all minted by PyJWT (t/lib/dpop.py, one coprocess for the whole
# file). The good case with ES256 and RS256 proofs; proofs for another method
# or URI, stale or future, replayed (also in the other worker), for another
# token (ath), by another key, unsigned, HMAC, with a private jwk; two proofs
# (400), none; a bound token as Bearer; auth_m2m_dpop required and off; the
# challenges; the variables in an access log; an internal redirect that must
# not take the request's own proof for a replay; the status page; and a
# replay cache too small for the traffic, which evicts and says so.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use DpopMint;
use M2MTest qw(now);

my $ISS = 'https://idp.example.test/';
my $AUD = 'https://api.example.test';
my $T0 = time;

my $MINT = DpopMint->new;
sub py { return $MINT->call(@_) }

my $t = M2MTest->new(workers => 2);
my $dir = $t->dir;

py(op => 'key', name => 'issuer', kind => 'ec');
my $EC = py(op => 'key', name => 'client_ec', kind => 'ec');
my $RSA = py(op => 'key', name => 'client_rsa', kind => 'rsa');
my $OTHER = py(op => 'key', name => 'other', kind => 'ec');
py(op => 'jwks', names => ['issuer'], path => "$dir/jwks.json");

sub token {
    my (%opt) = @_;
    return py(op => 'token', key => 'issuer', bind => $opt{bind},
        claims => { iss => $ISS, aud => $AUD, client_id => $opt{client} // 'svc' })->{token};
}
sub proof { return py(op => 'proof', @_)->{proof} }

my $TOK_EC = token(bind => 'client_ec', client => 'ec-client');
my $TOK_RSA = token(bind => 'client_rsa', client => 'rsa-client');
my $TOK_PLAIN = token(client => 'plain');

$t->config(<<'EOF');
    log_format dpop '$pid|$request_method|$request_uri|$status|$m2m_error|$m2m_token_type|$m2m_dpop_jkt|$m2m_client_id';
    auth_m2m_issuer main {
        issuer https://idp.example.test/;
        jwks_file %%DIR%%/jwks.json;
        audience https://api.example.test;
    }
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        root %%DIR%%/html;
        access_log %%DIR%%/dpop.log dpop;
        add_header X-Worker $pid always;

        location /api/ { auth_m2m main; try_files /ok.txt =404; }
        location /req/ { auth_m2m main; auth_m2m_dpop required; try_files /ok.txt =404; }
        location /off/ { auth_m2m main; auth_m2m_dpop off; try_files /ok.txt =404; }
        location /based/ {
            auth_m2m main;
            auth_m2m_base_url https://gw.example.test/;
            try_files /ok.txt =404;
        }
        location /wide/ { auth_m2m main; auth_m2m_dpop_window 300s; try_files /ok.txt =404; }
        location /scoped/ { auth_m2m main; auth_m2m_scope admin; try_files /ok.txt =404; }
        location /redir/ { auth_m2m main; try_files /nothing @inner; }
        location @inner { auth_m2m main; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
$t->start;

my $BASE = 'http://127.0.0.1:' . $t->port;
my $n = 0;

# One request on a fresh connection, tagged ?n= (or &n=) for the access log.
# opt: method, auth ("DPoP <token>" etc.), dpop (a proof or an array of them),
# path_raw (sent as is). Returns the response plus {n}.
sub req {
    my ($path, %opt) = @_;
    my %h;
    $h{Authorization} = $opt{auth} if defined $opt{auth};
    $h{DPoP} = $opt{dpop} if defined $opt{dpop};
    my $id = ++$n;
    my $sep = $path =~ /\?/ ? '&' : '?';
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10, max_redirect => 0);
    my $r = $http->request($opt{method} // 'GET', "$BASE$path${sep}n=$id", { headers => \%h });
    $r->{n} = $id;
    return $r;
}

# The access log line of request n: {pid, method, status, error, type, jkt, client}.
sub logged {
    my ($id) = @_;
    my $line = $t->wait_log('dpop.log', qr/[?&]n=$id\|/) // return {};
    my @f = split /\|/, $line, -1;
    return { pid => $f[0], method => $f[1], status => $f[3], error => $f[4], type => $f[5],
        jkt => $f[6], client => $f[7] };
}

sub challenges { return M2MTest::challenges(@_) }

# A DPoP request: the proof is made for exactly this request unless opt
# overrides (htm, htu, key, and anything else dpop.py takes).
sub dpop_req {
    my ($path, $token, %opt) = @_;
    my $key = delete $opt{key} // 'client_ec';
    my $method = delete $opt{method} // 'GET';
    my $p = proof(key => $key, htm => $method, htu => "$BASE$path", token => $token, %opt);
    return (req($path, method => $method, auth => "DPoP $token", dpop => $p), $p);
}

my $ALGS = qr/algs="[^"]*\bES256\b[^"]*\bRS256\b[^"]*"|algs="[^"]*\bRS256\b[^"]*\bES256\b[^"]*"/;

# Refused as `code`: status, $m2m_error in the log, and the DPoP challenge
# with `error` and error_description = code.
sub refused_dpop {
    my ($r, $code, $error, $name) = @_;
    my $l = logged($r->{n});
    my $status = $code eq 'dpop_proof_multiple' ? 400 : 401;
    is($r->{status}, $status, "$name: $status");
    is($l->{error}, $code, "$name: \$m2m_error $code");
    my ($dpop) = grep { /^DPoP / } challenges($r);
    like($dpop // '', qr/^DPoP error="\Q$error\E", error_description="\Q$code\E", $ALGS$/,
        "$name: WWW-Authenticate DPoP error=\"$error\"");
}

# ---------------------------------------------------------------- good cases
{
    my ($r) = dpop_req('/api/x', $TOK_EC);
    is($r->{status}, 200, 'ES256 proof with its cnf.jkt-bound token: 200');
    my $l = logged($r->{n});
    is($l->{error}, '-', '$m2m_error empty');
    is($l->{type}, 'DPoP', '$m2m_token_type DPoP');
    is($l->{jkt}, $EC->{jkt}, '$m2m_dpop_jkt is the RFC 7638 thumbprint PyJWT\'s side computed');
    is($l->{client}, 'ec-client', '$m2m_client_id');

    ($r) = dpop_req('/api/x', $TOK_RSA, key => 'client_rsa');
    is($r->{status}, 200, 'RS256 proof with its bound token: 200');
    $l = logged($r->{n});
    is($l->{type}, 'DPoP', 'RS256: $m2m_token_type DPoP');
    is($l->{jkt}, $RSA->{jkt}, 'RS256: $m2m_dpop_jkt');

    $r = req('/api/x', auth => "Bearer $TOK_PLAIN");
    is($r->{status}, 200, 'an unbound token as Bearer still works where DPoP is allowed');
    $l = logged($r->{n});
    is($l->{type}, 'Bearer', '$m2m_token_type Bearer');
    is($l->{jkt}, '-', '$m2m_dpop_jkt empty for an unbound token');

    ($r) = dpop_req('/api/x', $TOK_EC, method => 'POST');
    is($r->{status}, 405, 'a POST proof for a POST passes auth (the static file answers 405)');
    is(logged($r->{n})->{error}, '-', 'POST: no $m2m_error');

    # the query is not part of htu; the proof names the path without it
    my $p = proof(key => 'client_ec', htm => 'GET', htu => "$BASE/api/q", token => $TOK_EC);
    $r = req('/api/q?a=1&b=2', auth => "DPoP $TOK_EC", dpop => $p);
    is($r->{status}, 200, 'htu without the query matches a request with one');

    # the path as sent, not as nginx decoded it
    $p = proof(key => 'client_ec', htm => 'GET', htu => "$BASE/api/%78y", token => $TOK_EC);
    $r = req('/api/%78y', auth => "DPoP $TOK_EC", dpop => $p);
    is($r->{status}, 200, 'htu with the path as sent (/api/%78y)');
    # nginx merges the slashes of r->uri; RFC 3986 normalization does not
    $p = proof(key => 'client_ec', htm => 'GET', htu => "$BASE/api//z", token => $TOK_EC);
    $r = req('/api//z', auth => "DPoP $TOK_EC", dpop => $p);
    is($r->{status}, 200, 'htu with the path as sent (/api//z), not as nginx merged it');
    ($r) = dpop_req('/api/z', $TOK_EC, htu => "$BASE/api//z");
    refused_dpop($r, 'dpop_proof_wrong_uri', 'invalid_dpop_proof', 'htu /api//z for /api/z');

    # scheme and host from auth_m2m_base_url
    $p = proof(key => 'client_ec', htm => 'GET', htu => 'https://gw.example.test/based/x', token => $TOK_EC);
    $r = req('/based/x', auth => "DPoP $TOK_EC", dpop => $p);
    is($r->{status}, 200, 'htu from auth_m2m_base_url');
    ($r) = dpop_req('/based/x', $TOK_EC);
    refused_dpop($r, 'dpop_proof_wrong_uri', 'invalid_dpop_proof', 'the request\'s own Host where auth_m2m_base_url is set');

    # the scheme name is case-insensitive
    $p = proof(key => 'client_ec', htm => 'GET', htu => "$BASE/api/x", token => $TOK_EC);
    $r = req('/api/x', auth => "dpop $TOK_EC", dpop => $p);
    is($r->{status}, 200, '"dpop" scheme in lower case');
}

# ---------------------------------------------------------------- proofs refused
{
    my ($r) = dpop_req('/api/x', $TOK_EC, htm => 'POST');
    refused_dpop($r, 'dpop_proof_wrong_method', 'invalid_dpop_proof', 'proof for POST on a GET');

    ($r) = dpop_req('/api/x', $TOK_EC, htu => "$BASE/api/y");
    refused_dpop($r, 'dpop_proof_wrong_uri', 'invalid_dpop_proof', 'proof for another URI');

    ($r) = dpop_req('/api/x', $TOK_EC, htu => "https://127.0.0.1:" . $t->port . "/api/x");
    refused_dpop($r, 'dpop_proof_wrong_uri', 'invalid_dpop_proof', 'proof for https on plain http');

    ($r) = dpop_req('/api/x', $TOK_EC, iat => now() - 120);
    refused_dpop($r, 'dpop_proof_stale', 'invalid_dpop_proof', 'iat 120 s old');

    ($r) = dpop_req('/wide/x', $TOK_EC, iat => now() - 120);
    is($r->{status}, 200, 'iat 120 s old where auth_m2m_dpop_window is 300s: 200');

    ($r) = dpop_req('/api/x', $TOK_EC, iat => now() + 60);
    refused_dpop($r, 'dpop_proof_future', 'invalid_dpop_proof', 'iat 60 s ahead');

    ($r) = dpop_req('/api/x', $TOK_EC, token => $TOK_RSA);
    refused_dpop($r, 'dpop_proof_wrong_ath', 'invalid_dpop_proof', 'ath of another token');

    ($r) = dpop_req('/api/x', $TOK_EC, alg => 'none');
    refused_dpop($r, 'dpop_proof_alg_not_allowed', 'invalid_dpop_proof', 'alg none');

    ($r) = dpop_req('/api/x', $TOK_EC, alg => 'HS256');
    refused_dpop($r, 'dpop_proof_alg_not_allowed', 'invalid_dpop_proof', 'HS256');

    ($r) = dpop_req('/api/x', $TOK_EC, jwk => 'private');
    refused_dpop($r, 'dpop_proof_private_key', 'invalid_dpop_proof', 'private key members in jwk');

    ($r) = dpop_req('/api/x', $TOK_EC, jwk => 'other');
    refused_dpop($r, 'dpop_proof_bad_signature', 'invalid_dpop_proof', 'jwk of another key than the one that signed');

    ($r) = dpop_req('/api/x', $TOK_EC, typ => 'JWT');
    refused_dpop($r, 'dpop_proof_malformed', 'invalid_dpop_proof', 'typ JWT');

    my $r2 = req('/api/x', auth => "DPoP $TOK_EC");
    refused_dpop($r2, 'dpop_proof_missing', 'invalid_dpop_proof', 'DPoP scheme without a proof');

    my @two = map { proof(key => 'client_ec', htm => 'GET', htu => "$BASE/api/x", token => $TOK_EC) } 1 .. 2;
    $r2 = req('/api/x', auth => "DPoP $TOK_EC", dpop => \@two);
    refused_dpop($r2, 'dpop_proof_multiple', 'invalid_request', 'two DPoP headers');
    is(scalar(grep { /^Bearer/ } challenges($r2)), 0, 'the 400 answers the DPoP scheme only');
    $r2 = req('/api/x', auth => "DPoP $TOK_EC", dpop => $two[0]);
    is($r2->{status}, 200, 'either proof alone was good (not recorded by the 400)');
}

# ---------------------------------------------------------------- token vs proof
{
    # a good proof by another key than the token's cnf.jkt
    my ($r) = dpop_req('/api/x', $TOK_EC, key => 'other');
    refused_dpop($r, 'dpop_key_mismatch', 'invalid_token', 'proof by a key other than cnf.jkt');

    ($r) = dpop_req('/api/x', $TOK_PLAIN);
    refused_dpop($r, 'dpop_unbound_token', 'invalid_token', 'an unbound token with the DPoP scheme');

    $r = req('/api/x', auth => "Bearer $TOK_EC");
    is($r->{status}, 401, 'a DPoP-bound token as Bearer: 401');
    is(logged($r->{n})->{error}, 'dpop_bound_bearer', '$m2m_error dpop_bound_bearer');
    my @c = challenges($r);
    is(scalar @c, 2, 'two challenges where DPoP is allowed');
    is($c[0], 'Bearer realm="api", error="invalid_token", error_description="dpop_bound_bearer"',
        'the error is in the Bearer challenge');
    like($c[1] // '', qr/^DPoP $ALGS$/, 'a plain DPoP challenge with algs');

    $r = req('/api/x');
    @c = challenges($r);
    is($r->{status}, 401, 'no token: 401');
    is($c[0], 'Bearer realm="api"', 'no token: Bearer realm="api"');
    like($c[1] // '', qr/^DPoP $ALGS$/, 'no token: DPoP algs="..."');

    # a token error on a DPoP request is a DPoP invalid_token
    my $expired = py(op => 'token', key => 'issuer', bind => 'client_ec',
        claims => { iss => $ISS, aud => $AUD, client_id => 'x', exp => now() - 3600, iat => now() - 7200 })->{token};
    ($r) = dpop_req('/api/x', $expired);
    refused_dpop($r, 'expired', 'invalid_token', 'an expired bound token with a good proof');
    like((grep { /^Bearer/ } challenges($r))[0] // '', qr/^Bearer realm="api"$/, 'and a plain Bearer challenge');

    ($r) = dpop_req('/scoped/x', $TOK_EC);
    is($r->{status}, 403, 'a DPoP request without the scope: 403');
    @c = challenges($r);
    is(join(' || ', @c), qq{DPoP error="insufficient_scope", scope="admin", algs="} . (($c[0] // '') =~ /algs="([^"]*)"/)[0] . '"',
        '403: one DPoP challenge with the scope');
}

# ---------------------------------------------------------------- required, off
{
    my ($r) = dpop_req('/req/x', $TOK_EC);
    is($r->{status}, 200, 'required: a DPoP request passes');

    $r = req('/req/x', auth => "Bearer $TOK_PLAIN");
    is($r->{status}, 401, 'required: an unbound token as Bearer is refused');
    is(logged($r->{n})->{error}, 'dpop_required', 'required: $m2m_error dpop_required');
    my @c = challenges($r);
    is(scalar @c, 1, 'required: one challenge');
    like($c[0] // '', qr/^DPoP error="invalid_token", error_description="dpop_required", $ALGS$/,
        'required: DPoP only');

    $r = req('/req/x');
    @c = challenges($r);
    is(join(' || ', map { s/algs="[^"]*"/algs/r } @c), 'DPoP algs', 'required, no token: DPoP algs only');

    my $p = proof(key => 'client_ec', htm => 'GET', htu => "$BASE/off/x", token => $TOK_EC);
    $r = req('/off/x', auth => "DPoP $TOK_EC", dpop => $p);
    is($r->{status}, 401, 'off: the DPoP scheme is not understood');
    is(logged($r->{n})->{error}, 'missing_token', 'off: missing_token, as for Basic');
    is(join(' || ', challenges($r)), 'Bearer realm="api"', 'off: Bearer challenge only');

    $r = req('/off/x', auth => "Bearer $TOK_PLAIN");
    is($r->{status}, 200, 'off: Bearer works');
    is(logged($r->{n})->{type}, 'Bearer', 'off: $m2m_token_type Bearer');
}

# ---------------------------------------------------------------- replays
{
    my ($r, $p) = dpop_req('/api/x', $TOK_EC);
    is($r->{status}, 200, 'a fresh proof: 200');
    my $first = $r->{headers}{'x-worker'} // '';
    my (%statuses, $other);
    for (1 .. 200) {
        my $again = req('/api/x', auth => "DPoP $TOK_EC", dpop => $p);
        $statuses{ $again->{status} }++;
        if (($again->{headers}{'x-worker'} // $first) ne $first) {
            $other = $again;
            last;
        }
    }
    ok($other, "a replay reached the other worker (first answer from $first)");
    is(join(',', sort keys %statuses), '401', 'every replay was refused, in either worker');
    refused_dpop($other, 'dpop_proof_replayed', 'invalid_dpop_proof', 'replay in the other worker') if $other;

    # the same jti from another key is another proof
    my $jti = py(op => 'proof', key => 'client_ec', htm => 'GET', htu => "$BASE/api/x", token => $TOK_EC)->{jti};
    ($r) = dpop_req('/api/x', $TOK_EC, jti => $jti);
    is($r->{status}, 200, 'a chosen jti, first time: 200');
    ($r) = dpop_req('/api/x', $TOK_EC, jti => $jti);
    refused_dpop($r, 'dpop_proof_replayed', 'invalid_dpop_proof', 'the same jti in a new proof by the same key');
    ($r) = dpop_req('/api/x', $TOK_RSA, key => 'client_rsa', jti => $jti);
    is($r->{status}, 200, 'the same jti from another key: 200');

    # the cache is in shared memory that a reload keeps
    ok($t->reload, 'nginx -s reload');
    my $after = req('/api/x', auth => "DPoP $TOK_EC", dpop => $p);
    refused_dpop($after, 'dpop_proof_replayed', 'invalid_dpop_proof', 'a replay after a reload');

    # an internal redirect judges the request again: its own proof is no replay
    ($r) = dpop_req('/redir/x', $TOK_EC);
    is($r->{status}, 200, 'try_files to a named location with auth_m2m: 200');
    is(logged($r->{n})->{error}, '-', 'no $m2m_error after the internal redirect');
}

# ---------------------------------------------------------------- status page
{
    my $s = $t->status_json;
    ok($s, 'the status page renders');
    my $refused = ($s // {})->{requests}{refused} // {};
    cmp_ok($refused->{dpop_proof_replayed} // 0, '>=', 3, 'status: refused.dpop_proof_replayed counted');
    cmp_ok($refused->{dpop_proof_wrong_uri} // 0, '>=', 2, 'status: refused.dpop_proof_wrong_uri counted');
    cmp_ok($refused->{dpop_bound_bearer} // 0, '>=', 1, 'status: refused.dpop_bound_bearer counted');
}

# The request that brought a thumbprint never shows a token: the log holds
# no part of a token or proof.
{
    my $log = $t->read_file('dpop.log') . $t->read_file('error.log');
    my ($sig) = $TOK_EC =~ /\.([^.]+)$/;
    unlike($log, qr/\Q$sig\E/, 'no token signature in the logs');
}

$t->no_alerts_ok;

# ---------------------------------------------------------------- a small cache
# 8 pages hold about 150 proofs: 400 fresh ones all pass (the oldest are
# evicted, not refused), and the eviction of proofs still in their window is
# logged once.
{
    my $s = M2MTest->new(workers => 1);
    py(op => 'jwks', names => ['issuer'], path => $s->dir . '/jwks.json');
    $s->config(<<'EOF');
    auth_m2m_dpop_replay_cache 32k;
    auth_m2m_issuer main {
        issuer https://idp.example.test/;
        jwks_file %%DIR%%/jwks.json;
        audience https://api.example.test;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /api/ { auth_m2m main; try_files /ok.txt =404; }
    }
EOF
    $s->start;
    my $base = 'http://127.0.0.1:' . $s->port;
    my $http = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
    my (%st, $first);
    for my $i (1 .. 400) {
        my $p = proof(key => 'client_ec', htm => 'GET', htu => "$base/api/x", token => $TOK_EC);
        $first //= $p;
        $st{ $http->get("$base/api/x", { headers => { Authorization => "DPoP $TOK_EC", DPoP => $p } })->{status} }++;
    }
    is(join(',', map { "$_:$st{$_}" } sort keys %st), '200:400', '400 fresh proofs in a 32k cache: all 200');
    my @warn = $s->grep_log(qr/DPoP replay cache "auth_m2m_dpop_replay" is full/);
    is(scalar @warn, 1, 'the eviction of live proofs was logged once');
    is($http->get("$base/api/x", { headers => { Authorization => "DPoP $TOK_EC", DPoP => $first } })->{status},
        200, 'the first proof was evicted (the price of a cache too small)');

    my $bad = $s->nginx_t(<<'EOF');
    auth_m2m_dpop_replay_cache 16k;
    auth_m2m_issuer main { issuer https://idp.example.test/; jwks_file %%DIR%%/jwks.json; audience a; }
EOF
    isnt($bad->{rc}, 0, 'auth_m2m_dpop_replay_cache 16k: nginx -t fails');
    like($bad->{out}, qr/auth_m2m_dpop_replay_cache "16k" is too small/, 'and says it is too small');
    $s->no_alerts_ok;
}

cmp_ok(time - $T0, '<', 60, sprintf('file took %d s', time - $T0));
done_testing;
