"""The plugin SDK from outside the tree: crier is installed into a
temporary prefix, the two example plugins in examples/plugins are built
there with `pkg-config crier-plugin` and their own Makefiles, and the
installed crier loads them. The spool trigger stores an event from a
dropped file, and a rule sends it through the chat channel to a fake chat
server on loopback."""
import http.server
import json
import os
import shutil
import subprocess
import threading

import pytest

from crierlib import BUILD, ROOT, Crier, Store, wait_until

EXAMPLES = os.path.join(ROOT, "examples", "plugins")
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")

CONFIG = """
templates = "%(templates)s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { exports: { plugin = "spool"; dir = "spool"; interval_ms = 50; };
};
channels: { staff: { plugin = "chat"; url = "%(url)s"; timeout_ms = 5000; };
};
delivery: { poll = "100ms"; };
programs: { exports: { }; };
rules = (
  { name = "export-note"; program = "exports"; on = "export.row";
    when = "true";
    send = { channel = "staff"; template = "welcome"; }; }
);
"""


class ChatServer:
    """A fake incoming-webhook endpoint that records each JSON body."""

    def __init__(self):
        self.posts = []
        chat = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                chat.posts.append({
                    "body": json.loads(body),
                    "type": self.headers.get("Content-Type"),
                    "message_id": self.headers.get("X-Crier-Message-Id")})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.url = "http://127.0.0.1:%d/hooks/abc" % self.server.server_port
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """Installs crier into a fresh prefix and builds both examples there."""
    root = tmp_path_factory.mktemp("sdk")
    prefix = str(root / "prefix")
    subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix],
                   check=True, capture_output=True)
    env = dict(os.environ,
               PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
    for name in ("chat", "spool"):
        src = str(root / name)
        shutil.copytree(os.path.join(EXAMPLES, name), src)
        build = subprocess.run(["make", "install"], cwd=src, env=env,
                               capture_output=True, text=True)
        assert build.returncode == 0, build.stdout + build.stderr
        assert "warning" not in build.stderr, build.stderr
    return prefix


def pc_variable(prefix, name):
    env = dict(os.environ,
               PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
    out = subprocess.run(["pkg-config", "--variable=" + name,
                          "crier-plugin"], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def test_installed_sdk_layout(prefix):
    headers = os.listdir(os.path.join(prefix, "include", "crier"))
    assert sorted(headers) == ["abi.h", "channel.h", "crier.h", "error.h",
                               "host.h", "plugin.h", "store.h", "trigger.h"]
    assert pc_variable(prefix, "prefix") == prefix
    plugins = pc_variable(prefix, "pluginsdir")
    assert plugins == os.path.join(prefix, "lib", "crier", "plugins")
    assert os.path.exists(os.path.join(plugins, "sqlite.so"))
    assert os.path.exists(os.path.join(plugins, "chat.so"))
    assert os.path.exists(os.path.join(plugins, "spool.so"))
    with open(os.path.join(ROOT, "include", "crier", "abi.h")) as f:
        abi = f.read()
    assert "CRIER_ABI_MINOR   %s" % pc_variable(prefix, "abi_minor") in abi


def test_installed_crier_lists_examples(prefix, tmp_path):
    conf = tmp_path / "plugins.conf"
    conf.write_text('plugin_dir = "%s";\nchannels: { staff: { plugin = '
                    '"chat"; url = "http://127.0.0.1:9/"; }; };\n'
                    % pc_variable(prefix, "pluginsdir"))
    out = subprocess.run([os.path.join(prefix, "bin", "crier"), "plugins",
                          "-c", str(conf)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert "chat" in rows
    assert "spool" in rows
    abi = "%s.%s" % (pc_variable(prefix, "abi_version"),
                     pc_variable(prefix, "abi_minor"))
    assert rows["chat"].split()[1:4] == ["channel", "1.0.0", abi]
    assert "channels.staff" in rows["chat"]
    assert "chat.so" in rows["chat"]


def test_chat_config_error_names_line_and_key(prefix, tmp_path):
    conf = tmp_path / "plugins.conf"
    conf.write_text('plugin_dir = "%s";\nstore: { plugin = "memory"; };\n'
                    'channels: {\n  staff: { plugin = "chat";\n'
                    '    url = "ftp://chat.example.org/"; };\n};\n'
                    % pc_variable(prefix, "pluginsdir"))
    out = subprocess.run([os.path.join(prefix, "bin", "crier"), "check",
                          "-c", str(conf)], capture_output=True, text=True)
    assert out.returncode == 2
    assert "plugins.conf:5: channels.staff.url: must be the room's " \
           "incoming webhook URL" in out.stderr


def test_examples_store_and_deliver(prefix, tmp_path):
    chat = ChatServer()
    config = CONFIG % {"templates": TEMPLATES, "url": chat.url}
    c = Crier(tmp_path, config, binary=os.path.join(prefix, "bin", "crier"),
              plugin_dir=pc_variable(prefix, "pluginsdir"))
    spool = tmp_path / "spool"
    spool.mkdir()

    # Two files, written under another name and renamed once complete.
    rows = [{"type": "export.row", "id": "row-%d" % i,
             "profile": {"email": "resident%d@example.org" % i},
             "attributes": {"first_name": "Resident %d" % i},
             "properties": {"url": "https://example.gov/r/%d" % i}}
            for i in range(3)]
    (spool / "batch.tmp").write_text(
        "\n".join(json.dumps(r) for r in rows) + "\n")
    (spool / "broken.tmp").write_text('{"type": "export.row"}\n{oops\n')
    c.start()

    try:
        store = Store(os.path.join(c.workdir, "var", "crier.db"))
        os.rename(spool / "batch.tmp", spool / "batch.ndjson")
        os.rename(spool / "broken.tmp", spool / "broken.ndjson")
        wait_until(lambda: len(chat.posts) == 3, timeout=30)
        wait_until(lambda: (spool / "broken.ndjson.rejected").exists())
        events = store.query("SELECT source, type FROM events"
                             " WHERE type = 'export.row'")
        jobs = store.jobs()
    finally:
        code = c.stop()
        chat.stop()
    assert code == 0

    # The spool trigger stored the good file and rejected the other.
    assert events == [("exports", "export.row")] * 3
    assert (spool / "batch.ndjson.done").exists()
    assert not (spool / "batch.ndjson").exists()
    assert "line=2" in c.log_text()

    # The chat channel posted one message per event to the fake room.
    assert [j["state"] for j in jobs] == ["sent"] * 3
    texts = sorted(p["body"]["text"] for p in chat.posts)
    assert texts[0].startswith("Welcome, Resident 0!\n\nHello Resident 0,")
    assert "you read https://example.gov/r/0." in texts[0]
    assert all(p["type"] == "application/json" for p in chat.posts)
    assert sorted(p["message_id"] for p in chat.posts) == \
        sorted(j["message_id"] for j in jobs)
