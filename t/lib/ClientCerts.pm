package ClientCerts;

# TLS client certificates for the certificate-bound token tests (RFC 8705),
# made with the `openssl` command, and what a test needs to know about them
# computed by `openssl` too, never by the module:
#
#   my $cc = ClientCerts->new($dir);           # files go to $dir
#   my $ca = $cc->self_signed('ca', ca => 1);  # { cert, key }
#   my $a  = $cc->client('client-a', $ca);     # signed by $ca, clientAuth
#   my $s  = $cc->self_signed('self');         # a self-signed client
#   ClientCerts::x5t($a)                       # base64url(SHA-256(DER))
#   ClientCerts::escaped_pem($a)               # as $ssl_client_escaped_cert

use strict;
use warnings;

use File::Path qw(make_path);
use MIME::Base64 qw(encode_base64url);
use POSIX ();

my @EC = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes');

sub new {
    my ($class, $dir) = @_;
    make_path($dir);
    chmod 0755, $dir;    # workers run as nobody when we are root
    return bless { dir => $dir, serial => 1000 }, $class;
}

sub _openssl {
    my @cmd = ('openssl', @_);
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    die "@cmd failed" if $?;
}

# A self-signed certificate for CN=$name; ca => 1 makes it a CA.
sub self_signed {
    my ($self, $name, %opt) = @_;
    my ($crt, $key) = ("$self->{dir}/$name.crt", "$self->{dir}/$name.key");
    my @ext = $opt{ca}
        ? ('-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign')
        : ();
    _openssl('req', '-x509', @EC, '-keyout', $key, '-out', $crt, '-days', '30',
        '-subj', "/CN=$name", @ext);
    chmod 0644, $crt, $key;
    return { cert => $crt, key => $key };
}

# A client certificate (extendedKeyUsage clientAuth) signed by $ca.
sub client {
    my ($self, $name, $ca) = @_;
    my ($crt, $key, $csr, $ext) = map { "$self->{dir}/$name.$_" } qw(crt key csr ext);
    open my $fh, '>', $ext or die "$ext: $!";
    print $fh "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n",
        "extendedKeyUsage=clientAuth\n";
    close $fh;
    _openssl('req', '-new', @EC, '-keyout', $key, '-out', $csr, '-subj', "/CN=$name");
    _openssl('x509', '-req', '-in', $csr, '-CA', $ca->{cert}, '-CAkey', $ca->{key},
        '-set_serial', $self->{serial}++, '-days', '30', '-sha256', '-extfile', $ext, '-out', $crt);
    chmod 0644, $crt, $key;
    return { cert => $crt, key => $key };
}

# RFC 8705 §3.1 x5t#S256: base64url of the SHA-256 of the DER, by openssl.
sub x5t {
    my ($c) = @_;
    my $digest = qx{openssl x509 -in '$c->{cert}' -outform DER | openssl dgst -sha256 -binary};
    die "openssl dgst: $?" if $? || length $digest != 32;
    return encode_base64url($digest);
}

sub pem {
    my ($c) = @_;
    open my $fh, '<', $c->{cert} or die "$c->{cert}: $!";
    local $/;
    return scalar <$fh>;
}

# The PEM as nginx's $ssl_client_escaped_cert has it: every byte but
# ALPHA, DIGIT and "-._~" percent-escaped.
sub escaped_pem {
    my ($c) = @_;
    my $pem = pem($c);
    $pem =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $pem;
}

# HTTP::Tiny options for a TLS client showing $c (undef: no certificate);
# the server's certificate is not checked.
sub http_options {
    my ($c) = @_;
    return (verify_SSL => 0, SSL_options => {
        SSL_verify_mode => 0,
        $c ? (SSL_cert_file => $c->{cert}, SSL_key_file => $c->{key}) : (),
    });
}

1;
