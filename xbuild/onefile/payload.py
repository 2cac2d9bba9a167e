"""Write the one-file payload: a zip archive that zipimport reads from the executable's end.

Archive layout (paths inside the zip):

    <app packages>/...            the app and its dependencies: .pyc (legacy layout, which
                                  zipimport reads), .py beside them for tracebacks, data
                                  files, *.dist-info (importlib.metadata)
    _xbuild_onefile_boot.pyc      runtime/onefile_boot.py: extension finder, cache, names
    _xbuild_onefile_index.pyc     where each native file lies in the payload, what it needs
    <stdlib>/...                  the runtime's stdlib as .pyc plus its data files
    .xbuild/<cache path>          native files (stored, read by offset) and the packages
                                  served from the cache (`pkgs/<name>/`), in the layout of
                                  the extract-once cache
    .xbuild/runtime/...           the rest of the runtime (licence texts)
    .xbuild/manifest.txt          for the C launcher: boot libraries and cache files
    comment (128 bytes)           "xbuild-onefile 1 <manifest offset> <size> <hash> <zip size>"

Offsets are relative to the payload's first byte, which is the file size minus the zip
size, so one payload serves launchers of any length. Member order, times and modes are
fixed: the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xbuild.audit.elf import is_elf
from xbuild.onefile import datapkgs, natives
from xbuild.resources import load_toml

TRAILER_SIZE = 128
MAGIC = "xbuild-onefile 1"
NATIVE_PREFIX = ".xbuild/"
WINDOWS_RUNTIME = "rt/"  # the cache folder of a Windows runtime's DLLs (`rt/DLLs/` holds the stdlib's .pyd)
WINDOWS_NATIVE = (".dll", ".pyd")
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass
class Payload:
    """The archive's bytes and what the build says about it."""

    data: bytes
    digest: str
    cached_packages: list[datapkgs.PathDataPackage]
    natives: list[str] = field(default_factory=list)  # cache paths of the native files


@dataclass(frozen=True)
class Plan:
    """What the launcher and the boot module load: libpython's chain, extensions and their libraries."""

    boot: list[str]  # cache paths, dependencies first, libpython last
    extensions: dict[str, tuple[str, list[str]]]  # module -> (cache path, libraries it needs in load order)
    libraries: list[str]  # every library something loads


@dataclass
class _Member:
    name: str
    source: Path | bytes
    stored: bool
    mode: int = 0o644


def _hot() -> set[str]:
    return set(load_toml(Path(__file__).with_name("hot.toml"))["stdlib"])


def _pyc_for(py: Path) -> Path | None:
    cache = py.parent / "__pycache__"
    found = sorted(cache.glob(f"{py.stem}.*.pyc")) if cache.is_dir() else []
    return found[0] if found else None


def _extension_name(rel: str, top_level: bool) -> str:
    """`yaml/_yaml.cpython-311-x86_64-linux-gnu.so` -> `yaml._yaml`."""
    parts = rel.split("/")
    leaf = parts[-1].split(".", 1)[0]
    return leaf if top_level else ".".join([*parts[:-1], leaf])


def _walk(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if (p.is_file() or p.is_symlink()) and "__pycache__" not in p.relative_to(folder).parts)


def collect(
    folder: Path, stdlib: str, libpython: str | None, extra: dict[str, bytes], *, windows: bool = False
) -> tuple[list[_Member], Plan, list[datapkgs.PathDataPackage]]:
    """Members of the archive (without manifest and index) from an artifact folder.

    Windows (`windows`): every DLL and `.pyd` is a native file; the runtime's go to the
    cache's `rt/` (python3XY.dll the one to load first, `rt/DLLs` on sys.path), the
    app's extension modules are found by the index like on Linux."""
    runtime, app = folder / "runtime", folder / "app"
    members: list[_Member] = []
    libraries: dict[str, Path] = {}
    extensions: dict[str, tuple[str, Path]] = {}
    cached = datapkgs.find(app)
    cached_names = {c.name for c in cached}
    hot = _hot()

    for path in _walk(runtime):
        rel = path.relative_to(runtime).as_posix()
        if path.is_symlink():
            continue  # library links: libraries load by path, and are found by SONAME
        if windows and path.suffix.lower() in WINDOWS_NATIVE:
            members.append(_Member(NATIVE_PREFIX + WINDOWS_RUNTIME + rel, path, True, 0o755))
            continue
        if rel.startswith(stdlib + "/"):
            inner = rel[len(stdlib) + 1 :]
            if path.suffix == ".py":
                pyc = _pyc_for(path)
                if pyc is not None:
                    members.append(_Member(rel[:-3] + ".pyc", pyc, inner[:-3] in hot))
                else:
                    members.append(_Member(rel, path, False))
            elif inner.startswith("lib-dynload/") and is_elf(path):
                extensions[_extension_name(inner[len("lib-dynload/") :], True)] = (rel, path)
            else:
                members.append(_Member(rel, path, False))
        elif rel.startswith("lib/") and "/" not in rel[4:] and is_elf(path):
            libraries[rel] = path
        else:
            members.append(_Member(NATIVE_PREFIX + "runtime/" + rel, path, False))

    if windows:  # python3XY.dll and the CRT sit beside the folder artifact's launchers
        for path in sorted(folder.glob("*.dll")):
            members.append(_Member(NATIVE_PREFIX + WINDOWS_RUNTIME + path.name, path, True, 0o755))

    for path in _walk(app):
        rel = path.relative_to(app).as_posix()
        top = rel.split("/", 1)[0]
        if top in cached_names:
            members.append(_Member(NATIVE_PREFIX + "pkgs/" + rel, path, True, _mode(path)))
            if path.suffix == ".py" and (pyc := _pyc_for(path)) is not None:
                members.append(_Member(NATIVE_PREFIX + "pkgs/" + pyc.relative_to(app).as_posix(), pyc, True))
        elif windows and path.suffix.lower() in WINDOWS_NATIVE:
            if path.suffix.lower() == ".pyd":
                extensions[_extension_name(rel, False)] = (rel, path)
            else:
                libraries[rel] = path  # delvewheel's grafted DLLs: extracted beside the modules
        elif is_elf(path):
            if top.endswith(".libs") or ".so." in path.name:
                libraries[rel] = path  # auditwheel's grafted libraries
            else:
                extensions[_extension_name(rel, False)] = (rel, path)
        elif path.suffix == ".py":
            pyc = _pyc_for(path)
            if pyc is not None:
                members.append(_Member(rel[:-3] + ".pyc", pyc, True))
            members.append(_Member(rel, path, False))
        else:
            members.append(_Member(rel, path, False))

    for name, data in sorted(extra.items()):
        members.append(_Member(name, data, True))

    if windows:  # no memfd: everything native is extracted once, so no load order is needed
        assert libpython, "a Windows runtime names its python3XY.dll"
        natives_win = [*sorted(extensions.values()), *sorted(libraries.items())]
        members += [_Member(NATIVE_PREFIX + rel, path, True, 0o755) for rel, path in natives_win]
        no_needs: list[str] = []
        return members, Plan([WINDOWS_RUNTIME + libpython], {mod: (rel, no_needs) for mod, (rel, _p) in sorted(extensions.items())}, []), cached

    # Native files: only the libraries something loads; all stored, to be read by offset.
    names = natives.soname_map(libraries)
    boot = [*natives.load_order(libraries[libpython], names, libraries), libpython] if libpython else []  # None: linked in (static)
    wanted = set(boot)
    ext_index: dict[str, tuple[str, list[str]]] = {}
    for mod, (rel, path) in sorted(extensions.items()):
        needs = natives.load_order(path, names, libraries)
        wanted.update(needs)
        ext_index[mod] = (rel, needs)
        members.append(_Member(NATIVE_PREFIX + rel, path, True, 0o755))
    for rel in sorted(wanted):
        members.append(_Member(NATIVE_PREFIX + rel, libraries[rel], True, 0o755))
    return members, Plan(boot, ext_index, sorted(wanted)), cached


def _mode(path: Path) -> int:
    return 0o755 if os.access(path, os.X_OK) else 0o644


def _data_offset(buf: bytes, info: zipfile.ZipInfo) -> int:
    name_len, extra_len = struct.unpack_from("<HH", buf, info.header_offset + 26)
    return int(info.header_offset) + 30 + int(name_len) + int(extra_len)


def _add(zf: zipfile.ZipFile, member: _Member) -> None:
    info = zipfile.ZipInfo(member.name, _EPOCH)
    info.external_attr = (0o100000 | member.mode) << 16
    info.compress_type = zipfile.ZIP_STORED if member.stored else zipfile.ZIP_DEFLATED
    data = member.source if isinstance(member.source, bytes) else member.source.read_bytes()
    zf.writestr(info, data, compresslevel=9 if not member.stored else None)


def _index_source(plan: Plan, offsets: dict[str, tuple[int, int]], cached: list[datapkgs.PathDataPackage]) -> bytes:
    extensions = {mod: (rel, *offsets[NATIVE_PREFIX + rel], tuple(needs)) for mod, (rel, needs) in plan.extensions.items()}
    libraries = {rel: offsets[NATIVE_PREFIX + rel] for rel in plan.libraries}
    text = (
        '"""Generated by xbuild: where native files lie in this payload."""\n'
        f"EXTENSIONS = {extensions!r}\nLIBRARIES = {libraries!r}\nCACHED_PACKAGES = {tuple(c.name for c in cached)!r}\n"
    )
    return text.encode()


def write(members: list[_Member], plan: Plan, cached: list[datapkgs.PathDataPackage], compile_index: Callable[[bytes], bytes]) -> Payload:
    """The archive: members, then the index module and the manifest (which need the offsets)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for member in sorted(members, key=lambda m: m.name):
            _add(zf, member)
        zf.fp.flush()  # type: ignore[union-attr]  # zipfile types fp as Optional; it is open inside the with
        raw = buf.getvalue()
        offsets = {i.filename: (_data_offset(raw, i), i.file_size) for i in zf.infolist() if i.compress_type == zipfile.ZIP_STORED}
        index_pyc = compile_index(_index_source(plan, offsets, cached))
        _add(zf, _Member("_xbuild_onefile_index.pyc", index_pyc, True))
        lines = []
        for rel in plan.boot:
            off, size = offsets[NATIVE_PREFIX + rel]
            lines.append(f"boot {off} {size} 755 {rel}")
        for m in sorted(members, key=lambda m: m.name):
            if m.name.startswith(NATIVE_PREFIX) and not m.name.startswith(NATIVE_PREFIX + "runtime/"):
                off, size = offsets[m.name]
                lines.append(f"file {off} {size} {m.mode:o} {m.name[len(NATIVE_PREFIX) :]}")
        manifest = ("\n".join(lines) + "\n").encode()
        _add(zf, _Member(NATIVE_PREFIX + "manifest.txt", manifest, True))
        zf.fp.flush()  # type: ignore[union-attr]  # zipfile types fp as Optional; it is open inside the with
        raw = buf.getvalue()
        info = zf.getinfo(NATIVE_PREFIX + "manifest.txt")
        manifest_at = _data_offset(raw, info)
        zf.comment = b" " * TRAILER_SIZE
    data = bytearray(buf.getvalue())
    digest = hashlib.sha256(bytes(data[:-TRAILER_SIZE])).hexdigest()[:32]
    trailer = f"{MAGIC} {manifest_at} {len(manifest)} {digest} {len(data)}\n".encode()
    assert len(trailer) <= TRAILER_SIZE
    data[-TRAILER_SIZE:] = trailer.ljust(TRAILER_SIZE, b" ")
    natives_list = [m.name[len(NATIVE_PREFIX) :] for m in members if m.name.startswith(NATIVE_PREFIX) and is_native(m)]
    return Payload(bytes(data), digest, cached, natives_list)


def is_native(member: _Member) -> bool:
    if not isinstance(member.source, Path) or member.mode != 0o755:
        return False
    return member.source.suffix.lower() in WINDOWS_NATIVE or is_elf(member.source)
