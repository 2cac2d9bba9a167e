"""xbuild as users install it: pins agree, and a wheel carries its data files."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from xbuild.toolchain import pin

from .conftest import REPO


def _dependencies() -> dict[str, Requirement]:
    with (REPO / "pyproject.toml").open("rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    return {r.name: r for r in map(Requirement, deps)}


def test_every_runtime_dependency_is_pinned_exactly() -> None:
    for name, req in _dependencies().items():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name} is not pinned to one version: {req}"


def test_ziglang_dependency_matches_the_toolchain_pin() -> None:
    (spec,) = _dependencies()["ziglang"].specifier
    assert spec.version == pin()["version"]


@pytest.mark.slow
def test_wheel_ships_toolchain_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("xbuild_zig-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "xbuild/data/targets.toml" in names
    assert "xbuild/_shipped/toolchains/zig.toml" in names
    # The installed package finds its pins inside itself, not in a checkout.
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r}); import xbuild; print(xbuild.__file__);"
        "from xbuild.resources import shipped; from xbuild.toolchain import pin;"
        "print(shipped('toolchains')); print(pin()['version'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    module, where, version = out.stdout.split()
    assert Path(module) == site / "xbuild" / "__init__.py"
    assert Path(where) == site / "xbuild" / "_shipped" / "toolchains"
    assert version == pin()["version"]


def test_distribution_name_is_ours_and_the_ci_template_installs_it_pinned() -> None:
    """`xbuild` on PyPI is BeeWare's project: the template must install this one, at one commit."""
    with (REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    assert project["name"] == "xbuild-zig" and project["scripts"] == {"xbuild": "xbuild.cli:main"}
    workflow = (REPO / "ci" / "github-actions.yml").read_text()
    assert "pip install xbuild\n" not in workflow and "pip install xbuild " not in workflow
    assert 'req="xbuild-zig @ git+$XBUILD_REPO@$XBUILD_COMMIT"' in workflow
    assert "XBUILD_COMMIT: 0000000000000000000000000000000000000000  # <-- REPLACE" in workflow
    assert "^[0-9a-f]{40}$" in workflow  # a branch or tag name is refused: only a commit pins
    readme = (REPO / "README.md").read_text()
    assert "xbuild-zig" in readme
