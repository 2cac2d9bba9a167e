"""PBS-faithful macOS runtime archives, made by zig, for tests that cannot download the real ones.

Shaped like python-build-standalone's `cpython-3.X.Y+DATE-<triple>-install_only_stripped.tar.gz`
after astral-sh/python-build-standalone#914: `python/lib/libpython3.X.dylib` with the install
name `@rpath/libpython3.X.dylib` exporting the C API the launcher calls, `python/bin/python3.X`
linking it through an LC_RPATH of `@executable_path/../lib`, `lib-dynload` modules linked with
`-undefined dynamic_lookup` (as CPython links them), real CPython headers and a real pure-Python
stdlib of the same minor (from the Debian runtime other tests use), and arm64 files signed ad hoc
by zig's linker. Nothing here runs (macOS cannot run on this host); it links and audits like the real
thing. Archives are cached in the test cache, keyed by this file and zig's version.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from xbuild import cache, runtimes, targets
from xbuild.resources import shipped
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import Zig

RELEASE = "20260814"
DYNLOAD = ("_struct", "_json")  # _struct tells xbuild the extension suffix when no _sysconfigdata says it
# Stdlib parts PBS also leaves out of install_only_stripped, or that belong to Debian's build.
_SKIP = re.compile(r"^(lib-dynload|__pycache__|config-3\.\d+-.*|test|site-packages|dist-packages|EXTERNALLY-MANAGED|_sysconfigdata_.*)$")
_EXTRA_API = ("Py_BytesMain", "PyModule_Create2", "PyLong_FromLong", "PyErr_SetString")

_MAIN_C = "int Py_BytesMain(int argc, char **argv);\nint main(int argc, char **argv) { return Py_BytesMain(argc, argv); }\n"
_MODULE_C = "void *PyModule_Create2(void *def, int api);\nstatic char module_def[128];\nvoid *PyInit_{name}(void) {{ return PyModule_Create2(module_def, 1013); }}\n"


def _launcher_api() -> list[str]:
    """The Py* functions runtime/launcher.c calls: the stand-in libpython must export each one."""
    called = set(re.findall(r"\b(Py[A-Za-z_]*)\s*\(", (shipped("runtime") / "launcher.c").read_text()))
    return sorted(called | set(_EXTRA_API))


def _libpython_c() -> str:
    body = "".join(f"int {name}(void) {{ return 0; }}\n" for name in _launcher_api())
    return "/* A stand-in for libpython: every function exists, none does anything. */\n" + body


def source_runtime() -> Runtime:
    """The Debian CPython 3.11 other slow tests build with: its headers and stdlib go in the fixture."""
    return runtimes.fetch(targets.get("x86_64-unknown-linux-gnu"), "3.11", sources=["debian"])


def archive_name(triple: str, version: str) -> str:
    return f"cpython-{version}+{RELEASE}-{triple}-install_only_stripped.tar.gz"


def _key(zig: Zig, triple: str, source: Runtime) -> str:
    text = Path(__file__).read_text() + _libpython_c() + zig.version + triple + source.python + source.root.name
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pbs_macos_archive(zig: Zig, triple: str, source: Runtime | None = None) -> Path:
    """The fixture archive for `triple` (built once, then from the test cache)."""
    source = source or source_runtime()
    target = targets.get(triple)
    out = cache.root() / "test-fixtures" / "pbs-macos" / _key(zig, triple, source) / archive_name(triple, source.python)
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        root = Path(tmp) / "python"
        _build_tree(zig, target, source, root, Path(tmp) / "src")
        staged = Path(tmp) / out.name
        with tarfile.open(staged, "w:gz") as tar:
            tar.add(root, arcname="python", filter=_normalized)
        os.replace(staged, out)
    return out


def _normalized(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 1_700_000_000
    return info


def _build_tree(zig: Zig, target: Target, source: Runtime, root: Path, src: Path) -> None:
    minor = ".".join(source.python.split(".")[:2])
    nodot = minor.replace(".", "")
    lib, dynload = root / "lib", root / "lib" / f"python{minor}" / "lib-dynload"
    for folder in (root / "bin", dynload, src):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source.path(source.include), root / "include" / f"python{minor}")
    stdlib = source.path(source.stdlib)
    for entry in sorted(stdlib.iterdir()):
        if _SKIP.match(entry.name):
            continue
        if entry.is_dir():
            shutil.copytree(entry, lib / f"python{minor}" / entry.name, ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))
        else:
            shutil.copy2(entry, lib / f"python{minor}" / entry.name)
    suffix = f".cpython-{nodot}-darwin.so"
    (lib / f"python{minor}" / "_sysconfigdata__darwin_darwin.py").write_text(
        f"build_time_vars = {{'EXT_SUFFIX': {suffix!r}, 'SOABI': 'cpython-{nodot}-darwin', "
        f"'MACOSX_DEPLOYMENT_TARGET': {target.floor!r}, 'LDLIBRARY': 'libpython{minor}.dylib'}}\n"
    )

    (src / "libpython.c").write_text(_libpython_c())
    (src / "main.c").write_text(_MAIN_C)
    dylib = lib / f"libpython{minor}.dylib"
    zig.run(zig.cc(target, ["-shared", "-o", str(dylib), f"-Wl,-install_name,@rpath/libpython{minor}.dylib", str(src / "libpython.c")]), what="fixture libpython")
    exe = root / "bin" / f"python{minor}"
    zig.run(zig.cc(target, ["-o", str(exe), str(src / "main.c"), "-L", str(lib), f"-lpython{minor}", "-Wl,-rpath,@executable_path/../lib"]), what="fixture python")
    (root / "bin" / "python3").symlink_to(exe.name)
    for name in DYNLOAD:
        c = src / f"{name}.c"
        c.write_text(_MODULE_C.format(name=name))
        module = dynload / f"{name}{suffix}"
        zig.run(zig.cc(target, ["-shared", "-undefined", "dynamic_lookup", "-o", str(module), str(c)]), what=f"fixture {name}")
    for leftover in root.rglob("*.o"):
        leftover.unlink()



def pins(base_url: str, archives: dict[str, Path], version: str) -> str:
    """A pbs.toml pinning the fixture archives (triple -> archive) as XBUILD_PBS_PINS reads it."""
    lines = [f'release = "{RELEASE}"', f'base_url = "{base_url}"', 'flavor = "install_only_stripped"']
    for triple, path in archives.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines += ["", "[[archive]]", f'python = "{version}"', f'triple = "{triple}"', f'file = "{path.name}"', f'sha256 = "{digest}"']
    return "\n".join(lines) + "\n"


def tar_members(path: Path) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes())) as tar:
        return tar.getnames()
