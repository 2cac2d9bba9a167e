"""The source lock of from-source CPython runtimes and its chain of trust (fast: file:// mirrors only)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from xbuild import debian
from xbuild.cpython import recipes, sources
from xbuild.cpython import runtime as built
from xbuild.errors import IntegrityError

from .conftest import assert_one_line_error, run_xbuild


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tarball(top: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _dsc(orig_name: str, orig: bytes) -> bytes:
    return (
        f"Format: 3.0 (quilt)\nSource: demo\nVersion: 1.2-1\nChecksums-Sha256:\n {_sha(orig)} {len(orig)} {orig_name}\n"
    ).encode()


def _paragraph(version: str, files: dict[str, bytes]) -> str:
    lines = "".join(f" {_sha(data)} {len(data)} {name}\n" for name, data in files.items())
    return f"Package: demo\nVersion: {version}\nDirectory: pool/main/d/demo\nChecksums-Sha256:\n{lines}"


def _index(*paragraphs: str) -> debian.SourcesIndex:
    pin = debian.IndexPin("sid", "0" * 64, "unchecked: test", debian.SOURCES_INDEX, "1" * 64)
    return debian.SourcesIndex(pin, "\n\n".join(paragraphs) + "\n")


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "mirror" / "pool/main/d/demo").mkdir(parents=True)
    return tmp_path / "mirror"


def test_the_shipped_lock_pins_every_recipe_with_its_chain() -> None:
    lock = sources.load_lock()
    assert set(lock.packages) == set(recipes.names()) == {*built.dependencies(), "cpython"}
    for name, pkg in lock.packages.items():
        wanted = recipes.load(name)["source"]
        assert pkg.package == wanted["debian"]
        assert pkg.upstream_version.startswith(wanted.get("upstream", ""))
        assert pkg.suite in lock.indexes
        assert len(pkg.orig.sha256) == 64 and ".orig.tar." in pkg.orig.name
    for pin in lock.indexes.values():
        assert pin.signature.startswith("gpgv:"), "the lock was made without checking InRelease's signature"
    assert built.python_version(lock).startswith("3.13.")


def test_upstream_version_drops_epoch_revision_and_repack_suffix() -> None:
    f = debian.SourceFile("x", "0" * 64, 1)
    assert debian.SourcePackage("zlib", "1:1.3.dfsg+really1.3.2-3", "sid", "p", f, f, True).upstream_version == "1.3.2"
    assert debian.SourcePackage("openssl", "3.5.7-1~deb13u2", "sid", "p", f, f, True).upstream_version == "3.5.7"
    assert debian.SourcePackage("libedit", "3.1-20250104-1", "sid", "p", f, f, True).upstream_version == "3.1-20250104"


def test_pick_source_follows_sources_to_dsc_to_orig(mirror: Path) -> None:
    orig = _tarball("demo-1.2", {"configure": "#!/bin/sh\n"})
    dsc = _dsc("demo_1.2.orig.tar.gz", orig)
    (mirror / "pool/main/d/demo/demo_1.2-1.dsc").write_bytes(dsc)
    (mirror / "pool/main/d/demo/demo_1.2.orig.tar.gz").write_bytes(orig)
    newer_unserved = _paragraph("1.3-1", {"demo_1.3-1.dsc": b"x", "demo_1.3.orig.tar.gz": b"y"})
    index = _index(_paragraph("1.2-1", {"demo_1.2-1.dsc": dsc, "demo_1.2.orig.tar.gz": orig}), newer_unserved)
    pkg = debian.pick_source(index, mirror.as_uri(), "demo", "1.")
    assert (pkg.version, pkg.orig.sha256, pkg.dsc_checked) == ("1.2-1", _sha(orig), True)
    assert debian.fetch_source(pkg, mirror.as_uri()).read_bytes() == orig
    with pytest.raises(debian.DebianError, match="upstream version 2"):
        debian.pick_source(index, mirror.as_uri(), "demo", "2.")


def test_a_dsc_naming_another_orig_breaks_the_chain(mirror: Path) -> None:
    orig = _tarball("demo-1.2", {"a": "1"})
    dsc = _dsc("demo_1.2.orig.tar.gz", _tarball("demo-1.2", {"a": "evil"}))
    (mirror / "pool/main/d/demo/demo_1.2-1.dsc").write_bytes(dsc)
    index = _index(_paragraph("1.2-1", {"demo_1.2-1.dsc": dsc, "demo_1.2.orig.tar.gz": orig}))
    with pytest.raises(IntegrityError, match=r"does not list demo_1\.2\.orig\.tar\.gz"):
        debian.pick_source(index, mirror.as_uri(), "demo")


def test_without_a_served_dsc_the_signed_index_alone_pins_the_orig(mirror: Path) -> None:
    orig = _tarball("demo-1.2", {"a": "1"})
    (mirror / "pool/main/d/demo/demo_1.2.orig.tar.gz").write_bytes(orig)
    index = _index(_paragraph("1.2-1", {"demo_1.2-1.dsc": b"never served", "demo_1.2.orig.tar.gz": orig}))
    pkg = debian.pick_source(index, mirror.as_uri(), "demo")
    assert pkg.dsc_checked is False and pkg.orig.sha256 == _sha(orig)


def test_a_tampered_tarball_is_refused_and_never_cached(mirror: Path) -> None:
    orig = _tarball("demo-1.2", {"a": "1"})
    f = debian.SourceFile("demo_1.2.orig.tar.gz", _sha(orig), len(orig))
    pkg = debian.SourcePackage("demo", "1.2-1", "sid", "pool/main/d/demo", f, f, True)
    tampered = _tarball("demo-1.2", {"a": "2"})
    (mirror / "pool/main/d/demo/demo_1.2.orig.tar.gz").write_bytes(tampered[: len(orig)].ljust(len(orig), b"\0"))
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        debian.fetch_source(pkg, mirror.as_uri())
    assert not list((mirror.parent / "cache").glob("blobs/sha256/*/*"))


def test_lock_round_trips_through_json() -> None:
    lock = sources.load_lock()
    again = debian.SourceLock.from_json(json.loads(json.dumps(lock.to_json())))
    assert again == lock and sources.lock_digest(again) == sources.lock_digest(lock)


def test_a_lock_missing_a_package_is_one_line_error(tmp_path: Path) -> None:
    data = json.loads(sources.lock_path().read_text())
    del data["packages"]["openssl"]
    broken = tmp_path / "lock.json"
    broken.write_text(json.dumps(data))
    prelude = f"from xbuild.cpython import sources; from pathlib import Path; sources.lock_path = lambda: Path({str(broken)!r})"
    proc = run_xbuild("runtime", "build", "-t", "x86_64-unknown-linux-gnu", "--python", "3.13", python_prelude=prelude)
    assert_one_line_error(proc, "no 'openssl'", "lock_cpython_sources.py")


def test_a_tampered_cached_tarball_fails_the_build_before_any_step(tmp_path: Path) -> None:
    """The lock pins the tarball; a mirror serving other bytes stops the build with one line."""
    lock = sources.load_lock()
    pkg = lock.packages["zlib"]
    fake = tmp_path / "mirror" / pkg.directory
    fake.mkdir(parents=True)
    (fake / pkg.orig.name).write_bytes(b"x" * pkg.orig.size)  # same size, other bytes
    env = {"XBUILD_CACHE_DIR": str(tmp_path / "cache"), debian.MIRROR_VAR: (tmp_path / "mirror").as_uri()}
    proc = run_xbuild("runtime", "build", "-t", "x86_64-unknown-linux-gnu", "--python", "3.13", env=env)
    assert_one_line_error(proc, "sha256 mismatch", pkg.orig.name)
    assert not (tmp_path / "cache" / "runtimes").exists()
