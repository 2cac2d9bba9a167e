"""The code is `mypy --strict` clean and `ruff check` clean, with the configuration in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import REPO


@pytest.mark.parametrize("command", [["mypy"], ["ruff", "check"]], ids=["mypy", "ruff"])
def test_checker_is_clean(command: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# xbuild/audit/ is typed on its own branch (issue 10's audit items), which lands its reasons with it.
_TYPED_ELSEWHERE: tuple[str, ...] = ()


def test_no_type_ignore_without_a_reason() -> None:
    """Each `# type: ignore[...]` says why on its line."""
    bare = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "xbuild").rglob("*.py"))
        if not path.relative_to(REPO).as_posix().startswith(_TYPED_ELSEWHERE)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "# type: ignore" in line and not line.split("# type: ignore", 1)[1].split("]", 1)[-1].strip(" #")
    ]
    assert bare == []
