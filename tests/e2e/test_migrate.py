"""crier migrate: each store applies its missing schema migrations when
it opens, and `crier migrate --status` prints the version it found and
the version it left, on SQLite and on PostgreSQL."""
import os

import pytest

from crierlib import PLUGINS, PostgresServer, run_crier

SQLITE = """
plugin_dir = "%s";
store: { plugin = "sqlite"; path = "%s"; };
"""
POSTGRES = """
plugin_dir = "%s";
store: { plugin = "postgres"; url = "%s"; schema = "migrate_test"; };
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
        "store postgres: schema version 1 of 1; applied 1 migration "
        "(found version 0)")
    assert migrate(tmp_path, config) == (
        "store postgres: schema version 1 of 1; nothing to apply")
    assert postgres.scalar("SELECT version FROM crier_schema_version",
                           "migrate_test") == "1"


def test_migrate_rejects_unknown_option(tmp_path):
    code, out, err = run_crier("migrate", "--from", "sqlite:x")
    assert code == 64
    assert "usage: crier [-c FILE] migrate [--status]" in err
