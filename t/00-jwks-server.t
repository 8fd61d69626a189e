# Self-test of t/lib/JwksServer.pm, the loopback JWKS server the remote-key
# tests drive: every behaviour, checked with HTTP::Tiny and raw sockets (and
# curl for TLS), with real values. No nginx and no module needed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::IP;
use JSON::PP qw(decode_json);
use POSIX qw(WNOHANG);
use File::Temp qw(tempdir);
use Time::HiRes qw(time);
use JwksServer;

my $T0 = time;
my ($r, $bytes);
my $JWKS = '{"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0"}]}';

sub http { return HTTP::Tiny->new(keep_alive => 0, timeout => 5, max_redirect => 0, @_) }

# Sends $req on a fresh connection and reads until EOF or $timeout seconds.
# Returns (bytes, eof) — eof false means the server was still holding on.
sub raw {
    my ($port, $req, $timeout) = @_;
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
        or die "connect: $!";
    syswrite $s, $req;
    my ($buf, $eof) = ('', 0);
    my $sel = IO::Select->new($s);
    my $deadline = time + ($timeout // 5);
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread $s, $buf, 65536, length $buf;
        if (!$n) { $eof = 1; last }
    }
    close $s;
    return ($buf, $eof);
}

sub get_req { my ($path, @h) = @_; return "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n" . join('', map {"$_\r\n"} @h) . "Connection: close\r\n\r\n" }

sub split_response {
    my ($bytes) = @_;
    my ($head, $body) = split /\r\n\r\n/, $bytes, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.1 (\d{3}) };
    my %h;
    for (split /\r\n/, $head // '') {
        $h{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($status, \%h, $body // '');
}

sub dechunk {
    my ($body) = @_;
    my ($out, @sizes, $last) = ('');
    while ($body =~ s/^([0-9a-fA-F]+)\r\n//) {
        my $n = hex $1;
        push @sizes, $n;
        if ($n == 0) { $last = 1; last }
        $out .= substr($body, 0, $n, '');
        $body =~ s/^\r\n// or last;
    }
    return ($out, \@sizes, $last, $body);
}

# ------------------------------------------------------------------ basics
my $srv = JwksServer->new(routes => { '/jwks' => { body => $JWKS } });
ok($srv->port > 1024, 'listens on a free port: ' . $srv->port);
is($srv->url('/jwks'), 'http://127.0.0.1:' . $srv->port . '/jwks', 'url');
is($srv->url('/x', 'localhost'), 'http://localhost:' . $srv->port . '/x', 'url with a host');
ok(kill(0, $srv->pid), 'server process alive');

$r = http->get($srv->url("/jwks"));
is($r->{status}, 200, 'status 200');
is($r->{content}, $JWKS, 'the JWK Set verbatim');
is($r->{headers}{'content-type'}, 'application/json', 'Content-Type');
is($r->{headers}{'content-length'}, length $JWKS, 'Content-Length');
is($r->{headers}{connection}, 'close', 'Connection: close');
ok(!exists $r->{headers}{'cache-control'}, 'no Cache-Control unless told');

$r = http->get($srv->url('/nothing'));
is($r->{status}, 404, 'unknown path: 404');
is($srv->count('/jwks'), 1, 'count /jwks');
is($srv->count('/nothing'), 1, 'count /nothing');
is($srv->count, 2, 'count of all requests');

# set_route is in force for the very next request, every time
my $fresh = 1;
for my $i (1 .. 25) {
    $srv->set_route('/jwks', { json => { keys => [], gen => $i } });
    my $c = http->get($srv->url('/jwks'))->{content};
    $fresh = 0, diag("round $i got $c") unless $c eq qq({"gen":$i,"keys":[]});
}
ok($fresh, 'set_route takes effect for the next request (25 rounds)');
is($srv->count('/jwks'), 26, 'counted every one');

eval { $srv->set_route('/jwks', { bdoy => 'x' }) };
like($@, qr/unknown behaviour 'bdoy'/, 'typos in a behaviour die');

# query strings: routes by path, count by path or full target
$srv->set_route('/q', { body => 'path' });
$srv->set_route('/q?v=2', { body => 'target' });
is(http->get($srv->url('/q?v=1'))->{content}, 'path', 'route by path ignores the query');
is(http->get($srv->url('/q?v=2'))->{content}, 'target', 'a route for the full target wins');
is($srv->count('/q'), 2, 'count by path');
is($srv->count('/q?v=2'), 1, 'count by full target');

# ------------------------------------------------------------------ request log
$r = http->get($srv->url('/jwks'), { headers => { 'If-None-Match' => '"abc"', 'X-Test' => 'one' } });
my $last = $srv->last_request('/jwks');
is($last->{method}, 'GET', 'logged method');
is($last->{path}, '/jwks', 'logged path');
is($last->{headers}{'if-none-match'}, '"abc"', 'logged If-None-Match');
is($last->{headers}{'x-test'}, 'one', 'logged another header');
like($last->{head}, qr{^GET /jwks HTTP/1\.1\r\n.*\r\n\r\n$}s, 'raw request head kept');
is($last->{status}, 200, 'logged the answer it chose');
my @all = $srv->requests;
is(scalar @all, $srv->count, 'requests() lists them all');
is($all[0]{path}, '/jwks', 'oldest first');

# ------------------------------------------------------------------ caching headers
$srv->set_route('/c', { body => $JWKS, cache_control => 'max-age=120', etag => 'v1',
    last_modified => 784111777 });
$r = http->get($srv->url('/c'));
is($r->{headers}{'cache-control'}, 'max-age=120', 'Cache-Control: max-age');
is($r->{headers}{etag}, '"v1"', 'ETag (quoted)');
is($r->{headers}{'last-modified'}, 'Sun, 06 Nov 1994 08:49:37 GMT', 'Last-Modified from epoch');

$r = http->get($srv->url('/c'), { headers => { 'If-None-Match' => '"v1"' } });
is($r->{status}, 304, 'If-None-Match match: 304');
is($r->{content} // '', '', '304 has no body');
($bytes) = raw($srv->port, get_req('/c', 'If-None-Match: "v1"'));
like($bytes, qr{^HTTP/1\.1 304 Not Modified\r\n.*\r\n\r\n\z}s, '304: head only, no body bytes');
unlike($bytes, qr/Content-Length|Transfer-Encoding/i, '304: no framing headers');
is($r->{headers}{etag}, '"v1"', '304 repeats the ETag');
is($r->{headers}{'cache-control'}, 'max-age=120', '304 repeats Cache-Control');
is($srv->last_request('/c')->{status}, 304, 'log says 304');
is(http->get($srv->url('/c'), { headers => { 'If-None-Match' => 'W/"v0", W/"v1"' } })->{status},
    304, 'weak comparison in a list');
is(http->get($srv->url('/c'), { headers => { 'If-None-Match' => '"v2"' } })->{status},
    200, 'other ETag: 200');
is(http->get($srv->url('/c'), { headers => { 'If-None-Match' => '"v2"',
    'If-Modified-Since' => 'Sun, 06 Nov 1994 08:49:37 GMT' } })->{status},
    200, 'If-None-Match wins over If-Modified-Since');
is(http->get($srv->url('/c'), { headers => { 'If-Modified-Since' => 'Sun, 06 Nov 1994 08:49:37 GMT' } })->{status},
    304, 'If-Modified-Since equal: 304');
is(http->get($srv->url('/c'), { headers => { 'If-Modified-Since' => 'Mon, 07 Nov 1994 00:00:00 GMT' } })->{status},
    304, 'If-Modified-Since later: 304');
is(http->get($srv->url('/c'), { headers => { 'If-Modified-Since' => 'Sat, 05 Nov 1994 00:00:00 GMT' } })->{status},
    200, 'If-Modified-Since earlier: 200');
$srv->set_route('/c', { body => $JWKS, etag => '"v1"', no_304 => 1 });
$r = http->get($srv->url('/c'), { headers => { 'If-None-Match' => '"v1"' } });
is($r->{status}, 200, 'no_304: always 200');
is($r->{headers}{etag}, '"v1"', 'no_304: still sends ETag');

# ------------------------------------------------------------------ status, headers, HEAD
$srv->set_route('/e', { status => 500 });
$r = http->get($srv->url('/e'));
is($r->{status}, 500, 'status 500');
is($r->{reason}, 'Internal Server Error', 'reason phrase');
like($r->{content}, qr/500/, 'default error body');
$srv->set_route('/e', { status => 503, body => 'down', content_type => 'text/plain',
    headers => { 'Retry-After' => 7, 'X-Multi' => ['a', 'b'] } });
$r = http->get($srv->url('/e'));
is($r->{status}, 503, 'status 503');
is($r->{content}, 'down', 'given error body');
is($r->{headers}{'content-type'}, 'text/plain', 'content_type');
is($r->{headers}{'retry-after'}, 7, 'extra header');
is_deeply($r->{headers}{'x-multi'}, ['a', 'b'], 'repeated header');
($bytes) = raw($srv->port, "HEAD /jwks HTTP/1.1\r\nHost: x\r\n\r\n");
my ($st, $hd, $bd) = split_response($bytes);
is($st, 200, 'HEAD: 200');
is($hd->{'content-length'}, length $srv->route('/jwks')->{body}, 'HEAD: Content-Length of the body');
is($bd, '', 'HEAD: no body');

# ------------------------------------------------------------------ sequence
$srv->set_route('/s', { sequence => [ { status => 500 }, { body => 'two' }, { body => 'three' } ] });
is(http->get($srv->url('/s'))->{status}, 500, 'sequence: first');
is(http->get($srv->url('/s'))->{content}, 'two', 'sequence: second');
is(http->get($srv->url('/s'))->{content}, 'three', 'sequence: third');
is(http->get($srv->url('/s'))->{content}, 'three', 'sequence: the last repeats');
is($srv->last_request('/s')->{seq}, 4, 'sequence number logged');
$srv->set_route('/s', { sequence => [ { body => 'again' }, { body => 'later' } ] });
is(http->get($srv->url('/s'))->{content}, 'again', 'set_route restarts a sequence');

# ------------------------------------------------------------------ delay
$srv->set_route('/slow', { body => $JWKS, delay => 0.6 });
my $t = time;
$r = http->get($srv->url('/slow'));
my $took = time - $t;
is($r->{content}, $JWKS, 'delay: body arrives');
ok($took >= 0.6 && $took < 3, sprintf 'delay: took %.2fs', $took);

# ------------------------------------------------------------------ hang, and concurrency
$srv->set_route('/hang', { hang => 1 });
my @hung;
for (1 .. 4) {
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $srv->port) or die $!;
    syswrite $s, get_req('/hang');
    push @hung, $s;
}
ok($srv->wait_for_count('/hang', 4, 5), 'hang: all four requests counted before any answer');
$t = time;
$r = http->get($srv->url('/jwks'));
is($r->{status}, 200, 'another request is served while four hang');
ok(time - $t < 1, 'and not delayed by them');
ok(!IO::Select->new(@hung)->can_read(0.3), 'hang: no byte, no close on any of them');

# ------------------------------------------------------------------ close, garbage
$srv->set_route('/closed', { close => 1 });
($bytes, my $eof) = raw($srv->port, get_req('/closed'));
is($bytes, '', 'close: no byte');
ok($eof, 'close: connection closed');
is(http->get($srv->url('/closed'))->{status}, 599, 'close: HTTP::Tiny fails');

$srv->set_route('/g', { garbage => 1 });
($bytes, $eof) = raw($srv->port, get_req('/g'));
ok(length $bytes > 10 && $bytes !~ m{^HTTP/}, 'garbage: non-HTTP bytes');
ok($eof, 'garbage: then closed');
is(http->get($srv->url('/g'))->{status}, 599, 'garbage: HTTP::Tiny fails');
$srv->set_route('/g', { garbage => "HTTP/9.9 999 Nope\r\n\r\n" });
is((raw($srv->port, get_req('/g')))[0], "HTTP/9.9 999 Nope\r\n\r\n", 'garbage: given bytes');

# ------------------------------------------------------------------ close_mid_body, stall_mid_body
my $big = '{"keys":[' . join(',', map { qq({"kid":"k$_","kty":"oct","k":"AAAA"}) } 1 .. 50) . ']}';
$srv->set_route('/cut', { body => $big, close_mid_body => 1 });
($bytes, $eof) = raw($srv->port, get_req('/cut'));
($st, $hd, $bd) = split_response($bytes);
is($st, 200, 'close_mid_body: 200');
is($hd->{'content-length'}, length $big, 'close_mid_body: Content-Length of the whole body');
ok(length $bd > 0 && length $bd < length $big, sprintf 'close_mid_body: %d of %d bytes', length $bd, length $big);
is($bd, substr($big, 0, length $bd), 'close_mid_body: a prefix of the body');
ok($eof, 'close_mid_body: then closed');
is(http->get($srv->url('/cut'))->{status}, 599, 'close_mid_body: HTTP::Tiny fails');

$srv->set_route('/stall', { body => $big, stall_mid_body => 1 });
($bytes, $eof) = raw($srv->port, get_req('/stall'), 0.5);
($st, $hd, $bd) = split_response($bytes);
ok($st == 200 && length $bd < length $big && length $bd > 0, 'stall_mid_body: headers and part of the body');
ok(!$eof, 'stall_mid_body: connection held open');

# ------------------------------------------------------------------ chunked
$srv->set_route('/ch', { body => $big, chunked => 5, cache_control => 'max-age=90' });
($bytes, $eof) = raw($srv->port, get_req('/ch'));
($st, $hd, $bd) = split_response($bytes);
is($hd->{'transfer-encoding'}, 'chunked', 'chunked: Transfer-Encoding');
ok(!exists $hd->{'content-length'}, 'chunked: no Content-Length');
my ($dec, $sizes, $term, $rest) = dechunk($bd);
is($dec, $big, 'chunked: body reassembles');
is(scalar(grep { $_ } @$sizes), 5, 'chunked: in five chunks');
ok($term && $rest eq "\r\n", 'chunked: last chunk and final CRLF');
$r = http->get($srv->url('/ch'));
is($r->{content}, $big, 'chunked: HTTP::Tiny decodes it');
is($r->{headers}{'cache-control'}, 'max-age=90', 'chunked: with Cache-Control');

$srv->set_route('/ch', { body => $big, chunked => 1, chunk_delay => 0.1 });
$t = time;
$r = http->get($srv->url('/ch'));
is($r->{content}, $big, 'chunk_delay: body intact');
ok(time - $t >= 0.3, 'chunk_delay: three chunks paced');

$srv->set_route('/ch', { body => $big, chunked => 4, close_mid_body => 1 });
($bytes, $eof) = raw($srv->port, get_req('/ch'));
($st, $hd, $bd) = split_response($bytes);
($dec, $sizes, $term) = dechunk($bd);
ok(!$term, 'chunked close_mid_body: no last chunk');
ok(length($bd) < length($big) * 3 / 4 && length($bd) > length($big) / 3, sprintf "chunked close_mid_body: cut (%d bytes)", length $bd) or diag $bd; ok($eof, "chunked close_mid_body: closed");
is(http->get($srv->url('/ch'))->{status}, 599, 'chunked close_mid_body: HTTP::Tiny fails');

# ------------------------------------------------------------------ no_length
$srv->set_route('/nl', { body => $big, no_length => 1 });
($bytes, $eof) = raw($srv->port, get_req('/nl'));
($st, $hd, $bd) = split_response($bytes);
ok(!exists $hd->{'content-length'} && !exists $hd->{'transfer-encoding'}, 'no_length: no framing headers');
is($bd, $big, 'no_length: body up to the close');
ok($eof, 'no_length: closed');

# ------------------------------------------------------------------ size
my $MiB5 = 5 * 1024 * 1024;
$srv->set_route('/huge', { body => $JWKS, size => $MiB5 });
$r = http->get($srv->url('/huge'));
is(length $r->{content}, $MiB5, 'size: exactly 5 MiB');
is($r->{headers}{'content-length'}, $MiB5, 'size: Content-Length');
# (JSON::PP takes seconds on 5 MiB: check the pad member by pattern, the rest by parsing)
my ($pad, $obj) = $r->{content} =~ /^\{"_pad":"(x*)",(.*)\z/s;
ok(defined $pad && length $pad > $MiB5 - 100, 'size: padded with a "_pad" string member');
my $doc = eval { decode_json("{" . ($obj // "")) };
ok($doc && $doc->{keys}[0]{kid} eq 'k1', 'size: the rest is the JWK Set: valid JSON');
$srv->set_route('/huge', { body => $JWKS, size => $MiB5, valid_json => 0, chunked => 8 });
$r = http->get($srv->url('/huge'));
is(length $r->{content}, $MiB5, 'size, chunked: 5 MiB');
is(substr($r->{content}, 0, length $JWKS), $JWKS, 'valid_json => 0: the body first');
is(substr($r->{content}, length $JWKS, 10), 'x' x 10, 'valid_json => 0: then bytes after the JSON');
ok($r->{content} =~ /\A\Q$JWKS\Ex+\z/, 'valid_json => 0: not JSON (x after the object)');
$srv->set_route('/small', { size => 100 });
$r = http->get($srv->url('/small'));
is(length $r->{content}, 100, 'size without body: 100 bytes');
is_deeply(decode_json($r->{content})->{keys}, [], 'size without body: an empty JWK Set');
$srv->set_route('/small', { body => '{}', size => 5 });
is(length http->get($srv->url('/small'))->{content}, 5, 'size: tiny pad with white space');

# ------------------------------------------------------------------ wait_for_count
$t = time;
ok(!$srv->wait_for_count('/never', 1, 0.2), 'wait_for_count: false on timeout');
ok(time - $t < 1, 'wait_for_count: bounded');
ok($srv->wait_for_count('/jwks', 1, 0.2), 'wait_for_count: true at once when reached');

# ------------------------------------------------------------------ clear, restart, stop
my $conns = $srv->connections;
ok($conns >= $srv->count, "connections counted ($conns)");
$srv->clear_requests;
is($srv->count, 0, 'clear_requests');
my $port = $srv->port;
my $old = $srv->pid;
$srv->restart;
isnt($srv->pid, $old, 'restart: a new process');
is($srv->port, $port, 'restart: same port');
is(http->get($srv->url('/jwks'))->{status}, 200, 'restart: routes kept');
is($srv->count('/jwks'), 1, 'restart: counting goes on');
ok(!kill(0, $old) || waitpid($old, WNOHANG) == -1, 'restart: the old process is gone');

# the hung connections were killed with the old server
ok(IO::Select->new(@hung)->can_read(3), 'stop: hung connections are closed');
for my $s (@hung) {
    my $n = sysread $s, my $buf, 10;
    ok(!$n, 'stop: hung connection got EOF or reset, no bytes');
}
close $_ for @hung;

my $pid = $srv->pid;
$srv->stop;
ok(!kill(0, $pid), 'stop: server process reaped');
ok(!IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $port), 'stop: port refuses connections');
ok(!$srv->running, 'stop: not running');
$srv->stop;    # idempotent

{
    my $tmp = JwksServer->new;
    my $p = $tmp->pid;
    undef $tmp;
    ok(!kill(0, $p), 'DESTROY stops the server');
}

# ------------------------------------------------------------------ TLS
SKIP: {
    skip 'IO::Socket::SSL not installed (Debian: libio-socket-ssl-perl)', 16
        unless eval { require IO::Socket::SSL; 1 };
    my $dir = tempdir('jwks-ca-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $ca = JwksServer::make_ca($dir);
    my $other = JwksServer::make_ca($dir, 'other');
    ok(-s $ca->{ca_cert} && -s $ca->{ca_key} && -s $other->{ca_cert}, 'two CAs made');
    my $cert = JwksServer::make_cert($dir, $ca, 'localhost', ['localhost', '127.0.0.1']);
    my $wrong = JwksServer::make_cert($dir, $ca, 'wrong.test');
    ok(-s $cert->{cert} && -s $cert->{key}, 'server certificate made');
    my $v = `openssl verify -CAfile $ca->{ca_cert} $cert->{cert} 2>&1`;
    like($v, qr/: OK$/m, 'it verifies against its CA');
    $v = `openssl verify -CAfile $other->{ca_cert} $cert->{cert} 2>&1`;
    unlike($v, qr/: OK$/m, 'and not against the other CA');

    my $tls = JwksServer->new(tls => $cert, routes => { '/jwks' => { body => $JWKS, etag => 'e1' } });
    like($tls->url('/jwks'), qr{^https://127\.0\.0\.1:\d+/jwks$}, 'https url');
    my $ok = http(verify_SSL => 1, SSL_options => { SSL_ca_file => $ca->{ca_cert} });
    $r = $ok->get($tls->url('/jwks'));
    is($r->{status}, 200, 'https with the CA: 200');
    is($r->{content}, $JWKS, 'https: body');
    $r = $ok->get($tls->url('/jwks', 'localhost'), { headers => { 'If-None-Match' => '"e1"' } });
    is($r->{status}, 304, 'https by host name: 304');

    my $curl = `curl -sS --max-time 5 --cacert $ca->{ca_cert} ${\ $tls->url('/jwks')} 2>&1`;
    is($curl, $JWKS, 'curl with the CA agrees');

    $r = http(verify_SSL => 1, SSL_options => { SSL_ca_file => $other->{ca_cert} })->get($tls->url('/jwks'));
    is($r->{status}, 599, 'https with the wrong CA: refused by the client');
    ok($tls->wait_for(sub { scalar $tls->tls_errors }, 5), 'server saw the failed handshake');

    my $tls2 = JwksServer->new(tls => $wrong, routes => { '/jwks' => { body => $JWKS } });
    $r = $ok->get($tls2->url('/jwks'));
    is($r->{status}, 599, 'certificate for another host name: refused');
    like($r->{content}, qr/hostname|verif|certificate/i, 'because of the name');

    $tls->set_route('/jwks', { body => $big, chunked => 3 });
    is($ok->get($tls->url('/jwks'))->{content}, $big, 'https chunked');
    is($tls->count('/jwks'), 4, 'https: requests counted (not the refused handshake)');
    $tls->set_route('/jwks', { body => $big, close_mid_body => 1 });
    is($ok->get($tls->url('/jwks'))->{status}, 599, 'https close_mid_body: fails');
    $tls->stop;
    $tls2->stop;
}

cmp_ok(time - $T0, '<', 15, sprintf 'self-test took %.1fs', time - $T0);
done_testing;
