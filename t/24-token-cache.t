# The verified-token cache (auth_m2m_token_cache): a hit answers exactly as a
# miss does (status, WWW-Authenticate, variables, log lines), for accepted
# tokens and for each kind of refusal (of which only bad_signature is
# remembered); an entry is not used after its token
# expires, after its issuer's keys change (a remote rotation and removal, a
# jwks_file reload), or for a location with other issuers or scopes; a full
# cache evicts; "off" caches nothing. The status page's token_cache counters
# say which path each request took, so every hit claimed here is proven.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use M2MTest qw(now json_text);
use JwksServer;

my $T0 = time;
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my %k = map { $_ => $t->ec_key($_) } qw(f1 f2 r1 r2 r3);
my $jwks = sub { json_text({ keys => [ map { $t->jwk($k{$_}, alg => 'ES256') } @_ ] }) };
$t->write_file('file.json', $jwks->('f1'));

my $srv = JwksServer->new(routes => { '/jwks' => { body => $jwks->('r1') } });
my $base = 'http://127.0.0.1:' . $srv->port;

my $CONF = <<'EOF';
    auth_m2m_token_cache %%CACHE%%;
    auth_m2m_issuer file {
        issuer https://file.example.test/;
        jwks_file %%DIR%%/file.json;
        audience https://api.example.test;
    }
    # the same "iss" and keys as file, but another audience
    auth_m2m_issuer twin {
        issuer https://file.example.test/;
        jwks_file %%DIR%%/file.json;
        audience https://other.example.test;
    }
    auth_m2m_issuer remote {
        issuer https://remote.example.test/;
        jwks_uri %%SRV%%/jwks;
        audience https://api.example.test;
        kid_refetch_cooldown 1s;
    }
    auth_m2m_issuer strict {
        issuer https://strict.example.test/;
        jwks_file %%DIR%%/file.json;
        audience https://api.example.test;
        leeway 0;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        add_header X-Client $m2m_client_id always;
        add_header X-Scope $m2m_scope always;
        add_header X-Jti $m2m_token_id always;
        add_header X-Role $m2m_claim_role always;
        add_header X-Kid $m2m_header_kid always;
        add_header X-Error $m2m_error always;
        location /a/      { auth_m2m file remote; try_files /ok.txt =404; }
        location /scoped/ { auth_m2m file remote; auth_m2m_scope admin; try_files /ok.txt =404; }
        location /twin/   { auth_m2m twin; try_files /ok.txt =404; }
        location /strict/ { auth_m2m strict; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
sub conf {
    my ($cache) = @_;
    (my $c = $CONF) =~ s/%%SRV%%/$base/g;
    $c =~ s/%%CACHE%%/$cache/g;
    return $c;
}
# One worker: the cache is per worker, so the second look is always a hit.
# 48k holds about 14 entries of these tokens.
$t->config(conf('48k'), workers => 1);
$t->start;
ok($t->wait_issuer('remote', sub { $_[0]{generation} >= 1 }), 'remote: keys loaded');

my $jti = 0;
sub tok {
    my ($key, $iss, %claims) = @_;
    return $t->mint(key => $k{$key}, claims => { iss => "https://$iss.example.test/", aud => $AUD,
        client_id => 'svc-7', scope => 'read write', role => 'batch', jti => 'j' . ++$jti, %claims });
}
sub cache { return ($t->status_json(path => '/status') // {})->{token_cache} // {} }

# A request, what a client and the log see of it, and which path it took.
sub look {
    my ($path, $token) = @_;
    my $before = cache();
    my $log_before = () = $t->log_lines('error.log');
    my $r = $t->get($path, token => $token);
    my $after = cache();
    my @log = $t->log_lines('error.log');
    splice(@log, 0, $log_before);
    @log = grep { defined && /auth_m2m/ && !/auth_m2m_status/ } @log;
    s/^\S+ \S+ (\[\w+\]) \d+#\d+: \*\d+ /$1 / for @log;    # time, pid, connection
    my %h = map { $_ => $r->{headers}{$_} // '' } qw(x-client x-scope x-jti x-role x-kid x-error);
    $h{'www-authenticate'} = join ' || ', M2MTest::challenges($r);
    return {
        seen  => { status => $r->{status}, headers => \%h, log => \@log },
        hits  => ($after->{hits} // 0) - ($before->{hits} // 0),
        miss  => ($after->{misses} // 0) - ($before->{misses} // 0),
        evict => ($after->{evictions} // 0) - ($before->{evictions} // 0),
    };
}

# Sends $token twice to $path: a miss, then (if $hit) a hit, seen the same.
sub twice {
    my ($name, $path, $token, $status, $hit) = @_;
    my $first = look($path, $token);
    my $second = look($path, $token);
    is($first->{seen}{status}, $status, "$name: $status");
    is_deeply([$first->{miss}, $first->{hits}], [1, 0], "$name: the first look is a miss");
    is_deeply([$second->{miss}, $second->{hits}], $hit ? [0, 1] : [1, 0],
        "$name: the second look is a " . ($hit ? 'hit' : 'miss (not cached)'));
    is_deeply($second->{seen}, $first->{seen}, "$name: status, headers, variables and log lines the same")
        or diag explain [$first->{seen}, $second->{seen}];
    return $first->{seen};
}

# ------------------------------------------------------------ hit = miss
{
    my $s = twice('accepted (file)', '/a/x', tok('f1', 'file'), 200, 1);
    is($s->{headers}{'x-client'}, 'svc-7', 'accepted: $m2m_client_id');
    is($s->{headers}{'x-role'}, 'batch', 'accepted: $m2m_claim_role');
    is($s->{headers}{'x-kid'}, 'f1', 'accepted: $m2m_header_kid');
    twice('accepted (remote)', '/a/x', tok('r1', 'remote'), 200, 1);
    $s = twice('insufficient_scope', '/scoped/x', tok('f1', 'file'), 403, 1);
    like(M2MTest::challenge($s, 'Bearer'), qr/insufficient_scope/, 'insufficient_scope: WWW-Authenticate');
    is(scalar @{ $s->{log} }, 1, 'insufficient_scope: one log line') or diag explain $s->{log};
    twice('wrong_audience', '/a/x', tok('f1', 'file', aud => 'https://nope.test'), 401, 1);
    # refused by screen() before its signature is checked: nothing to keep
    twice('not_yet_valid', '/a/x', tok('f1', 'file', nbf => now() + 3600), 401, 0);
    twice('expired', '/a/x', tok('f1', 'file', exp => now() - 3600, iat => now() - 7200), 401, 0);
    # signed by f2 under f1's kid
    my $forged = $t->mint(key => $k{f2}, kid => 'f1', claims => { iss => 'https://file.example.test/', aud => $AUD });
    $s = twice('bad_signature', '/a/x', $forged, 401, 1);
    like($s->{headers}{'x-error'}, qr/bad_signature/, 'bad_signature: remembered as a refusal, never a success');
    is(look('/a/x', $forged)->{seen}{status}, 401, 'bad_signature: still 401 on the third look');
    # the forgery's refusal belongs to file's keys: at /twin/ it is checked anew
    my $tw = look('/twin/x', $forged);
    is_deeply([$tw->{seen}{status}, $tw->{hits}, $tw->{miss}], [401, 0, 1], 'bad_signature at /twin/: a miss, 401');
}

# ------------------------------------------------------------ other locations' rules
{
    my $tk = tok('f1', 'file', scope => 'read admin');
    is(look('/a/x', $tk)->{seen}{status}, 200, 'cached at /a/');
    my $s = look('/scoped/x', $tk);
    is_deeply([$s->{seen}{status}, $s->{hits}], [200, 1], '/scoped/ (same issuers, own scope, granted): a hit');
    my $plain = tok('f1', 'file');
    look('/a/x', $plain);
    $s = look('/scoped/x', $plain);
    is_deeply([$s->{seen}{status}, $s->{hits}], [403, 1], '/scoped/: a hit still meets the scope rule: 403');
    $s = look('/twin/x', $plain);
    is_deeply([$s->{seen}{status}, $s->{hits}, $s->{miss}], [401, 0, 1],
        '/twin/ (another block with the same iss and keys): a miss, judged by its own audience: 401');
    like($s->{seen}{headers}{'x-error'}, qr/wrong_audience/, '/twin/: wrong_audience');
    # one entry per token: twin's verification took the place of file's
    $s = look('/a/x', $plain);
    is_deeply([$s->{seen}{status}, $s->{hits}, $s->{miss}], [200, 0, 1], 'back at /a/: a miss (the entry is twin\'s now), 200');
    is(look('/a/x', $plain)->{hits}, 1, 'then a hit again');
    $s = look('/strict/x', $plain);
    is_deeply([$s->{seen}{status}, $s->{hits}], [401, 0], '/strict/ (other issuer): a miss, wrong_issuer');
}

# ------------------------------------------------------------ expiry
{
    my $exp = now() + 2;
    my $tk = tok('f1', 'strict', exp => $exp);
    my $forged = $t->mint(key => $k{f2}, kid => 'f1',
        claims => { iss => 'https://strict.example.test/', aud => $AUD, exp => $exp });
    look('/strict/x', $forged);
    my $f = look('/strict/x', $forged);
    is_deeply([$f->{seen}{status}, $f->{hits}], [401, 1], 'expiring forgery: remembered') if now() < $exp;
    is(look('/strict/x', $tk)->{seen}{status}, 200, 'expiring token: 200 (miss)');
    my $s = look('/strict/x', $tk);
    if (now() < $exp) {
        is_deeply([$s->{seen}{status}, $s->{hits}], [200, 1], 'expiring token: 200 (hit)');
    } else {
        pass('expiring token: (the box was too slow to see the hit)');
    }
    my $last;
    ok($t->poll(6, sub { $last = look('/strict/x', $tk); $last->{seen}{status} != 200 }), 'it expires');
    is_deeply([$last->{seen}{status}, $last->{hits}, $last->{miss}], [401, 0, 1],
        'after exp (leeway 0): a miss, 401') or diag explain $last;
    like($last->{seen}{headers}{'x-error'}, qr/expired/, 'refused as expired');
    ok(now() >= $exp, 'not before exp');
    $f = look('/strict/x', $forged);
    is_deeply([$f->{seen}{status}, $f->{hits}, $f->{miss}], [401, 0, 1],
        'the forgery after the exp it claims: a miss') or diag explain $f;
    like($f->{seen}{headers}{'x-error'}, qr/expired/, 'and refused as expired, as without the cache');
}

# ------------------------------------------------------------ remote rotation and removal
{
    my $t1 = tok('r1', 'remote');
    look('/a/x', $t1);
    is(look('/a/x', $t1)->{hits}, 1, 'remote r1 token cached');
    # signed by r2 under r1's kid: bad_signature, remembered
    my $forged = $t->mint(key => $k{r2}, kid => 'r1', claims => { iss => 'https://remote.example.test/', aud => $AUD });
    look('/a/x', $forged);
    my $f = look('/a/x', $forged);
    is_deeply([$f->{seen}{status}, $f->{hits}], [401, 1], 'remote forgery: refusal remembered');
    my $g = $t->issuer_status('remote', path => '/status')->{generation};

    # rotation: r2 is published beside r1; an r2 token fetches the new set
    $srv->set_route('/jwks', { body => $jwks->('r1', 'r2') });
    ok($t->poll(10, sub { $t->get('/a/x', token => tok('r2', 'remote'))->{status} == 200 }), 'rotation: r2 accepted');
    ok($t->wait_issuer('remote', sub { $_[0]{generation} > $g }, 10, path => '/status'), 'rotation: new generation');
    my $s = look('/a/x', $t1);
    is_deeply([$s->{seen}{status}, $s->{hits}, $s->{miss}], [200, 0, 1],
        'rotation: the r1 token is verified again under the new generation (a miss), still 200');
    is(look('/a/x', $t1)->{hits}, 1, 'and cached again');
    $f = look('/a/x', $forged);
    is_deeply([$f->{seen}{status}, $f->{hits}, $f->{miss}], [401, 0, 1],
        'rotation: the remembered forgery is checked again (a miss), still 401');
    like($f->{seen}{headers}{'x-error'}, qr/bad_signature/, 'rotation: still bad_signature');
    $g = $t->issuer_status('remote', path => '/status')->{generation};

    # removal: r1 leaves the set
    $srv->set_route('/jwks', { body => $jwks->('r2', 'r3') });
    ok($t->poll(10, sub { $t->get('/a/x', token => tok('r3', 'remote'))->{status} == 200 }), 'removal: r3 accepted');
    ok($t->wait_issuer('remote', sub { $_[0]{generation} > $g }, 10, path => '/status'), 'removal: new generation');
    $s = look('/a/x', $t1);
    is_deeply([$s->{seen}{status}, $s->{hits}], [401, 0], 'removal: the cached r1 token is refused (no hit)');
    like($s->{seen}{headers}{'x-error'}, qr/unknown_kid/, 'removal: unknown_kid');
}

# ------------------------------------------------------------ eviction
{
    my $first = tok('f1', 'file');
    look('/a/x', $first);
    my $evicted = 0;
    for (1 .. 20) {
        my $s = look('/a/x', tok('f1', 'file'));
        $evicted += $s->{evict};
    }
    cmp_ok($evicted, '>=', 6, "a full cache evicts ($evicted evictions for 21 tokens in room for ~14)");
    my $s = look('/a/x', $first);
    is_deeply([$s->{seen}{status}, $s->{hits}, $s->{miss}], [200, 0, 1], 'the least recently used was evicted: a miss');
}

# ------------------------------------------------------------ jwks_file reload
{
    my $tf = tok('f1', 'file');
    look('/a/x', $tf);
    is(look('/a/x', $tf)->{hits}, 1, 'file f1 token cached');
    $t->write_file('file.json', $jwks->('f2'));
    my $tf2 = tok('f2', 'file');
    ok($t->reload(until => sub { $t->get('/a/x', token => $tf2)->{status} == 200 }), 'reload: f2 accepted');
    my $s = look('/a/x', $tf);
    is_deeply([$s->{seen}{status}, $s->{hits}], [401, 0], 'after the reload the f1 token is refused (no hit)');
    is(look('/a/x', $tf2)->{hits}, 1, 'the f2 token is cached in the new worker');
}

# ------------------------------------------------------------ off
{
    $t->config(conf('off'), workers => 1);
    my $tk = tok('f2', 'file');
    ok($t->reload(until => sub { (cache()->{size} // -1) == 0 }), 'reload with auth_m2m_token_cache off');
    my @s = map { look('/a/x', $tk) } 1 .. 3;
    is_deeply([map { $_->{seen}{status} } @s], [200, 200, 200], 'off: 200 each time');
    is_deeply([map { [$_->{hits}, $_->{miss}] } @s], [[0, 0], [0, 0], [0, 0]], 'off: no hits, no lookups');
}

# ------------------------------------------------------------ configuration
{
    my $r = $t->nginx_t("auth_m2m_token_cache 1m;\nauth_m2m_token_cache off;\n");
    isnt($r->{rc}, 0, 'nginx -t: a repeated auth_m2m_token_cache is refused');
    like($r->{out}, qr/"auth_m2m_token_cache" directive is duplicate/, '... as a duplicate');
    $r = $t->nginx_t("auth_m2m_token_cache lots;\n");
    isnt($r->{rc}, 0, 'nginx -t: a size that is not one is refused');
    like($r->{out}, qr/invalid value/, '... as an invalid value');
    $r = $t->nginx_t("server { listen 127.0.0.1:%%PORT_x%%; location / { auth_m2m_token_cache 1m; } }\n");
    isnt($r->{rc}, 0, 'nginx -t: not in a location');
}

cmp_ok(time - $T0, '<', 60, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$srv->stop;
done_testing;
