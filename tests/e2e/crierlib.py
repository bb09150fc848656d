"""Start the real crier binary on a loopback port for end-to-end tests."""
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
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


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
    `plugin_dir`, which are set here; state goes under `workdir`.
    """

    def __init__(self, workdir, config, env=None):
        self.workdir = str(workdir)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.conf = os.path.join(self.workdir, "plugins.conf")
        self.log = os.path.join(self.workdir, "crier.log")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        with open(self.conf, "w") as f:
            f.write('listen = "127.0.0.1:%d";\n' % self.port)
            f.write('public_url = "%s";\n' % self.url)
            f.write('plugin_dir = "%s";\n' % PLUGINS)
            f.write(config)

    def start(self, timeout=10):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([BINARY, "serve", "-c", self.conf],
                                     stdout=logf, stderr=logf, env=self.env)
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

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops crier with `sig`; returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self):
        self.stop(signal.SIGKILL)


def run_crier(*args, timeout=30):
    """Runs a crier subcommand; returns (exit code, stdout, stderr)."""
    p = subprocess.run([BINARY] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr
