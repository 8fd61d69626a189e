#!/usr/bin/python3
"""Access tokens bound to a key and DPoP proofs (RFC 9449) for t/ tests,
minted with PyJWT and cryptography: nothing here uses the module's code.

Run with Debian's /usr/bin/python3 (python3-jwt, python3-cryptography). It
reads one JSON command per line on stdin and answers each with one JSON line
on stdout ({"error": "..."} if the command failed), so that a test keeps one
process for all its keys:

  {"op": "key", "name": N, "kind": "ec" | "rsa"}
      -> {"jkt": RFC 7638 thumbprint, "jwk": public JWK}
  {"op": "jwks", "names": [N, ...], "path": P}
      writes a JWK Set of those keys' public halves (kid = name) -> {}
  {"op": "token", "key": N, "claims": {...}, "bind": M}
      -> {"token": a JWS signed by N (kid N); cnf.jkt = M's thumbprint if M}
  {"op": "proof", "key": N, "htm": ..., "htu": ..., "token": T, ...}
      -> {"proof": a DPoP proof with typ dpop+jwt and N's public jwk,
          iat now, a random jti, ath of T if T}; options:
      alg      "ES256"/"RS256" (default by key type), "none" (no signature),
               "HS256" (an HMAC with "secret")
      iat, jti, ath  override the computed ones (ath null: none)
      typ      override "dpop+jwt"
      jwk      "private": the jwk with its private members;
               a key name: that key's public jwk (signed by N all the same)
      drop     list of claim names to leave out
"""

import base64
import hashlib
import json
import os
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEYS = {}


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n, size=None):
    if size is None:
        size = max(1, (n.bit_length() + 7) // 8)
    return b64u(n.to_bytes(size, "big"))


def public_jwk(key, private=False):
    if isinstance(key, rsa.RSAPrivateKey):
        pub = key.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": uint(pub.n), "e": uint(pub.e)}
        if private:
            priv = key.private_numbers()
            jwk.update(d=uint(priv.d), p=uint(priv.p), q=uint(priv.q),
                       dp=uint(priv.dmp1), dq=uint(priv.dmq1), qi=uint(priv.iqmp))
        return jwk
    size = (key.curve.key_size + 7) // 8
    pub = key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": uint(pub.x, size), "y": uint(pub.y, size)}
    if private:
        jwk["d"] = uint(key.private_numbers().private_value, size)
    return jwk


def thumbprint(jwk):
    """RFC 7638 §3: the required members only, sorted, no whitespace."""
    required = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    text = json.dumps({k: jwk[k] for k in required}, sort_keys=True, separators=(",", ":"))
    return b64u(hashlib.sha256(text.encode()).digest())


def op_key(cmd):
    if cmd["kind"] == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    KEYS[cmd["name"]] = key
    jwk = public_jwk(key)
    return {"jkt": thumbprint(jwk), "jwk": jwk}


def op_jwks(cmd):
    keys = []
    for name in cmd["names"]:
        jwk = public_jwk(KEYS[name])
        jwk["kid"] = name
        keys.append(jwk)
    tmp = cmd["path"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"keys": keys}, f)
    os.rename(tmp, cmd["path"])
    return {}


def default_alg(key):
    return "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"


def op_token(cmd):
    key = KEYS[cmd["key"]]
    now = int(time.time())
    claims = {"iat": now, "exp": now + 600}
    claims.update(cmd.get("claims", {}))
    if cmd.get("bind"):
        claims["cnf"] = {"jkt": thumbprint(public_jwk(KEYS[cmd["bind"]]))}
    token = jwt.encode(claims, key, algorithm=default_alg(key), headers={"kid": cmd["key"]})
    return {"token": token}


def op_proof(cmd):
    key = KEYS[cmd["key"]]
    alg = cmd.get("alg", default_alg(key))
    which = cmd.get("jwk")
    if which == "private":
        jwk = public_jwk(key, private=True)
    elif which:
        jwk = public_jwk(KEYS[which])
    else:
        jwk = public_jwk(key)
    header = {"typ": cmd.get("typ", "dpop+jwt"), "alg": alg, "jwk": jwk}
    claims = {
        "htm": cmd["htm"],
        "htu": cmd["htu"],
        "iat": cmd.get("iat", int(time.time())),
        "jti": cmd.get("jti", b64u(os.urandom(16))),
    }
    if "ath" in cmd:
        if cmd["ath"] is not None:
            claims["ath"] = cmd["ath"]
    elif cmd.get("token"):
        claims["ath"] = b64u(hashlib.sha256(cmd["token"].encode()).digest())
    for name in cmd.get("drop", []):
        claims.pop(name, None)

    if alg == "none":
        text = lambda o: b64u(json.dumps(o, separators=(",", ":")).encode())
        return {"proof": text(header) + "." + text(claims) + ".", "jti": claims["jti"]}
    signer = "0123456789abcdef0123456789abcdef" if alg.startswith("HS") else key
    # PyJWT sets alg itself and adds typ unless the header has one
    extra = {k: v for k, v in header.items() if k != "alg"}
    proof = jwt.encode(claims, signer, algorithm=alg, headers=extra)
    return {"proof": proof, "jti": claims["jti"]}


OPS = {"key": op_key, "jwks": op_jwks, "token": op_token, "proof": op_proof}


def main():
    for line in sys.stdin:
        try:
            cmd = json.loads(line)
            answer = OPS[cmd["op"]](cmd)
        except Exception as e:  # the test reports it
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
