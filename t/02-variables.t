# Every variable, in an access log line and in headers passed upstream; "-"
# for refused requests (except $m2m_error); per-client rate limits keyed by
# $m2m_client_id (preaccess, before the access phase); map, if, add_header;
# values surviving the internal redirect of error_page.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use M2MTest qw(now unescape_log);

my $ISS = 'https://idp.example.test/';
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my $key = $t->rsa_key('k1');
my $evil = $t->rsa_key('k1');
$t->write_jwks('jwks.json', $key);
$t->write_file('html/errors/403.html', "custom 403 page\n");

# name in the log / echo header => variable
my @VARS = (
    [cid    => '$m2m_client_id'],
    [scope  => '$m2m_scope'],
    [sub    => '$m2m_subject'],
    [iss    => '$m2m_issuer'],
    [jti    => '$m2m_token_id'],
    [exp    => '$m2m_expires'],
    [tenant => '$m2m_claim_tenant'],
    [num    => '$m2m_claim_num'],
    [float  => '$m2m_claim_ratio'],
    [flag   => '$m2m_claim_flag'],
    [off    => '$m2m_claim_disabled'],
    [groups => '$m2m_claim_groups'],
    [obj    => '$m2m_claim_obj'],
    [mixed  => '$m2m_claim_mixed'],
    [camel  => '$m2m_claim_tenantid'],
    [absent => '$m2m_claim_absent'],
    [kid    => '$m2m_header_kid'],
    [alg    => '$m2m_header_alg'],
    [typ    => '$m2m_header_typ'],
    [err    => '$m2m_error'],
    [roles  => '$realm_roles'],
    [g0     => '$first_group'],
    [access => '$realm_access'],
    [tier   => '$tier'],
);
my $log_format = join '|', 'req=$request_uri', 'status=$status',
    (map { "$_->[0]=$_->[1]" } @VARS), 'end';
my $set_headers = join '', map { "            proxy_set_header X-V-$_->[0] $_->[1];\n" } @VARS;

$t->config(<<"EOF" . $t->echo_server('echo', map { "X-V-$_->[0]" } @VARS));
    auth_m2m_issuer main {
        issuer $ISS;
        jwks_file %%DIR%%/jwks.json;
        audience $AUD;
    }
    auth_m2m_claim_set \$realm_roles realm_access roles;
    auth_m2m_claim_set \$first_group groups 0;
    auth_m2m_claim_set \$realm_access realm_access;

    map \$m2m_client_id \$tier {
        svc-gold  gold;
        default   std;
    }
    limit_req_zone \$m2m_client_id zone=perclient:1m rate=1r/m;

    log_format vars '$log_format';

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        access_log %%DIR%%/vars.log vars;

        location /api/ {
            auth_m2m main;
            auth_m2m_scope tasks:read;
            add_header X-M2M-Client \$m2m_client_id always;
            add_header X-M2M-Error \$m2m_error always;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
$set_headers        }
        location /scoped/ {
            auth_m2m main;
            auth_m2m_scope admin:all;
            error_page 403 /errors/403.html;
            try_files /ok.txt =404;
        }
        location /errors/ {
            internal;
        }
        location /limited/ {
            auth_m2m main;
            limit_req zone=perclient nodelay;
            try_files /ok.txt =404;
        }
        location /if/ {
            auth_m2m main;
            if (\$m2m_client_id = "svc-blocked") {
                return 418;
            }
            try_files /ok.txt =404;
        }
        location /open/ {
            try_files /ok.txt =404;
        }
    }
EOF
$t->start;

my $exp = now() + 900;
my %CLAIMS = (
    iss => $ISS, aud => $AUD, sub => 'svc-vars-sub', client_id => 'svc-vars',
    scope => 'tasks:read tasks:write', jti => 'jti-0001', exp => $exp,
    tenant => 'acme', num => 42, ratio => 0.5, flag => JSON::PP::true, disabled => JSON::PP::false,
    groups => ['g1', 'g2'], obj => { a => 1, b => 'x' }, mixed => [1, 'a'],
    tenantId => 'camel', realm_access => { roles => ['r1', 'r2'] },
);
sub tok {
    my (%opt) = @_;
    return $t->mint(key => $key, header => { typ => 'at+jwt' }, %opt,
        claims => { %CLAIMS, %{ $opt{claims} // {} } });
}

my $n = 0;
sub req {
    my ($path, %opt) = @_;
    my $r = $t->get("$path?n=" . ++$n, %opt);
    $r->{n} = $n;
    return $r;
}

# The access log line of request n as a hash (values unescaped).
sub log_of {
    my ($id) = @_;
    my $line = $t->wait_log('vars.log', qr/^req=[^|]*[?&]n=$id\|/);
    ok(defined $line, "request $id: access log line") or return {};
    like($line, qr/\|end$/, "request $id: whole line");
    my %v;
    for (split /\|/, $line) {
        my ($k, $val) = /^(\w+)=(.*)$/s or next;
        $v{$k} = unescape_log($val);
    }
    return \%v;
}

my %want = (
    cid => 'svc-vars', scope => 'tasks:read tasks:write', sub => 'svc-vars-sub', iss => $ISS,
    jti => 'jti-0001', exp => "$exp", tenant => 'acme', num => '42', float => '0.5',
    flag => 'true', off => 'false', groups => 'g1 g2', camel => 'camel', kid => 'k1', alg => 'RS256',
    typ => 'at+jwt', roles => 'r1 r2', g0 => 'g1', tier => 'std',
);
my %json_want = (obj => { a => 1, b => 'x' }, mixed => [1, 'a'], access => { roles => ['r1', 'r2'] });

sub check_json {
    my ($got, $name) = @_;
    for my $k (sort keys %json_want) {
        my $text = $got->{$k} // '';
        unlike($text, qr/\s/, "$name: $k is compact JSON");
        my $v = eval { JSON::PP->new->decode($text) };
        is_deeply($v, $json_want{$k}, "$name: $k as JSON") or diag "got: $text";
    }
}

# ------------------------------------------------------------ verified
{
    my $r = req('/api/vars', token => tok());
    is($r->{status}, 200, 'verified: 200 from upstream') or diag $r->{content};
    my $echo = M2MTest::parse_echo($r->{content});
    my %got = map { $_->[0] => $echo->{ 'x-v-' . $_->[0] } } @VARS;
    for my $k (sort keys %want) {
        is($got{$k}, $want{$k}, "upstream header $k");
    }
    check_json(\%got, 'upstream header');
    is($got{absent}, '', 'upstream: absent claim not sent');
    is($got{err}, '', 'upstream: $m2m_error empty on success');
    is($r->{headers}{'x-m2m-client'}, 'svc-vars', 'add_header with $m2m_client_id');

    my $log = log_of($r->{n});
    is($log->{status}, '200', 'log: status');
    for my $k (sort keys %want) {
        is($log->{$k}, $want{$k}, "log $k");
    }
    check_json($log, 'log');
    is($log->{absent}, '-', 'log: absent claim is "-"');
    is($log->{err}, '-', 'log: $m2m_error empty on success');

    $r = req('/api/vars', token => tok(claims => { client_id => 'svc-gold' }));
    is(M2MTest::parse_echo($r->{content})->{'x-v-tier'}, 'gold', 'map on $m2m_client_id');
}

# ------------------------------------------------------------ refused
{
    my $forged = $t->mint(key => $evil, header => { typ => 'at+jwt' }, claims => \%CLAIMS);
    my @cases = (
        ['bad signature', $forged, 'bad_signature'],
        ['expired (signature verified)', tok(claims => { exp => now() - 3600 }), 'expired'],
        ['wrong audience (signature verified)', tok(claims => { aud => 'https://x.test' }), 'wrong_audience'],
        ['no token', undef, 'missing_token'],
    );
    for my $c (@cases) {
        my ($name, $tk, $code) = @$c;
        my $r = req('/api/vars', defined $tk ? (token => $tk) : ());
        is($r->{status}, 401, "$name: 401");
        is($r->{headers}{'x-m2m-error'}, $code, "$name: add_header \$m2m_error");
        ok(!defined $r->{headers}{'x-m2m-client'}, "$name: no X-M2M-Client");
        my $log = log_of($r->{n});
        is($log->{status}, '401', "$name: log status");
        is($log->{err}, $code, "$name: log \$m2m_error");
        my @filled = grep { $_->[0] ne 'err' && $_->[0] ne 'tier' && ($log->{ $_->[0] } // '') ne '-' } @VARS;
        is(join(',', map { $_->[0] } @filled), '', "$name: every other variable is \"-\"");
        is($log->{tier}, 'std', "$name: map default");
    }
}

# ------------------------------------------------------------ 403 and internal redirect
{
    my $r = req('/scoped/x', token => tok());
    is($r->{status}, 403, 'insufficient scope: 403');
    is($r->{content}, "custom 403 page\n", 'insufficient scope: error_page served');
    my $log = log_of($r->{n});
    is($log->{err}, 'insufficient_scope', 'after error_page redirect: $m2m_error');
    is($log->{cid}, 'svc-vars', 'after error_page redirect: $m2m_client_id (token verified)');
    is($log->{scope}, 'tasks:read tasks:write', 'after error_page redirect: $m2m_scope');
    is($log->{kid}, 'k1', 'after error_page redirect: $m2m_header_kid');
}

# ------------------------------------------------------------ no auth_m2m here
{
    my $r = req('/open/x', token => tok());
    is($r->{status}, 200, 'location without auth_m2m: 200');
    my $log = log_of($r->{n});
    is($log->{cid}, '-', 'location without auth_m2m: $m2m_client_id empty even with a valid token');
    is($log->{scope}, '-', 'location without auth_m2m: $m2m_scope empty');
}

# ------------------------------------------------------------ if (rewrite phase)
{
    my $r = req('/if/x', token => tok(claims => { client_id => 'svc-blocked' }));
    is($r->{status}, 418, 'if ($m2m_client_id) in the rewrite phase');
    $r = req('/if/x', token => tok());
    is($r->{status}, 200, 'if: other client passes');
    $r = req('/if/x', token => $t->mint(key => $evil, claims => { %CLAIMS, client_id => 'svc-blocked' }));
    is($r->{status}, 401, 'if: unverified client id never matches');
}

# ------------------------------------------------------------ limit_req by client
{
    my $a = tok(claims => { client_id => 'svc-rate-a' });
    my $b = tok(claims => { client_id => 'svc-rate-b' });
    is(req('/limited/x', token => $a)->{status}, 200, 'rate limit: first request of client a');
    is(req('/limited/x', token => $a)->{status}, 503, 'rate limit: second request of client a is limited');
    is(req('/limited/x', token => $b)->{status}, 200, 'rate limit: client b still served');
    is(req('/limited/x')->{status}, 401, 'rate limit: no token is refused, not limited');
    is(req('/limited/x', token => $t->mint(key => $evil, claims => { %CLAIMS, client_id => 'svc-rate-c' }))
        ->{status}, 401, 'rate limit: forged token is refused, not counted');
    is(req('/limited/x', token => tok(claims => { client_id => 'svc-rate-c' }))->{status}, 200,
        'rate limit: client c (only forged before) served');
    ok($t->wait_log('error.log', qr/limiting requests.*zone "perclient"/), 'limit_req logged');
}

$t->no_alerts_ok;
done_testing;
