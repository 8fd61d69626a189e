package TestDns;

# A tiny authoritative DNS server for the t/ suite, on 127.0.0.1 (UDP, and
# TCP on the same port, as Net::DNS::Nameserver binds both), for testing
# nginx's `resolver`. Names ending in the zone suffix (default ".m2m.test")
# have an A record 127.0.0.1 (TTL 1) and no other record; every other name is
# NXDOMAIN. Every query received is counted, so a test can assert that nginx
# really asked.
#
#   my $dns = TestDns->new;                  # or new(suffix => '.x.test', ttl => 5)
#   ... resolver 127.0.0.1:${\ $dns->port} valid=1s ipv6=off; ...
#   $dns->wait_for_count('keys.m2m.test', 1, 5) or fail;
#   $dns->count;                             # all queries so far
#   $dns->count('keys.m2m.test', 'A');       # by name (case-insensitive), type
#   my @q = $dns->queries('keys.m2m.test');  # { name, type, class, rcode, time, peer }
#   $dns->stop;                              # also on DESTROY / END
#
# The sockets are bound in the parent before the server process is forked,
# so the server answers as soon as new() returns. Each query is appended to
# queries.log in the server's dir (one JSON line, one write) before the
# answer is sent. Needs Net::DNS (Debian: libnet-dns-perl).

use strict;
use warnings;

use Fcntl qw(O_WRONLY O_APPEND O_CREAT);
use File::Temp qw(tempdir);
use IO::Socket::IP;
use JSON::PP;
use Net::DNS;
use Net::DNS::Nameserver;
use POSIX ();
use Scalar::Util qw(weaken);
use Socket qw(SOCK_DGRAM SOCK_STREAM);
use Time::HiRes ();

my @LIVE;    # weak references to every server this process started
my $JSON = JSON::PP->new->canonical;

# new(%opt): port (default: a free one), suffix (default '.m2m.test'),
# address (the A record, default 127.0.0.1), ttl (default 1), dir.
sub new {
    my ($class, %opt) = @_;
    my $dir = $opt{dir} // tempdir('test-dns-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{M2M_KEEP});
    my $self = bless {
        dir     => $dir,
        owner   => $$,
        suffix  => lc($opt{suffix} // '.m2m.test'),
        address => $opt{address} // '127.0.0.1',
        ttl     => $opt{ttl} // 1,
    }, $class;
    my $log = "$dir/queries.log";
    open my $fh, '>>', $log or die "TestDns: $log: $!";
    close $fh;

    my ($ns, $port);
    for my $try (1 .. 20) {
        $port = $opt{port} // _free_port();
        local $SIG{__WARN__} = sub { };    # "Couldn't create TCP socket" on a clash
        $ns = Net::DNS::Nameserver->new(
            LocalAddr    => '127.0.0.1',
            LocalPort    => $port,
            ReplyHandler => sub { $self->_reply(@_) },
            Verbose      => 0,
        );
        last if $ns && grep { $_->socktype == SOCK_DGRAM } $ns->{select}->handles;
        _close_all($ns) if $ns;
        undef $ns;
        last if $opt{port};
    }
    die "TestDns: cannot listen on 127.0.0.1 (UDP)\n" unless $ns;
    $self->{port} = $port;

    my $pid = fork // die "TestDns: fork: $!";
    if (!$pid) {
        # the test's signal handlers (M2MTest turns TERM into exit) and END
        # blocks are not for this process
        $SIG{$_} = 'DEFAULT' for qw(TERM INT HUP PIPE);
        eval { $ns->main_loop; 1 } or do {
            if (open my $e, '>>', "$dir/server.log") { print $e "server died: $@\n" }
        };
        POSIX::_exit(1);
    }
    _close_all($ns);    # the child has them
    $self->{pid} = $pid;
    push @LIVE, $self;
    weaken($LIVE[-1]);
    return $self;
}

sub _free_port {
    my $s = IO::Socket::IP->new(LocalHost => '127.0.0.1', LocalPort => 0, Proto => 'udp')
        or die "TestDns: cannot bind a UDP port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub _close_all {
    my ($ns) = @_;
    for my $h ($ns->{select}->handles) {
        $ns->{select}->remove($h);
        close $h;
    }
}

# In the server process: count the query, then answer it.
sub _reply {
    my ($self, $qname, $qclass, $qtype, $peer) = @_;
    my $name = lc $qname;
    $name =~ s/\.$//;
    my $suffix = $self->{suffix};
    my $in_zone = length($name) > length($suffix) && substr($name, -length $suffix) eq $suffix;
    my $rcode = $in_zone ? 'NOERROR' : 'NXDOMAIN';
    my @ans;
    if ($in_zone && $qtype eq 'A' && $qclass eq 'IN') {
        push @ans, Net::DNS::RR->new(name => $qname, type => 'A', class => 'IN',
            ttl => $self->{ttl}, address => $self->{address});
    }
    my $line = $JSON->encode({ name => $name, type => $qtype, class => $qclass,
        rcode => $rcode, answers => scalar @ans, peer => $peer, time => Time::HiRes::time() }) . "\n";
    if (sysopen my $fh, "$self->{dir}/queries.log", O_WRONLY | O_APPEND | O_CREAT) {
        syswrite $fh, $line;
        close $fh;
    }
    return ($rcode, \@ans, [], [], { aa => 1 });
}

sub port { return $_[0]{port} }
sub dir  { return $_[0]{dir} }
sub pid  { return $_[0]{pid} }
sub running { return defined $_[0]{pid} }

# queries() or queries($name[, $type]): every query received so far, oldest
# first, as { name (lower case, no trailing dot), type, class, rcode,
# answers, peer, time }.
sub queries {
    my ($self, $name, $type) = @_;
    open my $fh, '<', "$self->{dir}/queries.log" or return ();
    local $/;
    my $all = <$fh> // '';
    close $fh;
    my @lines = split /\n/, $all, -1;
    pop @lines;    # after the last "\n": empty, or a line still being written
    my @q = map { $JSON->decode($_) } @lines;
    if (defined $name) {
        (my $n = lc $name) =~ s/\.$//;
        @q = grep { $_->{name} eq $n } @q;
    }
    @q = grep { $_->{type} eq uc $type } @q if defined $type;
    return @q;
}

# count() (all queries), count($name) or count($name, $type).
sub count {
    my ($self, $name, $type) = @_;
    return scalar $self->queries($name, $type);
}

# wait_for_count($name, $n[, $timeout]): polls every 10 ms until at least $n
# queries for $name (undef: any name) arrived, or $timeout (default 5) s
# pass. Returns 1 or 0.
sub wait_for_count {
    my ($self, $name, $n, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 5);
    while (1) {
        return 1 if $self->count($name) >= $n;
        return 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.01);
    }
}

# Kills the server process; bounded; idempotent. True if it is gone.
sub stop {
    my ($self) = @_;
    return 1 unless $self->{owner} == $$;
    my $pid = delete $self->{pid} or return 1;
    local ($?, $!);
    for my $sig ('TERM', 'KILL') {
        kill $sig, $pid;
        my $deadline = Time::HiRes::time() + 5;
        while (Time::HiRes::time() < $deadline) {
            return 1 if waitpid($pid, POSIX::WNOHANG()) != 0;
            Time::HiRes::sleep(0.005);
        }
    }
    return 0;
}

sub DESTROY {
    my ($self) = @_;
    $self->stop if $self->{owner} && $self->{owner} == $$;
}

END {
    for my $s (grep { defined } @LIVE) {
        $s->stop if $s->{owner} == $$;
    }
}

1;
