# The benchmark's users and rooms on one homeserver, made on the VPS through Synapse's
# shared-secret registration and client API (http://127.0.0.1:8008), every user exempted from
# rate limits as an admin exempts a bot. Prints one JSON line.
# Usage: users.py SECRETS_YAML LOAD_USERS LOAD_ROOMS SYNC_ROOMS JOINERS
#   load:     LOAD_USERS users spread over LOAD_ROOMS public rooms (each with its room);
#   sync:     a user in SYNC_ROOMS rooms with a few messages each (initial sync of a busy account);
#   reader:   the creator of the big room (its members are added by big-room.mjs);
#   receiver: the creator of the room other homeservers' users join (federation inbound);
#   joiners:  JOINERS users who join the big room, one per measured run.
import hashlib, hmac, json, secrets, sys, urllib.parse, urllib.request
import yaml

secret = yaml.safe_load(open(sys.argv[1]))["registration_shared_secret"]
load_users, load_rooms, sync_rooms, joiners = (int(x) for x in sys.argv[2:6])
base = "http://127.0.0.1:8008"

def call(path, body=None, token=None, method=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 method=method or ("GET" if body is None else "POST"),
                                 headers={"Content-Type": "application/json", **({"Authorization": "Bearer " + token} if token else {})})
    return json.load(urllib.request.urlopen(req, timeout=120))

def register(name, admin=False):
    nonce = call("/_synapse/admin/v1/register")["nonce"]
    password = secrets.token_hex(12)
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce.encode(), name.encode(), password.encode(), b"admin" if admin else b"notadmin"]))
    r = call("/_synapse/admin/v1/register", {"nonce": nonce, "username": name, "password": password, "admin": admin, "mac": mac.hexdigest()})
    return {"userId": r["user_id"], "accessToken": r["access_token"]}

admin = register("benchadmin", True)
def user(name):
    u = register(name)
    call("/_synapse/admin/v1/users/%s/override_ratelimit" % urllib.parse.quote(u["userId"]), {"messages_per_second": 0, "burst_count": 0}, admin["accessToken"])
    return u

def room(owner, name):
    return call("/_matrix/client/v3/createRoom", {"name": name, "preset": "public_chat"}, owner["accessToken"])["room_id"]

def join(u, room_id):
    call("/_matrix/client/v3/join/%s" % urllib.parse.quote(room_id), {}, u["accessToken"])

def say(u, room_id, text, txn):
    call("/_matrix/client/v3/rooms/%s/send/m.room.message/%s" % (urllib.parse.quote(room_id), txn),
         {"msgtype": "m.text", "body": text}, u["accessToken"], "PUT")

load = [user("load%d" % i) for i in range(load_users)]
rooms = [room(load[i], "load %d" % i) for i in range(min(load_rooms, load_users))]
for i, u in enumerate(load):
    u["room"] = rooms[i % len(rooms)] if rooms else None
    if rooms and i >= len(rooms):
        join(u, u["room"])
out = {"load": load, "admin": admin}
if sync_rooms:
    s = user("busy")
    for i in range(sync_rooms):
        r = room(s, "busy %d" % i)
        for k in range(3):
            say(s, r, "message %d in room %d" % (k, i), "s%d.%d" % (i, k))
    out["sync"] = {**s, "rooms": sync_rooms}
    out["reader"] = user("reader")
    out["reader"]["room"] = room(out["reader"], "big room")
    out["receiver"] = user("receiver")
    out["receiver"]["room"] = room(out["receiver"], "federated")
out["joiners"] = [user("joiner%d" % i) for i in range(joiners)]
print(json.dumps(out))
