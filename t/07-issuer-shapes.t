# Tokens shaped like those of real issuers (Scalekit, Auth0, Okta, Entra ID
# v1/v2, Keycloak, Cognito) through nginx: $m2m_client_id and $m2m_scope in
# the access log and upstream headers, with the default client_id_claim /
# scope_claim lists and the per-issuer overrides.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use M2MTest qw(now unescape_log);

my $t = M2MTest->new;
my $rsa = $t->rsa_key('unused');
my $ec = $t->ec_key('unused', 'P-256');

my %SHAPES = (
    scalekit => {
        issuer => 'https://acme.scalekit.dev',
        audience => 'https://tasks.example.com',
        kid => 'snk_58327480843405906',
        claims => {
            sub => 'm2morg_69038819013296423', client_id => 'm2morg_69038819013296423',
            aud => ['https://tasks.example.com'], scopes => ['tasks:read', 'tasks:write'],
            jti => 'tkn_69041163914445100', nbf => now() - 5,
        },
        want => ['m2morg_69038819013296423', 'tasks:read tasks:write'],
    },
    auth0 => {
        issuer => 'https://acme.us.auth0.com/',
        audience => 'https://tasks.example.com',
        kid => 'QzBCMDk4RjM2MkE4',
        claims => {
            sub => 'Xy12abCD34efGH56@clients', azp => 'Xy12abCD34efGH56',
            aud => 'https://tasks.example.com', scope => 'read:tasks write:tasks',
            gty => 'client-credentials',
        },
        want => ['Xy12abCD34efGH56', 'read:tasks write:tasks'],
    },
    okta => {
        issuer => 'https://acme.okta.com/oauth2/default',
        audience => 'api://tasks',
        kid => 'okta-7hTb0cZ',
        claims => {
            ver => 1, jti => 'AT.nq3kM0J6p0eVq2', aud => 'api://tasks', cid => '0oa8f5j3ecb5w3dF35d7',
            scp => ['tasks.read', 'tasks.write'], sub => '0oa8f5j3ecb5w3dF35d7',
        },
        want => ['0oa8f5j3ecb5w3dF35d7', 'tasks.read tasks.write'],
    },
    entra => {
        issuer => 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
        audience => 'api://6e2b4c1a-1111-4a7e-9c55-0d8e4f3b2a10',
        kid => 'nOo3ZDrODXEK1jKWhXslHR_KXEg',
        extra => '        scope_claim roles;',
        claims => {
            aud => 'api://6e2b4c1a-1111-4a7e-9c55-0d8e4f3b2a10', azp => 'a1b2c3d4-0000-4e5f-8a9b-123456789abc',
            azpacr => '1', oid => '5d3b0c1e-2222-4f00-9e11-aabbccddeeff',
            sub => '5d3b0c1e-2222-4f00-9e11-aabbccddeeff', tid => '72f988bf-86f1-41af-91ab-2d7cd011db47',
            roles => ['Tasks.Read', 'Tasks.Write'], ver => '2.0',
        },
        want => ['a1b2c3d4-0000-4e5f-8a9b-123456789abc', 'Tasks.Read Tasks.Write'],
    },
    entra_v1 => {
        issuer => 'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/',
        audience => 'api://tasks-api',
        kid => 'KQ2tAcrE7lBaViGmN',
        extra => '        scope_claim roles;',
        claims => {
            aud => 'api://tasks-api', appid => 'c0ffee00-3333-4d4d-8e8e-0123456789ab', appidacr => '1',
            oid => '9f9f9f9f-4444-4a4a-8b8b-cdcdcdcdcdcd', sub => '9f9f9f9f-4444-4a4a-8b8b-cdcdcdcdcdcd',
            tid => '72f988bf-86f1-41af-91ab-2d7cd011db47', roles => ['Tasks.Read'], ver => '1.0',
            scp => 'user_impersonation',    # not a scope claim for this issuer
        },
        want => ['c0ffee00-3333-4d4d-8e8e-0123456789ab', 'Tasks.Read'],
    },
    keycloak => {
        issuer => 'https://kc.example.com/realms/acme',
        audience => 'tasks-api',
        kid => 'gJ4b7mV1rS0dQ2tP',
        key => 'ec',
        claims => {
            jti => 'onrtcc:3f1e9a0b', aud => ['tasks-api', 'account'], sub => 'f3a1c2d4-5555-4b6b-9c7c-a1b2c3d4e5f6',
            typ => 'Bearer', azp => 'svc-tasks', acr => '1', client_id => 'svc-tasks',
            realm_access => { roles => ['offline_access', 'tasks-writer'] },
            resource_access => { account => { roles => ['manage-account'] } },
            scope => 'profile email tasks:read', clientHost => '10.0.0.7',
            preferred_username => 'service-account-svc-tasks',
        },
        want => ['svc-tasks', 'profile email tasks:read'],
    },
    cognito => {
        issuer => 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
        audience => undef,    # Cognito access tokens have no aud
        kid => 'wBfL1kJ6GZPzZqH3yQ0K8w1d',
        claims => {
            sub => '3ksu1kqp6ajv7nqrs04gkmfr9l', token_use => 'access', scope => 'tasks/read tasks/write',
            auth_time => now() - 30, version => 2, jti => 'b7d8e6f4-6666-4c3c-8d2d-0f1e2d3c4b5a',
            client_id => '3ksu1kqp6ajv7nqrs04gkmfr9l',
        },
        want => ['3ksu1kqp6ajv7nqrs04gkmfr9l', 'tasks/read tasks/write'],
    },
    custom => {
        issuer => 'https://custom.example.test/',
        audience => 'custom-api',
        kid => 'c1',
        extra => "        client_id_claim tenant_app azp;\n        scope_claim permissions;",
        claims => {
            aud => 'custom-api', client_id => 'not-this', tenant_app => 'custom-app', azp => 'azp-app',
            sub => 'not-this-either', permissions => ['p:1', 'p:2'], scope => 'not:this',
        },
        want => ['custom-app', 'p:1 p:2'],
    },
);
my @NAMES = sort keys %SHAPES;

my $blocks = '';
for my $name (@NAMES) {
    my $s = $SHAPES{$name};
    my $key = $t->alias_key($s->{key} && $s->{key} eq 'ec' ? $ec : $rsa, $s->{kid});
    $s->{signing_key} = $key;
    $t->write_jwks("$name.json", $key);
    $blocks .= "    auth_m2m_issuer $name {\n        issuer $s->{issuer};\n"
        . "        jwks_file %%DIR%%/$name.json;\n"
        . (defined $s->{audience} ? "        audience $s->{audience};\n" : '')
        . ($s->{extra} ? "$s->{extra}\n" : '')
        . "    }\n";
}

$t->config($blocks . <<"EOF" . $t->echo_server('echo', qw(X-Client-Id X-Scope X-Roles)));
    auth_m2m_claim_set \$kc_roles realm_access roles;
    log_format shapes 'req=\$request_uri|status=\$status|cid=\$m2m_client_id|scope=\$m2m_scope|iss=\$m2m_issuer|end';
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        access_log %%DIR%%/shapes.log shapes;
        location /api/ {
            auth_m2m @NAMES;
            proxy_pass http://127.0.0.1:%%PORT_echo%%;
            proxy_set_header X-Client-Id \$m2m_client_id;
            proxy_set_header X-Scope \$m2m_scope;
            proxy_set_header X-Roles \$kc_roles;
        }
        location /entra-write/ {
            auth_m2m entra entra_v1;
            auth_m2m_scope Tasks.Write;
            try_files /ok.txt =404;
        }
        location /cognito-write/ {
            auth_m2m cognito;
            auth_m2m_scope tasks/write;
            try_files /ok.txt =404;
        }
    }
EOF
$t->start;

sub tok {
    my ($name, %over) = @_;
    my $s = $SHAPES{$name};
    return $t->mint(key => $s->{signing_key}, header => { typ => 'JWT' },
        claims => { iss => $s->{issuer}, iat => now(), exp => now() + 3600, %{ $s->{claims} }, %over });
}

my $n = 0;
sub through {
    my ($name, $token) = @_;
    my $r = $t->get('/api/tasks?n=' . ++$n, token => $token);
    my $line = $t->wait_log('shapes.log', qr/^req=[^|]*n=$n\|/);
    my %log = map { /^(\w+)=(.*)$/ ? ($1 => unescape_log($2)) : () } split /\|/, $line // '';
    return ($r, M2MTest::parse_echo($r->{content}), \%log);
}

for my $name (@NAMES) {
    my $s = $SHAPES{$name};
    my ($cid, $scope) = @{ $s->{want} };
    my ($r, $echo, $log) = through($name, tok($name));
    is($r->{status}, 200, "$name: accepted") or diag M2MTest::challenge($r, 'Bearer');
    is($echo->{'x-client-id'}, $cid, "$name: client id upstream");
    is($echo->{'x-scope'}, $scope, "$name: scope upstream");
    is($log->{cid}, $cid, "$name: client id in the log");
    is($log->{scope}, $scope, "$name: scope in the log");
    is($log->{iss}, $s->{issuer}, "$name: issuer in the log");
}

# Keycloak's realm roles through auth_m2m_claim_set.
{
    my ($r, $echo) = through('keycloak', tok('keycloak'));
    is($echo->{'x-roles'}, 'offline_access tasks-writer', 'keycloak: realm_access.roles');
}

# Cognito: no audience configured, so any aud (or none) is accepted.
{
    my ($r) = through('cognito', tok('cognito', aud => 'whatever'));
    is($r->{status}, 200, 'cognito: aud not checked when no audience is configured');
}

# Per-issuer scope checks on the issuers' own scope claims.
{
    my $r = $t->get('/entra-write/x', token => tok('entra'));
    is($r->{status}, 200, 'entra: role Tasks.Write satisfies auth_m2m_scope');
    $r = $t->get('/entra-write/x', token => tok('entra_v1'));
    is($r->{status}, 403, 'entra v1: only Tasks.Read');
    is(M2MTest::challenge($r, 'Bearer'), 'Bearer realm="api", error="insufficient_scope", scope="Tasks.Write"',
        'entra v1: insufficient_scope names Tasks.Write');
    $r = $t->get('/entra-write/x', token => tok('entra_v1', scp => 'Tasks.Write'));
    is($r->{status}, 403, 'entra v1: scp is not a scope claim when scope_claim is roles');
    $r = $t->get('/cognito-write/x', token => tok('cognito'));
    is($r->{status}, 200, 'cognito: tasks/write from the scope string');
    $r = $t->get('/cognito-write/x', token => tok('cognito', scope => 'tasks/read'));
    is($r->{status}, 403, 'cognito: without tasks/write');
}

# client_id_claim order: the first present, non-empty string wins.
{
    my (undef, $echo) = through('custom', tok('custom', tenant_app => undef));
    is($echo->{'x-client-id'}, 'azp-app', 'custom: tenant_app absent, azp next');
    (undef, $echo) = through('custom', tok('custom', tenant_app => ''));
    is($echo->{'x-client-id'}, 'azp-app', 'custom: tenant_app empty, azp next');
    (undef, $echo) = through('custom', tok('custom', tenant_app => 12345));
    is($echo->{'x-client-id'}, 'azp-app', 'custom: tenant_app not a string, azp next');
    (undef, $echo) = through('auth0', tok('auth0', azp => undef));
    is($echo->{'x-client-id'}, 'Xy12abCD34efGH56@clients', 'auth0 without azp: sub is the last default');
}

# Default scope claims are united: scope string + scp array + scopes array.
{
    my ($r, $echo) = through('scalekit', tok('scalekit', scope => 'a b', scp => ['b', 'c'], scopes => ['d']));
    is(join(' ', sort split / /, $echo->{'x-scope'} // ''), 'a b c d', 'union of scope, scp and scopes');
}

$t->no_alerts_ok;
done_testing;
