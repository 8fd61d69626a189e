package JwksServer;

# A controllable loopback HTTP(S) server for the t/ suite: it serves JWK Sets
# and discovery documents to the module under test and can be told to
# misbehave. One forked process accepts on 127.0.0.1; every connection is
# handled in a process of its own, so a hanging answer blocks nothing else.
#
#   my $srv = JwksServer->new;                         # or tls => {cert, key}
#   $srv->set_route('/jwks', { body => $json, cache_control => 'max-age=60' });
#   ... point nginx at $srv->url('/jwks') ...
#   $srv->wait_for_count('/jwks', 1, 5) or fail;
#   my ($r) = $srv->requests('/jwks'); $r->{headers}{'if-none-match'};
#   $srv->stop;                                        # also on DESTROY / END
#
# Control: the parent keeps the routes and writes them (Storable, atomically
# with rename) to routes.sto in the server's dir; every request reads that
# file after its header block, so set_route() is in force for the very next
# request once it returns. Each received request is appended (one JSON line,
# one write) to requests.log before any delay or hang, so the parent can count
# at any time. Nothing here sleeps to synchronise except the `delay`,
# `chunk_delay` behaviours themselves.
#
# Behaviour of a route (all optional; unknown keys die in set_route):
#   body => TEXT            the body (bytes; default '{"keys":[]}' for 200,
#                           a small JSON error otherwise)
#   json => REF             body = canonical JSON of REF
#   status => N             default 200 (304, 204 and 1xx never carry a body)
#   content_type => TEXT    default application/json
#   cache_control => TEXT   Cache-Control value, e.g. 'max-age=120'
#   etag => TEXT            ETag (quoted if given bare); If-None-Match match -> 304
#   last_modified => T      epoch seconds or an HTTP date; If-Modified-Since
#                           at or after it (and no If-None-Match) -> 304
#   no_304 => 1             send ETag/Last-Modified but never answer 304
#   headers => {N => V}     extra response headers (V may be an array ref)
#   delay => SECONDS        wait before answering (fractional ok)
#   gate => PATH            answer only once the file PATH exists (the test
#                           opens the gate by creating it; polled every 20 ms)
#   hang => 1               read the request, never answer (until stop)
#   close => 1              read the request, close without a byte
#   garbage => 1|TEXT       send non-HTTP bytes (or TEXT), then close
#   close_mid_body => 1     Content-Length (or chunks) for the whole body, send
#                           about half of it, close
#   stall_mid_body => 1     as close_mid_body, but then hang instead of close
#   chunked => 1|N          Transfer-Encoding: chunked, in N (default 3) chunks
#   chunk_delay => SECONDS  pause between chunks
#   no_length => 1          no Content-Length, no chunking: close-delimited
#   size => N               body padded (or cut) to exactly N bytes; stays
#                           valid JSON (a "_pad" member) unless valid_json => 0
#                           (then 'x' bytes are appended)
#   valid_json => 0|1       see size; default 1
#   sequence => [\%b, ...]  the k-th request on this route (since set_route)
#                           gets the k-th behaviour, the last one repeats
# Routes are looked up by the full target (with query), then the path, then
# '*'; no match gives 404. Every answer closes the connection
# (Connection: close); HEAD is answered like GET without a body.
#
# Parent-side API: new(%opt) port dir pid url($path[, $host]) scheme
# set_route($path, \%b) set_routes(%map) clear_route(@paths) route($path)
# count([$path]) requests([$path]) last_request([$path]) clear_requests
# connections tls_errors wait_for(\&cond[, $timeout]) wait_for_count($path,
# $n[, $timeout]) wait_for_connections($n[, $timeout]) server_log restart
# stop running; JwksServer::make_ca($dir[, $name]) and
# JwksServer::make_cert($dir, $ca, $cn[, \@san, %opt]).
# Note for clients: HTTP::Tiny silently retries an idempotent request once
# when a response is cut short, so it counts twice here; nginx does not.
# TLS needs IO::Socket::SSL (Debian: libio-socket-ssl-perl), loaded only
# when tls is asked for.

use strict;
use warnings;

use Errno qw(EINTR EAGAIN);
use Fcntl qw(:flock O_WRONLY O_APPEND O_CREAT);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::IP;
use JSON::PP;
use POSIX ();
use Scalar::Util qw(weaken);
use Socket qw(SOCK_STREAM SHUT_WR);
use Storable qw(nstore retrieve);
use Time::HiRes ();
use Time::Local qw(timegm);

our $VERSION = '1';

my @LIVE;    # weak references to every server this process started

my %KNOWN = map { $_ => 1 } qw(body json status content_type cache_control etag last_modified
    no_304 headers delay gate hang close garbage close_mid_body stall_mid_body chunked chunk_delay
    no_length size valid_json sequence);

my %REASON = (
    200 => 'OK', 201 => 'Created', 204 => 'No Content', 301 => 'Moved Permanently',
    302 => 'Found', 304 => 'Not Modified', 400 => 'Bad Request', 401 => 'Unauthorized',
    403 => 'Forbidden', 404 => 'Not Found', 429 => 'Too Many Requests',
    500 => 'Internal Server Error', 502 => 'Bad Gateway', 503 => 'Service Unavailable',
    504 => 'Gateway Timeout',
);

my $JSON = JSON::PP->new->canonical->latin1;    # bytes in, bytes out

# ------------------------------------------------------------------ parent side

# new(%opt): port (default: a free one), dir (default: a temp dir removed at
# exit), tls => { cert, key }, routes => { path => \%behaviour }.
sub new {
    my ($class, %opt) = @_;
    my $dir = $opt{dir} // tempdir('jwks-srv-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{M2M_KEEP});
    make_path("$dir/seq");
    chmod 0755, $dir;
    my $self = bless {
        dir    => $dir,
        owner  => $$,
        routes => {},
        gen    => 0,
        tls    => $opt{tls},
        port   => $opt{port} // 0,
    }, $class;
    if ($self->{tls}) {
        die "JwksServer: tls needs cert and key\n"
            unless $self->{tls}{cert} && $self->{tls}{key};
        require IO::Socket::SSL;    # Debian: libio-socket-ssl-perl
    }
    for my $f ('requests.log', 'connections.log') {
        open my $fh, '>>', "$dir/$f" or die "$dir/$f: $!";
        close $fh;
    }
    my $routes = $opt{routes} // {};
    $self->_route_in($_, $routes->{$_}) for sort keys %$routes;
    $self->_write_routes;
    $self->_spawn;
    push @LIVE, $self;
    weaken($LIVE[-1]);
    return $self;
}

sub port { return $_[0]{port} }
sub dir  { return $_[0]{dir} }
sub pid  { return $_[0]{pid} }
sub scheme { return $_[0]{tls} ? 'https' : 'http' }

# url('/jwks') or url('/jwks', 'localhost'): the URL nginx should fetch.
sub url {
    my ($self, $path, $host) = @_;
    $path //= '/';
    $path = "/$path" unless $path =~ m{^/};
    return $self->scheme . '://' . ($host // '127.0.0.1') . ":$self->{port}$path";
}

sub _spawn {
    my ($self) = @_;
    my $listen = IO::Socket::IP->new(
        LocalHost => '127.0.0.1', LocalPort => $self->{port}, Proto => 'tcp',
        Type => SOCK_STREAM, ReuseAddr => 1, Listen => 128,
    ) or die "JwksServer: cannot listen on 127.0.0.1:$self->{port}: $@\n";
    $self->{port} = $listen->sockport;
    my $parent = $$;
    my $pid = fork // die "JwksServer: fork: $!";
    if (!$pid) {
        my $rc = 0;
        eval { POSIX::setpgid(0, 0); $self->_serve($listen, $parent); 1 } or do {
            _note($self->{dir}, "server died: $@");
            $rc = 1;
        };
        POSIX::_exit($rc);    # never run the test's END blocks or destructors
    }
    POSIX::setpgid($pid, $pid);    # both sides, so stop() can always kill the group
    close $listen;
    $self->{pid} = $pid;
    return $pid;
}

# Kills the server and every connection process; bounded; idempotent.
sub stop {
    my ($self) = @_;
    return unless $self->{owner} == $$;
    my $pid = delete $self->{pid} or return;
    local ($?, $!);
    kill 'TERM', $pid;    # the server ends its connection processes, then itself
    for my $sig ('TERM', 'KILL') {
        my $deadline = Time::HiRes::time() + ($sig eq 'TERM' ? 2 : 5);
        while (Time::HiRes::time() < $deadline) {
            if (waitpid($pid, POSIX::WNOHANG()) != 0) {
                kill 'KILL', -$pid;    # anything forked during the stop
                return 1;
            }
            Time::HiRes::sleep(0.002);
        }
        kill 'KILL', -$pid;
    }
    return 0;
}

# Stops, then listens again on the same port with the same routes and logs.
sub restart {
    my ($self) = @_;
    $self->stop;
    $self->_spawn;
    return $self;
}

sub running { return defined $_[0]{pid} }

sub DESTROY {
    my ($self) = @_;
    $self->stop if $self->{owner} && $self->{owner} == $$;
}

END {
    for my $s (grep { defined } @LIVE) {
        $s->stop if $s->{owner} == $$;
    }
}

sub _route_in {
    my ($self, $path, $b) = @_;
    die "JwksServer: route behaviour for $path must be a hash\n" unless ref $b eq 'HASH';
    my $norm = _normalise($path, $b);
    $norm->{_gen} = ++$self->{gen};
    $self->{routes}{$path} = $norm;
}

sub _normalise {
    my ($path, $b) = @_;
    my %b = %$b;
    for (sort keys %b) {
        die "JwksServer: unknown behaviour '$_' for $path\n" unless $KNOWN{$_};
    }
    if (exists $b{json}) {
        $b{body} = JSON::PP->new->canonical->utf8->encode(delete $b{json});
    }
    if (defined $b{body} && $b{body} =~ /[^\x00-\xff]/) {
        utf8::encode($b{body});
    }
    if ($b{sequence}) {
        die "JwksServer: sequence for $path must be a non-empty array\n"
            unless ref $b{sequence} eq 'ARRAY' && @{ $b{sequence} };
        $b{sequence} = [ map { _normalise($path, $_) } @{ $b{sequence} } ];
    }
    return \%b;
}

sub _write_routes {
    my ($self) = @_;
    my $file = "$self->{dir}/routes.sto";
    nstore($self->{routes}, "$file.$$.tmp") or die "JwksServer: store $file: $!";
    rename "$file.$$.tmp", $file or die "JwksServer: rename $file: $!";
}

# set_route($path, \%behaviour): in force for the next request received.
sub set_route {
    my ($self, $path, $b) = @_;
    $self->_route_in($path, $b);
    $self->_write_routes;
    return $self;
}

# set_routes(path => \%b, ...): several at once (one atomic switch).
sub set_routes {
    my ($self, %routes) = @_;
    $self->_route_in($_, $routes{$_}) for sort keys %routes;
    $self->_write_routes;
    return $self;
}

sub clear_route {
    my ($self, @paths) = @_;
    delete $self->{routes}{$_} for @paths;
    $self->_write_routes;
    return $self;
}

sub route { return $_[0]{routes}{ $_[1] } }

sub _read_lines {
    my ($file) = @_;
    open my $fh, '<', $file or return ();
    local $/;
    my $all = <$fh> // '';
    close $fh;
    my @lines = split /\n/, $all, -1;
    pop @lines;    # text after the last "\n": empty, or a line still being written
    return @lines;
}

# requests() or requests($path): every request received so far, oldest first:
# { path, target, method, version, headers => {lowercase name => value},
#   head (raw request head), time, status (what the server chose to answer),
#   tls, seq (1-based number on its route) }.
sub requests {
    my ($self, $path) = @_;
    my @r = map { $JSON->decode($_) } _read_lines("$self->{dir}/requests.log");
    @r = grep { _matches($_, $path) } @r if defined $path;
    return @r;
}

sub _matches {
    my ($r, $path) = @_;
    return $path =~ /\?/ ? $r->{target} eq $path : $r->{path} eq $path;
}

sub last_request {
    my ($self, $path) = @_;
    my @r = $self->requests($path);
    return $r[-1];
}

# count($path): requests for the path (a '?' in $path matches the full target);
# count() with no argument: all requests.
sub count {
    my ($self, $path) = @_;
    return scalar $self->requests($path);
}

# Forget all requests and connections received so far.
sub clear_requests {
    my ($self) = @_;
    for my $f ('requests.log', 'connections.log') {
        truncate "$self->{dir}/$f", 0 or die "truncate $f: $!";
    }
    return $self;
}

# Accepted TCP connections so far (including ones that never sent a request).
sub connections {
    my ($self) = @_;
    return scalar grep { $_->{event} eq 'accept' }
        map { $JSON->decode($_) } _read_lines("$self->{dir}/connections.log");
}

# TLS handshakes that failed on the server side: list of error strings.
sub tls_errors {
    my ($self) = @_;
    return map { $_->{error} } grep { $_->{event} eq 'tls_error' }
        map { $JSON->decode($_) } _read_lines("$self->{dir}/connections.log");
}

# Polls $cond every 10 ms until true or $timeout (default 5) seconds pass.
sub wait_for {
    my ($self, $cond, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 5);
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.01);
    }
}

sub wait_for_count {
    my ($self, $path, $n, $timeout) = @_;
    return $self->wait_for(sub { $self->count($path) >= $n }, $timeout) ? 1 : 0;
}

sub wait_for_connections {
    my ($self, $n, $timeout) = @_;
    return $self->wait_for(sub { $self->connections >= $n }, $timeout) ? 1 : 0;
}

# Diagnostics the server wrote (errors only).
sub server_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/server.log" or return '';
    local $/;
    return <$fh> // '';
}

# ------------------------------------------------------------------ certificates

sub _openssl {
    my ($dir, @args) = @_;
    my $log = "$dir/openssl.log";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        exec 'openssl', @args or POSIX::_exit(127);
    }
    local $?;
    waitpid $pid, 0;
    if ($? != 0) {
        my $out = do { local (@ARGV, $/) = ($log); <> } // '';
        die "openssl @args failed ($?):\n$out";
    }
}

sub _safe { my ($s) = @_; $s =~ s/[^A-Za-z0-9._-]+/_/g; return $s }

my $SERIAL = 0;
sub _serial { return sprintf '0x%08x%06x%04x', time, $$ & 0xffffff, ++$SERIAL }

# make_ca($dir, $name = 'ca'): a self-signed P-256 CA in $dir/$name.crt/.key.
# Call again with another name for an unrelated CA (wrong-CA tests).
# Returns { ca_cert, ca_key, name }.
sub make_ca {
    my ($dir, $name) = @_;
    $name = _safe($name // 'ca');
    make_path($dir);
    my ($crt, $key) = ("$dir/$name.crt", "$dir/$name.key");
    _openssl($dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-nodes', '-keyout', $key, '-out', $crt, '-days', '3650', '-sha256',
        '-set_serial', _serial(),
        '-subj', "/O=JwksServer test/CN=JwksServer test CA $name",
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    chmod 0644, $crt;
    return { ca_cert => $crt, ca_key => $key, name => $name };
}

# make_cert($dir, $ca, $cn, \@san): a server certificate signed by $ca (from
# make_ca) for $cn; @san defaults to ($cn); entries that look like IPv4/IPv6
# addresses become IP:, others DNS:. Returns { cert, key } ($dir/<cn>.crt/.key).
# %opt: name => file name stem instead of <cn>, days => validity (825).
sub make_cert {
    my ($dir, $ca, $cn, $san, %opt) = @_;
    $san //= [$cn];
    my $name = _safe($opt{name} // $cn);
    make_path($dir);
    my ($crt, $key, $csr, $ext) = map { "$dir/$name.$_" } qw(crt key csr ext);
    my $alt = join ',', map { /^[0-9.]+$/ || /:/ ? "IP:$_" : "DNS:$_" } @$san;
    open my $fh, '>', $ext or die "$ext: $!";
    print $fh "basicConstraints=critical,CA:FALSE\n",
        "keyUsage=critical,digitalSignature,keyEncipherment\n",
        "extendedKeyUsage=serverAuth\n",
        "subjectKeyIdentifier=hash\n",
        "authorityKeyIdentifier=keyid\n",
        ($alt ne '' ? "subjectAltName=$alt\n" : '');
    close $fh;
    _openssl($dir, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-nodes', '-keyout', $key, '-out', $csr, '-subj', "/O=JwksServer test/CN=$cn");
    _openssl($dir, 'x509', '-req', '-in', $csr, '-CA', $ca->{ca_cert}, '-CAkey', $ca->{ca_key},
        '-set_serial', _serial(), '-days', $opt{days} // 825, '-sha256', '-extfile', $ext,
        '-out', $crt);
    chmod 0644, $crt;
    return { cert => $crt, key => $key };
}

# ------------------------------------------------------------------ server side

sub _note {
    my ($dir, $msg) = @_;
    if (open my $fh, '>>', "$dir/server.log") {
        print $fh scalar(localtime), " [$$] $msg\n";
        close $fh;
    }
}

# One write() per record, O_APPEND: records never interleave.
sub _append {
    my ($file, $rec) = @_;
    sysopen my $fh, $file, O_WRONLY | O_APPEND | O_CREAT or return;
    syswrite $fh, $JSON->encode($rec) . "\n";
    close $fh;
}

sub _serve {
    my ($self, $listen, $parent) = @_;
    my $dir = $self->{dir};
    $0 = "jwks-server $self->{port}";
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', '/dev/null';    # never hold the TAP pipe open
    open STDERR, '>>', "$dir/server.log";
    $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP ALRM);
    $SIG{PIPE} = 'IGNORE';
    $SIG{CHLD} = 'IGNORE';            # connection processes reap themselves
    # stop(): end every connection process first and wait for them, so none
    # is left to init as a zombie
    $SIG{TERM} = sub {
        $SIG{TERM} = 'IGNORE';
        kill 'TERM', -$$;
        1 while waitpid(-1, 0) > 0;    # with CHLD ignored: returns when all are gone
        POSIX::_exit(0);
    };
    POSIX::setlocale(POSIX::LC_TIME(), 'C');
    my $sel = IO::Select->new($listen);
    my $acceptor = $$;
    while (1) {
        POSIX::_exit(0) if getppid() != $parent;    # the test went away
        next unless $sel->can_read(0.2);
        my $client = $listen->accept or next;
        my $pid = fork;
        if (!defined $pid) {
            _note($dir, "fork: $!");
            close $client;
            next;
        }
        if (!$pid) {
            close $listen;
            $SIG{$_} = 'DEFAULT' for qw(CHLD TERM);
            my $rc = 0;
            eval { $self->_connection($client, $acceptor); 1 } or do {
                _note($dir, "connection: $@") unless $@ =~ /^JWKS_EXIT/;
                $rc = 1;
            };
            POSIX::_exit($rc);
        }
        close $client;
    }
}

# Sleeps in short steps, giving up when the acceptor is gone (stop()).
sub _sleep {
    my ($secs, $acceptor) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    while ((my $left = $deadline - Time::HiRes::time()) > 0) {
        POSIX::_exit(0) if getppid() != $acceptor;
        Time::HiRes::sleep($left < 0.1 ? $left : 0.1);
    }
}

sub _hang {
    my ($acceptor) = @_;
    _sleep(1, $acceptor) while 1;
}

sub _gate {
    my ($path, $acceptor) = @_;
    until (-e $path) {
        POSIX::_exit(0) if getppid() != $acceptor;
        Time::HiRes::sleep(0.02);
    }
}

sub _connection {
    my ($self, $sock, $acceptor) = @_;
    my $dir = $self->{dir};
    _append("$dir/connections.log", { event => 'accept', time => Time::HiRes::time(),
        peer_port => $sock->peerport });
    local $SIG{ALRM} = sub { die "JWKS_EXIT timeout\n" };
    alarm 30;    # handshake and request head
    if (my $tls = $self->{tls}) {
        my $ok = IO::Socket::SSL->start_SSL($sock,
            SSL_server    => 1,
            SSL_cert_file => $tls->{cert},
            SSL_key_file  => $tls->{key},
            ($tls->{chain} ? (SSL_ca_file => $tls->{chain}) : ()),
            Timeout       => 20,
        );
        if (!$ok) {
            my $err = IO::Socket::SSL::errstr() || "$!";
            _append("$dir/connections.log", { event => 'tls_error', error => "$err",
                time => Time::HiRes::time() });
            close $sock;
            return;
        }
    }

    # the request head
    my $head = '';
    my $line = <$sock>;
    return unless defined $line;
    $head .= $line;
    my ($method, $target, $version) = $line =~ m{^(\S+)\s+(\S+)(?:\s+(HTTP/\d+\.\d+))?\s*$};
    my (%h, $last);
    while (defined(my $l = <$sock>)) {
        $head .= $l;
        last if $l =~ /^\r?\n$/;
        if ($l =~ /^[ \t]/ && defined $last) {    # obsolete folding
            (my $v = $l) =~ s/^\s+|\s+$//g;
            $h{$last} .= " $v";
            next;
        }
        my ($n, $v) = $l =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/ or next;
        $last = lc $n;
        $h{$last} = exists $h{$last} ? "$h{$last}, $v" : $v;
        last if length $head > 65536;
    }
    if (my $len = $h{'content-length'}) {    # discard a request body
        $len = 1 << 20 if $len !~ /^\d+$/ || $len > 1 << 20;
        my $buf;
        read($sock, $buf, $len);
    }
    alarm 0;
    $method //= '';
    $target //= '';
    my $path = $target;
    $path =~ s/[?#].*//s;

    # what to answer: the routes as they are now
    my $routes = -e "$dir/routes.sto" ? retrieve("$dir/routes.sto") : {};
    my $b = $routes->{$target} // $routes->{$path} // $routes->{'*'};
    my $seq;
    if ($b && $b->{sequence}) {
        $seq = _next_seq($dir, $b->{_gen});
        my @s = @{ $b->{sequence} };
        $b = $s[ $seq - 1 > $#s ? $#s : $seq - 1 ];
    }
    my $plan = _plan($b, $method, \%h);
    _append("$dir/requests.log", {
        time => Time::HiRes::time(), method => $method, target => $target, path => $path,
        version => $version // '', headers => \%h, head => $head, status => $plan->{status},
        tls => $self->{tls} ? 1 : 0, (defined $seq ? (seq => $seq) : ()),
    });
    _respond($sock, $plan, $b // {}, $acceptor, $self->{tls} ? 1 : 0);
}

sub _next_seq {
    my ($dir, $gen) = @_;
    my $file = "$dir/seq/$gen";
    open my $fh, '+>>', $file or die "$file: $!";
    flock $fh, LOCK_EX or die "flock: $!";
    seek $fh, 0, 0;
    my $n = (<$fh> // 0) + 1;
    truncate $fh, 0;
    print $fh $n;
    close $fh;    # unlocks
    return $n;
}

sub _http_date {
    my ($t) = @_;
    return POSIX::strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime $t);
}

my %MON = (jan => 0, feb => 1, mar => 2, apr => 3, may => 4, jun => 5, jul => 6, aug => 7,
    sep => 8, oct => 9, nov => 10, dec => 11);

sub _parse_date {
    my ($s) = @_;
    return undef unless defined $s;
    return $s if $s =~ /^\d+$/;
    my ($d, $m, $y, $H, $M, $S);
    if ($s =~ /(\d{1,2})[ -]([A-Za-z]{3})[ -](\d{2,4})\s+(\d\d):(\d\d):(\d\d)/) {
        ($d, $m, $y, $H, $M, $S) = ($1, $2, $3, $4, $5, $6);    # IMF-fixdate, RFC 850
    } elsif ($s =~ /[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d\d):(\d\d):(\d\d)\s+(\d{4})/) {
        ($m, $d, $H, $M, $S, $y) = ($1, $2, $3, $4, $5, $6);    # asctime
    } else {
        return undef;
    }
    $y += $y < 70 ? 2000 : 1900 if $y < 100;
    my $mon = $MON{ lc $m } // return undef;
    return eval { timegm($S, $M, $H, $d, $mon, $y) };
}

sub _quote_etag {
    my ($e) = @_;
    return $e if $e =~ /^(?:W\/)?".*"$/;
    return qq{"$e"};
}

sub _etag_matches {
    my ($inm, $etag) = @_;
    return 1 if $inm =~ /^\s*\*\s*$/;
    (my $want = $etag) =~ s{^W/}{};
    for my $t ($inm =~ /((?:W\/)?"[^"]*")/g) {
        (my $got = $t) =~ s{^W/}{};
        return 1 if $got eq $want;
    }
    return 0;
}

# Works out status and body before any delay, so the log can say what the
# request will get.
sub _plan {
    my ($b, $method, $h) = @_;
    if (!$b) {
        return { status => 404, body => qq({"error":"no route"}\n), headers => [] };
    }
    my $status = $b->{status} // 200;
    my @hdr;
    my $etag = defined $b->{etag} ? _quote_etag($b->{etag}) : undef;
    my $lm = $b->{last_modified};
    $lm = _http_date($lm) if defined $lm && $lm =~ /^\d+$/;
    push @hdr, ['Cache-Control', $b->{cache_control}] if defined $b->{cache_control};
    push @hdr, ['ETag', $etag] if defined $etag;
    push @hdr, ['Last-Modified', $lm] if defined $lm;
    if ($status == 200 && !$b->{no_304} && ($method eq 'GET' || $method eq 'HEAD')) {
        my $inm = $h->{'if-none-match'};
        my $ims = $h->{'if-modified-since'};
        if (defined $inm) {
            $status = 304 if defined $etag && _etag_matches($inm, $etag);
        } elsif (defined $ims && defined $lm) {
            my ($a, $l) = (_parse_date($ims), _parse_date($lm));
            $status = 304 if (defined $a && defined $l && $a >= $l) || $ims eq $lm;
        }
    }
    my $body = $b->{body};
    $body //= $status == 200 ? qq({"keys":[]}) : qq({"error":"status $status"}\n);
    if (defined $b->{size}) {
        $body = _pad($body, $b->{size}, $b->{valid_json} // 1);
    }
    my $nobody = $status == 304 || $status == 204 || $status < 200;
    $body = '' if $nobody;
    for my $n (sort keys %{ $b->{headers} // {} }) {
        my $v = $b->{headers}{$n};
        push @hdr, [$n, $_] for ref $v eq 'ARRAY' ? @$v : ($v);
    }
    return { status => $status, body => $body, headers => \@hdr, nobody => $nobody,
        head_only => $method eq 'HEAD' };
}

sub _pad {
    my ($body, $n, $valid) = @_;
    return substr($body, 0, $n) if length $body >= $n;
    my $gap = $n - length $body;
    return $body . ('x' x $gap) unless $valid;
    if ($body =~ /^(\s*\{)(\s*\})(\s*)$/s) {    # {}
        my $over = length '"_pad":""';
        return $1 . '"_pad":"' . ('x' x ($gap - $over)) . '"' . $2 . $3 if $gap >= $over;
    } elsif ($body =~ /^(\s*\{)(.*)$/s) {
        my $over = length '"_pad":"",';
        return $1 . '"_pad":"' . ('x' x ($gap - $over)) . '",' . $2 if $gap >= $over;
    }
    return $body . (' ' x $gap);    # JSON may end in white space
}

sub _send {
    my ($sock, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite $sock, $data, 65536, $off;
        if (!defined $n) {
            next if $! == EINTR || $! == EAGAIN;
            die "JWKS_EXIT write: $!\n";    # the client went away
        }
        $off += $n;
    }
}

sub _finish {
    my ($sock, $tls) = @_;
    if ($tls) {
        $sock->close;    # close_notify, then close
        return;
    }
    # lingering close: FIN first, then wait (bounded) for the client's FIN, so
    # unread request bytes never turn our data into a reset
    shutdown $sock, SHUT_WR;
    my $sel = IO::Select->new($sock);
    my $deadline = Time::HiRes::time() + 2;
    while ((my $left = $deadline - Time::HiRes::time()) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread $sock, my $buf, 4096;
        last unless $n;
    }
    close $sock;
}

sub _respond {
    my ($sock, $p, $b, $acceptor, $tls) = @_;
    _gate($b->{gate}, $acceptor) if $b->{gate};
    _sleep($b->{delay}, $acceptor) if $b->{delay};
    _hang($acceptor) if $b->{hang};
    if ($b->{close}) {
        _finish($sock, $tls);
        return;
    }
    if ($b->{garbage}) {
        my $g = $b->{garbage} eq '1'
            ? "\x00\xff\xfe GARBAGE \x16\x03\x01 this is not HTTP \x80\x81\r\n\r\n"
            : $b->{garbage};
        _send($sock, $g);
        _finish($sock, $tls);
        return;
    }
    my $status = $p->{status};
    my $body = $p->{body};
    my @h = (['Date', _http_date(time)], ['Server', 'JwksServer']);
    push @h, ['Content-Type', $b->{content_type} // 'application/json'] unless $p->{nobody};
    push @h, @{ $p->{headers} };
    push @h, ['Connection', 'close'];
    my $cut = $b->{close_mid_body} || $b->{stall_mid_body};
    my @chunks;
    if ($p->{nobody}) {
        # no framing at all
    } elsif ($b->{chunked}) {
        push @h, ['Transfer-Encoding', 'chunked'];
        my $k = $b->{chunked} > 1 ? int $b->{chunked} : 3;
        my $len = length $body;
        my $step = $len ? int(($len + $k - 1) / $k) : 1;
        for (my $o = 0; $o < $len; $o += $step) {
            push @chunks, substr($body, $o, $step);
        }
    } elsif ($b->{no_length}) {
        # close-delimited
    } else {
        my $declared = length $body;
        $declared += 100 if $cut && $declared < 2;
        push @h, ['Content-Length', $declared];
    }
    my $reason = $REASON{$status} // 'Status';
    my $head = "HTTP/1.1 $status $reason\r\n" . join('', map { "$_->[0]: $_->[1]\r\n" } @h) . "\r\n";
    if ($p->{nobody} || $p->{head_only}) {
        _send($sock, $head);
    } elsif ($b->{chunked}) {
        _send($sock, $head);
        # cut: the first half of the chunks whole, then the size line of the
        # next one with half its data, and no last chunk
        my $whole = $cut ? int(@chunks / 2) : scalar @chunks;
        for my $i (0 .. $whole - 1) {
            _sleep($b->{chunk_delay}, $acceptor) if $b->{chunk_delay} && $i > 0;
            _send($sock, sprintf("%x\r\n", length $chunks[$i]) . $chunks[$i] . "\r\n");
        }
        if ($cut) {
            my $c = $chunks[$whole] // 'x' x 100;
            _sleep($b->{chunk_delay}, $acceptor) if $b->{chunk_delay} && $whole > 0;
            _send($sock, sprintf("%x\r\n", length $c) . substr($c, 0, int(length($c) / 2)));
        } else {
            _sleep($b->{chunk_delay}, $acceptor) if $b->{chunk_delay} && @chunks;
            _send($sock, "0\r\n\r\n");
        }
    } elsif ($cut) {
        _send($sock, $head . substr($body, 0, int(length($body) / 2)));
    } else {
        _send($sock, $head . $body);
    }
    _hang($acceptor) if $b->{stall_mid_body};
    _finish($sock, $tls);
}

1;
