# `nginx -s reload` with a changed key file: the new key is used, a removed
# key is refused, and requests running across the reload all get an HTTP
# answer (no connection errors). A reload with a broken key file is refused
# and the running generation keeps serving with its keys.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use POSIX ();
use M2MTest qw(now);

my $ISS = 'https://idp.example.test/';
my $AUD = 'https://api.example.test';

my $t = M2MTest->new;
my $ka = $t->rsa_key('a1');
my $kb = $t->ec_key('b1', 'P-256');
$t->write_jwks('jwks.json', $ka);

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
    }
EOF
$t->start;

my $claims = { iss => $ISS, aud => $AUD, client_id => 'svc-reload', exp => now() + 3600 };
my $A = $t->mint(key => $ka, claims => $claims);
my $B = $t->mint(key => $kb, claims => $claims);

sub status { return $t->get('/api/x', token => $_[0])->{status} }
sub description { return (M2MTest::challenge($t->get('/api/x', token => $_[0]), 'Bearer') // '') =~ /error_description="([^"]*)"/ ? $1 : '' }

# Asks often enough that both workers answer.
sub all_status {
    my ($token, $want, $name) = @_;
    my @got = map { status($token) } 1 .. 10;
    is(join(',', grep { $_ != $want } @got), '', "$name (10 requests)");
}

all_status($A, 200, 'before reload: key a accepted');
is(status($B), 401, 'before reload: key b unknown');
is(description($B), 'unknown_kid', 'before reload: unknown_kid');

# ------------------------------------------------------------ load across the reload
my $loop_log = $t->path('loop.log');
my $stop = $t->path('loop.stop');
my $child = fork // die "fork: $!";
if (!$child) {
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10);
    open my $out, '>>', $loop_log or POSIX::_exit(1);
    $out->autoflush(1);
    my $port = $t->port;
    my $deadline = time + 40;
    my $i = 0;
    while (!-e $stop && time < $deadline) {
        my $r = $http->get("http://127.0.0.1:$port/api/loop?i=" . $i++,
            { headers => { Authorization => 'Bearer ' . ($i % 2 ? $A : $B) } });
        my $why = $r->{status} == 599 ? ' ' . (split /\n/, $r->{content} // '')[0] : '';
        print $out "$r->{status}$why\n";
    }
    close $out;
    POSIX::_exit(0);
}
sub loop_count { my @l = $t->log_lines('loop.log'); return scalar @l }

ok($t->poll(10, sub { loop_count() >= 30 }), 'load running before the reload');

$t->write_jwks('jwks.json', $kb);    # key a removed, key b added
all_status($B, 401, 'key file changed, no reload yet: key b still unknown');

my @old_workers = $t->worker_pids;
ok($t->reload(until => sub { status($B) == 200 }), 'nginx -s reload: key b accepted by the new workers');
my @new_workers = $t->worker_pids;
is(scalar @new_workers, 2, 'two new workers');
my %old = map { $_ => 1 } @old_workers;
is(scalar(grep { $old{$_} } @new_workers), 0, 'old workers replaced');

my $at_reload = loop_count();
ok($t->poll(10, sub { loop_count() >= $at_reload + 30 }), 'load went on after the reload');
open my $fh, '>', $stop or die;
close $fh;
ok($t->poll(15, sub { waitpid($child, POSIX::WNOHANG()) == $child }), 'load loop finished');

my @statuses = $t->log_lines('loop.log');
my %count;
$count{ (split / /, $_)[0] }++ for @statuses;
cmp_ok(scalar @statuses, '>=', 60, 'requests made across the reload: ' . scalar @statuses);
is(join(' ', grep { $_ ne '200' && $_ ne '401' } sort keys %count), '',
    'every request across the reload got 200 or 401 (no connection error)')
    or diag explain [grep { !/^(200|401)$/ } @statuses];
ok($count{200} && $count{401}, 'both keys were answered during the run');

all_status($B, 200, 'after reload: key b accepted');
all_status($A, 401, 'after reload: removed key a refused');
is(description($A), 'unknown_kid', 'after reload: removed key is unknown_kid');

# ------------------------------------------------------------ both keys (rotation overlap)
$t->write_jwks('jwks.json', $ka, $kb);
ok($t->reload(until => sub { status($A) == 200 }), 'reload with both keys');
all_status($A, 200, 'overlap: key a');
all_status($B, 200, 'overlap: key b');

# ------------------------------------------------------------ broken key file
$t->write_file('jwks.json', '{"keys": [ {"kty": "RSA", ');
my ($rc, $out) = $t->nginx_cmd('-s', 'reload');
isnt($rc, 0, 'nginx -s reload with a broken key file fails');
like($out, qr/jwks_file/, 'nginx -s reload names jwks_file') or diag $out;

my @before = $t->worker_pids;
kill 'HUP', $t->master_pid;
ok($t->wait_log('error.log', qr/\[emerg\].*jwks\.json/), 'master refuses the reload: [emerg] names the file');
is(join(' ', $t->worker_pids), join(' ', @before), 'workers of the running generation kept');
all_status($A, 200, 'after the refused reload: keys unchanged (a)');
all_status($B, 200, 'after the refused reload: keys unchanged (b)');

$t->no_alerts_ok(allow => [qr/\[emerg\].*jwks\.json/]);
done_testing;
