#!/usr/bin/env bash
# The alert bot and its room: the bot user registered through Synapse's shared-secret API (an
# ordinary user), its access token in TOKEN_FILE (0600, root; the receiver's credential), the
# message rate limit lifted for it (as for any bot), the admin room created once (private, its ID
# in ROOM_FILE) and the admin invited to it. Converges: a bot that exists logs in (its password
# reset through the admin API when the stack is new over kept data); a token that still works is
# kept; a room the bot is in is kept; an admin already in it or invited is left be, one who left is
# invited again. Prints {"room_id", "bot"}.
# stdin: the bot's password, then the admin's access token (a line each).
# Parameters: BOT_USER (localpart), ADMIN_USER_ID, BASE_URL (Synapse's local listener), PYTHON,
# ROOM_FILE, TOKEN_FILE, ROOM_NAME.
: "${BOT_USER:?}" "${ADMIN_USER_ID:?}" "${BASE_URL:?}" "${PYTHON:?}" "${ROOM_FILE:?}" "${TOKEN_FILE:?}" "${ROOM_NAME:?}"
IFS= read -r BOT_PASSWORD || true
IFS= read -r ADMIN_TOKEN || true
if [ -z "${BOT_PASSWORD:-}" ] || [ -z "${ADMIN_TOKEN:-}" ]; then die "expected the bot's password and the admin's token on stdin"; fi
export BOT_USER BOT_PASSWORD ADMIN_TOKEN ADMIN_USER_ID BASE_URL ROOM_FILE TOKEN_FILE ROOM_NAME SYNAPSE_ETC
install -d -m 0755 "$(dirname "$ROOM_FILE")" "$(dirname "$TOKEN_FILE")"
"$PYTHON" - <<'PY'
import hashlib, hmac, json, os, sys, urllib.error, urllib.parse, urllib.request
import yaml

env = os.environ
q = lambda s: urllib.parse.quote(s, safe="")

def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(env["BASE_URL"] + path, method=method, headers=headers,
                                 data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)

def ok(result, what):
    status, body = result
    if status != 200:
        sys.exit(f"{what} failed: {status} {body}")
    return body

def write_private(path, text):
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)

user, password, admin_token = env["BOT_USER"], env["BOT_PASSWORD"], env["ADMIN_TOKEN"]
with open(os.path.join(env["SYNAPSE_ETC"], "homeserver.yaml")) as f:
    server_name = yaml.safe_load(f)["server_name"]
bot_id = f"@{user}:{server_name}"

# 1. The bot's token: the one kept if it still works, else a login (registering the bot first).
token = None
if os.path.exists(env["TOKEN_FILE"]):
    with open(env["TOKEN_FILE"]) as f:
        kept = f.read().strip()
    status, body = call("GET", "/_matrix/client/v3/account/whoami", token=kept)
    if status == 200 and body.get("user_id") == bot_id:
        token = kept
if token is None:
    secret = None
    for path in (os.path.join(env["SYNAPSE_ETC"], "conf.d", "secrets.yaml"), os.path.join(env["SYNAPSE_ETC"], "homeserver.yaml")):
        if not secret and os.path.exists(path):
            with open(path) as f:
                secret = (yaml.safe_load(f) or {}).get("registration_shared_secret")
    nonce = ok(call("GET", "/_synapse/admin/v1/register"), "asking for a registration nonce")["nonce"]
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join(p.encode() for p in (nonce, user, password, "notadmin")))
    status, body = call("POST", "/_synapse/admin/v1/register",
                        {"nonce": nonce, "username": user, "password": password, "admin": False, "mac": mac.hexdigest()})
    if status != 200:
        if body.get("errcode") != "M_USER_IN_USE":
            sys.exit(f"registering the bot {bot_id} failed: {status} {body}")
        login = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password,
                 "initial_device_display_name": "synapse-deploy alerts"}
        status, body = call("POST", "/_matrix/client/v3/login", login)
        if status == 403:
            # A stack made anew over kept data: the bot is the stack's again, with the stack's password.
            ok(call("PUT", f"/_synapse/admin/v2/users/{q(bot_id)}", {"password": password, "logout_devices": True}, admin_token),
               f"resetting the password of {bot_id}")
            status, body = call("POST", "/_matrix/client/v3/login", login)
        if status != 200:
            sys.exit(f"{bot_id} exists but logging in failed ({status} {body.get('errcode')})")
    token = body["access_token"]
    write_private(env["TOKEN_FILE"], token + "\n")
    print(f"new access token for {bot_id}", file=sys.stderr)

# 2. Alerts come in bursts: no message rate limit for the bot.
ok(call("POST", f"/_synapse/admin/v1/users/{q(bot_id)}/override_ratelimit", {"messages_per_second": 0, "burst_count": 0}, admin_token),
   "lifting the bot's rate limit")

# 3. The room: the one recorded if the bot is in it, else a new private one.
room = None
if os.path.exists(env["ROOM_FILE"]):
    with open(env["ROOM_FILE"]) as f:
        kept = f.read().strip()
    status, body = call("GET", f"/_matrix/client/v3/rooms/{q(kept)}/joined_members", token=token)
    if status == 200 and bot_id in body.get("joined", {}):
        room = kept
if room is None:
    room = ok(call("POST", "/_matrix/client/v3/createRoom", {
        "name": env["ROOM_NAME"], "topic": "Alerts from this homeserver's monitoring (Prometheus and Alertmanager), firing and resolved.",
        "preset": "private_chat", "invite": [env["ADMIN_USER_ID"]],
        "power_level_content_override": {"users": {bot_id: 100, env["ADMIN_USER_ID"]: 100}},
    }, token), "creating the admin room")["room_id"]
    with open(env["ROOM_FILE"] + ".new", "w") as f:
        f.write(room + "\n")
    os.replace(env["ROOM_FILE"] + ".new", env["ROOM_FILE"])
    print(f"created the admin room {room}", file=sys.stderr)

# 4. The admin: in the room or invited; invited again after leaving.
status, body = call("GET", f"/_matrix/client/v3/rooms/{q(room)}/state/m.room.member/{q(env['ADMIN_USER_ID'])}", token=token)
membership = body.get("membership") if status == 200 else None
if membership not in ("join", "invite"):
    ok(call("POST", f"/_matrix/client/v3/rooms/{q(room)}/invite", {"user_id": env["ADMIN_USER_ID"]}, token), "inviting the admin")
    print(f"invited {env['ADMIN_USER_ID']} to {room}", file=sys.stderr)
print(json.dumps({"room_id": room, "bot": bot_id}))
PY
