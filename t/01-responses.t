# Every response of RFC 6750 §3 the module gives, the exact WWW-Authenticate
# header for each, error_page on 401/403, and the info line per refusal.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::IP;
use M2MTest qw(now b64u json_text);
use Crypt::Misc qw(decode_b64u);

my $ISS = 'https://idp.example.test/';
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my $key = $t->rsa_key('k1');
my $evil = $t->rsa_key('k1');    # same kid, other key: a forgery
$t->write_jwks('jwks.json', $key);
$t->write_file('html/errors/401.html', "custom 401 page\n");
$t->write_file('html/errors/403.html', "custom 403 page\n");

$t->config(<<'EOF');
    auth_m2m_issuer main {
        issuer https://idp.example.test/;
        jwks_file %%DIR%%/jwks.json;
        audience https://api.example.test;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /api/ {
            auth_m2m main;
            try_files /ok.txt =404;
        }
        location /admin/ {
            auth_m2m main;
            auth_m2m_scope admin:all tasks:write;
            try_files /ok.txt =404;
        }
        location /ep/ {
            auth_m2m main;
            auth_m2m_scope admin:all;
            error_page 401 /errors/401.html;
            error_page 403 /errors/403.html;
            try_files /ok.txt =404;
        }
        location /errors/ {
            internal;
        }
    }
EOF
$t->start;

my @minted;    # every token sent, to prove none reaches a log
sub tok {
    my (%opt) = @_;
    my %claims = (iss => $ISS, aud => $AUD, client_id => 'svc-1', sub => 'svc-1',
        scope => 'tasks:read', %{ delete $opt{claims} // {} });
    my $tok = $t->mint(key => $key, %opt, claims => \%claims);
    push @minted, $tok;
    return $tok;
}

my $n = 0;
sub req {
    my ($path, %opt) = @_;
    my $sep = $path =~ /\?/ ? '&' : '?';
    my $r = $t->get($path . $sep . 'n=' . ++$n, %opt);
    $r->{n} = $n;
    return $r;
}

# One Bearer challenge, exactly as expected; beside it only the plain DPoP
# challenge that a 401 offers where DPoP is allowed (t/42-dpop.t), and
# nothing on a 400 or 403.
sub www_is {
    my ($r, $want, $name) = @_;
    my @c = M2MTest::challenges($r);
    my @bearer = grep { /^Bearer / } @c;
    my @other = grep { !/^Bearer / } @c;
    my $others_ok = $r->{status} == 401
        ? @other == 1 && $other[0] =~ /^DPoP algs="[^"]+"$/
        : @other == 0;
    ok(@bearer == 1 && $others_ok, "$name: one Bearer challenge, and DPoP algs on a 401")
        or diag explain \@c;
    is($bearer[0], $want, "$name: WWW-Authenticate");
}

sub refused {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name: status $status") or diag $r->{content};
    my $want = $status == 401
        ? qq{Bearer realm="api", error="invalid_token", error_description="$code"}
        : qq{Bearer realm="api", error="invalid_request", error_description="$code"};
    www_is($r, $want, $name);
}

my %log_expect;    # n => [code, client_id or undef]

# ------------------------------------------------------------ no credentials
{
    my $r = req('/api/x');
    is($r->{status}, 401, 'no token: 401');
    www_is($r, 'Bearer realm="api"', 'no token');
    $log_expect{ $r->{n} } = ['missing_token', undef];

    $r = req('/api/x', headers => { Authorization => 'Basic dXNlcjpwYXNz' });
    is($r->{status}, 401, 'Basic scheme: 401');
    www_is($r, 'Bearer realm="api"', 'Basic scheme (no error attribute)');
}

# ------------------------------------------------------------ malformed header
for my $case (['Bearer', 'Bearer alone'], ['Bearer a b', 'two tokens'],
              ['Bearer abc,def', 'bad token68 character'])
{
    my $r = req('/api/x', headers => { Authorization => $case->[0] });
    refused($r, 400, 'bad_authorization', $case->[1]);
    $log_expect{ $r->{n} } = ['bad_authorization', undef] if $case->[1] eq 'two tokens';
}

# ------------------------------------------------------------ b64token characters
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
# "/" ) *"=". Every other byte, at the start, around the checker's steps of
# eight characters and at the end, is bad_authorization (400); the set's
# own characters make a b64token that is no JWS (malformed, 401). "=" only
# ends a token.
{
    my $b64token = qr{^[A-Za-z0-9\-._~+/]$};
    my @wrong;
    for my $byte (0x21 .. 0x7e) {
        my $c = chr $byte;
        for my $at (0, 7, 8, 15, 16, 39) {
            my $token = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN';
            substr($token, $at, 1) = $c;
            my $want = $c =~ $b64token || ($c eq '=' && $at == 39) ? 401 : 400;
            my $r = req('/api/x', headers => { Authorization => "Bearer $token" });
            push @wrong, sprintf('0x%02x at %d: %s', $byte, $at, $r->{status}) if $r->{status} != $want;
        }
    }
    # Bytes HTTP::Tiny will not send in a header, over a connection of our own.
    for my $byte (0x01, 0x7f, 0x80, 0xff) {
        for my $at (0, 8, 39) {
            my $token = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN';
            substr($token, $at, 1) = chr $byte;
            my $sock = IO::Socket::IP->new(PeerAddr => '127.0.0.1', PeerPort => $t->port('main'),
                Timeout => 10) or die "connect: $@";
            print $sock "GET /api/x?n=" . ++$n . " HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer $token\r\n\r\n";
            my $status = (<$sock> // '') =~ m{^HTTP/1\.\d (\d+)} ? $1 : 0;
            push @wrong, sprintf('0x%02x at %d: %s', $byte, $at, $status) if $status != 400;
        }
    }
    is_deeply(\@wrong, [], 'each byte at each place: a b64token character or bad_authorization');
    refused(req('/api/x', headers => { Authorization => 'Bearer abcdefghijklmnop==' }), 401, 'malformed',
        'trailing "=" after sixteen characters');
    refused(req('/api/x', headers => { Authorization => 'Bearer abcdefghijklmnop=q' }), 400,
        'bad_authorization', '"=" before the end');
}

# ------------------------------------------------------------ success
{
    my $good = tok();
    my $r = req('/api/x', token => $good);
    is($r->{status}, 200, 'valid token: 200');
    is($r->{content}, "ok\n", 'valid token: content served');
    ok(!exists $r->{headers}{'www-authenticate'}, 'valid token: no WWW-Authenticate');
    $log_expect{ $r->{n} } = [];

    for my $scheme (qw(bearer BEARER bEaReR)) {
        $r = req('/api/x', headers => { Authorization => "$scheme $good" });
        is($r->{status}, 200, "scheme \"$scheme\" is case-insensitive");
    }

    $r = req('/api/x', token => tok(claims => { aud => ['https://other.test', $AUD] }));
    is($r->{status}, 200, 'aud as an array containing the audience: 200');
}

# ------------------------------------------------------------ invalid tokens
{
    my $r = req('/api/x', token => tok(claims => { exp => now() - 3600, iat => now() - 7200 }));
    refused($r, 401, 'expired', 'expired');
    $log_expect{ $r->{n} } = ['expired', undef, 'main'];    # refused before its signature is checked: no client_id

    $r = req('/api/x', token => tok(claims => { exp => now() - 10 }));
    is($r->{status}, 200, 'expired 10 s ago is within the default 60 s leeway');

    my $forged = $t->mint(key => $evil, claims => { iss => $ISS, aud => $AUD, client_id => 'svc-1' });
    push @minted, $forged;
    $r = req('/api/x', token => $forged);
    refused($r, 401, 'bad_signature', 'signed by another key');
    $log_expect{ $r->{n} } = ['bad_signature', undef, 'main'];    # issuer chosen by iss, signature not verified

    # A good token with its signature's last byte changed.
    my ($h, $p, $s) = split /\./, tok();
    my $sig = decode_b64u($s);
    substr($sig, -1, 1) = chr(ord(substr($sig, -1, 1)) ^ 1);
    $r = req('/api/x', token => join('.', $h, $p, b64u($sig)));
    refused($r, 401, 'bad_signature', 'flipped signature bit');

    # The payload of another client pasted onto a valid signature.
    my ($h2, $p2) = split /\./, tok(claims => { client_id => 'svc-admin', scope => 'admin:all' });
    $r = req('/api/x', token => join('.', $h, $p2, $s));
    refused($r, 401, 'bad_signature', 'payload swapped under a valid signature');

    $r = req('/api/x', token => tok(kid => 'no-such-kid'));
    refused($r, 401, 'unknown_kid', 'unknown kid');
    $log_expect{ $r->{n} } = ['unknown_kid', undef, 'main'];

    $r = req('/api/x', token => tok(claims => { iss => 'https://evil.example.test/' }));
    refused($r, 401, 'wrong_issuer', 'wrong issuer');
    $log_expect{ $r->{n} } = ['wrong_issuer', undef];

    $r = req('/api/x', token => tok(claims => { iss => 'https://idp.example.test' }));
    refused($r, 401, 'wrong_issuer', 'issuer without the trailing slash (exact match)');

    $r = req('/api/x', token => tok(claims => { iss => undef }));
    refused($r, 401, 'wrong_issuer', 'no iss');

    $r = req('/api/x', token => tok(claims => { aud => 'https://other.test' }));
    refused($r, 401, 'wrong_audience', 'wrong audience');
    $log_expect{ $r->{n} } = ['wrong_audience', 'svc-1', 'main'];

    $r = req('/api/x', token => tok(claims => { aud => ['https://a.test', 'https://b.test'] }));
    refused($r, 401, 'wrong_audience', 'audience array without ours');

    $r = req('/api/x', token => tok(claims => { aud => "$AUD/" }));
    refused($r, 401, 'wrong_audience', 'audience with a trailing slash (exact match)');

    $r = req('/api/x', token => tok(claims => { aud => undef }));
    refused($r, 401, 'wrong_audience', 'no aud');

    $r = req('/api/x', token => tok(claims => { exp => undef }));
    refused($r, 401, 'missing_exp', 'no exp');

    $r = req('/api/x', token => tok(claims => { nbf => now() + 3600 }));
    refused($r, 401, 'not_yet_valid', 'nbf in the future');

    $r = req('/api/x', token => tok(claims => { iat => now() + 3600 }));
    refused($r, 401, 'issued_in_future', 'iat in the future');

    $r = req('/api/x', token => tok(claims => { exp => 'tomorrow' }));
    refused($r, 401, 'malformed_claim', 'exp as a string');
}

# ------------------------------------------------------------ algorithms refused
{
    my %claims = (iss => $ISS, aud => $AUD, client_id => 'svc-1');
    my $pem = $key->{pk}->export_key_pem('public');

    # Algorithm confusion: HS256 keyed with the issuer's public key.
    my $hs = $t->raw_token(header => { alg => 'HS256', kid => 'k1', typ => 'JWT' }, claims => \%claims,
        sign => sub { M2MTest::hmac_sha256($pem, $_[0]) });
    push @minted, $hs;
    my $r = req('/api/x', token => $hs);
    refused($r, 401, 'alg_not_allowed', 'HS256 keyed with the public key');
    $log_expect{ $r->{n} } = ['alg_not_allowed', undef, 'main'];

    my $none = $t->raw_token(header => { alg => 'none', kid => 'k1' }, claims => \%claims,
        sig => 'x' x 32);
    $r = req('/api/x', token => $none);
    refused($r, 401, 'alg_not_allowed', 'alg none (with signature bytes)');

    # The classic unsecured JWS ends with an empty signature: refused either
    # for its alg or as not three parts; never accepted.
    my $none_empty = $t->raw_token(header => { alg => 'none' }, claims => \%claims);
    like($none_empty, qr/\.$/, 'unsecured JWS ends with "."');
    $r = req('/api/x', token => $none_empty);
    is($r->{status}, 401, 'alg none, empty signature: 401');
    like(M2MTest::challenge($r, 'Bearer') // '',
        qr/^Bearer realm="api", error="invalid_token", error_description="(alg_not_allowed|malformed)"$/,
        'alg none, empty signature: invalid_token');

    my $mixed = $t->raw_token(header => { alg => 'None', kid => 'k1' }, claims => \%claims, sig => 'x');
    $r = req('/api/x', token => $mixed);
    refused($r, 401, 'alg_not_allowed', 'alg "None"');
}

# ------------------------------------------------------------ shapes
{
    my $jwe = $t->jwe($key, { iss => $ISS, aud => $AUD, exp => now() + 600 });
    is(scalar(split /\./, $jwe, -1), 5, 'JWE has five parts');
    my $r = req('/api/x', token => $jwe);
    refused($r, 401, 'jwe_not_supported', 'JWE');

    for my $bad ('abc.def.ghi', 'a.b', 'onlyonepart', 'a.b.c.d', '..', 'eyJhbGciOiJSUzI1NiJ9..') {
        $r = req('/api/x', token => $bad);
        refused($r, 401, 'malformed', "malformed token \"$bad\"");
    }

    my $not_object = join '.', b64u('"RS256"'), b64u(json_text({ iss => $ISS })), b64u('sig');
    $r = req('/api/x', token => $not_object);
    refused($r, 401, 'malformed', 'header not a JSON object');

    my $not_json = join '.', b64u('{"alg":"RS256","kid":"k1"'), b64u(json_text({ iss => $ISS })), b64u('sig');
    $r = req('/api/x', token => $not_json);
    refused($r, 401, 'malformed', 'header not JSON');
}

# ------------------------------------------------------------ size limit
{
    # A token of exactly `len` characters, by padding a claim (and, when
    # base64url cannot reach that length, an extra header member).
    my $exact = sub {
        my ($len) = @_;
        for my $hpad (0 .. 3) {
            my $base = length tok(claims => { pad => '' }, header => { hpad => 'h' x $hpad });
            my $start = int(($len - $base) * 3 / 4) - 4;
            for my $p ($start .. $start + 12) {
                my $tk = tok(claims => { pad => 'p' x $p }, header => { hpad => 'h' x $hpad });
                return $tk if length $tk == $len;
                last if length $tk > $len;
            }
        }
        die "no token of length $len";
    };
    my $at_limit = $exact->(8192);
    is(length $at_limit, 8192, 'token of exactly 8192 bytes');
    my $r = req('/api/x', token => $at_limit);
    is($r->{status}, 200, '8192-byte token is accepted');

    my $over = tok(claims => { pad => 'p' x 9000 });
    cmp_ok(length $over, '>', 8192, 'token over 8 KiB');
    $r = req('/api/x', token => $over);
    refused($r, 401, 'token_too_large', 'token over 8 KiB');
    $log_expect{ $r->{n} } = ['token_too_large', undef];

    # Refused before any parsing: garbage of that size is "too large", not "malformed".
    $r = req('/api/x', token => 'A' x 8193);
    refused($r, 401, 'token_too_large', '8193 bytes of garbage');
}

# ------------------------------------------------------------ scopes
{
    my $r = req('/admin/x', token => tok(claims => { scope => 'tasks:read admin:all' }));
    is($r->{status}, 403, 'missing scope: 403');
    www_is($r, 'Bearer realm="api", error="insufficient_scope", scope="admin:all tasks:write"',
        'missing scope');
    $log_expect{ $r->{n} } = ['insufficient_scope', 'svc-1', 'main'];

    $r = req('/admin/x', token => tok(claims => { scope => 'tasks:read' }));
    is($r->{status}, 403, 'no required scope: 403');

    $r = req('/admin/x', token => tok(claims => { scope => 'tasks:write admin:all' }));
    is($r->{status}, 200, 'all required scopes: 200');

    $r = req('/admin/x', token => tok(claims => { scope => 'admin:alltasks:write' }));
    is($r->{status}, 403, 'scopes are whole words');

    $r = req('/admin/x');
    is($r->{status}, 401, 'scoped location without token: 401 first');
    www_is($r, 'Bearer realm="api"', 'scoped location without token');

    $r = req('/admin/x', token => tok(claims => { scope => 'tasks:write admin:all', exp => now() - 3600 }));
    refused($r, 401, 'expired', 'expired token with the scopes: 401, not 403');
}

# ------------------------------------------------------------ error_page
{
    my $r = req('/ep/x');
    is($r->{status}, 401, 'error_page 401: status kept');
    is($r->{content}, "custom 401 page\n", 'error_page 401: custom page');
    www_is($r, 'Bearer realm="api"', 'error_page 401');

    $r = req('/ep/x', token => tok(claims => { exp => now() - 3600 }));
    is($r->{status}, 401, 'error_page 401 (invalid token): status');
    is($r->{content}, "custom 401 page\n", 'error_page 401 (invalid token): custom page');
    www_is($r, 'Bearer realm="api", error="invalid_token", error_description="expired"',
        'error_page 401 (invalid token)');

    $r = req('/ep/x', token => tok());
    is($r->{status}, 403, 'error_page 403: status kept');
    is($r->{content}, "custom 403 page\n", 'error_page 403: custom page');
    www_is($r, 'Bearer realm="api", error="insufficient_scope", scope="admin:all"', 'error_page 403');

    $r = req('/ep/x', token => tok(claims => { scope => 'admin:all' }));
    is($r->{status}, 200, 'error_page location, enough scope: 200');
    is($r->{content}, "ok\n", 'error_page location, enough scope: content');
}

# ------------------------------------------------------------ the refusal log
{
    # The access log line is written when the request ends: once the last
    # request is in it, the error log lines of all earlier ones are too.
    ok($t->wait_log('access.log', qr/[?&]n=$n /), 'last request logged');
    my @refusals = grep { /auth_m2m: access refused/ } $t->log_lines('error.log');

    for my $id (sort { $a <=> $b } keys %log_expect) {
        my ($code, $client, $issuer) = @{ $log_expect{$id} };
        my @lines = grep { /request: "GET \/[^ "]*[?&]n=$id HTTP/ } @refusals;
        if (!defined $code) {
            is(scalar @lines, 0, "request $id (accepted): no refusal logged") or diag explain \@lines;
            next;
        }
        is(scalar @lines, 1, "request $id ($code): logged once") or diag explain \@lines;
        my $line = $lines[0] // '';
        like($line, qr/\[info\] /, "$code: at level info");
        like($line, qr/auth_m2m: access refused: \Q$code\E(,|$)/, "$code: reason in the log");
        like($line, qr/, client: 127\.0\.0\.1,/, "$code: client address in the log");
        if (defined $client) {
            like($line, qr/, client_id "\Q$client\E"/, "$code: client_id logged (signature verified)");
        } else {
            unlike($line, qr/client_id/, "$code: no client_id (signature not verified)");
        }
        # The exact shape of the contract: code, client_id, issuer, then nginx's context.
        my $exact = "auth_m2m: access refused: $code"
            . (defined $client ? qq{, client_id "$client"} : '')
            . (defined $issuer ? qq{, issuer "$issuer"} : '')
            . ', client: 127.0.0.1, server: ';
        like($line, qr/\Q$exact\E/, "$code: log line format");
    }

    my $all = $t->read_file('error.log') . $t->read_file('access.log');
    my @leaks;
    for my $tok (@minted) {
        my ($h, $p, $s) = split /\./, $tok;
        push @leaks, $tok if grep { defined && length > 16 && index($all, $_) >= 0 } ($p, $s);
    }
    is(scalar @leaks, 0, 'no token (payload or signature) appears in the logs');
    my $pem_body = ($key->{pk}->export_key_pem('public') =~ /\n(.{40})/)[0];
    ok(index($all, $pem_body) < 0 && index($all, $t->jwk($key)->{n}) < 0, 'no key material in the logs');
}

$t->no_alerts_ok;
done_testing;
