# auth_m2m_require: per-location rules on a verified token, evaluated after
# its times, claims and scopes; all values must be non-empty and not "0".
# The README's recipes (Entra tenants and idtyp, an org_id per location,
# Keycloak realm roles, Auth0 permissions) run here as they are written.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use M2MTest qw(now);

my $ISS = 'https://idp.example.test/';
my $AUD = 'https://api.example.test';

my $t = M2MTest->new(workers => 1);
my $key = $t->rsa_key('k1');
$t->write_jwks('jwks.json', $key);

$t->config(<<'EOF');
    auth_m2m_issuer idp {
        issuer https://idp.example.test/;
        jwks_file %%DIR%%/jwks.json;
        audience https://api.example.test;
    }

    auth_m2m_issuer other {
        issuer https://other.example.test/;
        jwks_file %%DIR%%/jwks.json;
        audience https://api.example.test;
    }

    auth_m2m_claim_set $kc_roles realm_access roles;

    map $m2m_claim_tid $entra_tenant {
        default                                0;
        11111111-aaaa-4bbb-8ccc-000000000001   1;
        11111111-aaaa-4bbb-8ccc-000000000002   1;
    }
    map $m2m_claim_idtyp $entra_app {
        default 0;
        app     1;
    }
    map $m2m_claim_org_id $org_acme {
        default 0;
        acme    1;
    }
    map $kc_roles $kc_admin {
        default                   0;
        "~(^| )task-admin( |$)"   1;
    }
    map $m2m_claim_permissions $auth0_write {
        default                    0;
        "~(^| )write:tasks( |$)"   1;
    }

    log_format rules '$status "$m2m_error" "$m2m_client_id"';

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        access_log %%DIR%%/rules.log rules;
        auth_m2m idp;

        # server level: inherited by locations without their own list
        auth_m2m_require $m2m_claim_org_id;

        location /inherit/ {
            try_files /ok.txt =404;
        }
        location /entra/ {
            auth_m2m_require $entra_tenant $entra_app;
            try_files /ok.txt =404;
        }
        location /org/ {
            auth_m2m_require $org_acme error=401;
            try_files /ok.txt =404;
        }
        location /keycloak/ {
            auth_m2m_require $kc_admin;
            try_files /ok.txt =404;
        }
        location /auth0/ {
            auth_m2m_scope tasks;
            auth_m2m_require $auth0_write;
            try_files /ok.txt =404;
        }
        location /two/ {
            auth_m2m_require $m2m_claim_a;
            auth_m2m_require $m2m_claim_b error=401;
            try_files /ok.txt =404;
        }
        location /redirect/ {
            auth_m2m_require $org_acme;
            error_page 403 = @alt;
            try_files /ok.txt =404;
        }
        location @alt {
            auth_m2m_require $m2m_claim_alt;
            try_files /ok.txt =404;
        }
        # a failed rule, then a location of another issuer, for which the
        # token is no token at all: the refusal has no token to log
        location /elsewhere/ {
            auth_m2m_require $org_acme;
            error_page 403 = @other;
            try_files /ok.txt =404;
        }
        location @other {
            auth_m2m other;
            try_files /ok.txt =404;
        }
        location /literal/ {
            auth_m2m_require "x$m2m_claim_flag";
            try_files /ok.txt =404;
        }
    }
EOF
$t->start;

sub tok {
    my (%claims) = @_;
    return $t->mint(key => $key, claims => { iss => $ISS, aud => $AUD, client_id => 'svc-1',
        scope => 'tasks', %claims });
}

sub check {
    my ($path, $token, $status, $www, $name) = @_;
    my $r = $t->get($path, token => $token);
    is($r->{status}, $status, "$name: $status") or diag $r->{content};
    is(M2MTest::challenge($r, 'Bearer'), $www, "$name: WWW-Authenticate") if defined $www;
    return $r;
}

my $FAIL403 = 'Bearer realm="api", error="insufficient_scope", error_description="claim_rule_failed"';
my $FAIL401 = 'Bearer realm="api", error="invalid_token", error_description="claim_rule_failed"';
my $T1 = '11111111-aaaa-4bbb-8ccc-000000000001';

# ------------------------------------------------------------ inheritance
check('/inherit/x', tok(org_id => 'any'), 200, undef, 'server rule, claim present');
check('/inherit/x', tok(), 403, $FAIL403, 'server rule, claim absent');
check('/inherit/x', tok(org_id => '0'), 403, $FAIL403, 'server rule, claim "0"');
check('/inherit/x', tok(org_id => ''), 403, $FAIL403, 'server rule, claim empty');
check('/inherit/x', tok(org_id => '00'), 200, undef, 'server rule, "00" is not "0"');
check('/inherit/x', tok(org_id => JSON::PP::false), 200, undef,
    'server rule, false renders as "false", which passes');

# ------------------------------------------------------------ Entra: tenant list and app tokens
check('/entra/x', tok(tid => $T1, idtyp => 'app'), 200, undef, 'entra: allowed tenant, app token');
check('/entra/x', tok(tid => '11111111-aaaa-4bbb-8ccc-000000000002', idtyp => 'app'), 200, undef,
    'entra: second allowed tenant');
check('/entra/x', tok(tid => '99999999-aaaa-4bbb-8ccc-000000000009', idtyp => 'app'), 403, $FAIL403,
    'entra: other tenant');
check('/entra/x', tok(tid => $T1, idtyp => 'user'), 403, $FAIL403, 'entra: user token');
check('/entra/x', tok(tid => $T1, idtyp => 'app', org_id => undef), 200, undef,
    'entra: own list replaces the server rule (no org_id needed)');

# ------------------------------------------------------------ org_id per location, error=401
check('/org/x', tok(org_id => 'acme'), 200, undef, 'org: acme');
check('/org/x', tok(org_id => 'globex'), 401, $FAIL401, 'org: other org answers 401 as asked');

# ------------------------------------------------------------ Keycloak realm roles
check('/keycloak/x', tok(realm_access => { roles => ['offline_access', 'task-admin'] }), 200, undef,
    'keycloak: role present');
check('/keycloak/x', tok(realm_access => { roles => ['task-admin-light'] }), 403, $FAIL403,
    'keycloak: only a longer role name');
check('/keycloak/x', tok(resource_access => { roles => ['task-admin'] }), 403, $FAIL403,
    'keycloak: role in another claim');

# ------------------------------------------------------------ Auth0 permissions, with scopes
check('/auth0/x', tok(permissions => ['read:tasks', 'write:tasks']), 200, undef, 'auth0: permission present');
check('/auth0/x', tok(permissions => ['read:tasks']), 403, $FAIL403, 'auth0: permission missing');
check('/auth0/x', tok(scope => 'other', permissions => ['read:tasks']), 403,
    'Bearer realm="api", error="insufficient_scope", scope="tasks"', 'auth0: scopes are judged before rules');

# ------------------------------------------------------------ several directives
check('/two/x', tok(a => 'y', b => 'y'), 200, undef, 'two rules: both pass');
check('/two/x', tok(b => 'y'), 403, $FAIL403, 'two rules: first fails, its error=403');
check('/two/x', tok(a => 'y'), 401, $FAIL401, 'two rules: second fails, its error=401');
check('/literal/x', tok(), 200, undef, 'text around a variable is non-empty');
check('/redirect/x', tok(org_id => 'globex', alt => 'y'), 200, undef,
    'a failed rule, then error_page to a location whose rule passes: claims still read');
{
    my $r = $t->get('/elsewhere/x', token => tok(org_id => 'globex'));
    is($r->{status}, 401, 'a failed rule, then error_page to another issuer\'s location: 401 (the worker lives)');
    like(M2MTest::challenge($r, 'Bearer') // '', qr/error_description="wrong_issuer"/,
        'another issuer\'s location: wrong_issuer') or diag explain $r->{headers};
}
{
    my $r = check('/redirect/x', tok(org_id => 'globex'), 403, $FAIL403, 'both locations\' rules fail');
    my @c = M2MTest::challenges($r);
    is(scalar @c, 1, 'both rules fail: one challenge, not one per refusal') or diag explain \@c;
}

# ------------------------------------------------------------ order and logging
check('/org/x', tok(org_id => 'globex', exp => now() - 3600), 401,
    'Bearer realm="api", error="invalid_token", error_description="expired"',
    'an expired token is expired, not a failed rule');
check('/org/x', undef, 401, 'Bearer realm="api"', 'no token: no rule evaluated');

ok($t->wait_log('error.log', qr/access refused: claim_rule_failed, client_id "svc-1", issuer "idp", rule "\$org_acme"/),
    'error log names the rule, the client and the issuer');
ok($t->wait_log('rules.log', qr/^401 "claim_rule_failed" "svc-1"$/), '$m2m_error in the access log (401)');
ok($t->wait_log('rules.log', qr/^403 "claim_rule_failed" "svc-1"$/), '$m2m_error in the access log (403)');
unlike($t->read_file('error.log'), qr/globex/, 'claim values are not logged');

# ------------------------------------------------------------ configuration errors
my $base = <<'EOF';
    auth_m2m_issuer idp {
        issuer https://idp.example.test/;
        jwks_file %%DIR%%/jwks.json;
        audience https://api.example.test;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            auth_m2m idp;
            RULE
        }
    }
EOF
for my $case (['auth_m2m_require $a error=402;', qr/invalid parameter "error=402"/],
              ['auth_m2m_require error=403;', qr/needs a value/],
              ['auth_m2m_require $a error=40;', qr/invalid parameter "error=40"/],
              ['auth_m2m_require;', qr/invalid number of arguments/]) {
    (my $conf = $base) =~ s/RULE/$case->[0]/;
    my $res = $t->nginx_t($conf);
    isnt($res->{rc}, 0, "nginx -t refuses: $case->[0]");
    like($res->{out}, $case->[1], "nginx -t says why: $case->[0]");
}
{
    (my $conf = $base) =~ s/RULE/auth_m2m_require \$m2m_claim_x error=401;/;
    is($t->nginx_t($conf)->{rc}, 0, 'nginx -t accepts error=401');
}

$t->no_alerts_ok;
done_testing;
