"""The sqlite store: one crier process per database file."""
import os

import pytest

from crierlib import Crier

CONFIG = """
store: { plugin = "sqlite"; path = "%s"; };
triggers: { api: { plugin = "api"; }; };
"""


def test_second_process_rejected(tmp_path):
    database = str(tmp_path / "shared" / "crier.db")
    os.makedirs(str(tmp_path / "first"))
    os.makedirs(str(tmp_path / "second"))
    first = Crier(tmp_path / "first", CONFIG % database).start()
    second = Crier(tmp_path / "second", CONFIG % database)
    try:
        with pytest.raises(RuntimeError, match="crier exited"):
            second.start()
        assert second.proc.returncode != 0
        log = second.log_text()
        assert ("another crier process uses %s; stop it or point this one"
                " at another database" % database) in log

        # The first process is untouched and still accepts events.
        r = first.post("/v1/events", {"type": "page_view", "visitor": "v-1"})
        assert r.status == 202

        # Once the first has stopped, the second starts on the same file.
        assert first.stop() == 0
        second.start()
        r = second.post("/v1/events", {"type": "page_view", "visitor": "v-2"})
        assert r.status == 202
        assert os.path.exists(database + ".lock")
    finally:
        first.stop()
        second.stop()

