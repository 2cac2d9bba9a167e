"""Static archives made deterministic: member headers lose their mtime and owner, objects keep their bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from xbuild.cpython import arheaders


def _member(name: bytes, payload: bytes, mtime: int, uid: int, mode: str) -> bytes:
    header = name.ljust(16) + str(mtime).encode().ljust(12) + str(uid).encode().ljust(6) + str(uid).encode().ljust(6)
    header += mode.encode().ljust(8) + str(len(payload)).encode().ljust(10) + b"`\n"
    return header + payload + (b"\n" if len(payload) % 2 else b"")


def _archive(mtime: int, uid: int, mode: str) -> bytes:
    # an odd-sized member first: the padding byte must be skipped to find the next header
    return arheaders.MAGIC + _member(b"a.o/", b"odd", mtime, uid, mode) + _member(b"b.o/", b"even", mtime, uid, mode)


def test_two_archives_differing_only_in_header_facts_become_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "lib1.a", tmp_path / "lib2.a"
    first.write_bytes(_archive(1764750000, 1000, "100664"))
    second.write_bytes(_archive(1764760000, 0, "100644"))
    assert arheaders.normalize_tree(tmp_path) == [first, second]
    assert first.read_bytes() == second.read_bytes()
    data = first.read_bytes()
    assert data[8 + 16 : 8 + 28] == b"0".ljust(12) and b"odd\n" in data and b"even" in data
    assert arheaders.normalize_tree(tmp_path) == []  # already deterministic: left alone


def test_a_file_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "libbad.a"
    bad.write_bytes(b"!<arch>\n" + b"x" * 70)
    with pytest.raises(ValueError, match="malformed"):
        arheaders.normalize(bad)
