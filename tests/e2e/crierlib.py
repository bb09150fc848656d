"""Start the real crier binary on a loopback port for end-to-end tests."""
import atexit
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CRIER_BUILD", os.path.join(ROOT, "build"))
BINARY = os.path.join(BUILD, "crier")
PLUGINS = os.path.join(BUILD, "plugins")

# CRIER_VALGRIND=1 runs each crier under valgrind's leak check. A definite
# leak or a memory error makes crier exit with VALGRIND_STATUS, which
# stop() reports; scripts/run-tests uses it for one scenario. crier links
# jemalloc, whose malloc and free valgrind must replace as it does glibc's.
VALGRIND = os.environ.get("CRIER_VALGRIND") == "1"
VALGRIND_STATUS = 99
VALGRIND_COMMAND = ["valgrind", "--quiet", "--leak-check=full",
                    "--soname-synonyms=somalloc=*jemalloc*",
                    "--show-leak-kinds=definite",
                    "--errors-for-leak-kinds=definite",
                    "--error-exitcode=%d" % VALGRIND_STATUS]
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


# Every process a test starts, so that one left running by a failed test
# is stopped when pytest exits.
_STARTED = []


@atexit.register
def _stop_leftovers():
    for proc in _STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)


class Crier:
    """One crier process with a config of the test's own.

    `config` is the text of plugins.conf without `listen`, `public_url` and
    `plugin_dir`, which are set here; state goes under `workdir`. `binary`
    and `plugin_dir` default to the build under test.
    """

    def __init__(self, workdir, config, env=None, binary=BINARY,
                 plugin_dir=PLUGINS):
        self.workdir = str(workdir)
        self.binary = binary
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.conf = os.path.join(self.workdir, "plugins.conf")
        self.log = os.path.join(self.workdir, "crier.log")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        with open(self.conf, "w") as f:
            f.write('listen = "127.0.0.1:%d";\n' % self.port)
            f.write('public_url = "%s";\n' % self.url)
            f.write('plugin_dir = "%s";\n' % plugin_dir)
            f.write(config)

    def start(self, timeout=10):
        logf = open(self.log, "ab")
        command = [self.binary, "serve", "-c", self.conf]
        if VALGRIND:
            command = VALGRIND_COMMAND + command
            timeout *= 10
        self.proc = subprocess.Popen(command,
                                     stdout=logf, stderr=logf, env=self.env)
        _STARTED.append(self.proc)
        logf.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("crier exited with %d: %s"
                                   % (self.proc.returncode, self.log_text()))
            try:
                if self.get("/healthz").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("crier did not answer /healthz: " + self.log_text())

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=10):
        data = body
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            data = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        if isinstance(data, str):
            data = data.encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, r.read(), r.headers)
        except urllib.error.HTTPError as e:
            return Response(e.code, e.read(), e.headers)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def stop(self, sig=signal.SIGTERM, timeout=20 * (10 if VALGRIND else 1)):
        """Stops crier with `sig`; returns its exit code. Fails the test
        when a sanitizer build of crier reported an error."""
        if self.proc is None or self.proc.poll() is not None:
            self.check_sanitizers()
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self.check_sanitizers()
        return code

    def check_sanitizers(self):
        text = self.log_text() if os.path.exists(self.log) else ""
        for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "definitely lost in"):
            assert mark not in text, "sanitizer report in " + self.log
        if VALGRIND and self.proc is not None:
            assert self.proc.returncode != VALGRIND_STATUS, \
                "valgrind found errors; see " + self.log

    def kill(self):
        self.stop(signal.SIGKILL)


def run_crier(*args, timeout=30):
    """Runs a crier subcommand; returns (exit code, stdout, stderr)."""
    p = subprocess.run([BINARY] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def wait_until(check, timeout=10, interval=0.05):
    """Polls `check` until it returns a true value; returns that value."""
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % check)
        time.sleep(interval)


class Store:
    """Read-only queries on a running crier's SQLite store."""

    def __init__(self, path):
        self.path = path

    def query(self, sql, *args):
        import sqlite3
        db = sqlite3.connect("file:%s?mode=ro" % self.path, uri=True)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def pipeline_done(self):
        """True when the pipeline has processed every stored event."""
        rows = self.query("SELECT (SELECT max(seq) FROM events),"
                          " (SELECT value FROM cursors"
                          "  WHERE name = 'pipeline')")
        last, cursor = rows[0]
        return last is not None and cursor == last

    def jobs(self):
        cols = ("id", "key", "rule", "state", "attempts", "message_id",
                "error", "last_error", "to")
        rows = self.query("SELECT id, key, rule, state, attempts, message_id,"
                          " error, last_error, recipient FROM jobs ORDER BY id")
        return [dict(zip(cols, r)) for r in rows]

    def stage_of(self, kind, value, program):
        rows = self.query("SELECT s.stage FROM stages s JOIN identities i"
                          " ON i.profile = s.profile WHERE i.kind = ?"
                          " AND i.value = ? AND s.program = ?",
                          kind, value, program)
        return rows[0][0] if rows else None


def maildir_messages(path):
    """Returns the messages of a Maildir's new/ folder, parsed."""
    import email
    import email.policy
    folder = os.path.join(path, "new")
    if not os.path.isdir(folder):
        return []
    out = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            out.append(email.message_from_binary_file(
                f, policy=email.policy.default))
    return out


def body_of(msg, subtype):
    """Returns the decoded text/plain or text/html part of a message."""
    part = msg.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else None


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a loopback port, storing each
    message it accepts in a Maildir. `handler`, when given, is the class
    path of another handler and its extra arguments, such as
    ["reply_smtp.ReplyMailbox", "reject"]."""

    def __init__(self, workdir, delay=None, handler=None, scenario=None,
                 port=None, extra=()):
        """Starts the server. `handler` names an aiosmtpd handler class
        and its arguments after the Maildir; `scenario` picks a handler of
        smtp_scenarios.py ("accept", "reject", "busy", "rate"), with
        `extra` command line options for TLS and AUTH; `port` reuses a
        port, for a server that comes back."""
        self.port = port or free_port()
        self.maildir = os.path.join(str(workdir), "smtp-maildir")
        self.log = open(os.path.join(str(workdir), "smtp.log"), "ab")
        here = os.path.dirname(__file__)
        handler = ["-c", "aiosmtpd.handlers.Mailbox", self.maildir] \
            if handler is None else ["-c", handler[0], self.maildir] + \
            list(handler[1:])
        if delay is not None:
            # slow_smtp.py stores each message after `delay` seconds.
            handler = ["-c", "slow_smtp.SlowMailbox", self.maildir,
                       str(delay)]
        command = ["/usr/bin/python3", "-m", "aiosmtpd", "-n",
                   "-l", "127.0.0.1:%d" % self.port] + handler
        if scenario is not None:
            command = ["/usr/bin/python3",
                       os.path.join(here, "smtp_scenarios.py"),
                       str(self.port), self.maildir, scenario] + list(extra)
        env = dict(os.environ, PYTHONPATH=here)
        self.proc = subprocess.Popen(command, stdout=self.log,
                                     stderr=self.log, env=env)
        _STARTED.append(self.proc)
        wait_until(self._listening, timeout=10)

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2):
                return True
        except OSError:
            return False

    def messages(self):
        return maildir_messages(self.maildir)

    def envelope_senders(self):
        """Returns the MAIL FROM of each message, in arrival order (the
        scenario server records them)."""
        try:
            with open(self.maildir + ".senders") as f:
                return [line.split(" ", 1)[1].strip() for line in f]
        except FileNotFoundError:
            return []

    def senders_by_message_id(self):
        """Returns {Message-ID: MAIL FROM} of the received messages."""
        import mailbox
        box = mailbox.Maildir(self.maildir, create=False)
        out = {}
        try:
            with open(self.maildir + ".senders") as f:
                for line in f:
                    key, sender = line.split(" ", 1)
                    out[box[key]["Message-ID"]] = sender.strip()
        except FileNotFoundError:
            pass
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def shipped_config(smtp_port=None, workdir=None):
    """Returns the shipped plugins.conf adapted to a test: without listen,
    public_url and plugin_dir (Crier sets them), with absolute paths, state
    under `workdir`, and email over SMTP to `smtp_port` when given."""
    import re
    with open(os.path.join(ROOT, "plugins.conf")) as f:
        text = f.read()
    text = re.sub(r'^(listen|public_url|plugin_dir)\s*=.*$', '', text,
                  flags=re.M)
    text = text.replace('"templates"', '"%s"' % os.path.join(ROOT,
                                                            "templates"))
    text = text.replace('"examples/', '"%s/examples/' % ROOT)
    text = text.replace('"var/', '"%s/var/' % workdir)
    if smtp_port is not None:
        text = re.sub(r'outbox\s*=\s*"[^"]*";',
                      'url = "smtp://127.0.0.1:%d";' % smtp_port, text)
    return text


class PostgresServer:
    """A throwaway PostgreSQL server on a loopback port, started by
    scripts/pg-test-server in a folder of its own and stopped by stop().
    Queries go through psql, since the tests run under Debian's
    /usr/bin/python3, which has no PostgreSQL driver."""

    SCRIPT = os.path.join(ROOT, "scripts", "pg-test-server")

    def __init__(self, workdir):
        self.state = os.path.join(str(workdir), "pg-state")
        subprocess.run([self.SCRIPT, "start", self.state], check=True,
                       stdout=subprocess.DEVNULL, timeout=120)
        with open(os.path.join(self.state, "url")) as f:
            self.url = f.read().strip()

    def query(self, sql, schema="public"):
        """Runs `sql` in `schema` and returns the rows as lists of text."""
        out = subprocess.run(
            ["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
             "-c", "SET search_path TO %s" % schema, "-c", sql, self.url],
            check=True, capture_output=True, text=True, timeout=60).stdout
        return [line.split("\t") for line in out.splitlines()]

    def scalar(self, sql, schema="public"):
        return self.query(sql, schema)[0][0]

    def halt(self):
        """Stops the server with pg_ctl stop -m fast and keeps its data."""
        subprocess.run([self.SCRIPT, "halt", self.state], check=True,
                       timeout=120)

    def resume(self):
        """Starts a halted server again on the same port."""
        subprocess.run([self.SCRIPT, "resume", self.state], check=True,
                       timeout=120)

    def stop(self):
        subprocess.run([self.SCRIPT, "stop", self.state], check=True,
                       timeout=120)
