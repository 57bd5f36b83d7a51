#!/usr/bin/env bash
# Creates the first admin user through Synapse's shared-secret registration API (the secret is
# read from the live config, the password from stdin) and prints {"user_id", "access_token"}.
# An existing user is logged in instead, so re-running converges. An existing user whose password
# is not the stack's (a stack made anew over kept data, after `pulumi destroy`) is adopted: the
# stack's password is set in the database, the way Synapse's docs reset a lost password.
# Parameters: ADMIN_USER (localpart), PYTHON, BASE_URL (Synapse's local listener).
: "${ADMIN_USER:?}" "${PYTHON:?}" "${BASE_URL:?}"
IFS= read -r ADMIN_PASSWORD || [ -n "${ADMIN_PASSWORD:-}" ] || die "no password on stdin"
export ADMIN_USER ADMIN_PASSWORD BASE_URL SYNAPSE_ETC
"$PYTHON" - <<'PY'
import hashlib, hmac, json, os, sys, urllib.error, urllib.request
import yaml

def live_config():
    with open(os.path.join(os.environ["SYNAPSE_ETC"], "homeserver.yaml")) as f:
        return yaml.safe_load(f) or {}

def adopt(user, password):
    """Sets the user's password hash as Synapse would make it (bcrypt of password + pepper)."""
    import bcrypt, psycopg2
    cfg = live_config()
    db = cfg.get("database") or {}
    if db.get("name") != "psycopg2":
        sys.exit(f"{user} exists with another password, and the database is not PostgreSQL")
    args = {k: v for k, v in db["args"].items() if k in ("user", "dbname", "host", "port", "passfile", "password")}
    pepper = (cfg.get("password_config") or {}).get("pepper") or ""
    hashed = bcrypt.hashpw((password + pepper).encode(), bcrypt.gensalt(cfg.get("bcrypt_rounds", 12))).decode()
    user_id = f"@{user}:{cfg['server_name']}"
    with psycopg2.connect(**args) as conn, conn.cursor() as cur:
        cur.execute("UPDATE users SET password_hash = %s WHERE name = %s", (hashed, user_id))
        if cur.rowcount != 1:
            sys.exit(f"{user_id} exists but was not found in the users table")
    print(f"adopted the existing admin {user_id}: its password is now the stack's adminPassword", file=sys.stderr)

def login(user, password):
    return call("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
        "password": password, "initial_device_display_name": "synapse-deploy"})

def call(method, path, body=None):
    req = urllib.request.Request(os.environ["BASE_URL"] + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)

secret = None
for path in (os.path.join(os.environ["SYNAPSE_ETC"], "conf.d/secrets.yaml"), os.path.join(os.environ["SYNAPSE_ETC"], "homeserver.yaml")):
    if not secret and os.path.exists(path):
        with open(path) as f:
            secret = (yaml.safe_load(f) or {}).get("registration_shared_secret")
if not secret:
    sys.exit("no registration_shared_secret in the live config")
user, password = os.environ["ADMIN_USER"], os.environ["ADMIN_PASSWORD"]
_, nonce = call("GET", "/_synapse/admin/v1/register")
mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
mac.update(b"\x00".join(p.encode() for p in (nonce["nonce"], user, password, "admin")))
status, body = call("POST", "/_synapse/admin/v1/register", {
    "nonce": nonce["nonce"], "username": user, "password": password, "admin": True, "mac": mac.hexdigest()})
if status != 200:
    if body.get("errcode") != "M_USER_IN_USE":
        sys.exit(f"registering {user} failed: {status} {body}")
    status, body = login(user, password)
    if status == 403 and body.get("errcode") == "M_FORBIDDEN":
        adopt(user, password)
        status, body = login(user, password)
    if status != 200:
        sys.exit(f"{user} exists but logging in failed ({status} {body.get('errcode')})")
print(json.dumps({"user_id": body["user_id"], "access_token": body["access_token"]}))
PY
