"""Upgrade in place (SIGUSR2) while events arrive and messages go out:
crier re-executes itself, the new process loads a rebuilt channel
plugin, and no connection is refused, no event lost and no message sent
twice."""
import collections
import glob
import os
import re
import signal
import subprocess
import time

from crierlib import PLUGINS, ROOT, Crier, Store, wait_until
from reloadlib import (DIGEST, Load, Receiver, become_subreaper, stop_pid,
                       write_templates)

CHAT = os.path.join(ROOT, "examples", "plugins", "chat", "chat.c")

CONFIG = """
templates = "tpl";
admin: { tokens = [ "sha256:%(digest)s" ]; };
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { room: { plugin = "chat"; url = "%(url)s"; timeout_ms = 5000; };
};
delivery: { poll = "100ms"; backoff = "1s"; };
programs: { visits: { }; };
rules = (
  { name = "thanks"; program = "visits"; on = "visit"; when = "true";
    send = { channel = "room"; template = "v1"; }; }
);
"""


def build_chat(plugin_dir, version):
    """Builds the example chat channel with `version` and swaps it into
    `plugin_dir` by rename, as an install does, so the running process
    keeps its mapped copy."""
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libuv",
                            "jansson", "libcurl"], check=True,
                           capture_output=True, text=True).stdout.split()
    target = os.path.join(plugin_dir, "chat.so")
    subprocess.run(["cc", "-std=gnu11", "-fPIC", "-shared",
                    "-fvisibility=hidden", "-I", os.path.join(ROOT,
                                                              "include"),
                    '-DCHAT_VERSION="%s"' % version, "-o", target + ".new",
                    CHAT] + flags, check=True)
    os.rename(target + ".new", target)


def new_pid(c):
    found = re.findall(r"pid=(\d+) inherited=yes", c.log_text())
    return int(found[-1]) if found else None


def test_upgrade_to_rebuilt_plugin(tmp_path):
    count = 300
    become_subreaper()
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    for so in glob.glob(os.path.join(PLUGINS, "*.so")):
        os.symlink(so, plugin_dir / os.path.basename(so))
    build_chat(str(plugin_dir), "1.0.0")
    write_templates(str(tmp_path / "tpl"), {"v1": "hello"})
    receiver = Receiver(hold=0.02)
    c = Crier(tmp_path, CONFIG % {"digest": DIGEST,
                                  "url": receiver.base + "/hook"},
              plugin_dir=str(plugin_dir)).start()
    store = Store(os.path.join(c.workdir, "var", "crier.db"))
    pid = None
    try:
        load = Load(c.port, count, threads=2, rate=100).start()
        wait_until(lambda: load.posted() >= count // 3, timeout=60)
        build_chat(str(plugin_dir), "2.0.0")
        began = time.monotonic()
        c.proc.send_signal(signal.SIGUSR2)
        assert c.proc.wait(30) == 0
        old_gone = time.monotonic()
        pid = wait_until(lambda: new_pid(c))

        load.wait()
        wait_until(lambda: len(store.jobs()) == count and all(
            j["state"] == "sent" for j in store.jobs()), timeout=90)
        events = store.query("SELECT count(*) FROM events"
                             " WHERE type = 'visit'")[0][0]
        assert c.get("/readyz").status == 200
    finally:
        pid = pid or new_pid(c)
        code = stop_pid(pid) if pid is not None else None
        c.stop()
        receiver.stop()
    c.check_sanitizers()
    assert code == 0

    print("old process gone %.3fs after SIGUSR2" % (old_gone - began))
    assert load.errors == []
    assert sorted(load.results) == list(range(count))
    assert {status for _, status in load.results.values()} == {202}
    assert events == count

    per_message = collections.Counter(r["message_id"]
                                      for r in receiver.requests)
    assert len(per_message) == count
    assert max(per_message.values()) == 1

    before = [r for r in receiver.requests if r["time"] < began]
    after = [r for r in receiver.requests if r["time"] > old_gone]
    assert before and after
    assert {r["agent"] for r in before} == {"crier-chat/1.0.0"}
    assert {r["agent"] for r in after} == {"crier-chat/2.0.0"}
    assert "upgrade: store closed; the new process takes over" in \
        c.log_text()


def test_upgrade_with_bad_config_keeps_serving(tmp_path):
    receiver = Receiver()
    write_templates(str(tmp_path / "tpl"), {"v1": "hello"})
    config = CONFIG.replace('plugin = "chat"', 'plugin = "webhook"') \
        .replace('timeout_ms = 5000;', 'secret = "s";')
    c = Crier(tmp_path, config % {"digest": DIGEST,
                                  "url": receiver.base + "/hook"}).start()
    try:
        with open(c.conf) as f:
            text = f.read()
        with open(c.conf, "w") as f:
            f.write(text.replace('secret = "s";', 'secret = 7;'))
        c.proc.send_signal(signal.SIGUSR2)
        wait_until(lambda: "upgrade failed" in c.log_text())
        assert "channels.room.secret" in c.log_text()
        assert c.proc.poll() is None
        r = c.post("/v1/events", Load(c.port, 1).event(1))
        assert r.status == 202
    finally:
        code = c.stop()
        receiver.stop()
    assert code == 0
    assert new_pid(c) is None
