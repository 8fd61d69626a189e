# HTTP/2 streams that wait for keys: a cold-start request over h2 waits for
# the first fetch and succeeds; a stream whose client gives up while waiting
# is cleaned up (499 in the access log, no worker crash, no alert); the
# waiting streams of one connection all resume.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use M2MTest qw(now json_text);
use JwksServer;

my $curl = '/usr/bin/curl';
plan skip_all => 'curl with HTTP/2 is needed' unless -x $curl && `$curl -V` =~ /\bHTTP2\b/;

my $AUD = 'https://api.example.test';
my $t = M2MTest->new;
my $ka = $t->ec_key('a1');
my $kb = $t->ec_key('b1');
my $jwks = sub { json_text({ keys => [ map { $t->jwk($_, alg => $_->{alg}) } @_ ] }) };

my $srv = JwksServer->new(routes => {
    # each first fetch is held long enough for requests to queue behind it
    '/a' => { body => $jwks->($ka), delay => 1 },
    '/b' => { body => $jwks->($kb), delay => 2 },
});
my $base = 'http://127.0.0.1:' . $srv->port;

(my $conf = <<'EOF') =~ s/%%SRV%%/$base/g;
    log_format st '$request_uri $status m2m_error=$m2m_error';
    auth_m2m_issuer a {
        issuer https://a.example.test/;
        jwks_uri %%SRV%%/a;
        audience https://api.example.test;
    }
    auth_m2m_issuer b {
        issuer https://b.example.test/;
        jwks_uri %%SRV%%/b;
        audience https://api.example.test;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:%%PORT_h2%% http2;
        root %%DIR%%/html;
        access_log %%DIR%%/st.log st;
        location /a/ { auth_m2m a; try_files /ok.txt =404; }
        location /b/ { auth_m2m b; try_files /ok.txt =404; }
        location = /status { auth_m2m_status; }
    }
EOF
$t->config($conf);
$t->start;

sub tok {
    my ($key, $iss) = @_;
    return $t->mint(key => $key, claims => { iss => "https://$iss.example.test/", aud => $AUD, client_id => 'svc' });
}

# One curl per URL, all at once, over h2 with prior knowledge (no TLS); returns
# "version status" per URL, in order. (curl 7.88 cannot reuse a prior-knowledge
# connection for a second URL, so each stream has its own connection.)
sub h2 {
    my ($token, $max_time, @urls) = @_;
    my $port = $t->port('h2');
    my @pipes = map {
        open(my $fh, '-|', $curl, '-s', '--http2-prior-knowledge', '--max-time', $max_time,
            '-H', "Authorization: Bearer $token", '-o', '/dev/null', '-w', '%{http_version} %{http_code}',
            "http://127.0.0.1:$port$_") or die "curl: $!";
        $fh;
    } @urls;
    return map { my $fh = $_; my $out = join '', <$fh>; close $fh; $out } @pipes;
}

# ------------------------------------------------------------ cold start over h2
ok($srv->wait_for_count('/a', 1, 5), 'the first fetch of "a" reached the key server');
my $sent = time;
my @a = h2(tok($ka, 'a'), 10, '/a/1', '/a/2', '/a/3');
my $done = time;
my ($fetch) = $srv->requests('/a');
is(join(',', @a), '2 200,2 200,2 200', 'three h2 requests waited for the keys and got 200');
cmp_ok($sent, '<', $fetch->{time} + 1, 'they were sent while the fetch was held');
cmp_ok($done, '>=', $fetch->{time} + 1 - 0.05, 'and answered only after it completed');
is($srv->count('/a'), 1, 'one fetch served them all');

# ------------------------------------------------------------ a stream abandoned while waiting
ok($srv->wait_for_count('/b', 1, 5), 'the first fetch of "b" reached the key server');
my @b = h2(tok($kb, 'b'), 0.5, '/b/gone');
like($b[0] // '', qr/ 000$/, 'the client gave up after 0.5 s while its stream waited for keys');
ok($t->wait_log('st.log', qr{^/b/gone 499 }, 5), 'the abandoned stream is logged as 499')
    or diag $t->read_file('st.log');
ok($t->wait_issuer('b', sub { $_[0]{generation} >= 1 }, 5), 'keys of "b" arrived after the stream was gone');
is(join(',', h2(tok($kb, 'b'), 10, '/b/after')), '2 200', 'a later h2 request for "b" succeeds');

$t->no_alerts_ok;
done_testing;
