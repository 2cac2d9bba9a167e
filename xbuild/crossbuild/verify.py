"""Check a wheel built from source before anything uses it, and give it the tag its floor earns.

- every extension module is the target's format, machine and bitness, named with the
  runtime's extension suffix (not the build host's);
- a source tree with C, C++ or Cython code must give extension modules: a wheel
  without any is the silent pure-Python fallback, refused unless the user allows it;
- the wheel is audited against the target's policy (libc symbol versions, allowed
  libraries), as a wheel: it relies on the interpreter's libpython;
- `linux_<arch>` becomes `manylinux_<glibc floor>_<arch>` with the floor the audit
  measured (never below the target's), so the tag says what the files need.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from xbuild.audit.check import check, read_tree
from xbuild.audit.inputs import target_context
from xbuild.binfile import identify
from xbuild.errors import BinaryFormatError, BuildError
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.versions import release

_SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".rs")
_BUILD_FILES = ("CMakeLists.txt", "meson.build", "Cargo.toml")
_SKIP_SOURCE_DIRS = {"tests", "test", "docs", "doc", "examples", "benchmarks", "bench"}


@dataclass(frozen=True)
class Verified:
    """A checked wheel: where it is now (retagged) and what was found."""

    path: Path
    extensions: tuple[str, ...]
    glibc_floor: str | None


def has_native_sources(source: Path) -> bool:
    """Whether a source tree holds code that compiles to extension modules (tests and docs aside)."""
    for path in source.rglob("*"):
        rel = path.relative_to(source).parts
        if _SKIP_SOURCE_DIRS.intersection(rel[:-1]):
            continue
        if path.suffix in _SOURCE_SUFFIXES or (path.name in _BUILD_FILES and len(rel) == 1):
            return True
    return False


def _extension_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and (p.suffix in (".so", ".pyd") or ".so." in p.name))


def _check_binaries(root: Path, files: list[Path], target: Target, runtime: Runtime, what: str) -> None:
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            kinds = identify(path)
        except BinaryFormatError as e:
            raise BuildError(f"{what}: {rel} is not a binary the target can load ({e})") from None
        if not any(k.format == target.format and k.machine == target.machine and k.bits == target.bits for k in kinds):
            k = kinds[0]
            raise BuildError(f"{what}: {rel} is {k.format.upper()} {k.machine} {k.bits}-bit, not {target.format.upper()} {target.machine} {target.bits}-bit for {target.triple}")
        is_module = path.suffix == ".pyd" or path.name.endswith(".so")
        if is_module and not path.name.endswith((runtime.ext_suffix, ".abi3.so", ".pyd")) and re.search(r"\.cpython-\d+-", path.name):
            raise BuildError(f"{what}: {rel} has another interpreter's suffix; expected {runtime.ext_suffix}")


def _retag(wheel: Path, tag_platform: str, dest_dir: Path) -> Path:
    """The wheel with its platform tag replaced in the file name and in WHEEL (RECORD updated)."""
    tags = parse_wheel_filename(wheel.name)[3]
    if {t.platform for t in tags} == {tag_platform}:
        shutil.copy2(wheel, dest_dir / wheel.name)
        return dest_dir / wheel.name
    stem = wheel.name[: -len(".whl")]
    parts = stem.split("-")
    parts[-1] = tag_platform
    out = dest_dir / ("-".join(parts) + ".whl")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        entries = {i.filename: src.read(i) for i in src.infolist()}
        info_dir = next(n.split("/")[0] for n in entries if n.endswith(".dist-info/WHEEL") and n.count("/") == 1)
        wheel_meta = entries[f"{info_dir}/WHEEL"].decode()
        wheel_meta = "".join(
            re.sub(r"-[^-\s]+$", f"-{tag_platform}", line) if line.startswith("Tag:") else line for line in wheel_meta.splitlines(keepends=True)
        )
        entries[f"{info_dir}/WHEEL"] = wheel_meta.encode()
        record = []
        for n, data in entries.items():
            if n == f"{info_dir}/RECORD":
                continue
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{n},sha256={digest},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        entries[f"{info_dir}/RECORD"] = ("\n".join(record) + "\n").encode()
        for n, data in entries.items():
            dst.writestr(zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return out


def verify(wheel: Path, target: Target, runtime: Runtime, dest_dir: Path, *, native_sources: bool, allow_pure: bool, what: str) -> Verified:
    """Check `wheel` for `target`; returns the retagged copy in `dest_dir`. Raises BuildError naming the fault."""
    abi = "cp" + "".join(runtime.minor.split("."))
    with tempfile.TemporaryDirectory(prefix="xbuild-verify.") as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(root)
        files = _extension_files(root)
        if not files and native_sources and not allow_pure:
            raise BuildError(
                f"{what}: the sdist has C/C++/Cython sources but the wheel has no extension module (the build fell back to pure Python); "
                f"see the log, or allow it with [tool.xbuild] allow-pure-fallback"
            )
        _check_binaries(root, files, target, runtime, what)
        result = check(read_tree(root), target_context(target, None, None, artifact=False, python_abi=abi))
        if result.violations:
            raise BuildError(f"{what}: the audit against {result.policy} failed: {result.violations[0].sentence()}")
        floor = result.floor("glibc") if target.libc == "glibc" else None
    tags = parse_wheel_filename(wheel.name)[3]
    platform = next(iter(tags)).platform
    if files and target.libc == "glibc":
        effective = max([target.floor or "2.17", floor or "0"], key=release)
        major, minor = release(effective)[:2]
        platform = f"manylinux_{major}_{minor}_{target.wheel_arch}"
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = _retag(wheel, platform, dest_dir)
    return Verified(out, tuple(p.relative_to(root).as_posix() for p in files), floor)
