# Remote keys survive `nginx -s reload`: the shared zone is reused, so the
# first request after the reload is verified with the keys already fetched,
# without a new fetch, and the generation on the status page is unchanged.
# Fetching still works in the new workers (a new kid is picked up), and a
# reload that adds an issuer keeps the keys of the existing one. A reload
# while a fetch is on the wire ends that fetch cleanly: no [alert] from the
# exiting worker, and the new workers refresh on schedule (the lock is not
# left to its fetch_timeout + 2 s deadline).
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
my $k1 = $t->ec_key('k1');
my $k2 = $t->ec_key('k2');
my $ko = $t->ec_key('o1');
my $ki = $t->ec_key('i1');
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => 'ES256') } @_ ] }) };

my $srv = JwksServer->new(routes => {
    '/jwks'  => { body => $jwks->($k1) },
    '/other' => { body => $jwks->($ko) },
    '/inflight' => { body => $jwks->($ki) },
});
my $base = 'http://127.0.0.1:' . $srv->port;

my $main_issuer = <<"EOF";
    auth_m2m_issuer main {
        issuer https://main.example.test/;
        jwks_uri $base/jwks;
        audience $AUD;
    }
EOF
my $server = <<'EOF';
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        location /api/ { auth_m2m main; try_files /ok.txt =404; }
        %%EXTRA%%
        location = /status { auth_m2m_status; }
    }
EOF
sub conf {
    my ($extra_issuer, $extra_loc) = @_;
    (my $s = $server) =~ s/%%EXTRA%%/$extra_loc \/\/ ''/e;
    return $main_issuer . ($extra_issuer // '') . $s;
}
$t->config(conf());
$t->start;

sub tok {
    my ($key, $iss) = @_;
    return $t->mint(key => $key, claims => { iss => 'https://' . ($iss // 'main') . '.example.test/', aud => $AUD,
        client_id => 'svc' });
}
my $T1 = tok($k1);
sub statuses {
    my ($token, $path, $times) = @_;
    return join ',', map { $t->get($path // '/api/x', token => $token)->{status} } 1 .. ($times // 10);
}

my $s0 = $t->wait_issuer('main', sub { $_[0]{generation} >= 1 }, 10);
ok($s0, 'keys fetched') or diag explain $t->status_json;
$s0 //= {};
is(statuses($T1), join(',', (200) x 10), 'token accepted before the reload');

# ------------------------------------------------------------ plain reload
{
    # Were the module to fetch before serving, it would now wait 3 s for it.
    $srv->set_route('/jwks', { body => $jwks->($k1), delay => 3 });
    my $c0 = $srv->count('/jwks');
    my @old = $t->worker_pids;
    ok($t->reload, 'nginx -s reload: new workers up, old ones gone');
    my %old = map { $_ => 1 } @old;
    is(scalar(grep { $old{$_} } $t->worker_pids), 0, 'all workers replaced');

    my $t1 = time;
    my $r = $t->get('/api/x', token => $T1);
    my $took = time - $t1;
    is($r->{status}, 200, 'first request after the reload: 200');
    cmp_ok($took, '<', 1, sprintf('and it did not wait (%.3f s)', $took));
    is($srv->count('/jwks'), $c0, 'no fetch between just before the reload and the first request');
    is(statuses($T1), join(',', (200) x 10), 'every new worker serves the old keys');
    is($srv->count('/jwks'), $c0, 'still no fetch');

    my $s = $t->issuer_status('main') // {};
    is($s->{generation}, $s0->{generation}, 'status: generation unchanged by the reload');
    is($s->{last_success}, $s0->{last_success}, 'status: last_success unchanged');
    is($s->{last_attempt}, $s0->{last_attempt}, 'status: last_attempt unchanged (no worker started a fetch)');
    is($s->{next_refresh}, $s0->{next_refresh}, 'status: next refresh kept from the zone');
    is($s->{fetches}{ok}, $s0->{fetches}{ok}, 'status: fetches.ok unchanged');
    is_deeply($s->{keys}, [{ kid => 'k1', alg => 'ES256' }], 'status: keys listed by the new worker');

    # the new workers still fetch: a new kid is picked up
    $srv->set_route('/jwks', { body => $jwks->($k1, $k2) });
    $r = $t->get('/api/x', token => tok($k2));
    is($r->{status}, 200, 'after the reload a new kid still triggers a fetch and is accepted')
        or diag explain [$r->{headers}, $t->grep_log(qr/auth_m2m/)];
    is($srv->count('/jwks'), $c0 + 1, 'one fetch for it');
}

# ------------------------------------------------------------ reload adding an issuer
{
    my $s1 = $t->issuer_status('main') // {};
    my $c1 = $srv->count('/jwks');
    $srv->set_route('/jwks', { body => $jwks->($k1, $k2), delay => 3 });
    $t->config(conf(<<"EOF", 'location /other/ { auth_m2m other; try_files /ok.txt =404; }'));
    auth_m2m_issuer other {
        issuer https://other.example.test/;
        jwks_uri $base/other;
        audience $AUD;
    }
EOF
    ok($t->reload, 'reload with a second remote issuer added');
    my $t1 = time;
    my $r = $t->get('/api/x', token => tok($k2));
    is($r->{status}, 200, 'main: first request after that reload: 200');
    cmp_ok(time - $t1, '<', 1, 'main: without waiting');
    is($srv->count('/jwks'), $c1, 'main: no fetch');
    my $s = $t->issuer_status('main') // {};
    is($s->{generation}, $s1->{generation}, 'main: generation unchanged');
    is($s->{last_attempt}, $s1->{last_attempt}, 'main: last_attempt unchanged');
    is_deeply([sort map { $_->{kid} } @{ $s->{keys} // [] }], ['k1', 'k2'], 'main: keys kept');
    is($t->get('/other/x', token => tok($ko, 'other'))->{status}, 200, 'other: the new issuer gets its keys');
    ok($t->wait_issuer('other', sub { $_[0]{generation} >= 1 }, 5), 'other: status shows its keys');
}

# ------------------------------------------------------------ reload while a fetch is in flight
{
    my $other = <<"EOF";
    auth_m2m_issuer other {
        issuer https://other.example.test/;
        jwks_uri $base/other;
        audience $AUD;
    }
    auth_m2m_issuer inflight {
        issuer https://inflight.example.test/;
        jwks_uri $base/inflight;
        audience $AUD;
        refresh 1s;
        fetch_timeout 5s;
    }
EOF
    $t->config(conf($other, 'location /other/ { auth_m2m other; try_files /ok.txt =404; }'));
    ok($t->reload, 'reload adding an issuer refreshed every second');
    my $s = $t->wait_issuer('inflight', sub { $_[0]{generation} >= 1 }, 5);
    ok($s, 'inflight: keys loaded');

    $srv->set_route('/inflight', { hang => 1 });
    my $c = $srv->count('/inflight');
    ok($srv->wait_for_count('/inflight', $c + 1, 5), 'inflight: a refresh is hanging on the key server');
    my @fetcher = $t->pids_connected_to($srv->port);
    is(scalar @fetcher, 1, "inflight: worker @fetcher holds the fetch");
    my $s1 = $t->issuer_status('inflight') // {};
    my $lines = () = $t->log_lines('error.log');

    ok($t->reload, 'reload while that fetch is in flight: the old workers exit');
    $srv->set_route('/inflight', { body => $jwks->($ki) });
    my $t1 = time;
    my $s2 = $t->wait_issuer('inflight', sub { ($_[0]{last_success} // 0) > ($s1->{last_success} // 0) }, 10);
    my $took = time - $t1;
    ok($s2, sprintf('inflight: the new workers refresh again (after %.1f s)', $took));
    cmp_ok($took, '<', 3, 'inflight: on the 1 s schedule, not after the dead fetch\'s lock deadline (5 s + 2 s)');
    my @all = $t->log_lines('error.log');
    my @new = @all[$lines .. $#all];
    is(join("\n", grep { /\[(alert|crit|emerg)\]/ } @new), '', 'inflight: no [alert] from the worker that exited mid-fetch');
    is(join("\n", grep { /did not finish its key fetch/ } @new), '', 'inflight: no takeover after a graceful reload');
}

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$srv->stop;
done_testing;
