"""The plugin loader refuses what it cannot run, and says why."""
import os
import re

from crierlib import BUILD, PLUGINS, ROOT, run_crier

TEST_PLUGINS = os.path.join(BUILD, "test-plugins")


def abi_of_headers():
    """The "version.minor" ABI that include/crier/abi.h declares."""
    with open(os.path.join(ROOT, "include", "crier", "abi.h")) as f:
        text = f.read()
    version = re.search(r"#define CRIER_ABI_VERSION\s+(\d+)", text).group(1)
    minor = re.search(r"#define CRIER_ABI_MINOR\s+(\d+)", text).group(1)
    return version + "." + minor


def check(tmp_path, store_block, plugin_dir=TEST_PLUGINS):
    conf = tmp_path / "plugins.conf"
    conf.write_text('plugin_dir = "%s";\n\nstore: %s;\n'
                    % (plugin_dir, store_block))
    return run_crier("check", "-c", str(conf))


def test_future_abi_refused(tmp_path):
    code, out, err = check(tmp_path, '{ plugin = "future_abi"; }')
    assert code == 2
    assert "plugins.conf:3: store.plugin:" in err
    assert os.path.join(TEST_PLUGINS, "future_abi.so") in err
    assert "plugin ABI version 999, but crier expects 1" in err


def test_object_without_descriptor_refused(tmp_path):
    code, out, err = check(tmp_path, '{ plugin = "no_descriptor"; }')
    assert code == 2
    assert "does not export crier_plugin" in err


def test_plugin_of_wrong_kind_refused(tmp_path):
    code, out, err = check(tmp_path, '{ plugin = "api"; }', PLUGINS)
    assert code == 2
    assert 'plugin "api" is a trigger, not a store' in err


def test_missing_plugin_names_folders(tmp_path):
    code, out, err = check(tmp_path, '{ plugin = "nosuch"; }', PLUGINS)
    assert code == 2
    assert 'plugin "nosuch" not found in %s' % PLUGINS in err


def test_plugins_command_lists_abi_mismatch(tmp_path):
    conf = tmp_path / "plugins.conf"
    conf.write_text('plugin_dir = "%s";\n' % TEST_PLUGINS)
    code, out, err = run_crier("plugins", "-c", str(conf))
    assert code == 0
    assert "future_abi.so (ABI 999; this crier needs 1)" in out


def test_plugins_command_names_users(tmp_path):
    conf = tmp_path / "plugins.conf"
    conf.write_text('plugin_dir = "%s";\nstore: { plugin = "sqlite"; '
                    'path = "x.db"; };\nchannels: { ops: { plugin = '
                    '"webhook"; }; alerts: { plugin = "webhook"; };\n'
                    '  pager: { plugin = "nosuch"; }; };\n' % PLUGINS)
    code, out, err = run_crier("plugins", "-c", str(conf))
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["sqlite"][1:5] == ["store", "0.1.0", abi_of_headers(),
                                    "store"]
    assert rows["webhook"][4] == "channels.ops,channels.alerts"
    assert rows["webhook"][5] == os.path.join(PLUGINS, "webhook.so")
    assert rows["memory"][4] == "-"
    assert rows["nosuch"][4:] == ["channels.pager", "(not", "found)"]
