import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from crierlib import Crier  # noqa: E402


def pytest_configure(config):
    # The sanitizer suite deselects these: they build programs of their
    # own (the Debian package), whose time the sanitizers only multiply,
    # and the ordinary suite runs them once.
    config.addinivalue_line(
        "markers", "whole_build: runs against the ordinary build only")

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
