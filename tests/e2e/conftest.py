import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from crierlib import Crier  # noqa: E402

SQLITE_API = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
"""


@pytest.fixture
def crier(tmp_path):
    """A running crier with SQLite and the event API."""
    c = Crier(tmp_path, SQLITE_API).start()
    yield c
    c.stop()
