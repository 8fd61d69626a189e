#!/usr/bin/python3
"""Independent checks of what the local issuer hands out, for t/ tests.

Run with Debian's /usr/bin/python3 (python3-jwt, python3-cryptography);
nothing here uses the module's code.

  local_issuer.py keygen ec|ec384|rsa PATH
      writes a PEM private key (PKCS#8)
  local_issuer.py verify TOKEN JWKS_FILE PEM_FILE
      verifies TOKEN's signature with PyJWT twice, with the JWK from the JWK
      Set whose kid the header names and with the PEM key's public half, and
      prints {"header": ..., "claims": ..., "thumbprint": ...} as JSON, the
      thumbprint being the RFC 7638 one of the PEM key, computed here; exits
      1 with the reason on stderr if either check fails
"""

import base64
import hashlib
import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keygen(kind, path):
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ec384":
        key = ec.generate_private_key(ec.SECP384R1())
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    with open(path, "wb") as f:
        f.write(pem)


def thumbprint(public_key):
    """RFC 7638 §3: the required members, sorted, no whitespace, SHA-256."""
    if isinstance(public_key, rsa.RSAPublicKey):
        n = public_key.public_numbers()
        members = {"e": b64u(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big")), "kty": "RSA",
                   "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big"))}
    else:
        n = public_key.public_numbers()
        size = (public_key.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384"}[public_key.curve.name]
        members = {"crv": crv, "kty": "EC", "x": b64u(n.x.to_bytes(size, "big")),
                   "y": b64u(n.y.to_bytes(size, "big"))}
    text = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64u(hashlib.sha256(text.encode()).digest())


def verify(token, jwks_file, pem_file):
    header = jwt.get_unverified_header(token)
    alg = header.get("alg")
    if alg not in ("RS256", "ES256", "ES384"):
        sys.exit("unexpected alg %r" % alg)
    options = {"verify_aud": False, "verify_iss": False, "require": []}

    with open(jwks_file) as f:
        jwks = jwt.PyJWKSet.from_json(f.read())
    keys = [k for k in jwks.keys if k.key_id == header.get("kid")]
    if len(keys) != 1:
        sys.exit("%d keys in the JWK Set with kid %r" % (len(keys), header.get("kid")))
    claims = jwt.decode(token, keys[0].key, algorithms=[alg], options=options)

    with open(pem_file, "rb") as f:
        private = serialization.load_pem_private_key(f.read(), password=None)
    again = jwt.decode(token, private.public_key(), algorithms=[alg], options=options)
    if again != claims:
        sys.exit("the two verifications disagree")

    print(json.dumps({"header": header, "claims": claims, "thumbprint": thumbprint(private.public_key())}))


def main(argv):
    if len(argv) == 4 and argv[1] == "keygen":
        keygen(argv[2], argv[3])
    elif len(argv) == 5 and argv[1] == "verify":
        try:
            verify(argv[2], argv[3], argv[4])
        except jwt.PyJWTError as e:
            sys.exit("PyJWT refused the token: %s" % e)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
