"""Every event answered 202 survives kill -9."""
import http.client
import json
import threading
import time

from crierlib import Crier
from conftest import SQLITE_API

CLIENTS = 8


def poster(port, client, acked, stop):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    n = 0
    while not stop.is_set():
        ev = {"id": "c%d-%d" % (client, n), "type": "crash.probe",
              "visitor": "v-%d" % client, "properties": {"n": n}}
        try:
            conn.request("POST", "/v1/events", json.dumps(ev),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
        except (OSError, http.client.HTTPException):
            return
        if r.status == 202:
            acked.append(ev)
        n += 1


def test_kill9_loses_no_acknowledged_event(tmp_path):
    c = Crier(tmp_path, SQLITE_API).start()
    acked, stop = [], threading.Event()
    threads = [threading.Thread(target=poster,
                                args=(c.port, i, acked, stop))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    c.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 0

    c.start()
    # Re-post every acknowledged event: each must be a duplicate.
    lost = []
    for i in range(0, len(acked), 500):
        chunk = acked[i:i + 500]
        r = c.post("/v1/events", {"events": chunk})
        assert r.status == 202
        if r.json()["duplicates"] != len(chunk):
            lost.append(r.json())
    assert c.stop() == 0
    assert lost == []
