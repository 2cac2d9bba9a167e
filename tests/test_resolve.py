"""Choosing dependencies' wheels: floors reported, not guessed; pins cap; scripts never collide.

Fast tests check the tag order and ceilings pip is given and the wheel readers; slow
ones resolve and build real apps (numpy's newest release, a script-name clash).
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from pip._internal.utils.compatibility_tags import _expand_allowed_platforms

from xbuild import assemble, resolve, targets
from xbuild.audit import claims
from xbuild.audit.check import Context

from .conftest import DATA, assert_one_line_error, run_xbuild

NUMPY_LINUX = "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
CRYPTO_2014 = "cryptography-46.0.3-cp311-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"


def test_claimed_floor_is_the_lowest_tag_of_a_wheel() -> None:
    linux = targets.get("x86_64-unknown-linux-gnu")
    assert claims.claimed_floor(NUMPY_LINUX, linux) == (2, 27)
    assert claims.claimed_floor(CRYPTO_2014, linux) == (2, 17)
    assert claims.claimed_floor("six-1.17.0-py2.py3-none-any.whl", linux) is None
    assert claims.claimed_floor("numpy-2.4.6-cp311-cp311-macosx_14_0_arm64.whl", targets.get("macos-arm64")) == (14, 0)
    assert claims.claimed_floor("numpy-2.4.6-cp311-cp311-win_amd64.whl", targets.get("win_amd64")) is None


def test_unpinned_audit_caps_rise_to_what_the_wheels_claim() -> None:
    linux = targets.get("x86_64-unknown-linux-gnu")
    files = ["app-1.0-py3-none-any.whl", CRYPTO_2014, NUMPY_LINUX]
    raised = claims.raise_to_claims(Context(linux, glibc="2.17", glibc_reason="the target's floor"), files)
    assert raised.glibc == "2.27" and NUMPY_LINUX in raised.glibc_reason
    runtime_higher = Context(linux, glibc="2.36", glibc_reason="the runtime")
    assert claims.raise_to_claims(runtime_higher, files) == runtime_higher
    mac = claims.raise_to_claims(Context(targets.get("macos-arm64")), ["numpy-2.4.6-cp311-cp311-macosx_14_0_arm64.whl"])
    assert mac.macos == "14.0"


def test_default_ceiling_is_the_newest_manylinux_policy_and_pins_cap() -> None:
    policies = json.loads((Path(resolve.__file__).parent / "audit" / "policies" / "manylinux.json").read_text())["policies"]
    newest = max((p["glibc"] for p in policies.values()), key=lambda v: tuple(map(int, v.split("."))))
    linux = targets.get("aarch64-unknown-linux-gnu")
    default = resolve.default_ceiling(linux)
    assert (default.version, default.kind, default.pinned) == (newest, "glibc", "")
    assert tuple(map(int, newest.split("."))) >= (2, 28)  # numpy 2.4's manylinux_2_27/2_28 wheels fit
    assert resolve.ceiling(linux, None, "2.28").version == "2.28"
    pinned = resolve.ceiling(linux, "2.17", "2.28", "glibc 2.17 from the test")
    assert (pinned.version, pinned.pinned) == ("2.17", "glibc 2.17 from the test")
    assert resolve.ceiling(targets.get("win_amd64"), None, None).version is None
    assert resolve.default_ceiling(targets.get("macos-arm64")).kind == "macOS"


@pytest.mark.parametrize("triple", ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "aarch64-apple-darwin", "x86_64-apple-darwin"])
def test_pip_keeps_the_least_demanding_first_order(triple: str) -> None:
    """pip prefers earlier --platform values; its own expansion must not reorder ours."""
    target = targets.get(triple)
    cap = resolve.default_ceiling(target)
    given = resolve._pip_platforms(target, cap)
    ours = target.wheel_platforms(cap.version)
    pips = _expand_allowed_platforms(given) or []
    expanded = [p for p in pips if p in set(ours)]
    assert expanded == [p for p in ours if p in set(pips)]
    assert {p.rsplit("_", 1)[-1] for p in set(ours) - set(pips)} <= {"fat32"}  # pip spells those "fat3"
    floors = [claims.claimed_floor(f"x-1-py3-none-{p}.whl", target) for p in expanded]
    assert floors == sorted(floors)  # never a more demanding tag before a less demanding one


def _make_wheel(folder: Path, name: str, version: str, files: dict[str, str], scripts: dict[str, str]) -> Path:
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    entry = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
    members = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: >=3.12\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": entry,
        f"{name}-{version}.data/scripts/{name}-tool": "#!python\nprint('tool')\n",
    }
    record = "".join(f"{n},,\n" for n in members) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        for n, text in members.items():
            zf.writestr(n, text)
        zf.writestr(f"{info}/RECORD", record)
    return wheel


def test_two_wheels_with_the_same_script_name_install_without_scripts(tmp_path: Path) -> None:
    app = _make_wheel(tmp_path, "wrapper", "1.0", {"wrapper/__init__.py": "def main(): pass\n"}, {"http": "wrapper:main"})
    dep = _make_wheel(tmp_path, "httpish", "3.2", {"httpish/__init__.py": "def main(): pass\n"}, {"http": "httpish:main"})
    app_dir = tmp_path / "app"
    assemble.install_wheels([(app, app.name), (dep, dep.name)], app_dir, tmp_path / "scratch")
    installed = sorted(p.relative_to(app_dir).as_posix() for p in app_dir.rglob("*") if p.is_file())
    assert "wrapper/__init__.py" in installed and "httpish/__init__.py" in installed
    assert not any(Path(p).name == "http" or p.endswith("-tool") for p in installed)
    assert not (tmp_path / "scratch" / "scripts").exists()
    record = (app_dir / "httpish-3.2.dist-info" / "RECORD").read_text()
    assert "httpish/__init__.py" in record and "scripts" not in record


def test_wheel_metadata_and_modules(tmp_path: Path) -> None:
    wheel = _make_wheel(tmp_path, "demo", "0.4.0", {"demo/__init__.py": "", "demo/sub/cli.py": "", "demo/_speed.cpython-311-x86_64-linux-gnu.so": "", "ns/part/mod.py": ""}, {})
    meta = resolve.wheel_metadata(wheel)
    assert (meta.name, meta.version, meta.requires_python) == ("demo", "0.4.0", ">=3.12")
    modules = resolve.wheel_modules(wheel)
    assert {"demo", "demo.sub", "demo.sub.cli", "demo._speed", "ns", "ns.part", "ns.part.mod"} <= modules
    assert "demo.nowhere" not in modules and "demo-0.4.0.dist-info" not in modules


# --- slow: real resolution and builds ----------------------------------------------------------


def _project_wheel(tmp_path: Path, dependency: str) -> Path:
    project = tmp_path / "proj"
    (project / "proj").mkdir(parents=True)
    (project / "proj" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "proj"\nversion = "1"\ndependencies = ["{dependency}"]\n[tool.setuptools]\npackages = ["proj"]\n'
    )
    return resolve.build_project_wheel(project, tmp_path / "wheel")


@pytest.mark.slow
def test_the_least_demanding_wheel_of_the_newest_release_is_chosen(tmp_path: Path) -> None:
    """cryptography publishes manylinux2014, _2_28 and _2_34 wheels of each release: the 2014 one wins."""
    wheel = _project_wheel(tmp_path, "cryptography==46.0.3")
    linux = targets.get("x86_64-unknown-linux-gnu")
    chosen = {w.name: w.file for w in resolve.resolve(wheel, linux, "3.11.2", tmp_path)}
    assert "manylinux2014_x86_64" in chosen["cryptography"], chosen
    capped = resolve.resolve(wheel, linux, "3.11.2", tmp_path, resolve.ceiling(linux, None, "2.28"))
    assert claims.claimed_floor(next(w.file for w in capped if w.name == "cryptography"), linux) == (2, 17)


@pytest.mark.slow
def test_macos_prefers_the_oldest_minimum_and_a_pin_names_what_needs_more(tmp_path: Path) -> None:
    """numpy 2.4.6 publishes macosx_11_0 and macosx_14_0 arm64 wheels, macosx_10_9 and macosx_14_0 x86_64 ones."""
    wheel = _project_wheel(tmp_path, "numpy==2.4.6")
    for triple, oldest in [("aarch64-apple-darwin", (11, 0)), ("x86_64-apple-darwin", (10, 9))]:
        mac = targets.get(triple)
        chosen = next(w.file for w in resolve.resolve(wheel, mac, "3.11.9", tmp_path) if w.name == "numpy")
        assert claims.claimed_floor(chosen, mac) == oldest, chosen
    pinned = resolve.ceiling(targets.get("x86_64-apple-darwin"), "10.8", None, "macos 10.8 from the test")
    with pytest.raises(resolve.ResolveError, match=r"^numpy 2\.4\.6 publishes no wheel for macOS <= 10\.8 on x86_64-apple-darwin \(its wheels for it need macOS 10\.9\)"):
        resolve.resolve(wheel, targets.get("x86_64-apple-darwin"), "3.11.9", tmp_path, pinned)


@pytest.mark.slow
def test_a_package_that_does_not_exist_is_named(tmp_path: Path) -> None:
    wheel = _project_wheel(tmp_path, "xbuild-no-such-package-4f2a==1.0")
    with pytest.raises(resolve.ResolveError, match=r"^xbuild-no-such-package-4f2a does not exist on the package index"):
        resolve.resolve(wheel, targets.get("x86_64-unknown-linux-gnu"), "3.11.2", tmp_path)


@pytest.fixture(scope="module")
def numpy_dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("numpy")
    proc = run_xbuild("build", str(DATA / "numpyapp"), "--output-dir", str(out), "--source", "debian", "--python", "3.11", "-t", "linux-x86_64", "-t", "linux-aarch64")
    assert proc.returncode == 0, proc.stderr
    return out, proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("triple", ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"])
def test_newest_numpy_builds_with_its_floor_reported(numpy_dist: tuple[Path, str], triple: str) -> None:
    out, log = numpy_dist
    folder = out / f"numpyapp-0.1-{triple}"
    record = json.loads((folder / "xbuild-build.json").read_text())
    numpy = next(w for w in record["wheels"] if w["name"] == "numpy")
    assert numpy["version"].startswith("2.4.") and "manylinux_2_27" in numpy["file"], numpy
    audit = json.loads((folder / "xbuild-audit.json").read_text())
    floor = audit["floors"]["glibc"]
    assert tuple(map(int, floor.split("."))) >= (2, 28)  # numpy's 2.28 or the runtime's, whichever is higher
    setter = max((f for f in audit["files"] if "glibc" in f["needs"]), key=lambda f: tuple(map(int, f["needs"]["glibc"].split("."))))
    assert f"effective floor glibc {floor} (set by {setter['path']}): ok" in log
    numpy_needs = [tuple(map(int, f["needs"]["glibc"].split("."))) for f in audit["files"] if f["path"].startswith("app/numpy") and "glibc" in f["needs"]]
    assert numpy_needs and max(numpy_needs) <= (2, 28)  # its files honour its tag
    assert audit["summary"]["violations"] == 0
    again = run_xbuild("audit", str(folder))  # a later audit of the artifact gives the build's verdict
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.slow
def test_newest_numpy_runs_natively(numpy_dist: tuple[Path, str]) -> None:
    exe = numpy_dist[0] / "numpyapp-0.1-x86_64-unknown-linux-gnu" / "numpyapp"
    proc = subprocess.run([str(exe), "--config"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '"openblas configuration"' in proc.stdout.lower() or "openblas" in proc.stdout.lower()
    assert proc.stdout.strip().splitlines()[-1].endswith("solve=[1.4, 3.4] det=10.0")


@pytest.mark.slow
@pytest.mark.qemu
def test_newest_numpy_runs_on_aarch64_under_qemu(numpy_dist: tuple[Path, str]) -> None:
    proc = run_xbuild("run", str(numpy_dist[0] / "numpyapp-0.1-aarch64-unknown-linux-gnu"), "--", "--config")
    assert proc.returncode == 0, proc.stderr
    assert "aarch64" in proc.stdout.lower() and "openblas" in proc.stdout.lower()
    assert proc.stdout.strip().splitlines()[-1].startswith("numpy 2.4.")
    assert proc.stdout.strip().splitlines()[-1].endswith("solve=[1.4, 3.4] det=10.0")


@pytest.mark.slow
def test_a_pinned_floor_names_the_package_that_needs_more(tmp_path: Path) -> None:
    project = tmp_path / "numpyapp"
    subprocess.run(["cp", "-r", str(DATA / "numpyapp"), str(project)], check=True)
    with (project / "pyproject.toml").open("a") as f:
        f.write('\n[tool.xbuild]\nglibc = "2.17"\n')
    proc = run_xbuild("-q", "build", str(project), "--source", "debian", "--python", "3.11", "-t", "linux-x86_64")
    line = assert_one_line_error(proc, "numpy 2.4.", "publishes no wheel for glibc <= 2.17", "need manylinux_2_27", "pinned")
    assert "x86_64-unknown-linux-gnu" in line
    assert not (project / "dist").exists()
    flag = run_xbuild("-q", "build", str(DATA / "numpyapp"), "--output-dir", str(tmp_path / "out"), "--source", "debian", "--python", "3.11", "-t", "linux-aarch64", "--glibc", "2.17")
    assert_one_line_error(flag, "numpy 2.4.", "glibc <= 2.17 on aarch64-unknown-linux-gnu")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.wine
def test_a_script_named_like_a_dependency_script_builds_and_runs_everywhere(tmp_path: Path) -> None:
    triples = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-pc-windows-msvc"]
    proc = run_xbuild("-q", "build", str(DATA / "scriptclash"), "--output-dir", str(tmp_path), *[a for t in triples for a in ("-t", t)])
    assert proc.returncode == 0, proc.stderr
    for triple in triples:
        folder = tmp_path / f"scriptclash-0.3-{triple}"
        launchers = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.startswith("pyflakes"))
        assert launchers == ["pyflakes.exe" if "windows" in triple else "pyflakes"]
        assert not list((folder / "app").rglob("bin")) and not list((folder / "app").rglob("Scripts"))
        out = run_xbuild("run", str(folder), "--", "héllo")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "scriptclash héllo: 'os' imported but unused; undefined name 'undefined_name'", out.stdout
