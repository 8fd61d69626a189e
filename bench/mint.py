"""Keys and tokens for bench/run.sh, made with python3-jwt / python3-cryptography
(an implementation independent of the module). Figures only, never a test.

    /usr/bin/python3 bench/mint.py DIR     (run by bench/run.sh as a coprocess)

At start: an RSA-2048 and a P-256 key, DIR/jwks.json with both public keys,
DIR/rs256.token (the one warm token), two free loopback ports, then "ready".
The private keys stay in this process's memory and never touch the disk, which
is why it keeps running and answers bench/run.sh on stdin/stdout:

    mint KIND N      append N new tokens to DIR/KIND.tokens -> "KIND TOTAL RECLEN"
    unique KIND N    distinct tokens among the first N       -> "KIND N DISTINCT"

KIND: cold-rs256 (valid RS256), cold-es256 (valid ES256), bad-sig (RS256 header
and valid claims, signature a random integer below the modulus: a full RSA
operation, then a padding mismatch), expired (ES256, expired an hour ago,
signed correctly). Every token of a file has the same length (one record of
RECLEN bytes, newline included) so bench/feed.lua can seek to record i, and
each carries its own jti (this run's nonce, the kind, a counter), so no two
tokens of a run are equal, within a file or across files and rounds. Signing
goes to a pool of one process per core; it runs between timed runs only.
"""
import base64, hashlib, json, multiprocessing, os, secrets, socket, sys, time, uuid

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import RSAAlgorithm

d = sys.argv[1]
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec_key = ec.generate_private_key(ec.SECP256R1())
rsa_n = rsa_key.public_key().public_numbers().n

rsa_jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
rsa_jwk.update(kid="rsa1", use="sig", alg="RS256")
# not ECAlgorithm.to_jwk: PyJWT 2.6 (Debian 12) drops a coordinate's leading
# zero bytes, and about one key in 64 became an invalid JWK
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "t", "lib"))
from dpop import public_jwk  # noqa: E402
ec_jwk = public_jwk(ec_key)
ec_jwk.update(kid="ec1", use="sig", alg="ES256")
with open(os.path.join(d, "jwks.json"), "w") as f:
    json.dump({"keys": [rsa_jwk, ec_jwk]}, f, indent=2)

now = int(time.time())
nonce = secrets.token_hex(6)   # 12 hex digits, new every run


# The claims of a realistic client-credentials access token (shaped after what
# Keycloak/Auth0-style issuers put in a service-account token), ~900 bytes.
def claims(iat, exp, jti):
    client = "reminder-agent"
    return {
        "iss": "https://issuer.test",
        "aud": "api",
        "sub": "svc-" + client + "@clients.issuer.test",
        "client_id": client,
        "azp": client,
        "scope": "tasks:read tasks:write",
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "jti": jti,
        "typ": "Bearer",
        "gty": "client-credentials",
        "acr": "1",
        "sid": str(uuid.uuid4()),
        "tenant_id": "6f1c2a4e-91d3-4b8a-a0de-3c5b7e9f2d14",
        "org_id": "org_8Hq2LxTz4WmN0pVr",
        "preferred_username": "service-account-" + client,
        "clientHost": "10.42.17.203",
        "clientAddress": "10.42.17.203",
        "allowed-origins": ["https://tasks.internal.example"],
        "realm_access": {"roles": ["default-roles-services", "offline_access",
                                   "uma_authorization"]},
        "resource_access": {
            "api": {"roles": ["tasks.reader", "tasks.writer", "reminders.scheduler"]},
            "account": {"roles": ["manage-account", "view-profile"]},
        },
        "permissions": ["tasks:read", "tasks:write"],
        "ver": "2.0",
    }


# The warm token, minted by python3-jwt itself.
long_lived = now + 7 * 86400
warm_claims = claims(now, long_lived, str(uuid.uuid4()))
warm = jwt.encode(warm_claims, rsa_key, algorithm="RS256", headers={"kid": "rsa1", "typ": "at+jwt"})
with open(os.path.join(d, "rs256.token"), "w") as f:
    f.write(warm + "\n")
with open(os.path.join(d, "claims.size"), "w") as f:
    f.write(str(len(json.dumps(warm_claims, separators=(",", ":")))))


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


# Per kind: header (alg, kid), iat/exp, and a code for the jti. The jti is
# "<nonce>-<code>-<20-digit counter>", 36 characters like a UUID, so every
# token of a kind has the same length.
KINDS = {
    "cold-rs256": ("RS256", "rsa1", now, long_lived, "cr"),
    "cold-es256": ("ES256", "ec1", now, long_lived, "ce"),
    "bad-sig":    ("RS256", "rsa1", now, long_lived, "bs"),
    "expired":    ("ES256", "ec1", now - 7200, now - 3600, "ex"),
}
PLACEHOLDER = "@" * 36
templates = {}
for kind, (alg, kid, iat, exp, code) in KINDS.items():
    header = b64(json.dumps({"alg": alg, "typ": "at+jwt", "kid": kid}, separators=(",", ":")).encode())
    body = json.dumps(claims(iat, exp, PLACEHOLDER), separators=(",", ":"))
    templates[kind] = (alg, header, body, code)


def token(kind, i):
    alg, header, body, code = templates[kind]
    jti = "%s-%s-%020d" % (nonce, code, i)
    signing_input = header + b"." + b64(body.replace(PLACEHOLDER, jti).encode())
    if kind == "bad-sig":
        sig = (2 + secrets.randbelow(rsa_n - 2)).to_bytes(256, "big")
    elif alg == "RS256":
        sig = rsa_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(ec_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return signing_input + b"." + b64(sig)


def chunk(job):
    kind, start, count = job
    return b"".join(token(kind, i) + b"\n" for i in range(start, start + count))


# First of each kind checked by python3-jwt, the independent reader: the
# valid ones must verify, bad-sig must not.
pub = {"RS256": rsa_key.public_key(), "ES256": ec_key.public_key()}
for kind, (alg, *_ ) in templates.items():
    t = token(kind, 0).decode()
    opts = {"verify_exp": kind != "expired"}
    try:
        jwt.decode(t, pub[alg], algorithms=[alg], audience="api", options=opts)
        ok = kind != "bad-sig"
    except jwt.InvalidSignatureError:
        ok = kind == "bad-sig"
    assert ok, kind

ports = []
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    ports.append(str(s.getsockname()[1]))
for s in socks:
    s.close()
with open(os.path.join(d, "ports"), "w") as f:
    f.write(" ".join(ports) + "\n")

total = {k: 0 for k in KINDS}
reclen = {k: len(token(k, 0)) + 1 for k in KINDS}
pool = None
print("ready", flush=True)

for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        continue
    kind, n = cmd[1], int(cmd[2])
    path = os.path.join(d, kind + ".tokens")
    if cmd[0] == "mint":
        if pool is None:
            pool = multiprocessing.get_context("fork").Pool(os.cpu_count() or 1)
        step = 2000
        jobs = [(kind, i, min(step, total[kind] + n - i)) for i in range(total[kind], total[kind] + n, step)]
        with open(path, "ab") as f:
            for data in pool.imap(chunk, jobs):
                assert len(data) % reclen[kind] == 0
                f.write(data)
        total[kind] += n
        print(kind, total[kind], reclen[kind], flush=True)
    elif cmd[0] == "unique":
        seen = set()
        with open(path, "rb") as f:
            for _ in range(n):
                rec = f.read(reclen[kind])
                assert len(rec) == reclen[kind] and rec.endswith(b"\n"), "short or misaligned record"
                seen.add(hashlib.sha256(rec).digest())
        print(kind, n, len(seen), flush=True)
    else:
        print("error unknown command", flush=True)
