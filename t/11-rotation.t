# Key rotation with remote keys: a new kid is picked up without a reload
# (one fetch, triggered by the kid); a key removed from the set is refused
# after the next refresh; a flood of random kids costs at most one fetch per
# kid_refetch_cooldown; a request that waited for a fetch that did not bring
# its kid is refused with unknown_kid.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Socket::IP;
use POSIX ();
use Time::HiRes qw(time sleep);
use M2MTest qw(now json_text);
use JwksServer;

my $T0 = time;
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my %k = map { $_ => $t->ec_key($_) } qw(k1 k2 r1 r3 f1 h1 g1 c1);
my $jwks = sub { json_text({ keys => [ map { $t->jwk($k{$_}, alg => 'ES256') } @_ ] }) };

my $srv = JwksServer->new(routes => {
    '/rot'    => { body => $jwks->('k1') },
    '/rm'     => { body => $jwks->('r1', 'r3') },
    '/flood'  => { body => $jwks->('f1'), delay => 0.3 },
    '/nohelp' => { body => $jwks->('h1'), delay => 0.5 },
    '/gone'   => { body => $jwks->('g1'), delay => 1 },
    '/cool'   => { body => $jwks->('c1') },
});
my $base = 'http://127.0.0.1:' . $srv->port;

(my $conf = <<'EOF') =~ s/%%SRV%%/$base/g;
    auth_m2m_issuer rot {
        issuer https://rot.example.test/;
        jwks_uri %%SRV%%/rot;
        audience https://api.example.test;
        kid_refetch_cooldown 30s;
    }
    auth_m2m_issuer rm {
        issuer https://rm.example.test/;
        jwks_uri %%SRV%%/rm;
        audience https://api.example.test;
        refresh 1s;
    }
    auth_m2m_issuer flood {
        issuer https://flood.example.test/;
        jwks_uri %%SRV%%/flood;
        audience https://api.example.test;
        kid_refetch_cooldown 30s;
    }
    auth_m2m_issuer nohelp {
        issuer https://nohelp.example.test/;
        jwks_uri %%SRV%%/nohelp;
        audience https://api.example.test;
    }
    auth_m2m_issuer gone {
        issuer https://gone.example.test/;
        jwks_uri %%SRV%%/gone;
        audience https://api.example.test;
    }
    auth_m2m_issuer cool {
        issuer https://cool.example.test/;
        jwks_uri %%SRV%%/cool;
        audience https://api.example.test;
        kid_refetch_cooldown 3s;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /rot/    { auth_m2m rot;    try_files /ok.txt =404; }
        location /rm/     { auth_m2m rm;     try_files /ok.txt =404; }
        location /flood/  { auth_m2m flood;  try_files /ok.txt =404; }
        location /nohelp/ { auth_m2m nohelp; try_files /ok.txt =404; }
        location /gone/   { auth_m2m gone;   try_files /ok.txt =404; }
        location /cool/   { auth_m2m cool;   try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
$t->config($conf);
$t->start;

sub tok {
    my ($iss, $key, %opt) = @_;
    return $t->mint(key => $k{$key}, %opt,
        claims => { iss => "https://$iss.example.test/", aud => $AUD, client_id => 'svc' });
}
sub req { return $t->get("/$_[0]/x", token => $_[1]) }
sub desc { return ((M2MTest::challenge($_[0], 'Bearer') // '') =~ /error_description="([^"]*)"/)[0] // '' }
sub statuses {
    my ($iss, $token, $times) = @_;
    return join ',', map { req($iss, $token)->{status} } 1 .. ($times // 10);
}

for my $iss (qw(rot rm flood nohelp gone cool)) {
    ok($t->wait_issuer($iss, sub { $_[0]{generation} >= 1 }, 10), "$iss: first keys loaded");
}

# ------------------------------------------------------------ rotation to a new kid
{
    is(statuses('rot', tok('rot', 'k1')), join(',', (200) x 10), 'rot: k1 accepted');
    my @workers = $t->worker_pids;
    my $gen = $t->issuer_status('rot')->{generation};

    $srv->set_route('/rot', { body => $jwks->('k1', 'k2') });
    my $before = $srv->count('/rot');
    my $r = req('rot', tok('rot', 'k2'));
    is($r->{status}, 200, 'rot: a token with the new kid k2 is accepted at once (no reload)')
        or diag M2MTest::challenge($r, 'Bearer');
    is($srv->count('/rot'), $before + 1, 'rot: exactly one extra fetch');
    is(statuses('rot', tok('rot', 'k2')), join(',', (200) x 10), 'rot: k2 accepted by every worker');
    is(statuses('rot', tok('rot', 'k1')), join(',', (200) x 10), 'rot: k1 still accepted (still in the set)');
    is($srv->count('/rot'), $before + 1, 'rot: still one extra fetch');
    my $s = $t->issuer_status('rot') // {};
    is($s->{generation}, $gen + 1, 'rot: generation moved by one');
    is($s->{fetches}{kid_triggered}, 1, 'rot: fetches.kid_triggered 1');
    is_deeply([sort map { $_->{kid} } @{ $s->{keys} // [] }], ['k1', 'k2'], 'rot: status lists k1 and k2');
    is(join(' ', $t->worker_pids), join(' ', @workers), 'rot: same workers (no reload happened)');
}

# ------------------------------------------------------------ removed key
{
    my $R3 = tok('rm', 'r3');
    is(statuses('rm', $R3), join(',', (200) x 10), 'rm: r3 accepted while served');
    $srv->set_route('/rm', { body => $jwks->('r1') });
    my $t1 = time;
    my $last;
    my $ok = $t->poll(10, sub {
        $last = req('rm', $R3);
        return 1 if $last->{status} == 401;
        sleep 0.1;
        return 0;
    });
    ok($ok, sprintf('rm: r3 refused after the refresh (%.1f s)', time - $t1));
    is(desc($last), 'unknown_kid', 'rm: refused as unknown_kid');
    is(statuses('rm', $R3), join(',', (401) x 10), 'rm: r3 refused by every worker');
    is(statuses('rm', tok('rm', 'r1')), join(',', (200) x 10), 'rm: r1 still accepted');
    my $s = $t->issuer_status('rm') // {};
    is_deeply([map { $_->{kid} } @{ $s->{keys} // [] }], ['r1'], 'rm: status lists only r1');
}

# ------------------------------------------------------------ a flood of random kids
{
    my $before = $srv->count('/flood');
    my $port = $t->port;
    my @tokens = map { tok('flood', 'f1', kid => sprintf 'rand-%d-%d', $_, int rand 1e9) } 1 .. 100;
    # four clients at once, so that many requests arrive while the one fetch runs
    my @kids;
    for my $c (0 .. 3) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10);
            my $out = '';
            for my $i (0 .. 24) {
                my $r = $http->get("http://127.0.0.1:$port/flood/x",
                    { headers => { Authorization => "Bearer $tokens[$c * 25 + $i]" } });
                my ($d) = (M2MTest::challenge($r, 'Bearer') // '') =~ /error_description="([^"]*)"/;
                $out .= "$r->{status} " . ($d // '-') . "\n";
            }
            $t->write_file("flood.$c", $out);
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;
    my @res = map { split /\n/, $t->read_file("flood.$_") } 0 .. 3;
    is(scalar @res, 100, 'flood: 100 requests made');
    is(scalar(grep { $_ eq '401 unknown_kid' } @res), 100, 'flood: all refused with unknown_kid')
        or diag explain [grep { $_ ne '401 unknown_kid' } @res];
    my $fetches = $srv->count('/flood') - $before;
    cmp_ok($fetches, '<=', 1, "flood: at most one fetch for 100 random kids ($fetches)");
    is($fetches, 1, 'flood: the first unknown kid did trigger its one fetch');
    my $s = $t->issuer_status('flood') // {};
    is($s->{fetches}{kid_triggered}, 1, 'flood: fetches.kid_triggered 1');
    # within the cooldown, more random kids cost nothing
    my @more = map { desc(req('flood', tok('flood', 'f1', kid => "more-$_"))) } 1 .. 10;
    is(join(',', @more), join(',', ('unknown_kid') x 10), 'flood: 10 more random kids refused');
    is($srv->count('/flood') - $before, 1, 'flood: still one fetch');
    is(statuses('flood', tok('flood', 'f1')), join(',', (200) x 10), 'flood: the real key still works');
}

# ------------------------------------------------------------ a fetch that cannot help
{
    my $before = $srv->count('/nohelp');
    my $t1 = time;
    my $r = req('nohelp', tok('nohelp', 'h1', kid => 'ghost'));
    my $took = time - $t1;
    is($r->{status}, 401, 'nohelp: 401');
    is(desc($r), 'unknown_kid', 'nohelp: unknown_kid');
    is($srv->count('/nohelp'), $before + 1, 'nohelp: the kid triggered one fetch');
    cmp_ok($took, '>=', 0.45, sprintf('nohelp: the request waited for that fetch (%.2f s, server delay 0.5 s)', $took));
    cmp_ok($took, '<', 5, 'nohelp: and no longer than fetch_timeout');
    is(($t->issuer_status('nohelp') // {})->{fetches}{kid_triggered}, 1, 'nohelp: kid_triggered 1');
    is(req('nohelp', tok('nohelp', 'h1'))->{status}, 200, 'nohelp: the known key still works');
}

# ------------------------------------------------------------ the waiting client goes away
{
    my @workers = $t->worker_pids;
    my $before = $srv->count('/gone');
    my $tk = tok('gone', 'g1', kid => 'ghost');
    my $sock = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $t->port, Proto => 'tcp')
        or die "connect: $@";
    print $sock "GET /gone/x?client=leaves HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $tk\r\n\r\n";
    # the fetch its unknown kid triggered is on the wire (the server holds it 1 s)
    ok($srv->wait_for_count('/gone', $before + 1, 5), 'gone: the waiting request triggered a fetch');
    close $sock;    # the client gives up while its request waits
    ok($t->wait_log('access.log', qr{"GET /gone/x\?client=leaves HTTP/1.1" 499$}, 5),
        'gone: nginx noticed the client left (499 logged)');
    ok($t->wait_issuer('gone', sub { $_[0]{fetches}{ok} >= 2 }, 5), 'gone: the fetch completed afterwards');
    is(statuses('gone', tok('gone', 'g1'), 4), '200,200,200,200', 'gone: workers serve on');
    is(join(' ', $t->worker_pids), join(' ', @workers), 'gone: no worker crashed');
}

# ------------------------------------------------------------ one kid refetch per cooldown window
{
    # unknown kids without pause for 4.5 s, kid_refetch_cooldown 3s: the first
    # fetches at once, the next when the cooldown has passed on nginx's
    # one-second clock (2 to 3 s later), so 2 or 3 fetches in all
    my $before = $srv->count('/cool');
    my $t1 = time;
    my ($n, %desc) = (0);
    while (time - $t1 < 4.5) {
        $desc{ desc(req('cool', tok('cool', 'c1', kid => 'cool-' . $n++))) }++;
        sleep 0.03;
    }
    is(join(',', keys %desc), 'unknown_kid', "cool: all $n refused with unknown_kid");
    my @times = map { $_->{time} } $srv->requests('/cool');
    splice @times, 0, $before;
    ok(@times >= 2 && @times <= 3, 'cool: 2 or 3 fetches in 4.5 s (' . scalar(@times) . ')');
    my @gaps = map { $times[$_] - $times[$_ - 1] } 1 .. $#times;
    is(scalar(grep { $_ < 2 } @gaps), 0, 'cool: at least the cooldown (less one clock tick) between them: '
        . join(' ', map { sprintf '%.2f', $_ } @gaps));
    is(($t->issuer_status('cool') // {})->{fetches}{kid_triggered}, scalar @times, 'cool: each counted as kid_triggered');
}

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$srv->stop;
done_testing;
