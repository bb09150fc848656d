"""crier migrate: each store applies its missing schema migrations when
it opens, and `crier migrate --status` prints the version it found and
the version it left, on SQLite and on PostgreSQL. `crier migrate --from
sqlite:PATH --to postgres:URL` copies a SQLite store into PostgreSQL and
can run again."""
import os
import subprocess

import pytest

from crierlib import (PLUGINS, ROOT, Crier, PostgresServer, Store,
                      run_crier, wait_until)

SQLITE = """
plugin_dir = "%s";
store: { plugin = "sqlite"; path = "%s"; };
"""
POSTGRES = """
plugin_dir = "%s";
store: { plugin = "postgres"; url = "%s"; schema = "migrate_test"; };
"""
POSTGRES_NODE = """
store: { plugin = "postgres"; url = "%s"; schema = "copied"; };
triggers: { api: { plugin = "api"; }; };
"""


@pytest.fixture
def postgres(tmp_path):
    pg = PostgresServer(tmp_path)
    yield pg
    pg.stop()


def migrate(tmp_path, config):
    conf = os.path.join(str(tmp_path), "plugins.conf")
    with open(conf, "w") as f:
        f.write(config)
    code, out, err = run_crier("-c", conf, "migrate", "--status")
    assert code == 0, err
    return out.strip()


def test_migrate_status_sqlite(tmp_path):
    config = SQLITE % (PLUGINS, os.path.join(str(tmp_path), "crier.db"))
    first = migrate(tmp_path, config)
    assert first.startswith("store sqlite: schema version ")
    assert "applied" in first
    assert first.endswith("(found version 0)")
    version = first.split()[4]
    assert migrate(tmp_path, config) == (
        "store sqlite: schema version %s of %s; nothing to apply"
        % (version, version))


def test_migrate_status_postgres(tmp_path, postgres):
    config = POSTGRES % (PLUGINS, postgres.url)
    assert migrate(tmp_path, config) == (
        "store postgres: schema version 3 of 3; applied 3 migrations "
        "(found version 0)")
    assert migrate(tmp_path, config) == (
        "store postgres: schema version 3 of 3; nothing to apply")
    assert postgres.scalar("SELECT version FROM crier_schema_version",
                           "migrate_test") == "3"


def test_migrate_rejects_unknown_option(tmp_path):
    code, out, err = run_crier("migrate", "--dry-run")
    assert code == 64
    assert "usage: crier [-c FILE] migrate [--status]" in err


COPY_CONFIG = """
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Works <works@example.gov>"; }; };
rules = ( { name = "hello"; on = "signup";
            send = { channel = "email"; template = "notice"; }; } );
""" % os.path.join(ROOT, "tests", "data", "e2e-templates")


# Rows of the tables that the sqlite schema gained after the first
# postgres migration, with the newer columns of jobs and journeys set.
NEWER_ROWS = """
INSERT INTO pauses VALUES ('channel', 'email', 1000, 'ops');
INSERT INTO audit_log (time_ms, token, action, target, result)
  VALUES (1000, 'ops', 'pause', 'email', 200);
INSERT INTO subscriptions VALUES ('p1', 'roads', 'email', 'confirmed',
  'page', 1000, 2000);
INSERT INTO objects VALUES ('bulletin', 'b1', '{"title":"Roads"}');
UPDATE jobs SET delivery_status = 'bounced', delivery_code = '5.1.1',
  delivery_text = 'no such user', delivery_time = 3000 WHERE id = 1;
INSERT INTO journeys VALUES ('digest', 'p1', 1, 'window', 'active', 5000,
  1000, 1000, '[{"seq":1}]');
"""


def sqlite_count(path, table):
    out = subprocess.run(["sqlite3", path, "SELECT count(*) FROM " + table],
                         check=True, capture_output=True, text=True).stdout
    return out.strip()


def test_migrate_copies_sqlite_to_postgres(tmp_path, postgres):
    c = Crier(tmp_path, COPY_CONFIG).start()
    events = [{"id": "e-%d" % i, "type": "signup",
               "profile": {"email": "p%d@example.gov" % i},
               "properties": {"subject": "Hello", "body": "Welcome."}}
              for i in range(50)]
    assert c.post("/v1/events", {"events": events}).status == 202
    db = os.path.join(str(tmp_path), "var", "crier.db")
    store = Store(db)
    wait_until(store.pipeline_done, timeout=20)
    assert c.stop() == 0
    subprocess.run(["sqlite3", db, NEWER_ROWS], check=True)

    args = ["migrate", "--from", "sqlite:" + db, "--to",
            "postgres:" + postgres.url, "--schema", "copied"]
    for _ in range(2):          # a rerun replaces the first copy
        code, out, err = run_crier(*args, timeout=120)
        assert code == 0, err
        assert out.strip().endswith("copied and verified every table")
        for table in ("events", "profiles", "identities", "jobs",
                      "cursors", "stage_history", "pauses", "audit_log",
                      "subscriptions", "objects", "journeys"):
            assert postgres.scalar("SELECT count(*) FROM " + table,
                                   "copied") == sqlite_count(db, table)
    assert "events: 50 rows, checksum " in out
    assert "audit_log: 1 rows, checksum " in out
    assert postgres.scalar("SELECT delivery_code FROM jobs WHERE id = 1",
                           "copied") == "5.1.1"
    assert postgres.scalar("SELECT items FROM journeys", "copied") == (
        '[{"seq":1}]')

    # A node on the copy carries on where the sqlite store stopped.
    (tmp_path / "pg").mkdir()
    node = Crier(tmp_path / "pg", POSTGRES_NODE % postgres.url)
    node.start()
    try:
        assert node.post("/v1/events", {"id": "e-0", "type": "signup",
                         "profile": {"email": "p0@example.gov"}}
                         ).json()["duplicates"] == 1
    finally:
        assert node.stop() == 0


def test_migrate_copy_rejects_bad_arguments(tmp_path):
    code, out, err = run_crier("migrate", "--from", "sqlite:x", "--to")
    assert code == 64
    assert "usage: crier migrate --from sqlite:PATH" in err
