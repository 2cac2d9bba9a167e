"""Runtime archives the tests assemble in python-build-standalone's install_only layout."""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
import time


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def pbs_linux_archive(version: str = "3.11.16", extra: list[tarfile.TarInfo] | None = None, padding: int = 200_000) -> bytes:
    """A small but well-formed `python/` tree for a Linux target, as .tar.gz bytes.

    `padding` adds an incompressible file so downloads are big enough to cut mid-way.
    """
    minor = ".".join(version.split(".")[:2])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        _add(tar, f"python/include/python{minor}/Python.h", b"/* Python.h */\n")
        _add(tar, f"python/include/python{minor}/patchlevel.h", f'#define PY_VERSION "{version}"\n'.encode())
        _add(tar, f"python/lib/python{minor}/os.py", b"# os\n")
        _add(tar, f"python/lib/python{minor}/lib-dynload/_struct.cpython-{minor.replace('.', '')}-x86_64-linux-gnu.so", b"not elf")
        _add(tar, f"python/lib/libpython{minor}.so", b"not elf either")
        _add(tar, f"python/bin/python{minor}", b"#!/bin/sh\necho fake\n", 0o755)
        _add(tar, "python/share/padding.bin", random.Random(0).randbytes(padding))
        for info in extra or []:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pins_toml(base_url: str, entries: list[tuple[str, str, str, str]]) -> str:
    """A pbs.toml like toolchains/pbs.toml: entries are (python, triple, file, sha256)."""
    lines = ['release = "test"', f'base_url = "{base_url}"', 'flavor = "install_only_stripped"']
    for python, triple, file, digest in entries:
        lines += ["", "[[archive]]", f'python = "{python}"', f'triple = "{triple}"', f'file = "{file}"', f'sha256 = "{digest}"']
    return "\n".join(lines) + "\n"
