# One t/lib/dpop.py coprocess for a test file: PyJWT mints its keys, bound
# tokens and DPoP proofs (see dpop.py for the commands). A command that fails
# stops the test run: nothing after it could mean anything.
package DpopMint;
use strict;
use warnings;
use FindBin;
use IPC::Open2 qw(open2);
use JSON::PP;
use Test::More ();

sub new {
    my ($class) = @_;
    my $pid = open2(my $out, my $in, '/usr/bin/python3', "$FindBin::Bin/lib/dpop.py")
        or Test::More::BAIL_OUT('cannot start t/lib/dpop.py');
    return bless { pid => $pid, out => $out, in => $in, json => JSON::PP->new->canonical }, $class;
}

# Sends one command ({op => ..., ...}); returns its answer as a hash.
sub call {
    my ($self, %cmd) = @_;
    print { $self->{in} } $self->{json}->encode(\%cmd), "\n";
    my $line = readline($self->{out}) // Test::More::BAIL_OUT('dpop.py died');
    my $answer = $self->{json}->decode($line);
    Test::More::BAIL_OUT("dpop.py $cmd{op}: $answer->{error}") if $answer->{error};
    return $answer;
}

sub DESTROY {
    my ($self) = @_;
    close $self->{in} if $self->{in};
    waitpid($self->{pid}, 0) if $self->{pid};
}

1;
