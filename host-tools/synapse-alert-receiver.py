#!/usr/bin/env python3
"""Alertmanager's webhook → the homeserver's admin room.

synapse-alert-receiver CONFIG: listens where CONFIG says (loopback), takes Alertmanager's webhook
notifications (POST, JSON) and posts each alert, firing or resolved, as one message of the bot
user into the admin room. The bot's access token is a systemd credential ($CREDENTIALS_DIRECTORY/
token); the room's ID is read from the file alert-bot.sh writes. A notification is answered 200
only once every message is in the room, so Alertmanager retries what failed; each message's
transaction ID is derived from the alert, so a retry never posts twice.

Written here rather than taken from elsewhere: no Alertmanager-to-Matrix bridge is packaged by
Debian, and this needs Python's standard library only (the Synapse VPS has Python).
"""
import hashlib
import html
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ICONS = {"firing": "🔴", "resolved": "✅"}


def parse_time(value):
    """Alertmanager's RFC 3339 time (nanoseconds, Z) as a datetime; None for its zero time."""
    if not value or value.startswith("0001-"):
        return None
    value = value.replace("Z", "+00:00")
    head, _, rest = value.partition(".")
    if rest:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        value = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(value)


def duration(seconds):
    seconds = int(seconds)
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "min"), (seconds % 60, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0 s"


def message(alert):
    """The room message of one alert: a plain body and its HTML twin."""
    status = alert.get("status", "firing")
    labels = alert.get("labels", {})
    notes = alert.get("annotations", {})
    name = labels.get("alertname", "alert")
    summary = notes.get("summary") or name
    started = parse_time(alert.get("startsAt"))
    ended = parse_time(alert.get("endsAt")) if status == "resolved" else None
    when = started.strftime("%Y-%m-%d %H:%M:%S UTC") if started else "unknown time"
    if status == "resolved":
        span = f", after {duration((ended - started).total_seconds())}" if started and ended else ""
        tail = f"resolved{span} (since {when})"
    else:
        tail = f"since {when}"
    severity = labels.get("severity", "")
    head = f"{ICONS.get(status, '')} {status.upper()} {name}: {summary}".strip()
    lines = [head]
    if status == "firing" and notes.get("description"):
        lines.append(notes["description"])
    lines.append(f"{severity + ', ' if severity else ''}{tail}")
    body = "\n".join(lines)
    formatted = "<br>".join([f"{html.escape(ICONS.get(status, ''))} <b>{status.upper()} {html.escape(name)}</b>: {html.escape(summary)}"] +
                            [html.escape(line) for line in lines[1:]])
    return {"msgtype": "m.notice", "body": body, "format": "org.matrix.custom.html", "formatted_body": formatted}


def transaction_id(alert):
    """The same alert episode in the same state gives the same ID: a retried notification posts nothing new."""
    key = "\0".join([alert.get("fingerprint", ""), alert.get("status", ""), alert.get("startsAt", "")])
    return "alert-" + hashlib.sha256(key.encode()).hexdigest()[:32]


class Matrix:
    def __init__(self, homeserver, token, room_file):
        self.homeserver = homeserver.rstrip("/")
        self.token = token
        self.room_file = room_file

    def room(self):
        with open(self.room_file) as f:
            return f.read().strip()

    def send(self, content, txn):
        room = urllib.parse.quote(self.room(), safe="")
        url = f"{self.homeserver}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"
        for _ in range(5):
            request = urllib.request.Request(url, data=json.dumps(content).encode(), method="PUT",
                                             headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.load(response)["event_id"]
            except urllib.error.HTTPError as e:
                if e.code != 429:
                    raise
                time.sleep(min(json.load(e).get("retry_after_ms", 1000), 10000) / 1000)
        raise RuntimeError("rate limited five times in a row")


def handler_for(matrix):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.reply(200 if self.path == "/health" else 404, "ok\n" if self.path == "/health" else "not found\n")

        def do_POST(self):
            if self.path != "/alerts":
                return self.reply(404, "not found\n")
            try:
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                alerts = payload["alerts"]
            except (ValueError, KeyError, TypeError) as e:
                return self.reply(400, f"not an Alertmanager notification: {e}\n")
            try:
                for alert in alerts:
                    event = matrix.send(message(alert), transaction_id(alert))
                    labels = alert.get("labels", {})
                    print(f"posted {alert.get('status')} {labels.get('alertname')} {json.dumps(labels, sort_keys=True)} as {event}", flush=True)
            except Exception as e:  # noqa: BLE001 - any failure: Alertmanager retries the notification
                print(f"could not post to the room: {e}", file=sys.stderr, flush=True)
                return self.reply(503, f"could not post to the room: {e}\n")
            self.reply(200, "ok\n")

        def reply(self, code, text):
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    return Handler


def main():
    config = json.load(open(sys.argv[1]))
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if not credentials:
        sys.exit("no token: run as the systemd service (LoadCredential=token:…)")
    with open(os.path.join(credentials, "token")) as f:
        token = f.read().strip()
    host, _, port = config["listen"].rpartition(":")
    server = ThreadingHTTPServer((host.strip("[]"), int(port)), handler_for(Matrix(config["homeserver"], token, config["roomFile"])))
    print(f"listening on {config['listen']}, posting to {config['homeserver']}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
