"""What `xbuild audit PATH` reads: built artifacts, folders, single files, wheels and archives.

Each input becomes a tree to check and a Context: the target (given, read from an
artifact's xbuild-build.json, from a wheel's platform tag, or from the binaries
themselves) and the caps to enforce.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from packaging.utils import parse_wheel_filename

from xbuild import archive, targets
from xbuild.audit.check import AuditResult, Context, audit, binary_format, find_binaries
from xbuild.audit.elf import read_elf, version_tuple
from xbuild.errors import UsageError, XbuildError
from xbuild.targets import Target
from xbuild.versions import LEGACY_MANYLINUX_GLIBC

BUILD_RECORD = "xbuild-build.json"
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.xz", ".tar.zst")


def artifact_context(target: Target, runtime_floor: str | None, user_glibc: str | None, user_macos: str | None, python: str) -> Context:
    """Caps for a built artifact: the target's floor, raised to what its runtime needs.

    A floor the user set is never raised, so a runtime or wheel above it is a violation.
    """
    abi = "cp" + "".join(python.split(".")[:2])
    if target.libc != "glibc":
        return Context(target, macos=user_macos, python_abi=abi)
    if user_glibc:
        return Context(target, glibc=user_glibc, glibc_reason=f"set by the project ([tool.xbuild] glibc = {user_glibc!r})", python_abi=abi)
    floor = target.floor or "2.17"
    if runtime_floor and version_tuple(runtime_floor) > version_tuple(floor):
        reason = f"raised from the target's {floor} to {runtime_floor}, the highest GLIBC_ version its CPython runtime's own files need"
        return Context(target, glibc=runtime_floor, glibc_reason=reason, python_abi=abi)
    return Context(target, glibc=floor, glibc_reason="the target's floor", python_abi=abi)


def _wheel_context(wheel: Path, target: Target | None, glibc: str | None, macos: str | None) -> Context:
    tags = parse_wheel_filename(wheel.name)[3]
    platforms = {t.platform for t in tags}
    abi = next((t.abi for t in tags if t.abi.startswith("cp")), "cp311")
    if target is None:
        target = _target_for_platforms(platforms, wheel.name)
    claimed_glibc = [m for p in platforms if (m := re.match(r"manylinux_(\d+)_(\d+)_", p))]
    legacy = LEGACY_MANYLINUX_GLIBC
    floors = [f"{m[1]}.{m[2]}" for m in claimed_glibc] + [v for p in platforms for k, v in legacy.items() if p.startswith(k + "_")]
    claimed_macos = [f"{m[1]}.{m[2]}" for p in platforms if (m := re.match(r"macosx_(\d+)_(\d+)_", p))]
    cap = glibc or (min(floors, key=version_tuple) if floors else None)
    reason = "set with --policy" if glibc else "the lowest manylinux tag the wheel claims"
    macos = macos or (min(claimed_macos, key=version_tuple) if claimed_macos else None)
    return Context(target, glibc=cap, glibc_reason=reason if cap else "", macos=macos, python_abi=abi, artifact=False)


def _target_for_platforms(platforms: set[str], name: str) -> Target:
    """The target a wheel's platform tags are for (universal2 macOS wheels: the arm64 one)."""
    for platform in sorted(platforms):
        if m := re.match(r"(manylinux\d*|musllinux)(?:_\d+)*_(\w+)$", platform):
            os_name, libc, arch = "linux", "musl" if m[1] == "musllinux" else "glibc", m[2]
        elif platform in ("win_amd64", "win_arm64", "win32"):
            os_name, libc, arch = "windows", "msvcrt", platform
        elif m := re.match(r"macosx_\d+_\d+_(\w+)$", platform):
            os_name, libc, arch = "macos", "libsystem", "arm64" if m[1] in ("universal2", "universal") else m[1]
        else:
            continue
        for target in targets.all_targets():
            if (target.os, target.libc) == (os_name, libc) and arch in (target.wheel_arch, target.wheel_platforms()[0]):
                return target
    raise UsageError(f"{name}: cannot tell the target from its platform tags {sorted(platforms)}; pass --target")


def _infer_target(root: Path) -> Target:
    """The target the binaries themselves are for (first binary found)."""
    for path in find_binaries(root):
        fmt = binary_format(path)
        try:
            if fmt == "elf":
                info = read_elf(path)
                libc = "musl" if info.interpreter and "musl" in info.interpreter else "glibc"
                return next(t for t in targets.all_targets() if t.format == "elf" and t.machine == info.machine and t.libc == libc and t.bits == info.bits)
            from xbuild.binfile import identify

            kind = identify(path)[0]
            return next(t for t in targets.all_targets() if t.format == kind.format and t.machine == kind.machine)
        except (StopIteration, XbuildError):
            continue
    raise UsageError(f"{root}: no readable binaries to tell the target from; pass --target")


@contextmanager
def _unpacked(path: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="xbuild-audit-") as tmp:
        archive.extract(path, Path(tmp), what=path.name)
        yield Path(tmp)


def audit_path(path: Path, target: Target | None = None, glibc: str | None = None, macos: str | None = None) -> AuditResult:
    """Audit one input; `glibc`/`macos` override the caps (from --policy)."""
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    record_file = path / BUILD_RECORD
    if path.is_dir() and record_file.is_file():
        record = json.loads(record_file.read_text())
        tgt = target or targets.get(record["target"])
        runtime = record["runtime"]
        return audit(path, artifact_context(tgt, runtime.get("libc_floor"), glibc, macos, runtime["python"]))
    if path.is_file() and path.name.endswith(_ARCHIVE_SUFFIXES):
        with _unpacked(path) as tree:
            if path.name.endswith(".whl"):
                ctx = _wheel_context(path, target, glibc, macos)
            else:
                tgt = target or _infer_target(tree)
                ctx = Context(tgt, glibc=glibc or (tgt.floor if tgt.libc == "glibc" else None), macos=macos)
            result = audit(tree, ctx)
            result.root = path
            return result
    tgt = target or _infer_target(path)
    ctx = Context(tgt, glibc=glibc or (tgt.floor if tgt.libc == "glibc" else None), macos=macos, artifact=path.is_dir())
    return audit(path, ctx)
