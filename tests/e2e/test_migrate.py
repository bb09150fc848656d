"""crier migrate: each store applies its missing schema migrations when
it opens, and `crier migrate` prints the version it found and the
version it left, on SQLite and on PostgreSQL. `crier migrate --status`
lists the pending migrations and changes nothing. `crier migrate --from
sqlite:PATH --to postgres:URL` copies a SQLite store into PostgreSQL and
can run again."""
import glob
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


def write_config(tmp_path, config):
    conf = os.path.join(str(tmp_path), "plugins.conf")
    with open(conf, "w") as f:
        f.write(config)
    return conf


def migrate(tmp_path, config):
    """Runs `crier migrate`, which applies; returns its output line."""
    code, out, err = run_crier("-c", write_config(tmp_path, config),
                               "migrate")
    assert code == 0, err
    return out.strip()


def status(tmp_path, config):
    """Runs `crier migrate --status`; returns (exit code, output lines)."""
    code, out, err = run_crier("-c", write_config(tmp_path, config),
                               "migrate", "--status")
    assert code in (0, 3), err
    return code, out.strip().splitlines()


def sqlite_version(path):
    out = subprocess.run(["sqlite3", path,
                          "SELECT version FROM schema_version"],
                         check=True, capture_output=True, text=True).stdout
    return int(out)


def sqlite_index(path, name):
    return subprocess.run(["sqlite3", path,
                           "SELECT sql FROM sqlite_master WHERE type = "
                           "'index' AND name = '%s'" % name],
                          check=True, capture_output=True,
                          text=True).stdout.strip()


# Undoes sqlite migrations 19, 18 and 17, as a crier from before them
# left the database.
SQLITE_UNDO_17_19 = """
DROP INDEX jobs_state;
CREATE INDEX jobs_state ON jobs (state, id);
DROP INDEX jobs_rule;
CREATE INDEX jobs_rule ON jobs (rule, state, error);
DROP INDEX jobs_claim;
CREATE INDEX jobs_due ON jobs (state, due);
CREATE INDEX jobs_claim ON jobs (state, lane, due, priority DESC);
ALTER TABLE journeys DROP COLUMN items;
UPDATE schema_version SET version = 16;
"""

PG_MIGRATIONS = sorted(glob.glob(os.path.join(
    ROOT, "plugins", "stores", "postgres", "sql", "migration_*.sql")))


def postgres_old_schema(postgres, schema, version):
    """Builds `schema` as a crier with only the first `version` postgres
    migrations left it, by running those files."""
    postgres.query("CREATE SCHEMA %s" % schema)
    sql = ["CREATE TABLE crier_schema_version (version integer NOT NULL);"
           "INSERT INTO crier_schema_version VALUES (%d);" % version]
    for path in PG_MIGRATIONS[:version]:
        with open(path) as f:
            sql.append(f.read())
    postgres.query("\n".join(sql), schema)


def test_migrate_applies_sqlite(tmp_path):
    config = SQLITE % (PLUGINS, os.path.join(str(tmp_path), "crier.db"))
    first = migrate(tmp_path, config)
    assert first.startswith("store sqlite: schema version ")
    assert "applied" in first
    assert first.endswith("(found version 0)")
    version = first.split()[4]
    assert migrate(tmp_path, config) == (
        "store sqlite: schema version %s of %s; nothing to apply"
        % (version, version))


def test_status_new_sqlite_creates_nothing(tmp_path):
    db = os.path.join(str(tmp_path), "data", "crier.db")
    code, lines = status(tmp_path, SQLITE % (PLUGINS, db))
    assert code == 3
    assert lines[0].startswith("store sqlite: schema version 0 of ")
    assert lines[1] == "  1  the first schema"
    assert not os.path.exists(os.path.dirname(db))


def test_status_old_sqlite_changes_nothing(tmp_path):
    db = os.path.join(str(tmp_path), "crier.db")
    config = SQLITE % (PLUGINS, db)
    latest = int(migrate(tmp_path, config).split()[4])
    subprocess.run(["sqlite3", db, SQLITE_UNDO_17_19], check=True)
    with open(db, "rb") as f:
        before = f.read()

    code, lines = status(tmp_path, config)
    assert code == 3
    assert lines == [
        "store sqlite: schema version 16 of %d; 3 migrations pending:"
        % latest,
        "  17  the items of digest windows",
        "  18  a smaller claim index",
        "  19  jobs in flight left out of the state and rule indexes"]
    with open(db, "rb") as f:
        assert f.read() == before
    assert sqlite_version(db) == 16

    assert migrate(tmp_path, config) == (
        "store sqlite: schema version %d of %d; applied 3 migrations "
        "(found version 16)" % (latest, latest))
    assert sqlite_version(db) == latest
    for index in ("jobs_state", "jobs_rule"):
        assert sqlite_index(db, index).endswith(
            "WHERE state NOT IN ('claimed', 'sending')")
    assert status(tmp_path, config) == (0, [
        "store sqlite: schema version %d of %d; up to date"
        % (latest, latest)])


def test_status_newer_sqlite_fails(tmp_path):
    db = os.path.join(str(tmp_path), "crier.db")
    config = SQLITE % (PLUGINS, db)
    latest = int(migrate(tmp_path, config).split()[4])
    subprocess.run(["sqlite3", db, "UPDATE schema_version SET version = %d"
                    % (latest + 1)], check=True)
    code, out, err = run_crier("-c", write_config(tmp_path, config),
                               "migrate", "--status")
    assert code == 1
    assert out == ""
    assert err == ("crier: store sqlite: schema version %d is newer than "
                   "the latest this crier knows (%d); use a newer crier\n"
                   % (latest + 1, latest))


def test_status_memory_store_fails(tmp_path):
    config = 'plugin_dir = "%s";\nstore: { plugin = "memory"; };\n' % PLUGINS
    code, out, err = run_crier("-c", write_config(tmp_path, config),
                               "migrate", "--status")
    assert code == 1
    assert "the memory store reports its schema only once started" in err


def test_migrate_applies_postgres(tmp_path, postgres):
    config = POSTGRES % (PLUGINS, postgres.url)
    assert migrate(tmp_path, config) == (
        "store postgres: schema version 3 of 3; applied 3 migrations "
        "(found version 0)")
    assert migrate(tmp_path, config) == (
        "store postgres: schema version 3 of 3; nothing to apply")
    assert postgres.scalar("SELECT version FROM crier_schema_version",
                           "migrate_test") == "3"


def test_status_old_postgres_changes_nothing(tmp_path, postgres):
    config = POSTGRES % (PLUGINS, postgres.url)
    latest = len(PG_MIGRATIONS)
    schemas = "SELECT count(*) FROM pg_namespace WHERE nspname = " \
              "'migrate_test'"
    code, lines = status(tmp_path, config)
    assert code == 3
    assert lines[0] == ("store postgres: schema version 0 of %d; %d "
                        "migrations pending:" % (latest, latest))
    assert lines[1] == ("  1  the first schema, with the tables of every "
                        "store operation")
    assert lines[2] == "  2  what the sqlite store's migrations 14 to 17 added"
    assert len(lines) == latest + 1
    assert postgres.scalar(schemas) == "0"

    # A schema that a crier with one migration fewer left.
    postgres_old_schema(postgres, "migrate_test", latest - 1)
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = " \
             "'migrate_test'"
    functions = "SELECT count(*) FROM pg_proc p JOIN pg_namespace n " \
                "ON n.oid = p.pronamespace WHERE nspname = 'migrate_test'"
    tables_before = postgres.scalar(tables)
    code, lines = status(tmp_path, config)
    assert code == 3
    assert lines[0] == ("store postgres: schema version %d of %d; 1 "
                        "migration pending:" % (latest - 1, latest))
    assert lines[1].startswith("  %d  " % latest)
    assert len(lines[1]) > len("  %d  " % latest)
    assert len(lines) == 2
    assert postgres.scalar("SELECT version FROM crier_schema_version",
                           "migrate_test") == str(latest - 1)
    assert postgres.scalar(tables) == tables_before
    assert postgres.scalar(functions) == "0"

    # A node that starts applies the pending migration.
    (tmp_path / "node").mkdir()
    node = Crier(tmp_path / "node", POSTGRES_NODE.replace(
        "copied", "migrate_test") % postgres.url)
    node.start()
    assert node.stop() == 0
    assert postgres.scalar("SELECT version FROM crier_schema_version",
                           "migrate_test") == str(latest)
    assert status(tmp_path, config) == (0, [
        "store postgres: schema version %d of %d; up to date"
        % (latest, latest)])


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
