"""One-file pieces that need no build: the data-package heuristic, the payload's layout and trailer."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from xbuild.errors import UnreadableInputError
from xbuild.onefile import datapkgs, payload, reader


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_packages_reading_data_by_path_are_found_and_others_are_not(tmp_path: Path) -> None:
    _write(tmp_path / "bypath/__init__.py", "import os\nHERE = os.path.dirname(__file__)\n")
    _write(tmp_path / "bypath/sub/table.csv", "a,b\n")
    _write(tmp_path / "byresources/__init__.py", "from importlib.resources import files\n")
    _write(tmp_path / "byresources/data.txt", "x\n")
    _write(tmp_path / "codeonly/__init__.py", "print(__file__)\n")
    _write(tmp_path / "codeonly/py.typed", "")
    _write(tmp_path / "codeonly/mod.pyi", "")
    _write(tmp_path / "codeonly/__pycache__/x.bin", "")
    _write(tmp_path / "nsdir/data.txt", "not a package\n")
    found = datapkgs.find(tmp_path)
    assert [(p.name, p.data_file, p.file_use) for p in found] == [("bypath", "bypath/sub/table.csv", "bypath/__init__.py")]
    assert found[0].reason() == "it ships data files (bypath/sub/table.csv) and bypath/__init__.py builds paths from __file__"


def test_payload_offsets_manifest_and_trailer(tmp_path: Path) -> None:
    lib = tmp_path / "libx.so"
    lib.write_bytes(b"\x7fELF" + b"native bytes" * 100)
    members = [
        payload._Member("pkg/__init__.pyc", b"pyc", True),
        payload._Member("pkg/data.txt", b"data " * 100, False),
        payload._Member(".xbuild/lib/libx.so", lib, True, 0o755),
    ]
    plan = payload.Plan(["lib/libx.so"], {}, ["lib/libx.so"])
    built = payload.write(members, plan, [], lambda src: b"index:" + src)
    exe = tmp_path / "app"
    exe.write_bytes(b"LAUNCHER" * 1000 + built.data)
    assert reader.payload_start(exe) == 8000
    trailer = built.data[-payload.TRAILER_SIZE :].decode().split()
    assert trailer[:2] == ["xbuild-onefile", "1"] and trailer[4] == built.digest and int(trailer[5]) == len(built.data)
    raw = exe.read_bytes()
    moff, msize = int(trailer[2]), int(trailer[3])
    assert raw[8000 + moff : 8000 + moff + msize].startswith(b"boot ")
    with zipfile.ZipFile(exe) as zf:  # prepended bytes are fine, as for zipimport
        text = zf.read(".xbuild/manifest.txt").decode()
        assert zf.read("pkg/data.txt") == b"data " * 100
        assert zf.getinfo("pkg/data.txt").compress_type == zipfile.ZIP_DEFLATED
        assert b"EXTENSIONS = {}" in zf.read("_xbuild_onefile_index.pyc")
    kind, off, size, mode, path = text.split()[:5]
    assert (kind, mode, path) == ("boot", "755", "lib/libx.so")
    assert raw[8000 + int(off) : 8000 + int(off) + int(size)] == lib.read_bytes()
    again = payload.write(members, plan, [], lambda src: b"index:" + src)
    assert again.data == built.data  # reproducible


def test_a_file_without_payload_is_refused_in_one_line(tmp_path: Path) -> None:
    exe = tmp_path / "plain"
    exe.write_bytes(b"\x7fELF" + b"\0" * 300)
    with pytest.raises(UnreadableInputError, match="not an xbuild one-file executable"):
        reader.payload_start(exe)


@pytest.mark.parametrize(
    ("cache_path", "artifact_path"),
    [
        ("lib/libpython3.11.so.1.0", "runtime/lib/libpython3.11.so.1.0"),
        ("lib/python3.11/lib-dynload/_ssl.so", "runtime/lib/python3.11/lib-dynload/_ssl.so"),
        ("yaml/_yaml.so", "app/yaml/_yaml.so"),
        ("pkgs/ofpath/table.txt", "app/ofpath/table.txt"),
    ],
)
def test_cache_paths_map_back_to_the_folder_layout(cache_path: str, artifact_path: str) -> None:
    assert reader._artifact_path(cache_path, "lib/python3.11") == artifact_path
