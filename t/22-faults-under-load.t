# Faults under real load. wrk (one thread, 8 keep-alive connections, each
# pausing a little between requests so the load stays modest on a small
# shared machine) keeps sending tokens minted here while
#  (a) the key server hangs, then answers 500, then rotates keys (k2 added;
#      once nginx has it, tokens of both keys; then only k2 tokens; then k1
#      removed): no request may get anything but 200, because every token
#      sent is signed by a key the key server still publishes and nginx has
#      already seen;
#  (b) nginx is reloaded 15 times, each reload awaited: no non-2xx;
#  (c) one of two workers is killed with SIGKILL: only the connections wrk
#      holds on that worker fail, no non-2xx at all, the master respawns a
#      worker and the new worker serves 200s;
#  (d) worker memory stays flat under a mix of valid, expired, forged,
#      malformed, oversized, unknown-kid, ... tokens while the key set changes
#      at every refresh (see the comment there for the bound).
# And error.log has no [alert]/[crit]/[emerg] except the master's line about
# the killed worker.
#
# Client side: a wrk Lua script reads its tokens from a control file (the
# test rewrites it to change phase) and tallies every response by phase,
# token kind and status; nginx echoes the phase and kind of each request in
# X-Phase/X-Kind headers, so a response is counted in the phase its request
# was sent in. Server side: a load access log with the worker pid.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use POSIX qw(WNOHANG);
use M2MTest qw(now json_text);
use JwksServer;

my $T0 = time;
my $AUD = 'https://api.example.test';
my $ISS = 'https://main.example.test/';
my $CONNS = 8;           # wrk -c
my $DELAY_MS = 2;        # pause of each connection between two requests

my $WRK = '/usr/bin/wrk';
plan skip_all => "wrk not installed ($WRK; Debian package wrk)" unless -x $WRK;

my $t = M2MTest->new(workers => 2);
my $k1 = $t->rsa_key('k1');
my $k2 = $t->rsa_key('k2');
my $k3 = $t->ec_key('k3');
my $k4 = $t->ec_key('k4');
my $forger = $t->rsa_key('k2');    # same kid as k2, another key
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_) } @_ ] }) };

my $srv = JwksServer->new(routes => { '/jwks' => { body => $jwks->($k1) } });
my $base = 'http://127.0.0.1:' . $srv->port;

# keepalive_requests: wrk's connections stay where they are, so in (c) the
# connections the killed worker held are exactly those counted before the
# kill. reuseport: the kernel spreads connections over both workers.
(my $conf = <<'EOF') =~ s/%%SRV%%/$base/g;
    auth_m2m_zone m2m:128k;
    log_format load '$pid $arg_p $arg_k $status $m2m_error';
    auth_m2m_issuer main {
        issuer https://main.example.test/;
        jwks_uri %%SRV%%/jwks;
        audience https://api.example.test;
        refresh 1s;
        fetch_timeout 1s;
    }
    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        root %%DIR%%/html;
        keepalive_requests 1000000;
        location /api/ {
            auth_m2m main;
            access_log %%DIR%%/load.log load;
            add_header X-Phase $arg_p always;
            add_header X-Kind $arg_k always;
            try_files /ok.txt =404;
        }
        location = /status { auth_m2m_status; }
    }
EOF
$t->config($conf);
$t->start;
my $PORT = $t->port;

sub tok {
    my ($key, %claims) = @_;
    return $t->mint(key => $key, claims => { iss => $ISS, aud => $AUD, client_id => 'load', %claims });
}
my %TOK = (k1 => tok($k1), k2 => tok($k2), k3 => tok($k3));

ok($t->wait_issuer('main', sub { $_[0]{generation} >= 1 }, 10), 'first keys fetched')
    or BAIL_OUT('no keys: ' . explain($t->status_json));
is($t->get('/api/x', token => $TOK{k1})->{status}, 200, 'k1 token accepted (no load yet)');

# ------------------------------------------------------------------ the load log
# Read incrementally: $LOG{$phase}{status}{$s}, {kind}{$k}{$s}, {pid}{$pid}{$s}, {n}
my %LOG;
my ($log_off, $log_rest) = (0, '');
sub read_load {
    open my $fh, '<', $t->path('load.log') or return;
    seek $fh, $log_off, 0;
    local $/;
    my $data = <$fh> // '';
    close $fh;
    $log_off += length $data;
    $data = $log_rest . $data;
    my $cut = rindex $data, "\n";
    $log_rest = substr $data, $cut + 1;
    for my $line (split /\n/, substr($data, 0, $cut + 1)) {
        my ($pid, $p, $k, $s, $e) = split / /, $line;
        next unless defined $s;
        my $l = $LOG{$p} //= {};
        $l->{n}++;
        $l->{status}{$s}++;
        $l->{kind}{$k}{$s}++;
        $l->{pid}{$pid}{$s}++;
        $l->{err}{$e}++ if $s ne '200';
        $l->{kerr}{$k}{ !defined $e || $e eq '-' ? '' : $e }++;
    }
}
sub logged { my ($p) = @_; read_load(); return $LOG{$p}{n} // 0 }
sub pid_ok { my ($p, $pid) = @_; read_load(); return $LOG{$p}{pid}{$pid}{200} // 0 }
sub non200 {
    my ($h) = @_;
    my $n = 0;
    $n += $h->{$_} for grep { $_ ne '200' } keys %{ $h // {} };
    return $n;
}
sub counts_text {
    my ($h) = @_;
    return join ' ', map { "$_:$h->{$_}" } sort keys %{ $h // {} };
}

# ------------------------------------------------------------------ wrk driver
my $CTL = $t->path('wrk.ctl');
my $ACK = $t->path('wrk.ack');
my $LUA = $t->path('load.lua');
(my $lua = <<'LUA') =~ s/%%CTL%%/$CTL/;
-- wrk 4.1 script of t/22-faults-under-load.t; needs -t1 (one Lua state).
-- Control file: first line the phase name, then "kind token [close]" lines
-- ("-" = no Authorization header; close: one connection per request); the
-- requests cycle through them.
local ctl_path = "%%CTL%%"
local ack_path = "%%ACK%%"
local phase, list, idx = nil, {}, 0
local old = {}            -- phases before the current one
local built, got = {}, {}
local draining = false
local verifying = false
tally = {}                -- "phase kind status" -> n, read by done()

local function ack(text)
  local f = io.open(ack_path .. ".tmp", "w")
  if f then
    f:write(text, "\n")
    f:close()
    os.rename(ack_path .. ".tmp", ack_path)
  end
end

-- "<phase> drained": every request of an earlier phase has its answer
local function check_drained()
  if not draining then return end
  for p in pairs(old) do
    if (got[p] or 0) < (built[p] or 0) then return end
  end
  draining = false
  ack(phase .. " drained")
end

local function poll_ctl()
  local f = io.open(ctl_path, "r")
  if not f then return end
  local p = f:read("*l")
  if p and p ~= phase then
    local l = {}
    for line in f:lines() do
      local kind, tok, opt = line:match("^(%S+) (%S+) ?(%S*)$")
      if kind then l[#l + 1] = { kind, tok, opt } end
    end
    if #l > 0 then
      if phase then old[phase] = true end
      phase, list, idx = p, l, 0
      draining = true
      ack(phase .. " switched")
      check_drained()
    end
  end
  f:close()
end

-- wrk 4.1 calls request() once after init() to check the request and never
-- sends that one: it must not count as built (were it sent after all, its
-- answer would be counted like any other, and "drained" stays right)
function init(args) verifying = true end

function request()
  poll_ctl()
  idx = idx % #list + 1
  local kind, tok, opt = list[idx][1], list[idx][2], list[idx][3]
  if verifying then
    verifying = false
  else
    built[phase] = (built[phase] or 0) + 1
  end
  local h = {}
  if tok ~= "-" then h["Authorization"] = "Bearer " .. tok end
  if opt == "close" then h["Connection"] = "close" end
  return wrk.format("GET", "/api/x?p=" .. phase .. "&k=" .. kind, h)
end

function delay() return %%DELAY%% end

function response(status, headers, body)
  local p, k = headers["X-Phase"] or "?", headers["X-Kind"] or "?"
  got[p] = (got[p] or 0) + 1
  local key = p .. " " .. k .. " " .. status
  tally[key] = (tally[key] or 0) + 1
  check_drained()
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("M2M errors connect=%d read=%d write=%d status=%d timeout=%d\n",
    e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("M2M summary requests=%d duration_us=%d latency_max_us=%d latency_p99_us=%d\n",
    summary.requests, summary.duration, latency.max, latency:percentile(99)))
  for _, th in ipairs(threads) do
    for key, n in pairs(th:get("tally")) do
      io.write("M2M tally ", key, " ", n, "\n")
    end
  end
end
LUA
$lua =~ s/%%ACK%%/$ACK/;
$lua =~ s/%%DELAY%%/$DELAY_MS/;
$t->write_file('load.lua', $lua);

my %WRK_LIVE;
END { kill 'KILL', $_ for keys %WRK_LIVE }

sub write_ctl {
    my ($phase, @tokens) = @_;    # [kind, token] or [kind, token, "close"]
    $t->write_file('wrk.ctl', join '', "$phase\n", map { join(' ', @$_) . "\n" } @tokens);
}
sub ack_is { my ($want) = @_; my $a = $t->read_file('wrk.ack'); chomp $a; return $a eq $want }

# Starts wrk in phase $phase; returns once nginx has logged a request of it.
sub wrk_start {
    my ($name, $phase, @tokens) = @_;
    write_ctl($phase, @tokens);
    unlink $ACK;
    my $out = $t->path("wrk-$name.out");
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out;
        open STDERR, '>&', \*STDOUT;
        exec $WRK, '-t1', "-c$CONNS", '-d60s', '--timeout', '2s', '-s', $LUA, "http://127.0.0.1:$PORT/"
            or POSIX::_exit(127);
    }
    $WRK_LIVE{$pid} = 1;
    my $w = { pid => $pid, name => $name, out => $out, phases => [$phase] };
    ok($t->poll(10, sub { logged($phase) > 0 }), "$name: wrk (pid $pid) is sending load")
        or diag $t->read_file($out);
    return $w;
}

# Switches the load to phase $phase. drain => 1: also waits until every
# request sent in an earlier phase has been answered.
sub wrk_phase {
    my ($w, $phase, $tokens, %opt) = @_;
    write_ctl($phase, @$tokens);
    push @{ $w->{phases} }, $phase;
    my $ok = $t->poll(5, sub { ack_is("$phase drained") || (!$opt{drain} && ack_is("$phase switched")) });
    ok($ok, "$w->{name}: load switched to phase $phase" . ($opt{drain} ? ', earlier requests all answered' : ''))
        or diag 'ack: ' . $t->read_file('wrk.ack');
    return $ok;
}

# SIGINT makes wrk stop, print its summary and run done(). Returns
# { errors => {connect, read, ...}, requests, latency_max_us, tally => {phase}{kind}{status} }.
sub wrk_stop {
    my ($w) = @_;
    kill 'INT', $w->{pid};
    my $gone = $t->poll(10, sub { waitpid($w->{pid}, WNOHANG) == $w->{pid} });
    my $rc = $?;
    if (!$gone) {
        kill 'KILL', $w->{pid};
        waitpid $w->{pid}, 0;
    }
    delete $WRK_LIVE{ $w->{pid} };
    ok($gone && $rc == 0, "$w->{name}: wrk stopped and exited 0") or diag $t->read_file($w->{out});
    my $out = $t->read_file($w->{out});
    my %r = (tally => {}, errors => {});
    if ($out =~ /^M2M errors (.*)$/m) {
        %{ $r{errors} } = map { split /=/ } split ' ', $1;
    }
    if ($out =~ /^M2M summary (.*)$/m) {
        my %s = map { split /=/ } split ' ', $1;
        @r{keys %s} = values %s;
    }
    while ($out =~ /^M2M tally (\S+) (\S+) (\d+) (\d+)$/mg) {
        $r{tally}{$1}{$2}{$3} += $4;
    }
    ok(defined $r{requests}, "$w->{name}: wrk's done() reported") or diag $out;
    $r{socket_errors} = 0;
    $r{socket_errors} += $r{errors}{$_} // 0 for qw(connect read write timeout);
    return \%r;
}

# statuses of one phase as wrk saw them: {status => n}
sub client_status {
    my ($r, $phase) = @_;
    my %s;
    for my $k (keys %{ $r->{tally}{$phase} // {} }) {
        $s{$_} += $r->{tally}{$phase}{$k}{$_} for keys %{ $r->{tally}{$phase}{$k} };
    }
    return \%s;
}

# Every phase of a run: wrk saw only 200s, nginx logged only 200s.
sub all_200_ok {
    my ($w, $r) = @_;
    read_load();
    for my $p (@{ $w->{phases} }) {
        my $c = client_status($r, $p);
        ok(($c->{200} // 0) > 0 && non200($c) == 0,
            "$w->{name}: phase $p: wrk got only 200 (" . counts_text($c) . ')');
        my $l = $LOG{$p} // {};
        is(non200($l->{status}), 0, "$w->{name}: phase $p: nginx logged no non-200 ("
            . counts_text($l->{status}) . ')') or diag explain $l->{err};
    }
    my @stray = grep { my $p = $_; !grep { $_ eq $p } @{ $w->{phases} } } keys %{ $r->{tally} };
    is(join(' ', @stray), '', "$w->{name}: no answer without its phase header");
    is($r->{errors}{status} // -1, 0, "$w->{name}: wrk counted no status >= 400");
}

sub refresh_lines {
    my ($re) = @_;
    return scalar $t->grep_log(qr/auth_m2m_issuer "main": key refresh from .* failed: $re;/);
}
sub st { return $t->issuer_status('main') // {} }
sub kids { return join ',', sort map { $_->{kid} } @{ $_[0]{keys} // [] } }
# waits for $n more successful fetches than in $s
sub more_ok {
    my ($s, $n) = @_;
    return $t->wait_issuer('main', sub { $_[0]{fetches}{ok} >= ($s->{fetches}{ok} // 0) + $n }, 10);
}

# ================================================================== (a) faults
{
    my $w = wrk_start('faults', 'a0steady', [k1 => $TOK{k1}]);
    my $s0 = st();
    ok(more_ok($s0, 1), 'a0: a refresh succeeded under load');

    # hang: two refreshes time out (fetch_timeout 1s; the first retry 1 s later)
    my $to0 = refresh_lines('timeout');
    $srv->set_route('/jwks', { hang => 1 });
    wrk_phase($w, 'a1hang', [[k1 => $TOK{k1}]]);
    ok($t->poll(10, sub { refresh_lines('timeout') >= $to0 + 2 }), 'a1: two refreshes timed out against the hanging server');

    # 500: one more failure (the retry after 2 s)
    my $e0 = refresh_lines('http_status_500');
    $srv->set_route('/jwks', { status => 500 });
    wrk_phase($w, 'a2e500', [[k1 => $TOK{k1}]]);
    ok($t->poll(10, sub { refresh_lines('http_status_500') >= $e0 + 1 }), 'a2: a refresh failed with 500');
    my $s2 = st();
    is(kids($s2), 'k1', 'a2: k1 kept through the failures (last known good)');
    cmp_ok($s2->{fetches}{failed} - ($s0->{fetches}{failed} // 0), '>=', 3, 'a2: three failed fetches counted');

    # rotation, step 1: k2 published; nginx picks it up at the retry (4 s backoff)
    $srv->set_route('/jwks', { body => $jwks->($k1, $k2) });
    wrk_phase($w, 'a3published', [[k1 => $TOK{k1}]]);
    my $t3 = time;
    my $s3 = $t->wait_issuer('main', sub { kids($_[0]) eq 'k1,k2' }, 10);
    ok($s3, sprintf('a3: the server is healthy again, nginx has k1 and k2 (%.1f s)', time - $t3));

    # step 2: tokens of both keys, across one more refresh
    wrk_phase($w, 'a4both', [[k1 => $TOK{k1}], [k2 => $TOK{k2}]]);
    ok(more_ok($s3 // st(), 1), 'a4: a refresh while tokens of both keys arrive');

    # step 3: only k2 tokens; once no k1 token is in flight, k1 is removed
    wrk_phase($w, 'a5k2only', [[k2 => $TOK{k2}]], drain => 1);
    $srv->set_route('/jwks', { body => $jwks->($k2) });
    my $s5 = $t->wait_issuer('main', sub { kids($_[0]) eq 'k2' }, 5);
    ok($s5, 'a5: k1 removed from the key server, nginx dropped it');

    # step 4: after the removal, across one more refresh
    wrk_phase($w, 'a6removed', [[k2 => $TOK{k2}]]);
    ok(more_ok($s5 // st(), 1), 'a6: a refresh after the removal');
    ok($t->poll(5, sub { logged('a6removed') >= 100 }), 'a6: requests after the removal');

    my $r = wrk_stop($w);
    all_200_ok($w, $r);
    is($r->{socket_errors}, 0, 'faults: no socket error (' . counts_text($r->{errors}) . ')');
    # known kids never wait for a fetch, however the key server misbehaves
    cmp_ok($r->{latency_max_us} // 1e9, '<', 1e6, sprintf('faults: no request waited for the key server '
        . '(latency max %.1f ms < fetch_timeout 1 s)', ($r->{latency_max_us} // 0) / 1000));
    my @reasons = map { /failed: (\w+);/ ? $1 : () }
        $t->grep_log(qr/auth_m2m_issuer "main": key refresh from .* failed: /);
    is(join(',', @reasons), 'timeout,timeout,http_status_500', 'the failures were exactly the faults injected');
    my $r1 = $t->get('/api/x', token => $TOK{k1});
    is($r1->{status}, 401, 'after the run: the removed k1 is refused (so the rotation really happened)');
    diag sprintf('(a) %d requests, latency max %.1f ms, per phase: %s', $r->{requests},
        ($r->{latency_max_us} // 0) / 1000,
        join(' ', map { "$_=" . (client_status($r, $_)->{200} // 0) } @{ $w->{phases} }));
}

# ================================================================== (b) reloads
{
    my $w = wrk_start('reloads', 'b0', [k2 => $TOK{k2}]);
    my %pids_seen;
    my ($ok, @took) = (0);
    for my $i (1 .. 15) {
        my %old = map { $_ => 1 } $t->worker_pids;
        my $t1 = time;
        # awaited: the old workers are gone, two new ones up and one of them
        # has answered a request of the load with 200
        my $done = $t->reload(until => sub {
            return grep { !$old{$_} && pid_ok('b0', $_) > 0 } $t->worker_pids;
        });
        $ok++ if $done;
        push @took, time - $t1;
    }
    is($ok, 15, '15 reloads under load, each awaited until a new worker answered 200');
    my $r = wrk_stop($w);
    all_200_ok($w, $r);
    my $gens = keys %{ $LOG{b0}{pid} // {} };
    cmp_ok($gens, '>=', 16, "workers of every generation answered ($gens worker pids)");
    # A worker leaving after a reload closes its idle keep-alive connections;
    # wrk may have written its next request into one of them already: that is
    # a socket error, not an answer, and nginx's, not the module's. Once per
    # connection per reload, and now and then once more: a connection wrk
    # opens again can land in the old worker's reuseport accept queue just
    # as that worker closes it (seen: 120 to 122 read errors for 8 x 15).
    cmp_ok($r->{socket_errors}, '<=', 2 * $CONNS * 15, 'reloads: socket errors at most two per connection and reload ('
        . counts_text($r->{errors}) . ')');
    is(($r->{errors}{timeout} // -1) + ($r->{errors}{connect} // -1), 0,
        'reloads: no request timed out (2 s), no connection refused');
    diag sprintf('(b) %d requests, socket errors %d (%s), reloads took %.2f..%.2f s, latency max %.1f ms',
        $r->{requests}, $r->{socket_errors}, counts_text($r->{errors}),
        (sort { $a <=> $b } @took)[0], (sort { $a <=> $b } @took)[-1], ($r->{latency_max_us} // 0) / 1000);
}

# ================================================================== (c) a worker killed
# ESTABLISHED connections to nginx's port held by each worker: {pid => n}
sub conns_per_worker {
    my %inode;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $file or next;
        <$fh>;
        while (my $l = <$fh>) {
            my @f = split ' ', $l;
            next unless @f > 9 && $f[3] eq '01';
            my ($lport) = $f[1] =~ /:([0-9A-Fa-f]{4})$/ or next;
            $inode{ $f[9] } = 1 if hex($lport) == $PORT && $f[9];
        }
    }
    my %n;
    for my $pid ($t->worker_pids) {
        $n{$pid} = 0;
        opendir my $d, "/proc/$pid/fd" or next;
        for my $fd (readdir $d) {
            my $link = readlink("/proc/$pid/fd/$fd") // next;
            $n{$pid}++ if $link =~ /^socket:\[(\d+)\]$/ && $inode{$1};
        }
    }
    return \%n;
}

my $victim = 0;
{
    my $w = wrk_start('kill', 'c0', [k2 => $TOK{k2}]);
    my @before = $t->worker_pids;
    is(scalar @before, 2, 'two workers');
    my $held;
    ok($t->poll(5, sub { $held = conns_per_worker(); my $s = 0; $s += $_ for values %$held; $s == $CONNS }),
        "wrk's $CONNS connections are established (" . counts_text($held) . ')');
    ($victim) = sort { $held->{$b} <=> $held->{$a} } keys %$held;
    my $n_held = $held->{$victim} // 0;
    my ($survivor) = grep { $_ != $victim } @before;
    cmp_ok($n_held, '>=', 1, "worker $victim holds $n_held of wrk's connections");
    ok(kill('KILL', $victim), "SIGKILL to worker $victim under load");
    my $t_kill = time;
    # from now on one connection per request: the kernel hashes new
    # connections over both workers' sockets, so the new worker gets its
    # share (kept-alive ones would stay where they are)
    wrk_phase($w, 'c1', [[k2 => $TOK{k2}, 'close']]);
    my $new;
    ok($t->poll(5, sub { ($new) = grep { $_ != $victim && $_ != $survivor } $t->worker_pids; $new }),
        sprintf('the master respawned a worker (%s, %.2f s)', $new // 'none', time - $t_kill));
    $new //= 0;
    ok($t->poll(10, sub { pid_ok('c1', $new) >= 50 }), "the new worker $new answers (50 requests with 200)");
    my $surv0 = pid_ok('c1', $survivor);
    ok($t->poll(5, sub { pid_ok('c1', $survivor) > $surv0 || pid_ok('c1', $new) >= 100 }),
        'requests keep succeeding');
    my $r = wrk_stop($w);
    all_200_ok($w, $r);
    cmp_ok($r->{socket_errors}, '<=', $n_held, "socket errors ($r->{socket_errors}: "
        . counts_text($r->{errors}) . ") bounded by the $n_held connections the killed worker held");
    for my $p (qw(c0 c1)) {
        my $sv = $LOG{$p}{pid}{$survivor} // {};
        is(non200($sv), 0, "$p: survivor $survivor answered only 200 (" . counts_text($sv) . ')');
    }
    is(join(' ', sort { $a <=> $b } $t->worker_pids), join(' ', sort { $a <=> $b } $survivor, $new),
        'workers now: the survivor and the new one');
    diag sprintf('(c) %d requests, victim held %d connections, socket errors %d (%s); '
        . 'after the kill: survivor %d x 200, new worker %d x 200', $r->{requests}, $n_held,
        $r->{socket_errors}, counts_text($r->{errors}), pid_ok('c1', $survivor), pid_ok('c1', $new));
}

# ================================================================== (d) memory
# Mixed tokens: every refusal path (and a kid-triggered fetch with requests
# waiting for it) plus a key set that changes at every refresh (two bodies of
# 24 KiB alternate, so each refresh writes a new set into the zone and every
# worker re-imports it).
{
    my $pad = 24 * 1024;
    my @bodies = map { { body => $_, size => $pad } } ($jwks->($k2, $k3), $jwks->($k2, $k3, $k4));
    $srv->set_route('/jwks', { sequence => [ map { $bodies[$_ % 2] } 0 .. 199 ] });
    my $sd = $t->wait_issuer('main', sub { kids($_[0]) =~ /k3/ }, 5);
    ok($sd, 'd: the 24 KiB key sets are served and taken');
    $sd //= {};

    my $big = tok($k2, pad => 'x' x 9000);
    my @mix = (
        [valid_rs  => $TOK{k2}],
        [valid_es  => $TOK{k3}],
        [expired   => tok($k2, exp => now() - 3600, iat => now() - 7200)],
        [forged    => tok($forger)],
        [malformed => 'abc.def.ghi'],
        [valid_rs  => $TOK{k2}],
        [badchar   => 'not@a-token'],
        [unknown   => $t->mint(key => $k2, kid => 'nope', claims => { iss => $ISS, aud => $AUD })],
        [wrong_aud => tok($k3, aud => 'https://other.example.test')],
        [none      => '-'],
        [valid_es  => $TOK{k3}],
        [too_large => $big],
        [alg_none  => $t->raw_token(header => { alg => 'none', kid => 'k2' }, claims => { iss => $ISS, aud => $AUD })],
        [jwe       => $t->jwe($k2, { iss => $ISS, aud => $AUD, exp => now() + 600 })],
        [removed   => $TOK{k1}],
    );
    my %valid = (valid_rs => 1, valid_es => 1);
    my %reason = (valid_rs => '', valid_es => '', expired => 'expired', forged => 'bad_signature',
        malformed => 'malformed', badchar => 'bad_authorization', unknown => 'unknown_kid',
        wrong_aud => 'wrong_audience', none => 'missing_token', too_large => 'token_too_large',
        alg_none => 'alg_not_allowed', jwe => 'jwe_not_supported', removed => 'unknown_kid');

    my $w = wrk_start('memory', 'd0warm', @mix);
    my @workers = $t->worker_pids;
    # warm-up: every worker has served 3000 requests and seen 2 new key sets
    my $g0 = st()->{generation};
    ok($t->poll(20, sub { !(grep { sum_pid('d0warm', $_) < 3000 } @workers)
        && st()->{generation} >= $g0 + 2 }), 'd0: warm-up done') or diag explain $LOG{d0warm}{pid};
    my %rss0 = map { $_ => rss($_) } @workers;
    my $sw = st();

    wrk_phase($w, 'd1measure', \@mix);
    # the measured run: 12000 more requests per worker, 8 new key sets
    ok($t->poll(30, sub { !(grep { sum_pid('d1measure', $_) < 12000 } @workers)
        && st()->{generation} >= $sw->{generation} + 8 }), 'd1: measured run done')
        or diag explain [$LOG{d1measure}{pid}, st()];
    my %rss1 = map { $_ => rss($_) } @workers;
    my $se = st();
    my $r = wrk_stop($w);

    is(join(' ', $t->worker_pids), join(' ', @workers), 'd: same workers throughout (no crash)');
    for my $p (qw(d0warm d1measure)) {
        my %bad;
        for my $k (keys %{ $r->{tally}{$p} // {} }) {
            my $st = $r->{tally}{$p}{$k};
            $bad{$k} = counts_text($st) if $valid{$k} ? non200($st) : ($st->{200} // 0);
        }
        is(join('; ', map { "$_ $bad{$_}" } sort keys %bad), '',
            "$p: valid tokens always 200, the others never (" . counts_text(client_status($r, $p)) . ')');
    }
    # every refusal path was taken, each kind for its own reason ($m2m_error in the load log)
    read_load();
    my %wrong;
    for my $p (qw(d0warm d1measure)) {
        for my $k (sort keys %reason) {
            my $got = join ',', sort keys %{ $LOG{$p}{kerr}{$k} // {} };
            $wrong{"$p $k"} = "'$got'" if $got ne $reason{$k};
        }
    }
    is(join('; ', map { "$_ $wrong{$_}" } sort keys %wrong), '', 'd: each kind of token refused for its own reason, the valid ones never');
    is($se->{fetches}{failed}, $sd->{fetches}{failed}, 'd: no refresh failed (no zone_full: the zone does not leak key sets)')
        or diag explain [$se, $t->grep_log(qr/key refresh from .* failed/)];
    my $sets = $se->{generation} - $sw->{generation};
    # 128 KiB zone, 24 KiB sets: were old sets not freed, it would be full after a few
    cmp_ok($sets, '>=', 8, "d1: $sets new key sets of 24 KiB went through the 128 KiB zone");

    # The bound, 1 MiB. In d1 each worker serves >= 12000 requests (about
    # 3/4 of them refused, through every refusal path: each a full parse
    # and an info line in error.log) and re-imports >= 8 key sets. After a
    # warm-up with the same mix, VmRSS moved by 0 to +140 kB in 16 runs on the
    # 2-core machine (two of them with another copy of this file running
    # alongside). 1 MiB over 12000 requests fails any leak of ~88 bytes or
    # more per request: a module built with a 96-byte malloc() leak in the
    # access handler failed here (+1308 to +1576 kB), one with 256 bytes by
    # +3.3 MB. A leak in the workers' re-import would have to lose >= ~110
    # KiB per key set to show; a leak of the shared copy is what the zone
    # check above catches (a module that never freed the old set in the zone
    # failed it: zone_full after three or four sets).
    my $BOUND_KB = 1024;
    SKIP: {
    # ASan holds up to 256 MB of freed memory aside (its quarantine) to catch
    # use after free: RSS grows by design there, so this bound holds only in
    # the plain run
    skip 'worker RSS is not flat under ASan (quarantine); the plain run checks it', scalar @workers
        if $ENV{M2M_ASAN};
    for my $pid (@workers) {
        my $grow = $rss1{$pid}{VmRSS} - $rss0{$pid}{VmRSS};
        my $n = sum_pid('d1measure', $pid);
        cmp_ok($grow, '<', $BOUND_KB, sprintf('worker %d: VmRSS %d -> %d kB (%+d kB, RssAnon %+d kB) over %d requests',
            $pid, $rss0{$pid}{VmRSS}, $rss1{$pid}{VmRSS}, $grow,
            $rss1{$pid}{RssAnon} - $rss0{$pid}{RssAnon}, $n));
    }
    }
    diag sprintf('(d) %d requests, %d key sets in d1, socket errors %d', $r->{requests}, $sets, $r->{socket_errors});
}

sub sum_pid {
    my ($p, $pid) = @_;
    read_load();
    my $n = 0;
    $n += $_ for values %{ $LOG{$p}{pid}{$pid} // {} };
    return $n;
}

sub rss {
    my ($pid) = @_;
    my %m = (VmRSS => 0, RssAnon => 0);
    open my $fh, '<', "/proc/$pid/status" or return \%m;
    while (my $l = <$fh>) {    # not $_: callers map over pids with $_
        $m{$1} = $2 if $l =~ /^(VmRSS|RssAnon):\s+(\d+) kB/;
    }
    return \%m;
}

cmp_ok(time - $T0, '<', 60, sprintf('file took %.1f s', time - $T0));
# The master reports the killed worker at [alert]: expected, and only that.
$t->no_alerts_ok(allow => [qr/\[alert\] \d+#\d+: worker process $victim exited on signal 9$/]);
$srv->stop;
done_testing;
