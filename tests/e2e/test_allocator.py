"""The crier binary runs on the allocator its build chose, with the
settings of core/allocator.c."""
import os
import re

import pytest

from crierlib import BUILD, Crier, run_crier

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
"""


def built_with_jemalloc():
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        return re.search(r"^CRIER_JEMALLOC:BOOL=ON$", f.read(), re.M)


def thread_names(pid):
    tasks = "/proc/%d/task" % pid
    names = []
    for task in os.listdir(tasks):
        with open(os.path.join(tasks, task, "comm")) as f:
            names.append(f.read().strip())
    return names


def test_version_names_the_allocator():
    code, out, err = run_crier("version")
    assert code == 0, err
    [line] = [l for l in out.splitlines() if l.startswith("allocator: ")]
    if built_with_jemalloc():
        assert re.match(r"allocator: jemalloc \d+\.\d+\.\d+", line), line
    else:
        assert line in ("allocator: the C library's malloc",
                        "allocator: AddressSanitizer's malloc")


def test_jemalloc_settings_are_read(tmp_path):
    """background_thread and max_background_threads in allocator.c give
    the server exactly one jemalloc thread; without them it has none."""
    if not built_with_jemalloc():
        pytest.skip("this build uses the C library's malloc")
    c = Crier(tmp_path, CONFIG).start()
    try:
        names = thread_names(c.proc.pid)
    finally:
        code = c.stop()
    assert code == 0
    assert names.count("jemalloc_bg_thd") == 1, names
