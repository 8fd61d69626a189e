package M2MTest;

# A small harness for the t/ suite: one real nginx (Debian's /usr/sbin/nginx)
# per test file with the module loaded, in a temp dir of its own, on free
# loopback ports; tokens minted by an independent library (Crypt::JWT).
#
#   my $t = M2MTest->new;
#   my $k = $t->rsa_key('k1');
#   $t->write_jwks('keys.json', $k);
#   $t->config(<<'EOF');                  # the body of the http{} block
#   auth_m2m_issuer main { issuer https://idp.test/; jwks_file %%DIR%%/keys.json; ... }
#   server { listen 127.0.0.1:%%PORT%%; ... }
#   EOF
#   $t->start;
#   my $r = $t->get('/api/x', token => $t->mint(key => $k, claims => {...}));
#   ...
#   $t->no_alerts_ok;                      # stops nginx, checks error.log
#   done_testing;
#
# Placeholders in config text: %%DIR%% (the temp dir), %%PORT%% (port "main"),
# %%PORT_name%% (another free port, allocated on first use), %%MODULE%%.
# Nothing here sleeps to synchronise: every wait polls a condition, bounded.
#
# `return 200 ...;` runs in the rewrite phase, before the access phase, so a
# protected location must serve content: `root %%DIR%%/html;` plus
# `try_files /ok.txt =404;` (ok.txt holds "ok\n"), or proxy_pass to an
# echo_server() block, whose body lists the request headers it received.
#
# Other helpers: reload(until => sub {...}) (nginx -s reload, then waits for
# the new generation), nginx_t($http_body) (nginx -t on a config of its own),
# nginx_cmd(@args), worker_pids, wait_log($file, qr//), log_lines, line_of,
# rsa_key/ec_key/alias_key/jwk/write_jwks, mint/raw_token/jwe, poll.
#
# Environment: M2M_MODULE (path of the .so), M2M_NGINX (nginx binary),
# M2M_KEEP=1 keeps the temp dir for inspection (its path is printed).

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA ();
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::IP;
use JSON::PP;
use POSIX qw(WNOHANG);
use Socket qw(SOCK_STREAM);
use Test::More ();
use Time::HiRes ();

use Crypt::JWT qw(encode_jwt);
use Crypt::Mac::HMAC qw(hmac);
use Crypt::Misc qw(encode_b64u decode_b64u);
use Crypt::PK::ECC;
use Crypt::PK::RSA;

use Exporter 'import';
our @EXPORT_OK = qw(now b64u json_text unescape_log challenges challenge);

my $ROOT = abs_path(dirname(__FILE__) . '/../..');
my @LIVE;    # instances with a running nginx, stopped in END

# gettimeofday, as nginx reads the clock: time(2) reads a coarse clock that
# can still say the previous second for a few milliseconds after nginx has
# moved on (t/24 once saw "expired" before now() reached exp).
sub now { return int(Time::HiRes::time()) }

sub b64u { return encode_b64u($_[0]) }

# Canonical compact JSON (sorted keys), so tests know the exact bytes.
sub json_text { return JSON::PP->new->canonical->encode($_[0]) }

# nginx's access log escapes '"', '\' and non-printables as \xHH.
sub unescape_log {
    my ($s) = @_;
    $s =~ s/\\x([0-9A-Fa-f]{2})/chr(hex($1))/ge;
    return $s;
}

# A response's WWW-Authenticate challenges, one per header (a 401 where
# DPoP is allowed has a Bearer and a DPoP one), and the one of a scheme
# ("Bearer", "DPoP"; undef if none).
sub challenges {
    my ($r) = @_;
    my $h = $r->{headers}{'www-authenticate'};
    return () unless defined $h;
    return ref $h ? @$h : ($h);
}

sub challenge {
    my ($r, $scheme) = @_;
    my @c = grep { /^\Q$scheme\E(?: |$)/i } challenges($r);
    return $c[0];
}

# A client as the registry file holds it (core/issuer/registry.h), its secret
# hashed here with Perl's own SHA-256. Returns (entry, client_id, secret);
# members in %opt (name, scopes, any other) replace the defaults.
sub registry_client {
    my (%opt) = @_;
    my $random = sub {
        open my $fh, '<', '/dev/urandom' or die "/dev/urandom: $!";
        read($fh, my $bytes, $_[0]) == $_[0] or die 'short read';
        return $bytes;
    };
    my ($id, $secret, $salt) = ('m2m_' . unpack('H*', $random->(16)), encode_b64u($random->(32)), $random->(16));
    my $entry = {
        client_id  => $id,
        name       => 'client',
        scopes     => ['tasks:read'],
        enabled    => JSON::PP::true,
        created_at => now() - 60,
        secrets    => [{ id => 'sec_' . unpack('H*', $random->(8)),
                         hash => 'sha256:' . encode_b64u($salt) . ':' . encode_b64u(Digest::SHA::sha256($salt . $secret)),
                         created_at => now() - 60 }],
        %opt,
    };
    return ($entry, $id, $secret);
}

# Writes a registry file of these client entries.
sub write_registry {
    my ($self, $rel, @entries) = @_;
    return $self->write_file($rel, JSON::PP->new->canonical->pretty->encode({ version => 1, clients => \@entries }));
}

sub new {
    my ($class, %opt) = @_;
    my $self = bless {
        workers => 2,
        %opt,
        ports   => {},
        owner   => $$,
        nconf   => 0,
    }, $class;

    $self->{module} = $ENV{M2M_MODULE} // "$ROOT/build/ngx_http_auth_m2m_module.so";
    $self->{nginx}  = $ENV{M2M_NGINX}  // '/usr/sbin/nginx';
    # M2M_MODULE=none runs the harness without the module (its own self-test).
    Test::More::BAIL_OUT("module not built: $self->{module} (run ./build.sh)")
        unless -f $self->{module} || $self->{module} eq 'none';
    Test::More::BAIL_OUT("no nginx binary at $self->{nginx}") unless -x $self->{nginx};

    my $dir = tempdir('m2m-t-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{M2M_KEEP});
    Test::More::diag("M2M_KEEP: $dir") if $ENV{M2M_KEEP};
    chmod 0755, $dir;    # workers run as nobody when we are root
    $self->{dir} = $dir;
    make_path("$dir/html", "$dir/tmp", "$dir/logs");
    $self->write_file('html/ok.txt', "ok\n");
    return $self;
}

sub dir { return $_[0]{dir} }

sub path {
    my ($self, $rel) = @_;
    return $rel =~ m{^/} ? $rel : "$self->{dir}/$rel";
}

sub write_file {
    my ($self, $rel, $content) = @_;
    my $path = $self->path($rel);
    make_path(dirname($path));
    open my $fh, '>', "$path.tmp" or die "$path.tmp: $!";
    print $fh $content;
    close $fh or die "$path: $!";
    rename "$path.tmp", $path or die "rename $path: $!";    # atomic for reload tests
    chmod 0644, $path;
    return $path;
}

sub read_file {
    my ($self, $rel) = @_;
    my $path = $self->path($rel);
    open my $fh, '<', $path or return '';
    local $/;
    my $s = <$fh>;
    return $s // '';
}

# ---------------------------------------------------------------- ports

sub _free_port {
    my $s = IO::Socket::IP->new(
        LocalHost => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Type => SOCK_STREAM,
        ReuseAddr => 1, Listen => 1,
    ) or die "cannot bind a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub port {
    my ($self, $name) = @_;
    $name //= 'main';
    return $self->{ports}{$name} //= do {
        my %used = map { $_ => 1 } grep { defined } values %{ $self->{ports} };
        my $p;
        do { $p = _free_port() } while $used{$p};
        $p;
    };
}

# ---------------------------------------------------------------- config

sub render {
    my ($self, $text) = @_;
    $text =~ s/%%PORT_(\w+)%%/$self->port($1)/ge;
    $text =~ s/%%PORT%%/$self->port('main')/ge;
    $text =~ s/%%DIR%%/$self->{dir}/g;
    $text =~ s/%%MODULE%%/$self->{module}/g;
    return $text;
}

# A whole nginx.conf around `http_body`. Options: workers, main (extra lines
# in the main context), error_log, pid (file names relative to the dir).
sub full_config {
    my ($self, $http_body, %opt) = @_;
    my $workers = $opt{workers} // $self->{workers};
    my $error_log = $self->path($opt{error_log} // 'error.log');
    my $pid = $self->path($opt{pid} // 'nginx.pid');
    my $user = '';
    if ($> == 0) {
        my @pw = getpwnam('nobody');
        my $group = @pw ? (getgrgid($pw[3]))[0] : undef;
        $user = "user nobody $group;" if @pw && defined $group;
    }
    my $main = $opt{main} // '';
    my $load = $self->{module} eq 'none' ? '' : 'load_module %%MODULE%%;';
    my $conf = <<"EOF";
$load
$user
worker_processes $workers;
master_process on;
daemon off;
pid $pid;
lock_file %%DIR%%/nginx.lock;
error_log $error_log info;
worker_shutdown_timeout 5s;
$main
events {
    worker_connections 256;
}

http {
    default_type text/plain;
    client_body_temp_path %%DIR%%/tmp/client_body;
    proxy_temp_path %%DIR%%/tmp/proxy;
    fastcgi_temp_path %%DIR%%/tmp/fastcgi;
    uwsgi_temp_path %%DIR%%/tmp/uwsgi;
    scgi_temp_path %%DIR%%/tmp/scgi;
    large_client_header_buffers 4 32k;
    log_format m2mtest '\$remote_addr "\$request" \$status';
    access_log %%DIR%%/access.log m2mtest;

$http_body
}
EOF
    return $self->render($conf);
}

# Writes nginx.conf for start/reload; returns the rendered text.
sub config {
    my ($self, $http_body, %opt) = @_;
    $self->{workers_running} = $opt{workers} // $self->{workers};
    my $conf = $self->full_config($http_body, %opt);
    $self->write_file('nginx.conf', $conf);
    return $conf;
}

# Line number (1-based) of the first line of a file matching $re.
sub line_of {
    my ($self, $rel, $re) = @_;
    my @lines = split /\n/, $self->read_file($rel), -1;
    for my $i (0 .. $#lines) {
        return $i + 1 if $lines[$i] =~ $re;
    }
    return undef;
}

# `nginx -t` on a config of its own (own error log and pid file). `$text` is
# a http{} body unless opt full => 1. Returns { rc, out, file }.
sub nginx_t {
    my ($self, $text, %opt) = @_;
    my $n = ++$self->{nconf};
    my $conf = $opt{full}
        ? $self->render($text)
        : $self->full_config($text, error_log => "logs/t$n.error.log", pid => "logs/t$n.pid", %opt);
    my $file = $self->write_file("t$n.conf", $conf);
    my ($rc, $out) = $self->_run($self->{nginx}, '-t', '-p', "$self->{dir}/", '-c', $file);
    return { rc => $rc, out => $out, file => $file };
}

# Runs nginx with this instance's prefix and nginx.conf plus @args (e.g.
# '-s', 'reload'); returns (exit code, output).
sub nginx_cmd {
    my ($self, @args) = @_;
    return $self->_run($self->{nginx}, '-p', "$self->{dir}/", '-c', "$self->{dir}/nginx.conf", @args);
}

sub _run {
    my ($self, @cmd) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

# ---------------------------------------------------------------- process

sub start {
    my ($self) = @_;
    die "nginx already running" if $self->{pid};
    my $conf = $self->read_file('nginx.conf') or die "call config() first";
    my @ports = $conf =~ /^\s*listen\s+127\.0\.0\.1:(\d+)/mg;

    my @error_log = _error_log_option($self->{nginx}, $self->{dir});    # before fork: cached
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>>', "$self->{dir}/nginx.stderr";
        open STDERR, '>&', \*STDOUT;
        { exec $self->{nginx}, '-p', "$self->{dir}/", @error_log,
            '-c', "$self->{dir}/nginx.conf" }
        POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    push @LIVE, $self;

    my $ok = _poll(10, sub {
        return 'dead' if waitpid($pid, WNOHANG) == $pid;
        for my $p (@ports) {
            my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $p, Proto => 'tcp')
                or return 0;
            close $s;
        }
        return 'up';
    });
    if (!$ok || $ok eq 'dead') {
        delete $self->{pid} if $ok;
        Test::More::diag("nginx did not start:\n" . $self->read_file('nginx.stderr')
            . $self->read_file('error.log'));
        Test::More::BAIL_OUT('nginx did not start');
    }
    # The master binds the sockets before forking workers: also wait for the
    # workers, so that the first request is served by the configured number.
    _poll(10, sub { my @w = $self->worker_pids; @w >= $self->{workers_running} });
    return $self;
}

# -e (the error log until the config's own applies) came in nginx 1.19.5;
# without it an older nginx writes those lines where it was built to, which
# for the suite's builds is stderr (nginx.stderr). Asked once per binary.
my %HAS_E;
sub _error_log_option {
    my ($nginx, $dir) = @_;
    $HAS_E{$nginx} //= do {
        my ($version) = `$nginx -v 2>&1` =~ m{/(\d+\.\d+\.\d+)};
        sprintf('%03d%03d%03d', split /\./, $version // '0.0.0') ge '001019005';
    };
    return $HAS_E{$nginx} ? ('-e', "$dir/error.log") : ();
}

sub master_pid { return $_[0]{pid} }

# Workers are the master's children (no cache manager in these configs).
sub worker_pids {
    my ($self) = @_;
    my $master = $self->{pid} or return ();
    my @pids;
    opendir my $d, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $stat = <$fh> // next;
        my ($state, $ppid) = $stat =~ /\)\s+(\S)\s+(\d+)/ or next;
        push @pids, $p if $ppid == $master && $state ne 'Z';
    }
    return sort { $a <=> $b } @pids;
}

sub _alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // return 0;
    my ($state) = $stat =~ /\)\s+(\S)/;
    return defined $state && $state ne 'Z';
}

# Polls $cond every 20 ms until it returns true or $timeout seconds pass.
sub _poll {
    my ($timeout, $cond) = @_;
    my $deadline = Time::HiRes::time() + $timeout;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return undef if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.02);
    }
}

sub poll { my ($self, $timeout, $cond) = @_; return _poll($timeout, $cond) }

# `nginx -s reload`, then waits until the old workers have exited, the new
# generation is complete and, if given, $opt{until}->() is true (e.g. a token
# signed with a new key is accepted). Returns true on success.
sub reload {
    my ($self, %opt) = @_;
    my @old = $self->worker_pids;
    my ($rc, $out) = $self->nginx_cmd('-s', 'reload');
    if ($rc != 0) {
        Test::More::diag("nginx -s reload failed ($rc): $out");
        return 0;
    }
    my $ok = _poll($opt{timeout} // 10, sub {
        return 0 if grep { _alive($_) } @old;
        my @new = $self->worker_pids;
        return 0 if @new < $self->{workers_running};
        return $opt{until} ? $opt{until}->() : 1;
    });
    Test::More::diag('reload: old workers ' . join(' ', grep { _alive($_) } @old)
        . ' still alive or condition not met') unless $ok;
    return $ok;
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    @LIVE = grep { $_ != $self } @LIVE;
    for my $sig (qw(QUIT TERM KILL)) {
        kill $sig, $pid;
        return if _poll($sig eq 'KILL' ? 5 : 10, sub { waitpid($pid, WNOHANG) == $pid || !kill(0, $pid) });
        Test::More::diag("nginx master $pid did not exit after SIG$sig");
    }
}

# A test killed by a signal (Ctrl-C, a closed pipe under `prove | head`)
# would skip END and leave nginx running: turn those signals into exit.
for my $sig (qw(INT TERM HUP PIPE)) {
    $SIG{$sig} = sub { Test::More::diag("SIG$sig: stopping nginx"); exit 1 }
        unless ref $SIG{$sig};
}

END {
    # stop() removes the instance from @LIVE: iterate over a copy
    for my $t (grep { defined } @LIVE) {
        $t->stop if $t->{owner} == $$;
    }
}

# Stops nginx, then asserts that error.log (and nginx's own stderr) hold no
# [alert], [emerg] or [crit]. `allow => [qr/.../]` lists expected lines.
sub no_alerts_ok {
    my ($self, %opt) = @_;
    $self->stop;
    my @allow = @{ $opt{allow} // [] };
    my @bad;
    for my $file ('error.log', 'nginx.stderr') {
        for my $line (split /\n/, $self->read_file($file)) {
            next unless $line =~ /\[(alert|emerg|crit)\]/;
            next if grep { $line =~ $_ } @allow;
            push @bad, "$file: $line";
        }
    }
    Test::More::ok(-s $self->path('error.log'), 'error.log was written');
    Test::More::ok(!@bad, 'no [alert], [emerg] or [crit] in error.log')
        or Test::More::diag(join "\n", @bad);
}

# ---------------------------------------------------------------- logs

sub log_lines {
    my ($self, $rel) = @_;
    return split /\n/, $self->read_file($rel);
}

# Polls a log file until a line matches; returns the line (undef on timeout).
sub wait_log {
    my ($self, $rel, $re, $timeout) = @_;
    my $found;
    _poll($timeout // 5, sub {
        ($found) = grep { $_ =~ $re } $self->log_lines($rel);
        return defined $found;
    });
    return $found;
}

# ---------------------------------------------------------------- HTTP

# GET with headers; opt: port (name), headers ({}), token (sets
# "Authorization: Bearer <token>"). Returns {status, headers, content}.
# status 599 means no HTTP response (connection failed).
sub get {
    my ($self, $path, %opt) = @_;
    my %h = %{ $opt{headers} // {} };
    $h{Authorization} = "Bearer $opt{token}" if defined $opt{token};
    my $port = $self->port($opt{port} // 'main');
    my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10, max_redirect => 0,
        agent => 'm2m-t/1');
    return $http->get("http://127.0.0.1:$port$path", { headers => \%h });
}

# A server block answering with the named request headers, one per line as
# "name=value" (no auth: the upstream of proxy_pass tests).
sub echo_server {
    my ($self, $port_name, @headers) = @_;
    my $body = join '', map {
        my $v = lc $_;
        $v =~ tr/-/_/;
        lc($_) . "=\$http_$v\\n";
    } @headers;
    return <<"EOF";
    server {
        listen 127.0.0.1:%%PORT_$port_name%%;
        location / {
            return 200 "$body";
        }
    }
EOF
}

sub parse_echo {
    my ($content) = @_;
    my %h;
    for (split /\n/, $content // '') {
        my ($k, $v) = /^([^=]+)=(.*)$/ or next;
        $h{$k} = $v;
    }
    return \%h;
}

# ---------------------------------------------------------------- keys

my %CURVE = ('P-256' => 'secp256r1', 'P-384' => 'secp384r1', 'P-521' => 'secp521r1');
my %EC_ALG = ('P-256' => 'ES256', 'P-384' => 'ES384', 'P-521' => 'ES512');

# { kid, kty, crv, pk (private Crypt::PK object), alg (default) }
sub rsa_key {
    my ($self, $kid, $bits) = @_;
    my $pk = Crypt::PK::RSA->new;
    $pk->generate_key(($bits // 2048) / 8, 65537);
    return { kid => $kid, kty => 'RSA', pk => $pk, alg => 'RS256' };
}

sub ec_key {
    my ($self, $kid, $crv) = @_;
    $crv //= 'P-256';
    my $pk = Crypt::PK::ECC->new;
    $pk->generate_key($CURVE{$crv} // die "curve $crv");
    return { kid => $kid, kty => 'EC', crv => $crv, pk => $pk, alg => $EC_ALG{$crv} };
}

# The same key under another kid (the JWK may then carry other alg/use).
sub alias_key {
    my ($self, $key, $kid) = @_;
    return { %$key, kid => $kid };
}

# Public JWK as a hash; extra members (alg, use, kid => undef to omit) merged.
sub jwk {
    my ($self, $key, %extra) = @_;
    my $jwk = $key->{pk}->export_key_jwk('public', 1);
    $jwk->{kid} = $key->{kid} if defined $key->{kid};
    for my $k (keys %extra) {
        if (defined $extra{$k}) { $jwk->{$k} = $extra{$k} } else { delete $jwk->{$k} }
    }
    return $jwk;
}

# write_jwks($file, $key_or_jwk, ...): keys (from rsa_key/ec_key) become
# their public JWK; hashes without "pk" are written as they are.
sub write_jwks {
    my ($self, $rel, @items) = @_;
    my @jwks = map { $_->{pk} ? $self->jwk($_) : $_ } @items;
    return $self->write_file($rel, json_text({ keys => \@jwks }) . "\n");
}

# A signed JWS. opt: key (required), alg (default: the key's), kid (default:
# the key's; pass kid => undef for none), header ({} extra JOSE members),
# claims ({} merged over exp = now+600, iat = now; undef deletes a claim).
sub mint {
    my ($self, %opt) = @_;
    my $key = $opt{key} or die 'mint: key';
    my $alg = $opt{alg} // $key->{alg};
    my %header = %{ $opt{header} // {} };
    my $kid = exists $opt{kid} ? $opt{kid} : $key->{kid};
    $header{kid} = $kid if defined $kid;
    my %claims = (exp => now() + 600, iat => now(), %{ $opt{claims} // {} });
    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;
    return encode_jwt(
        payload       => json_text(\%claims),
        key           => $key->{pk},
        alg           => $alg,
        extra_headers => \%header,
    );
}

# A token assembled by hand: header and payload as hashes or JSON text, the
# signature as raw bytes (or via sign => sub { $signing_input }).
sub raw_token {
    my ($self, %opt) = @_;
    my $h = ref $opt{header} ? json_text($opt{header}) : $opt{header};
    my $claims = $opt{claims};
    if (ref $claims) {
        $claims = { exp => now() + 600, iat => now(), %$claims };
        delete $claims->{$_} for grep { !defined $claims->{$_} } keys %$claims;
        $claims = json_text($claims);
    }
    my $input = b64u($h) . '.' . b64u($claims);
    my $sig = $opt{sign} ? $opt{sign}->($input) : ($opt{sig} // '');
    return "$input." . b64u($sig);
}

sub hmac_sha256 { my ($secret, $data) = @_; return hmac('SHA256', $secret, $data) }

# A compact JWE (five parts) encrypted to an RSA key.
sub jwe {
    my ($self, $key, $claims) = @_;
    my $pub = Crypt::PK::RSA->new(\$key->{pk}->export_key_der('public'));
    return encode_jwt(payload => json_text($claims), key => $pub, alg => 'RSA-OAEP',
        enc => 'A128GCM');
}

# ---------------------------------------------------------------- remote keys
# (appended for the t/1x remote-key files)

# GET the auth_m2m_status page (opt: path, default /status; port name) and
# decode its JSON. undef unless the answer is 200 with a JSON object.
sub status_json {
    my ($self, %opt) = @_;
    my $r = $self->get($opt{path} // '/status', port => $opt{port});
    return undef unless $r->{status} == 200;
    my $j = eval { JSON::PP->new->decode($r->{content}) };
    return ref $j eq 'HASH' ? $j : undef;
}

# One issuer's object from the status page (undef if missing).
sub issuer_status {
    my ($self, $name, %opt) = @_;
    my $s = $self->status_json(%opt) or return undef;
    return $s->{issuers}{$name};
}

# Polls the status page until $cond->($issuer_object) is true; returns that
# object, or undef after $timeout (default 10) seconds.
sub wait_issuer {
    my ($self, $name, $cond, $timeout, %opt) = @_;
    my $last;
    my $ok = _poll($timeout // 10, sub {
        $last = $self->issuer_status($name, %opt);
        return $last && $cond->($last);
    });
    return $ok ? $last : undef;
}

# Lines of a log file matching $re (default error.log).
sub grep_log {
    my ($self, $re, $rel) = @_;
    return grep { $_ =~ $re } $self->log_lines($rel // 'error.log');
}

# Worker pids holding an ESTABLISHED TCP connection to 127.0.0.1:$port
# (IPv4 or v4-mapped), found through /proc/net/tcp{,6} (socket inodes) and
# /proc/<pid>/fd. Needs to see the workers' fds: same user, or root.
sub pids_connected_to {
    my ($self, $port) = @_;
    my %inode;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $file or next;
        my $head = <$fh>;
        while (my $l = <$fh>) {
            my @f = split ' ', $l;
            next unless @f > 9 && $f[3] eq '01';    # TCP_ESTABLISHED
            my ($rport) = $f[2] =~ /:([0-9A-Fa-f]{4})$/ or next;
            $inode{ $f[9] } = 1 if hex($rport) == $port && $f[9];
        }
    }
    my @pids;
    for my $pid ($self->worker_pids) {
        opendir my $d, "/proc/$pid/fd" or next;
        for my $fd (readdir $d) {
            my $link = readlink("/proc/$pid/fd/$fd") // next;
            if ($link =~ /^socket:\[(\d+)\]$/ && $inode{$1}) {
                push @pids, $pid;
                last;
            }
        }
    }
    return @pids;
}

1;
