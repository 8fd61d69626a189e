#!/usr/bin/python3
# One RSA-2048 key, its JWK Set (DIR/jwks.json, kid "r") and one RS256 access
# token signed with it (DIR/token), by python3-jwt, never the module: what
# bench/profile.sh and bench/time_split.sh send on every request.
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

d = sys.argv[1]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
jwk["kid"] = "r"
with open(d + "/jwks.json", "w") as f:
    json.dump({"keys": [jwk]}, f)
now = int(time.time())
claims = {"iss": "https://issuer.test", "aud": "api", "sub": "svc", "client_id": "svc",
          "scope": "tasks:read tasks:write", "iat": now, "exp": now + 3600, "jti": "j1"}
with open(d + "/token", "w") as f:
    f.write(jwt.encode(claims, key, algorithm="RS256", headers={"kid": "r"}))
