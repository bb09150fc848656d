"""Installation: `cmake --install`, and the Debian package that cpack
builds, checked with dpkg-deb, lintian and systemd-analyze. Nothing is
installed on the machine and no unit is started."""
import os
import re
import shutil
import subprocess

import pytest

from crierlib import BUILD, ROOT

pytestmark = pytest.mark.whole_build

UNIT = "lib/systemd/system/crier.service"


def run(*args, **kw):
    kw.setdefault("timeout", 900)
    return subprocess.run(list(args), capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """Builds crier for the prefix /usr without tests, then the .deb; the
    build folder is kept under the test build for the next run."""
    build = os.path.join(BUILD, "package-build")
    r = run("cmake", "-S", ROOT, "-B", build,
            "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DCMAKE_INSTALL_PREFIX=/usr",
            "-DCRIER_BUILD_TESTS=OFF")
    assert r.returncode == 0, r.stderr
    r = run("cmake", "--build", build, "-j2")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    out = str(tmp_path_factory.mktemp("deb"))
    r = run("cpack", "-G", "DEB", "-B", out, cwd=build)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    assert len(debs) == 1, debs
    root = str(tmp_path_factory.mktemp("root"))
    deb = os.path.join(out, debs[0])
    assert run("dpkg-deb", "-x", deb, root).returncode == 0
    control = str(tmp_path_factory.mktemp("control"))
    assert run("dpkg-deb", "-e", deb, control).returncode == 0
    return {"deb": deb, "root": root, "control": control}


def test_cmake_install_layout(tmp_path):
    # DESTDIR keeps every file, even one with an absolute destination,
    # inside the test's folder.
    dest = str(tmp_path / "dest")
    prefix = "/opt/crier-test"
    r = run("cmake", "--install", BUILD, "--prefix", prefix,
            env=dict(os.environ, DESTDIR=dest))
    assert r.returncode == 0, r.stderr
    assert os.listdir(dest) == ["opt"]
    prefix = dest + prefix
    for path in ("bin/crier", "include/crier/store.h", "include/crier/abi.h",
                 "lib/systemd/system/crier.service", "etc/crier/plugins.conf"):
        assert os.path.exists(os.path.join(prefix, path)), path
    pcs = [os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs
           if f == "crier-plugin.pc"]
    assert len(pcs) == 1
    assert any(f == "sqlite.so" for _, _, fs in os.walk(prefix) for f in fs)


def test_deb_info(package):
    r = run("dpkg-deb", "-I", package["deb"])
    assert r.returncode == 0, r.stderr
    info = r.stdout
    assert re.search(r"^ Package: crier$", info, re.M)
    assert re.search(r"^ Depends: adduser, .*libuv1", info, re.M)
    # The binary's allocator (core/allocator.c), found by dpkg-shlibdeps.
    assert re.search(r"^ Depends: .*libjemalloc2", info, re.M)
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        assert re.search(r"\b%s\b" % script, info), script
    with open(os.path.join(package["control"], "conffiles")) as f:
        assert f.read().split() == ["/etc/crier/plugins.conf"]
    with open(os.path.join(package["control"], "postinst")) as f:
        postinst = f.read()
    assert "adduser --system --group --home /var/lib/crier" in postinst
    assert "deb-systemd-invoke restart crier.service" in postinst
    assert run("sh", "-n", os.path.join(package["control"],
                                        "postinst")).returncode == 0


def test_deb_contents(package):
    r = run("dpkg-deb", "-c", package["deb"])
    assert r.returncode == 0, r.stderr
    names = {line.split()[-1] for line in r.stdout.splitlines()}
    for path in ("./usr/bin/crier", "./etc/crier/plugins.conf", "./" + UNIT,
                 "./usr/include/crier/store.h",
                 "./usr/share/doc/crier/copyright",
                 "./usr/share/doc/crier/operations.md"):
        assert path in names, path
    plugins = {os.path.basename(n) for n in names
               if "/crier/plugins/" in n and n.endswith(".so")}
    assert {"sqlite.so", "memory.so", "api.so", "email.so"} <= plugins
    assert any(n.endswith("/pkgconfig/crier-plugin.pc") for n in names)


def test_pkg_config_names_sdk(package):
    pcdir = [d for d, _, fs in os.walk(package["root"])
             if "crier-plugin.pc" in fs][0]
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir)
    r = run("pkg-config", "--variable=pluginsdir", "crier-plugin", env=env)
    assert r.returncode == 0, r.stderr
    plugindir = r.stdout.strip()
    assert plugindir.startswith("/usr/lib/")
    # The folder that the binary searches is the one the package fills.
    assert os.path.exists(package["root"] + plugindir + "/sqlite.so")
    r = run("pkg-config", "--print-requires", "crier-plugin", env=env)
    assert r.stdout.split() == ["jansson", "libuv", "libcurl"]


def test_lintian_no_errors(package):
    if shutil.which("lintian") is None:
        pytest.fail("lintian is missing: run scripts/install-deps")
    r = run("lintian", package["deb"])
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], r.stdout
    assert r.returncode == 0, r.stdout + r.stderr


def test_unit_verifies_and_is_sandboxed(package, tmp_path):
    with open(os.path.join(package["root"], UNIT)) as f:
        unit = f.read()
    for setting in ("User=crier", "ProtectSystem=strict",
                    "ReadWritePaths=/var/lib/crier", "NoNewPrivileges=yes",
                    "StateDirectory=crier", "PrivateTmp=yes",
                    "CapabilityBoundingSet=\n",
                    "ExecStart=/usr/bin/crier -c /etc/crier/plugins.conf "
                    "serve"):
        assert setting in unit, setting
    # verify checks that ExecStart exists, and the package is not
    # installed here, so the copy points at the extracted binary.
    copy = tmp_path / "crier.service"
    copy.write_text(unit.replace("/usr/bin/crier", os.path.join(
        package["root"], "usr", "bin", "crier")))
    r = run("systemd-analyze", "verify", "--man=no", str(copy))
    assert r.returncode == 0, r.stderr
    assert r.stdout + r.stderr == ""
    r = run("systemd-analyze", "security", "--offline=yes", str(copy))
    level = re.search(r"Overall exposure level for crier.service: ([0-9.]+)",
                      r.stdout)
    assert level, r.stdout + r.stderr
    assert float(level.group(1)) < 2.0, r.stdout


def test_packaged_config_checks(package, tmp_path):
    root = package["root"]
    plugin_dir = [d for d, _, fs in os.walk(root) if "sqlite.so" in fs][0]
    with open(os.path.join(root, "etc", "crier", "plugins.conf")) as f:
        text = f.read()
    conf = tmp_path / "plugins.conf"
    conf.write_text(text + '\nplugin_dir = "%s";\n' % plugin_dir)
    r = run(os.path.join(root, "usr", "bin", "crier"), "check", "-c",
            str(conf))
    assert r.returncode == 0, r.stderr
    assert "ok: store sqlite" in r.stdout
