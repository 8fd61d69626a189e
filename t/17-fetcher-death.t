# The fetch lock in the zone has an owner and a deadline: a worker killed in
# the middle of a fetch cannot stop refreshes for good. The key server hangs,
# the worker that took the lock (the one with a TCP connection to the key
# server) is killed with SIGKILL, the server is made healthy again; another
# worker must take over after fetch_timeout + 2 s, log a [warn] naming the
# dead worker, and the refresh must succeed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use M2MTest qw(now json_text);
use JwksServer;

my $T0 = time;
my $AUD = 'https://api.example.test';

my $t = M2MTest->new(workers => 2);
my $k1 = $t->ec_key('k1');
my $k2 = $t->ec_key('k2');
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => 'ES256') } @_ ] }) };

my $srv = JwksServer->new(routes => { '/jwks' => { body => $jwks->($k1) } });
my $base = 'http://127.0.0.1:' . $srv->port;

(my $conf = <<'EOF') =~ s/%%SRV%%/$base/g;
    auth_m2m_issuer main {
        issuer https://main.example.test/;
        jwks_uri %%SRV%%/jwks;
        audience https://api.example.test;
        refresh 1s;
        fetch_timeout 3s;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /api/ { auth_m2m main; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
$t->config($conf);
$t->start;

sub tok { return $t->mint(key => $_[0], claims => { iss => 'https://main.example.test/', aud => $AUD, client_id => 'svc' }) }

my $s0 = $t->wait_issuer('main', sub { $_[0]{generation} >= 1 }, 10);
ok($s0, 'first keys loaded');
$s0 //= {};
is($t->get('/api/x', token => tok($k1))->{status}, 200, 'k1 accepted');

# ------------------------------------------------------------ a worker takes the lock, then dies
$srv->set_route('/jwks', { hang => 1 });
my $c = $srv->count('/jwks');
ok($srv->wait_for_count('/jwks', $c + 1, 5), 'a worker started a refresh against the hanging server');
my $hung = $srv->last_request('/jwks');
my $s_hung = $t->issuer_status('main') // {};

# Which worker? The one holding an ESTABLISHED TCP connection to the key
# server's port: workers are the master's children, and their sockets are
# matched by inode between /proc/<pid>/fd and /proc/net/tcp (see
# M2MTest::pids_connected_to). Only the fetching worker talks to the key
# server, and the server keeps the hung connection open, so exactly one
# worker must match. (The lock is held until fetch_timeout, 3 s: plenty.)
my @fetchers;
$t->poll(2, sub { @fetchers = $t->pids_connected_to($srv->port); @fetchers == 1 });
is(scalar @fetchers, 1, 'exactly one worker is connected to the key server: ' . join(' ', @fetchers));
my $victim = $fetchers[0] // 0;
my @others = grep { $_ != $victim } $t->worker_pids;
ok($victim && kill('KILL', $victim), "SIGKILL to worker $victim");
my $t_kill = time;
ok($t->poll(5, sub { !grep { $_ == $victim } $t->worker_pids }), 'the fetching worker is gone');

$srv->set_route('/jwks', { body => $jwks->($k1, $k2) });

# ------------------------------------------------------------ someone else refreshes
my $s = $t->wait_issuer('main', sub { ($_[0]{last_success} // 0) > ($s0->{last_success} // 0)
    && $_[0]{generation} > ($s_hung->{generation} // 0) }, 15);
ok($s, sprintf('a later refresh succeeded (%.1f s after the kill)', time - $t_kill))
    or diag explain [$t->issuer_status('main'), $t->grep_log(qr/auth_m2m/)];
$s //= {};
is_deeply([sort map { $_->{kid} } @{ $s->{keys} // [] }], ['k1', 'k2'], 'the new key set is loaded');

my $warn = $t->wait_log('error.log', qr/did not finish its key fetch/, 2);
like($warn // '', qr/\[warn\] \d+#\d+: auth_m2m_issuer "main": worker $victim did not finish its key fetch, taking over/,
    'the takeover is logged at warn, naming the dead worker');
my ($taker) = ($warn // '') =~ /\[warn\] (\d+)#/;
ok($taker && $taker != $victim, "taken over by another worker ($taker)");

# the lock was respected until its deadline (fetch_timeout 3 s + 2 s, on
# nginx's one-second clock): no request reached the server in between
my ($next) = grep { $_->{time} > $hung->{time} } $srv->requests('/jwks');
ok($next, 'the takeover fetch reached the server');
my $gap = $next ? $next->{time} - $hung->{time} : -1;
cmp_ok($gap, '>=', 3.9, $next
    ? sprintf('no other fetch before the lock deadline (next one %.1f s after the hung one)', $gap)
    : 'no other fetch before the lock deadline (no next fetch at all)');

is($t->get('/api/x', token => tok($k2))->{status}, 200, 'k2 accepted');
my $s2 = $t->wait_issuer('main', sub { $_[0]{last_success} > $s->{last_success} }, 5);
ok($s2, 'refreshes go on afterwards');

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
# The master reports the killed worker at [alert]: expected here, and only that.
$t->no_alerts_ok(allow => [qr/\[alert\] \d+#\d+: worker process $victim exited on signal 9/]);
$srv->stop;
done_testing;
