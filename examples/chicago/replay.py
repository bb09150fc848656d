#!/usr/bin/python3
"""Replays the Chicago service requests into crier's case trigger.

Each note of each request becomes one signed webhook carrying the request
as it stood at that note: the first note opens it, later notes update it,
and the note of type "closed" closes it. The requester of each request is
the made-up resident of residents.py.

    replay.py [--url URL] [--secret SECRET] [--data FILE]

The secret defaults to $CASE_SECRET, else "change-me", as in plugins.conf.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request

from residents import DATA, load_requests, resident_for


def snapshots(request):
    """Yields the request as it stood after each of its notes, in order."""
    notes = sorted(request.get("notes", []), key=lambda n: n["datetime"])
    person = resident_for(request["service_request_id"])
    first_time = notes[0]["datetime"] if notes else request["requested_datetime"]
    for note in notes:
        snap = {k: v for k, v in request.items() if k != "notes"}
        snap.update(person)
        snap["requested_datetime"] = first_time
        snap["updated_datetime"] = note["datetime"]
        closed = note["type"] == "closed"
        snap["status"] = "closed" if closed else "open"
        # The closing note contains only "Request closed", while the
        # request's own status_notes carries the outcome.
        if closed and request.get("status_notes"):
            snap["status_notes"] = request["status_notes"]
        else:
            snap["status_notes"] = note.get("description", note["summary"])
        yield snap


def sign(secret, timestamp, body):
    mac = hmac.new(secret.encode(), b"%d." % timestamp + body,
                   hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def post(url, secret, payload, now=None):
    body = json.dumps(payload).encode()
    ts = int(now if now is not None else time.time())
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "X-Crier-Timestamp": str(ts),
        "X-Crier-Signature": sign(secret, ts, body)})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
    except (urllib.error.URLError, ConnectionError) as e:
        reason = getattr(e, "reason", e)
        raise SystemExit("replay.py: cannot reach %s: %s; is crier running "
                         "(make run)?" % (url, reason))


def replay(url, secret, path=DATA, now=None):
    """Posts every snapshot; returns (webhooks accepted, refused)."""
    accepted = refused = 0
    for request in load_requests(path):
        for snap in snapshots(request):
            status, answer = post(url, secret, snap, now)
            if status == 202:
                accepted += 1
            else:
                refused += 1
                print("refused: %s %s %s" % (snap["service_request_id"],
                                             status, answer),
                      file=sys.stderr)
    return accepted, refused


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080/hooks/case")
    ap.add_argument("--secret",
                    default=os.environ.get("CASE_SECRET", "change-me"))
    ap.add_argument("--data", default=DATA)
    args = ap.parse_args()
    accepted, refused = replay(args.url, args.secret, args.data)
    print("webhooks accepted=%d refused=%d" % (accepted, refused))
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
