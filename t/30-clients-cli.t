# m2m-clients (issue 9): every command against a real file, checked by
# reading the file here with JSON::PP and each printed secret against its
# stored hash with Digest::SHA (never the tool's own code); errors for a
# missing, corrupt or unusable file, an unknown id and bad arguments leave
# the file as it was; two writers at once lose no update; no secret is ever
# in the file. No nginx: the tool is found beside the module (build.sh
# builds both into one directory).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Cwd qw(abs_path);
use Digest::SHA qw(sha256);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IPC::Open3 qw(open3);
use JSON::PP;
use MIME::Base64 qw(decode_base64url);
use POSIX ();
use Symbol qw(gensym);

my $ROOT = abs_path("$FindBin::Bin/..");
my $module = $ENV{M2M_MODULE} // "$ROOT/build/ngx_http_auth_m2m_module.so";
my $CLI = dirname($module) . '/m2m-clients';
BAIL_OUT("m2m-clients not built: $CLI (run ./build.sh)") unless -x $CLI;

my $dir = tempdir('m2m-t-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{M2M_KEEP});
diag("M2M_KEEP: $dir") if $ENV{M2M_KEEP};
umask 022;
my $file = "$dir/clients.json";
delete $ENV{M2M_CLIENTS};

# (exit status, stdout, stderr) of m2m-clients with these arguments
sub cli {
    my (@args) = @_;
    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, $CLI, @args);
    close $in;
    my $stdout = do { local $/; <$out> } // '';
    my $stderr = do { local $/; <$err> } // '';
    waitpid $pid, 0;
    return ($? >> 8, $stdout, $stderr);
}

# the same with --file $file; dies unless it succeeds
sub ok_cli {
    my ($status, $out, $err) = cli('--file', $file, @_);
    is($status, 0, "m2m-clients @_: exit 0") or diag $err;
    is($err, '', "m2m-clients @_: nothing on stderr");
    return $out;
}

# a failure: exit status, one line on stderr matching $re, file unchanged
sub fails_ok {
    my ($name, $want_status, $re, @args) = @_;
    my $before = slurp($file);
    my ($status, $out, $err) = cli(@args);
    is($status, $want_status, "$name: exit $want_status");
    like($err, qr/^m2m-clients: [^\n]*\n\z/, "$name: one line on stderr") or diag $err;
    like($err, $re, "$name: the message");
    is($out, '', "$name: nothing on stdout");
    is(slurp($file), $before, "$name: the file is as it was");
    return $err;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    return scalar <$fh>;
}

sub registry { return decode_json(slurp($file)) }
sub client_in {
    my ($id) = @_;
    my ($c) = grep { $_->{client_id} eq $id } @{ registry()->{clients} };
    return $c;
}

# "key: value" lines of create/add-secret/rotate-secret output
sub fields {
    my ($out) = @_;
    return { $out =~ /^(\w+):\s+(\S+)$/mg };
}

# Is $secret one of the client's secrets, by the stored hash?
# "sha256:" b64url(salt) ":" b64url(SHA-256(salt || secret))
sub hash_matches {
    my ($hash, $secret) = @_;
    my ($salt, $digest) = $hash =~ /^sha256:([A-Za-z0-9_-]{22}):([A-Za-z0-9_-]{43})$/ or return 0;
    $salt = decode_base64url($salt);
    return length($salt) == 16 && sha256($salt . $secret) eq decode_base64url($digest);
}
sub secret_of {
    my ($client, $secret) = @_;
    my @ids = map { $_->{id} } grep { hash_matches($_->{hash}, $secret) } @{ $client->{secrets} };
    return $ids[0];
}

# ---- no file, a missing file
{
    my ($status, undef, $err) = cli('list');
    is($status, 2, 'no --file and no M2M_CLIENTS: exit 2');
    like($err, qr/--file PATH or set M2M_CLIENTS/, 'no file: says how to name one');
    fails_ok('list, missing file', 1, qr/\Q$file\E does not exist/, '--file', $file, 'list');
    fails_ok('show, missing file', 1, qr/does not exist/, '--file', $file, 'show', 'm2m_x');
    ok(!-e $file, 'readers do not create the file');
    fails_ok('a directory that does not exist', 1, qr/cannot open the lock file \Q$dir\E\/nope\/c\.json\.lock/,
        '--file', "$dir/nope/c.json", 'create', '--name', 'x', '--scopes', 'a');
}

# ---- create
my ($id, $secret, $secret_id);
{
    my $out = ok_cli('create', '--name', 'reporting bot', '--scopes', 'tasks:read tasks:write');
    my $f = fields($out);
    ($id, $secret, $secret_id) = @$f{qw(client_id client_secret secret_id)};
    like($id, qr/^m2m_[0-9a-f]{32}$/, 'create: client id');
    like($secret, qr/^[A-Za-z0-9_-]{43}$/, 'create: a 256-bit base64url secret');
    is(length(decode_base64url($secret)), 32, 'create: the secret is 32 bytes');
    like($secret_id, qr/^sec_[0-9a-f]{16}$/, 'create: secret id');
    like($out, qr/shown only this once/, 'create: says the secret is not shown again');
    ok(-f $file, 'create: the file is created');
    is((stat $file)[2] & 07777, 0644, 'create: a new file is 0666 less the umask');
    my $doc = registry();
    is($doc->{version}, 1, 'file: version 1');
    is(scalar @{ $doc->{clients} }, 1, 'file: one client');
    my $c = $doc->{clients}[0];
    is($c->{client_id}, $id, 'file: the id');
    is($c->{name}, 'reporting bot', 'file: the name');
    is_deeply($c->{scopes}, ['tasks:read', 'tasks:write'], 'file: the scopes');
    ok($c->{enabled} && JSON::PP::is_bool($c->{enabled}), 'file: enabled: true');
    ok(abs($c->{created_at} - time) < 60, 'file: created_at is now');
    ok(!exists $c->{claims}, 'file: no claims');
    is(scalar @{ $c->{secrets} }, 1, 'file: one secret');
    is($c->{secrets}[0]{id}, $secret_id, 'file: the secret id');
    ok(!exists $c->{secrets}[0]{expires_at}, 'file: no expiry');
    is(secret_of($c, $secret), $secret_id, 'file: its hash is SHA-256(salt || secret)');
    ok(!secret_of($c, $secret . 'x'), 'file: the hash does not match another secret');
}
my ($id2, $secret2);
{
    my $out = ok_cli('create', '--json', '--name', 'reminder agent', '--scopes', 'tasks:read',
        '--claim', 'org_id=acme', '--claim', 'tier=gold plus=1');
    like($out, qr/^\{[^\n]*\}\n\z/, 'create --json: one line of JSON');
    my $j = eval { decode_json($out) } // {};
    is_deeply([sort keys %$j], [qw(client_id client_secret secret_id)], 'create --json: the three members');
    ($id2, $secret2) = @$j{qw(client_id client_secret)};
    my $c = client_in($id2);
    ok($c, 'create --json: the client is in the file');
    is_deeply($c->{claims}, { org_id => 'acme', tier => 'gold plus=1' }, '--claim: string claims, split at the first =');
    is(secret_of($c, $secret2), $j->{secret_id}, 'create --json: the secret matches its hash');
    isnt($id2, $id, 'two clients, two ids');
}

# ---- refused creates
fails_ok('create without --scopes', 2, qr/needs --name and --scopes/, '--file', $file, 'create', '--name', 'x');
fails_ok('create without --name', 2, qr/needs --name and --scopes/, '--file', $file, 'create', '--scopes', 'a');
fails_ok('a claim that overrides a registered one', 2, qr/claim "sub" would override a registered claim/,
    '--file', $file, 'create', '--name', 'x', '--scopes', 'a', '--claim', 'sub=admin');
fails_ok('a claim without =', 2, qr/--claim "org" is not KEY=VALUE/,
    '--file', $file, 'create', '--name', 'x', '--scopes', 'a', '--claim', 'org');
fails_ok('a claim given twice', 2, qr/--claim org is given twice/,
    '--file', $file, 'create', '--name', 'x', '--scopes', 'a', '--claim', 'org=1', '--claim', 'org=2');
fails_ok('a scope that is not a scope-token', 2, qr/scope 1 is not an RFC 6749 scope-token/,
    '--file', $file, 'create', '--name', 'x', '--scopes', 'a b"c');
fails_ok('a scope twice', 2, qr/scope "a" is listed twice/, '--file', $file, 'create', '--name', 'x', '--scopes', 'a a');
fails_ok('a name with a control character', 2, qr/"name"/, '--file', $file, 'create', '--name', "a\tb", '--scopes', 'a');
fails_ok('a name too long', 2, qr/"name" is longer than 200/, '--file', $file, 'create', '--name', 'n' x 201, '--scopes', 'a');
fails_ok('create takes no id', 2, qr/create takes no arguments/, '--file', $file, 'create', 'm2m_x', '--name', 'x', '--scopes', 'a');

# ---- list, show
{
    my $out = ok_cli('list');
    my @lines = split /\n/, $out;
    is(scalar @lines, 2, 'list: one line per client');
    is($lines[0], "$id\tenabled\t1 secret\ttasks:read tasks:write\treporting bot", 'list: id, status, secrets, scopes, name');
    is($lines[1], "$id2\tenabled\t1 secret\ttasks:read\treminder agent", 'list: the second client');

    $out = ok_cli('show', $id2);
    like($out, qr/^client_id:\s+\Q$id2\E$/m, 'show: id');
    like($out, qr/^name:\s+reminder agent$/m, 'show: name');
    like($out, qr/^enabled:\s+yes$/m, 'show: enabled');
    like($out, qr/^scopes:\s+tasks:read$/m, 'show: scopes');
    like($out, qr/^claims:\s+\{"org_id":"acme","tier":"gold plus=1"\}$/m, 'show: claims');
    like($out, qr/^created_at:\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m, 'show: created_at as a UTC time');
    like($out, qr/^  sec_[0-9a-f]{16}  created \S+Z$/m, 'show: the secret id and its creation');
    unlike($out, qr/sha256|\Q$secret2\E/, 'show: no hash, no secret');
    fails_ok('show an unknown id', 1, qr/no client "m2m_nope"/, '--file', $file, 'show', 'm2m_nope');
    fails_ok('show without an id', 2, qr/show takes a client id/, '--file', $file, 'show');
    fails_ok('list with an id', 2, qr/list takes no arguments/, '--file', $file, 'list', $id);
    fails_ok('list with --grace', 2, qr/list takes no --grace/, '--file', $file, 'list', '--grace', '1s');
    fails_ok('show --json', 2, qr/show takes no --json/, '--file', $file, 'show', $id, '--json');
}

# ---- add-secret, remove-secret, the five-secret limit
my @secrets = ([$secret_id, $secret]);
{
    my $out = ok_cli('add-secret', $id, '--expires-in', '1h30m');
    my $f = fields($out);
    like($f->{client_secret}, qr/^[A-Za-z0-9_-]{43}$/, 'add-secret: a new secret');
    isnt($f->{client_secret}, $secret, 'add-secret: not the first one');
    like($out, qr/^expires_at:\s+\S+Z$/m, 'add-secret: prints the expiry');
    my $c = client_in($id);
    is(scalar @{ $c->{secrets} }, 2, 'add-secret: two secrets in the file');
    is(secret_of($c, $f->{client_secret}), $f->{secret_id}, 'add-secret: the new one matches its hash');
    is(secret_of($c, $secret), $secret_id, 'add-secret: the first one still does');
    my ($new) = grep { $_->{id} eq $f->{secret_id} } @{ $c->{secrets} };
    ok(abs($new->{expires_at} - (time + 5400)) < 60, '--expires-in 1h30m: 5400 s from now');
    push @secrets, [$f->{secret_id}, $f->{client_secret}];

    for my $case (['30s', 30], ['2d', 172800]) {
        $f = fields(ok_cli('add-secret', $id, "--expires-in=$case->[0]"));
        ($new) = grep { $_->{id} eq $f->{secret_id} } @{ client_in($id)->{secrets} };
        ok(abs($new->{expires_at} - (time + $case->[1])) < 60, "--expires-in $case->[0]");
        push @secrets, [$f->{secret_id}, $f->{client_secret}];
    }
    $f = fields(ok_cli('add-secret', $id));
    push @secrets, [$f->{secret_id}, $f->{client_secret}];
    is(scalar @{ client_in($id)->{secrets} }, 5, 'five secrets');
    fails_ok('a sixth secret', 1, qr/already has 5 secrets, the most allowed/, '--file', $file, 'add-secret', $id);
    $c = client_in($id);
    is(secret_of($c, $_->[1]), $_->[0], "secret $_->[0] matches its hash") for @secrets;

    for my $bad ('5q', '1m1h', '10ms', '-1s', '', '1.5h', 'h', '99999999999999d', '1s5') {
        fails_ok("--expires-in '$bad'", 2, qr/--expires-in "\Q$bad\E" is not a time/,
            '--file', $file, 'add-secret', $id2, '--expires-in', $bad);
    }
    fails_ok('--expires-in 0', 2, qr/never works/, '--file', $file, 'add-secret', $id2, '--expires-in', '0');
    fails_ok('add-secret, unknown id', 1, qr/no client "m2m_nope"/, '--file', $file, 'add-secret', 'm2m_nope');

    my ($gone) = shift @secrets;
    $out = ok_cli('remove-secret', $id, $gone->[0]);
    like($out, qr/removed secret \Q$gone->[0]\E of client \Q$id\E/, 'remove-secret: says what it did');
    $c = client_in($id);
    is(scalar @{ $c->{secrets} }, 4, 'remove-secret: four left');
    ok(!secret_of($c, $gone->[1]), 'remove-secret: that secret is gone');
    fails_ok('remove-secret, unknown secret', 1, qr/has no secret "\Q$gone->[0]\E"/,
        '--file', $file, 'remove-secret', $id, $gone->[0]);
    fails_ok('remove-secret without a secret id', 2, qr/takes a client id and a secret id/,
        '--file', $file, 'remove-secret', $id);
}

# ---- rotate-secret
{
    my $out = ok_cli('rotate-secret', $id, '--grace', '10m');
    my $f = fields($out);
    like($out, qr/The other 4 secrets stop working at \S+Z\./, 'rotate --grace: says when the old ones stop');
    my $c = client_in($id);
    is(scalar @{ $c->{secrets} }, 5, 'rotate --grace: old ones kept, one added');
    my ($new) = grep { $_->{id} eq $f->{secret_id} } @{ $c->{secrets} };
    ok($new && !exists $new->{expires_at}, 'rotate --grace: the new one does not expire');
    is(secret_of($c, $f->{client_secret}), $f->{secret_id}, 'rotate --grace: the new one matches its hash');
    for my $s (grep { $_->{id} ne $f->{secret_id} } @{ $c->{secrets} }) {
        ok($s->{expires_at} <= time + 600 + 5, "rotate --grace: $s->{id} expires within 10m");
    }
    # the 30s one keeps its own, earlier expiry
    ok((grep { defined $_->{expires_at} && $_->{expires_at} < time + 120 } @{ $c->{secrets} }) == 1, 'rotate --grace: an earlier expiry is kept');

    $out = ok_cli('rotate-secret', $id);
    $f = fields($out);
    like($out, qr/The other 5 secrets were removed\./, 'rotate: says the old ones were removed');
    $c = client_in($id);
    is(scalar @{ $c->{secrets} }, 1, 'rotate: only the new secret');
    is(secret_of($c, $f->{client_secret}), $f->{secret_id}, 'rotate: the new one matches its hash');
    $secret = $f->{client_secret};
    fails_ok('rotate-secret --grace 1x', 2, qr/--grace "1x" is not a time/,
        '--file', $file, 'rotate-secret', $id, '--grace', '1x');
    fails_ok('rotate-secret, unknown id', 1, qr/no client "m2m_nope"/, '--file', $file, 'rotate-secret', 'm2m_nope');
}

# ---- disable, enable, delete
{
    like(ok_cli('disable', $id2), qr/client \Q$id2\E disabled/, 'disable: says so');
    ok(!client_in($id2)->{enabled}, 'disable: enabled false in the file');
    like(ok_cli('list'), qr/^\Q$id2\E\tdisabled\t/m, 'list: disabled');
    like(ok_cli('show', $id2), qr/^enabled:\s+no$/m, 'show: enabled no');
    ok_cli('disable', $id2);
    ok(!client_in($id2)->{enabled}, 'disable twice: still disabled');
    like(ok_cli('enable', $id2), qr/client \Q$id2\E enabled/, 'enable: says so');
    ok(client_in($id2)->{enabled}, 'enable: enabled true in the file');
    ok(secret_of(client_in($id2), $secret2), 'disable and enable keep the secret');
    fails_ok('disable, unknown id', 1, qr/no client "m2m_nope"/, '--file', $file, 'disable', 'm2m_nope');
    fails_ok('enable, unknown id', 1, qr/no client "m2m_nope"/, '--file', $file, 'enable', 'm2m_nope');

    like(ok_cli('delete', $id2), qr/client \Q$id2\E deleted/, 'delete: says so');
    ok(!client_in($id2), 'delete: gone from the file');
    ok(client_in($id), 'delete: the other client stays');
    fails_ok('delete, deleted id', 1, qr/no client "\Q$id2\E"/, '--file', $file, 'delete', $id2);
    fails_ok('an unknown command', 2, qr/unknown command "frob"/, '--file', $file, 'frob');
    fails_ok('an unknown option', 2, qr/unknown option --force/, '--file', $file, 'delete', $id, '--force');
    fails_ok('--file twice', 2, qr/--file is given twice/, '--file', $file, '--file', $file, 'list');
}

# ---- M2M_CLIENTS, and --file over it
{
    local $ENV{M2M_CLIENTS} = $file;
    my ($status, $out) = cli('list');
    is($status, 0, 'M2M_CLIENTS names the file');
    like($out, qr/^\Q$id\E\t/, 'M2M_CLIENTS: its clients');
    ($status, undef, my $err) = cli('--file', "$dir/other.json", 'list');
    is($status, 1, '--file wins over M2M_CLIENTS');
    like($err, qr/other\.json does not exist/, '--file wins: its file is read');
}

# ---- mode kept; no temporary file left behind
{
    chmod 0640, $file;
    ok_cli('disable', $id);
    is((stat $file)[2] & 07777, 0640, 'a write keeps the file\'s mode');
    ok_cli('enable', $id);
    opendir my $dh, $dir or die;
    my @left = grep { /^\.clients\.json\./ } readdir $dh;
    is_deeply(\@left, [], 'no temporary file left');
    ok(-e "$file.lock", 'the lock file is a sibling');
}

# ---- corrupt, unusable files
{
    my $good = slurp($file);
    for my $case (['not JSON', "{\n  \"version\": 1,\n  \"clients\": [\n", qr/not JSON .* at line \d+, column \d+/],
                  ['version 2', '{"version":2,"clients":[]}', qr/"version" is not 1/],
                  ['a bad hash', do { (my $s = $good) =~ s/"sha256:[^"]*"/"sha256:AAAA"/; $s }, qr/"hash" is not/],
                  ['empty', '', qr/not JSON/]) {
        my ($name, $text, $re) = @$case;
        open my $fh, '>', $file or die; print $fh $text; close $fh;
        for my $cmd (['list'], ['show', $id], ['create', '--name', 'x', '--scopes', 'a'], ['disable', $id],
                     ['add-secret', $id], ['delete', $id]) {
            my $err = fails_ok("$name: $cmd->[0]", 1, qr/\Q$file\E is not a valid client registry: /,
                '--file', $file, @$cmd);
            like($err, $re, "$name: $cmd->[0] says what is wrong");
        }
    }
    open my $fh, '>', $file or die; print $fh $good; close $fh;
    fails_ok('a directory as the file', 1, qr/\Q$dir\E is not a regular file/, '--file', $dir, 'list');
    # a FIFO in the file's place is refused, not waited on: the clients API
    # reads the file with the same code inside an nginx worker
    my $fifo = "$dir/fifo.json";
    POSIX::mkfifo($fifo, 0600) or die "mkfifo: $!";
    my $fifo_err = eval {
        local $SIG{ALRM} = sub { die "hung\n" };
        alarm 10;
        my $e = fails_ok('a FIFO as the file', 1, qr/\Q$fifo\E is not a regular file/, '--file', $fifo, 'list');
        alarm 0;
        $e;
    };
    ok(defined $fifo_err, 'a FIFO as the file: answered, not hung') or diag $@;
    unlink $fifo;
    mkdir "$dir/ro" or die;
    my $ro = "$dir/ro/c.json";
    open $fh, '>', $ro or die; print $fh $good; close $fh;
    chmod 0555, "$dir/ro";
    SKIP: {
        skip 'root writes into a read-only directory', 4 if $> == 0;
        my ($status, undef, $err) = cli('--file', $ro, 'disable', $id);
        is($status, 1, 'a directory that cannot be written: exit 1');
        like($err, qr/^m2m-clients: (cannot create a temporary file in|cannot open the lock file)/, 'says why');
        is(slurp($ro), $good, 'the file is as it was');
        chmod 0000, $ro;
        ($status, undef, $err) = cli('--file', $ro, 'list');
        like($err, qr/cannot open \Q$ro\E: Permission denied/, 'an unreadable file: says so');
    }
    chmod 0755, "$dir/ro";
}

# ---- two writers at once lose no update
{
    my $conc = "$dir/concurrent.json";
    my @pids;
    pipe my $go_r, my $go_w or die;
    for my $w (1 .. 2) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $go_w;
            <$go_r>;    # both start together
            my $log = "$dir/writer$w.out";
            open my $out, '>', $log or die;
            for my $i (1 .. 20) {
                my ($status, $stdout, $stderr) = cli('--file', $conc, 'create', '--json',
                    '--name', "w$w-$i", '--scopes', 'a');
                print $out ($status == 0 ? $stdout : "FAILED $status $stderr");
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    close $go_r;
    close $go_w;    # EOF releases both
    waitpid $_, 0 for @pids;
    my @made = map { decode_json($_) } grep { /\S/ } map { split /\n/, slurp("$dir/writer$_.out") } 1 .. 2;
    is(scalar @made, 40, '2 x 20 creates at once: 40 succeed');
    my $doc = eval { decode_json(slurp($conc)) };
    ok($doc, 'the file is valid JSON') or diag $@;
    is(scalar @{ $doc->{clients} }, 40, 'the file has all 40 clients');
    my %ids = map { $_->{client_id} => $_ } @{ $doc->{clients} };
    is(scalar keys %ids, 40, '40 distinct ids');
    is_deeply([sort map { $_->{name} } values %ids], [sort map { my $w = $_; map { "w$w-$_" } 1 .. 20 } 1 .. 2],
        'every name once');
    my $matched = grep { $ids{ $_->{client_id} } && secret_of($ids{ $_->{client_id} }, $_->{client_secret}) } @made;
    is($matched, 40, 'every printed secret matches its client\'s hash');
    my $text = slurp($conc);
    is((grep { index($text, $_->{client_secret}) >= 0 } @made), 0, 'no printed secret is in the file');
    opendir my $dh, $dir or die;
    is_deeply([grep { /^\.concurrent\.json\./ } readdir $dh], [], 'no temporary file left');
}

# ---- no secret ever in the file
{
    my $text = slurp($file);
    for my $s ($secret, $secret2, map { $_->[1] } @secrets) {
        ok(index($text, $s) < 0, 'printed secret not in the file');
    }
}

done_testing;
