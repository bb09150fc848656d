"""Error messages name what failed and what to do next."""
import os
import re
import signal

from crierlib import Crier, free_port, run_crier, wait_until

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
"""

TOPIC = """
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "City of Example <alerts@example.gov>"; }; };
topics = (
  { name = "crib-recalls"; title = "Crib recalls";
    category = "Child safety"; channels = [ "email" ]; },
  { name = "crib-recalls"; title = "Crib recalls again";
    category = "Child safety"; channels = [ "email" ]; }
);
"""


def rewrite(c, old, new):
    with open(c.conf) as f:
        text = f.read()
    assert old in text
    with open(c.conf, "w") as f:
        f.write(text.replace(old, new))


def reload_error(c, count):
    """Sends SIGHUP and returns the error of the count-th failed reload."""
    c.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: c.log_text().count("reload failed") >= count)
    lines = [line for line in c.log_text().splitlines()
             if "reload failed" in line]
    return lines[count - 1]


def test_fractional_id_names_whole_numbers(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    r = c.post("/v1/events", {"type": "signup", "visitor": "v-1",
                              "id": 1.5})
    assert r.status == 400
    assert r.json()["error"] == ("id must be a string of 1 to 256 "
                                 "characters or a whole number")
    assert c.post("/v1/events", {"type": "signup", "visitor": "v-1",
                                 "id": 15}).status == 202
    assert c.stop() == 0


def test_delivery_type_named(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    r = c.post("/v1/events", {"type": "email.delivered", "visitor": "v-1"})
    assert r.status == 400
    assert r.json()["field"] == "type"
    assert r.json()["error"].startswith(
        "type email.delivered is reserved for the delivery statuses")
    assert c.stop() == 0


def test_topic_listed_twice(tmp_path):
    c = Crier(tmp_path, CONFIG + TOPIC)
    code, _, err = run_crier("-c", c.conf, "check")
    assert code != 0
    assert "the topic is listed twice in plugins.conf" in err


def test_backup_prints_cause(tmp_path):
    c = Crier(tmp_path, CONFIG)
    os.makedirs(os.path.join(c.workdir, "var"))
    target = os.path.join(c.workdir, "no-such-folder", "copy.db")
    code, _, err = run_crier("-c", c.conf, "backup", target)
    assert code == 1
    assert "unable to open database file" in err
    assert not os.path.exists(target)


def test_reload_listen_needs_restart(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    try:
        rewrite(c, "127.0.0.1:%d" % c.port, "127.0.0.1:%d" % free_port())
        line = reload_error(c, 1)
        assert "listen: cannot change by reload or upgrade" in line
        assert "restart crier" in line
        assert "upgrade it in place" not in line
    finally:
        assert c.stop() == 0


def test_reload_error_quotes_escaped(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    try:
        with open(c.conf, "a") as f:
            f.write('time_zone = "Mars/Olympus";\n')
        line = reload_error(c, 1)
        value = re.search(r' error="((?:[^"\\]|\\.)*)"$', line)
        assert value is not None, line
        assert 'unknown time zone \\"Mars/Olympus\\"' in value.group(1)
    finally:
        assert c.stop() == 0
