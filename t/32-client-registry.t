# The client registry as nginx reads it (issue 9): `clients PATH` is read at
# configuration (a missing file is no clients and a notice; a corrupt or
# unusable one fails nginx -t), and changes made by m2m-clients reach every
# worker within seconds without a reload. A corrupt, unreadable or
# non-regular file keeps the last good registry and logs one error per
# change; a file that is gone means no clients. What nginx holds is seen
# through the metadata endpoint, whose scopes_supported is the union of the
# registry's scopes (sorted).
#
# One worker: each worker keeps the last good registry it read itself, so a
# worker that no request reached while a good version was in place would
# rightly keep an older one; with two, which worker a request reaches is up
# to the kernel, and "every worker saw it" cannot be waited for.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Basename qw(dirname);
use JSON::PP;
use POSIX ();
use Time::HiRes ();
use M2MTest;

my $t = M2MTest->new(workers => 1);
my $CLI = dirname($t->{module}) . '/m2m-clients';
BAIL_OUT("m2m-clients not built: $CLI (run ./build.sh)") unless -x $CLI;
umask 022;

my $ISS = 'http://127.0.0.1:' . $t->port;
my $key = $t->path('signing.pem');
system('openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', $key) == 0
    or BAIL_OUT('openssl genpkey failed');
my $reg = $t->path('clients.json');

sub cli {
    my (@args) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec $CLI, '--file', $reg, @args or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    die "m2m-clients @args: $out" if $?;
    return $out;
}
sub create {
    my ($scopes) = @_;
    return decode_json(cli('create', '--json', '--name', "has $scopes", '--scopes', $scopes))->{client_id};
}

# scopes_supported as one request sees it ('' for none)
sub scopes {
    my $r = $t->get('/.well-known/oauth-authorization-server');
    return "status $r->{status}" unless $r->{status} == 200;
    my $doc = eval { decode_json($r->{content}) } // {};
    return join ' ', sort @{ $doc->{scopes_supported} // [] };
}
# Waits until 10 requests in a row see $want (scopes in any order).
sub sees {
    my ($want, $name) = @_;
    $want = join ' ', sort split / /, $want;
    my ($run, $last) = (0, '');
    my $ok = $t->poll(8, sub {
        $last = scopes();
        $run = $last eq $want ? $run + 1 : 0;
        return $run >= 10;
    });
    ok($ok, "$name: nginx sees \"$want\"") or diag "last seen: \"$last\"";
}
# Stays $want for 2.5 s (longer than a look and a racy re-read).
sub keeps {
    my ($want, $name) = @_;
    $want = join ' ', sort split / /, $want;
    my $end = Time::HiRes::time() + 2.5;
    my @other;
    while (Time::HiRes::time() < $end) {
        my $got = scopes();
        push @other, $got if $got ne $want;
        Time::HiRes::sleep(0.05);
    }
    ok(!@other, "$name: nginx keeps \"$want\"") or diag "also saw: @other[0 .. ($#other < 3 ? $#other : 3)]";
}
sub write_raw {
    my ($text) = @_;
    my $tmp = "$reg.raw";
    open my $fh, '>', $tmp or die;
    print $fh $text;
    close $fh;
    rename $tmp, $reg or die;
}
sub count_log { my ($re) = @_; return scalar grep { $_ =~ $re } $t->log_lines('error.log') }

my $HTTP = <<"EOF";
    auth_m2m_issuer local {
        issuer $ISS;
        audience https://api.example.test;
        signing_key $key;
        clients $reg;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /.well-known/oauth-authorization-server {
            auth_m2m_metadata_endpoint local;
        }
    }
EOF

# ---- nginx -t
{
    my $res = $t->nginx_t($HTTP);
    is($res->{rc}, 0, 'nginx -t: a missing registry is fine');
    like($res->{out}, qr/\[notice\] .*auth_m2m_issuer "local": client registry "\Q$reg\E" does not exist: no clients/,
        'nginx -t: a missing registry is a notice');

    my $good = do { create('a'); my $s = $t->read_file($reg); unlink $reg; $s };
    my %bad = (
        'not JSON' => ["{\"version\": 1,\n  \"clients\": [\n", qr/is not a client registry: not JSON .* at line 3, column \d+/],
        'version 2' => ['{"version":2,"clients":[]}', qr/is not a client registry: "version" is not 1/],
        'a registered claim' => [do { (my $s = $good) =~ s/"enabled"/"claims": {"sub": "admin"},\n "enabled"/; $s },
            qr/is not a client registry: client "m2m_[0-9a-f]+": claim "sub" would override a registered claim/],
        'too large' => ['{"version":1,"clients":[]}' . (' ' x (4 << 20)), qr/"\Q$reg\E" is larger than 4 MiB/],
    );
    for my $name (sort keys %bad) {
        write_raw($bad{$name}[0]);
        $res = $t->nginx_t($HTTP);
        isnt($res->{rc}, 0, "nginx -t: $name fails");
        like($res->{out}, qr/\[emerg\] .*auth_m2m_issuer "local": "clients" /, "nginx -t: $name names the issuer and the directive");
        like($res->{out}, $bad{$name}[1], "nginx -t: $name says what is wrong") or diag $res->{out};
        unlike($res->{out}, qr/sha256:[A-Za-z0-9_-]/, "nginx -t: $name quotes no hash");
    }
    unlink $reg;
    mkdir $reg or die;
    $res = $t->nginx_t($HTTP);
    like($res->{out}, qr/\[emerg\] .*"clients" "\Q$reg\E" is not a regular file/, 'nginx -t: a directory');
    rmdir $reg;
    POSIX::mkfifo($reg, 0644) or die "mkfifo: $!";
    $res = $t->nginx_t($HTTP);
    like($res->{out}, qr/\[emerg\] .*"clients" "\Q$reg\E" is not a regular file/, 'nginx -t: a FIFO, without hanging');
    unlink $reg;
}

# ---- at use
$t->config($HTTP);
$t->start;
is(scopes(), '', 'no registry: no clients, no scopes');

create('tasks:read');
sees('tasks:read', 'create');
my $second = create('tasks:write');
sees('tasks:read tasks:write', 'a second create');
cli('delete', $second);
sees('tasks:read', 'delete');

# changes in quick succession, each file the same size as the one before:
# every one is seen, whatever the inode and the second
for my $i (1 .. 3) {
    my $id = create("s$i");
    sees("tasks:read s$i", "quick change $i");
    cli('delete', $id);
}
sees('tasks:read', 'after the quick changes');

# Two versions of the file in one second, written in place (same inode, same
# size, same mtime and ctime to the second), with a look between them: the
# second is seen all the same, as a file as new as the last read is read
# again.
{
    my $base = $t->read_file($reg);
    my $id = create('r1');
    sees('tasks:read r1', 'in place: the first version');
    my $v1 = $t->read_file($reg);
    (my $v2 = $v1) =~ s/"r1"/"r2"/ or die;
    my $done = 0;
    for my $try (1 .. 10) {
        # the start of a second, with no request in it yet
        Time::HiRes::sleep(1.1 - (Time::HiRes::time() - int Time::HiRes::time()));
        my $second = int Time::HiRes::time();
        open my $fh, '+<', $reg or die;
        truncate $fh, 0;
        print $fh $v1;
        close $fh;
        my $seen = scopes();
        open $fh, '+<', $reg or die;
        truncate $fh, 0;
        print $fh $v2;
        close $fh;
        next unless int(Time::HiRes::time()) == $second && $seen eq 'r1 tasks:read';
        $done = 1;
        last;
    }
    ok($done, 'in place: two versions and a look between them within one second');
    sees('tasks:read r2', 'in place: the second version of that second');
    cli('delete', $id);
    sees('tasks:read', 'in place: deleted');
}

# corrupt: the last good registry stays, one error per worker for this file
{
    my $good = $t->read_file($reg);
    my $errors = count_log(qr/\[error\].*is not a client registry/);
    write_raw('{"version":1,"clients":[{"client_id":"x"}]}');
    keeps('tasks:read', 'a corrupt file');
    my $now = count_log(qr/\[error\].*is not a client registry/);
    is($now - $errors, 1, 'a corrupt file: logged once');
    like((grep { /is not a client registry/ } $t->log_lines('error.log'))[-1],
        qr/\[error\] .*auth_m2m_issuer "local": "clients" "\Q$reg\E" is not a client registry: client "x": has no "name"; keeping the last good one \(1 clients\)/,
        'a corrupt file: the message');
    keeps('tasks:read', 'a corrupt file, later');
    is(count_log(qr/\[error\].*is not a client registry/), $now, 'a corrupt file: not logged again while it stays');

    write_raw('not json at all');
    keeps('tasks:read', 'another corrupt version');
    ok(count_log(qr/\[error\].*is not a client registry/) > $now, 'another corrupt version: logged again');

    write_raw($good);
    create('tasks:admin');
    sees('tasks:read tasks:admin', 'a good file after the corrupt ones');
    ok($t->wait_log('error.log', qr/\[notice\] .*client registry "\Q$reg\E" read: 2 clients/), 'a good file again: a notice');
}

# not a regular file: the last good registry stays, nothing hangs
{
    my $good = $t->read_file($reg);
    unlink $reg;
    POSIX::mkfifo($reg, 0644) or die "mkfifo: $!";
    keeps('tasks:read tasks:admin', 'a FIFO in its place');
    ok($t->wait_log('error.log', qr/\[error\] .*"clients" "\Q$reg\E" is not a regular file; keeping the last good client registry \(2 clients\)/),
        'a FIFO: logged');
    unlink $reg;
    write_raw($good);
}

# gone: no clients; back: its clients
{
    unlink $reg or die;
    sees('', 'the file removed: no clients');
    ok($t->wait_log('error.log', qr/\[warn\] .*client registry "\Q$reg\E" is gone: no clients until it is back/),
        'the file removed: a warning');
    create('back:again');
    sees('back:again', 'a new file');
}

# reload reads it afresh
{
    create('after:reload');
    sees('back:again after:reload', 'before the reload');
    $t->reload;
    is(scopes(), 'after:reload back:again', 'reload: the new workers have it');
}

$t->no_alerts_ok;
done_testing;
