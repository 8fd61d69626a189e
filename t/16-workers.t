# worker_processes 4: one worker fetches, all of them use the new key set.
# The key server rotates (k1 replaced by k2) and, with `refresh 1s`, every
# worker must accept k2 and refuse k1. Requests cannot be sent to a chosen
# worker, so the listening socket uses `reuseport` (the kernel spreads new
# connections over one socket per worker by a hash of the client port) and
# many requests are made on fresh connections; the access log records $pid,
# which proves that all four workers answered.
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
my $N = 40;

my $t = M2MTest->new(workers => 4);
my $k1 = $t->ec_key('k1');
my $k2 = $t->ec_key('k2');
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => 'ES256') } @_ ] }) };

my $srv = JwksServer->new(routes => { '/jwks' => { body => $jwks->($k1) } });
my $base = 'http://127.0.0.1:' . $srv->port;

(my $conf = <<'EOF') =~ s/%%SRV%%/$base/g;
    log_format workers '$pid $request_uri $status';
    auth_m2m_issuer main {
        issuer https://main.example.test/;
        jwks_uri %%SRV%%/jwks;
        audience https://api.example.test;
        refresh 1s;
    }
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        root %%DIR%%/html;
        access_log %%DIR%%/workers.log workers;
        location /api/ { auth_m2m main; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
$t->config($conf);
$t->start;
my @workers = $t->worker_pids;
is(scalar @workers, 4, 'four workers');

sub tok { return $t->mint(key => $_[0], claims => { iss => 'https://main.example.test/', aud => $AUD, client_id => 'svc' }) }
my ($T1, $T2) = (tok($k1), tok($k2));

my $n = 0;
# $N requests on fresh connections; returns (statuses joined, {pid => count})
sub batch {
    my ($path, $token) = @_;
    my $first = $n + 1;
    my @st = map { $t->get("$path?n=" . ++$n, token => $token)->{status} } 1 .. $N;
    my $last = $n;
    $t->wait_log('workers.log', qr/[?&]n=$last /);
    my %pids;
    for ($t->log_lines('workers.log')) {
        my ($pid, $id) = /^(\d+) \S*[?&]n=(\d+) / or next;
        $pids{$pid}++ if $id >= $first && $id <= $last;
    }
    return (join(',', @st), \%pids);
}
sub pids_text { my ($p) = @_; return join ' ', map { "$_:$p->{$_}" } sort keys %$p }

ok($t->wait_issuer('main', sub { $_[0]{generation} >= 1 }, 10), 'first keys loaded');
my $gen0 = $t->issuer_status('main')->{generation};
{
    my ($st, $pids) = batch('/api/x', $T1);
    is($st, join(',', (200) x $N), "k1 accepted by $N requests");
    is(scalar(keys %$pids), 4, 'all four workers answered (' . pids_text($pids) . ')');
}

# ------------------------------------------------------------ rotate
$srv->set_route('/jwks', { body => $jwks->($k2) });
# No token is sent until the scheduled refresh has happened: the new set must
# reach every worker through the zone, not through an unknown-kid refetch.
my $t1 = time;
ok($t->wait_issuer('main', sub { $_[0]{generation} > $gen0 }, 10),
    sprintf('scheduled refresh brought a new generation (%.1f s)', time - $t1));

{
    my ($st, $pids) = batch('/api/x', $T2);
    is($st, join(',', (200) x $N), "k2 accepted by all $N requests");
    is(scalar(keys %$pids), 4, 'by all four workers (' . pids_text($pids) . ')');
    is($t->issuer_status('main')->{fetches}{kid_triggered}, 0, 'no kid-triggered fetch was needed');
    ($st, $pids) = batch('/api/x', $T1);
    is($st, join(',', (401) x $N), "removed k1 refused by all $N requests");
    is(scalar(keys %$pids), 4, 'by all four workers (' . pids_text($pids) . ')');
}

# ------------------------------------------------------------ status, per worker
{
    my (@kids, %bad);
    my $first = $n + 1;
    for (1 .. $N) {
        my $s = $t->status_json(path => '/status?n=' . ++$n);
        my $k = join ',', map { $_->{kid} } @{ ($s // {})->{issuers}{main}{keys} // [] };
        push @kids, $k;
        $bad{$k}++ if $k ne 'k2';
    }
    is(scalar(keys %bad), 0, "status keys list shows only k2 on all $N queries") or diag explain \%bad;
    my $last = $n;
    $t->wait_log('workers.log', qr/[?&]n=$last /);
    my %pids;
    for ($t->log_lines('workers.log')) {
        my ($pid, $id) = /^(\d+) \S*[?&]n=(\d+) / or next;
        $pids{$pid}++ if $id >= $first && $id <= $last;
    }
    is(scalar(keys %pids), 4, 'status answered by all four workers (' . pids_text(\%pids) . ')');
    my $s = $t->issuer_status('main') // {};
    cmp_ok($s->{generation}, '>', $gen0, "generation moved ($gen0 -> $s->{generation})");
}
is(join(' ', $t->worker_pids), join(' ', @workers), 'same four workers throughout (no reload, no crash)');

cmp_ok(time - $T0, '<', 30, sprintf('file took %.1f s', time - $T0));
$t->no_alerts_ok;
$srv->stop;
done_testing;
