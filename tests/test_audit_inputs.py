"""Fast audit tests (no network, no zig): inputs that are not binaries, bombs, report names,
the report schema, typed policy data, DLL folders read from source, blacklisted symbols."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import jsonschema
import pytest

from xbuild import targets
from xbuild.audit import dlldirs, policy, vocab
from xbuild.audit.check import Context, audit
from xbuild.audit.report import SCHEMA, to_json
from xbuild.errors import PolicyDataError

from .conftest import assert_one_line_error, run_xbuild

HOST_LIBSTDCXX = Path("/usr/lib/x86_64-linux-gnu/libstdc++.so.6")


# --- inputs that are not binaries -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "target"),
    [("empty.so", b"", None), ("noise.so", bytes(range(256)) * 16, None), ("noise.dll", b"\x13\x37" * 999, "win_amd64")],
    ids=["empty-so", "noise-so", "noise-dll"],
)
def test_a_file_named_like_a_binary_that_is_not_one_is_exit_2(tmp_path: Path, name: str, content: bytes, target: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    proc = run_xbuild("audit", str(path), *(["--target", target] if target else []))
    assert proc.returncode == 2, proc.stdout
    assert f"unreadable {name}: " in proc.stdout and "Traceback" not in proc.stderr
    assert ("is empty" if not content else "is not an ELF, PE or Mach-O file") in proc.stdout


def test_non_binaries_named_like_binaries_inside_a_folder_are_errors(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "_ext.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (tmp_path / "pkg" / "notes.txt").write_text("not a binary, not named like one")
    result = audit(tmp_path, Context(targets.get("linux-x86_64"), glibc="2.17"))
    assert result.exit_code == vocab.EXIT_ERRORS
    (bad,) = result.errors
    assert bad.path == "pkg/_ext.cpython-311-x86_64-linux-gnu.so" and bad.error == "is empty, not an ELF, PE or Mach-O file"
    assert run_xbuild("audit", str(tmp_path)).returncode == 2


# --- archives -------------------------------------------------------------------------------


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_a_wheel_that_inflates_1000_fold_is_refused_before_writing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb-1.0-py3-none-any.whl"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf, zf.open("bomb/big.bin", "w", force_zip64=True) as f:
        chunk = b"\0" * 2**24
        for _ in range(64):  # 1 GiB
            f.write(chunk)
    assert bomb.stat().st_size < 2 * 2**20
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = run_xbuild("audit", str(bomb), env={"TMPDIR": str(scratch)})
    line = assert_one_line_error(proc, bomb.name, "refusing to unpack 1.0 GiB from a 1.0 MiB archive")
    assert proc.returncode == 2 and "unpack it yourself" in line
    assert list(scratch.iterdir()) == []  # nothing was inflated


def test_two_inputs_with_the_same_name_get_two_reports(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = _wheel(tmp_path / "a" / "pure-1.0-py3-none-any.whl", {"pure/__init__.py": b""})
    two = _wheel(tmp_path / "b" / "pure-1.0-py3-none-any.whl", {"pure/__init__.py": b"", "pure/x.py": b""})
    reports = tmp_path / "reports"
    proc = run_xbuild("audit", str(one), str(two), "--target", "linux-x86_64", "--report-dir", str(reports))
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in reports.iterdir())
    assert names == [f"{one.name}-2.report.json", f"{one.name}-2.report.md", f"{one.name}.report.json", f"{one.name}.report.md"]
    assert str(one) in (reports / f"{one.name}.report.md").read_text()
    assert str(two) in (reports / f"{one.name}-2.report.md").read_text()
    assert str(one) in proc.stdout and str(two) in proc.stdout  # the summary tells them apart too


def test_report_dir_naming_a_file_is_a_usage_error(tmp_path: Path) -> None:
    taken = tmp_path / "reports"
    taken.write_text("a file")
    exe = tmp_path / "x.so"
    exe.write_bytes(b"")
    proc = run_xbuild("audit", str(exe), "--report-dir", str(taken))
    assert_one_line_error(proc, f"--report-dir {taken} is a file, not a folder")
    assert proc.returncode == 2 and taken.read_text() == "a file"


def test_glibc_and_policy_together_or_a_bad_glibc_are_usage_errors(tmp_path: Path) -> None:
    assert_one_line_error(run_xbuild("audit", str(tmp_path), "--glibc", "2.28", "--policy", "manylinux2014"), "not both")
    assert_one_line_error(run_xbuild("audit", str(tmp_path), "--glibc", "two"), "--glibc 'two' is not a glibc version")


def test_a_whl_that_is_not_named_like_a_wheel_is_one_line(tmp_path: Path) -> None:
    bad = _wheel(tmp_path / "notawheel.whl", {"x.py": b""})
    assert_one_line_error(run_xbuild("audit", str(bad)), "notawheel.whl: not a wheel file name")


# --- blacklisted symbols (auditwheel's, from the policy data) ----------------------------------


@pytest.mark.skipif(not HOST_LIBSTDCXX.is_file(), reason="needs the host's x86_64 libstdc++")
def test_blacklisted_libc_symbol_is_a_violation_where_the_policy_lists_it(tmp_path: Path) -> None:
    lib = tmp_path / HOST_LIBSTDCXX.name
    lib.write_bytes(HOST_LIBSTDCXX.read_bytes())
    target = targets.get("linux-x86_64")
    # libstdc++ imports __cxa_thread_atexit_impl from libc.so.6; manylinux_2_17's blacklist names it.
    old = audit(tmp_path, Context(target, glibc="2.17"))
    (hit,) = [v for v in old.violations if v.rule == "blacklisted-symbol"]
    assert (hit.subject, hit.allowed) == ("libc.so.6", "manylinux_2_17") and "__cxa_thread_atexit_impl" in hit.needed
    # manylinux_2_28's blacklist no longer names libc symbols.
    assert not [v for v in audit(tmp_path, Context(target, glibc="2.28")).violations if v.rule == "blacklisted-symbol"]
    _validate(to_json(old))


# --- report schema ---------------------------------------------------------------------------


def _validate(doc: dict[str, object]) -> None:
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))


def test_real_audit_output_matches_the_schema(tmp_path: Path) -> None:
    folder = tmp_path / "tree"
    folder.mkdir()
    (folder / "broken.so").write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 20)  # unreadable entry
    for exe in ("/usr/bin/python3", "/bin/ls"):
        if Path(exe).is_file():
            (folder / Path(exe).name).write_bytes(Path(exe).resolve().read_bytes())
    target = targets.get("linux-x86_64")
    proc = run_xbuild("audit", str(folder), "--target", target.triple, "--json")
    doc = json.loads(proc.stdout)
    _validate(doc)
    assert doc["summary"]["unreadable"] == 1 and doc["summary"]["exit_code"] == proc.returncode == 2
    with pytest.raises(jsonschema.ValidationError):
        _validate({**doc, "violations": [{**v, "rule": "made-up"} for v in doc["violations"]] or [{"rule": "made-up"}]})


def test_schema_vocabularies_match_the_code() -> None:
    schema = json.loads(SCHEMA.read_text())
    props = schema["properties"]
    assert set(props["violations"]["items"]["properties"]["rule"]["enum"]) == vocab.RULES
    assert set(props["files"]["items"]["properties"]["dependencies"]["items"]["properties"]["status"]["enum"]) == vocab.STATUSES
    assert set(props["claim"]["oneOf"][1]["properties"]["status"]["enum"]) == vocab.CONSISTENCIES
    assert props["summary"]["properties"]["exit_code"]["enum"] == [vocab.EXIT_OK, vocab.EXIT_VIOLATIONS, vocab.EXIT_ERRORS]


# --- typed policy data ----------------------------------------------------------------------


def test_policies_parse_once_into_frozen_records() -> None:
    entries = policy.manylinux_policies()
    assert entries is policy.manylinux_policies()  # parsed once
    by_name = {e.name: e for e in entries}
    assert by_name["manylinux_2_17"].glibc == (2, 17) and "manylinux2014" in by_name["manylinux_2_17"].aliases
    assert by_name["manylinux_2_17"].max_versions["x86_64"]["GLIBCXX"] == (3, 4, 19)
    assert "__cxa_thread_atexit_impl" in by_name["manylinux_2_17"].blacklist["libc.so.6"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_name["manylinux_2_17"].glibc = (2, 99)  # type: ignore[misc]
    with pytest.raises(TypeError):
        by_name["manylinux_2_17"].blacklist["libc.so.6"] = frozenset()  # type: ignore[index]
    assert policy.parse_policy_name("manylinux2014") == "2.17"
    versions = policy.windows_versions()
    assert versions.runtime("3.11.9") is not None and versions.runtime("3.11.9").windows == (6, 3)  # type: ignore[union-attr]
    assert versions.runtime("3.13.1").windows == (10, 0)  # type: ignore[union-attr]


def test_malformed_policy_data_names_the_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "manylinux.json").write_text(json.dumps({"policies": {"manylinux_2_17": {"aliases": [], "glibc": "two", "lib_whitelist": [], "max_versions": {}}}}))
    monkeypatch.setattr(policy, "_DIR", tmp_path)
    policy.manylinux_policies.cache_clear()
    try:
        with pytest.raises(PolicyDataError, match=r"manylinux.json policies.manylinux_2_17.glibc: expected a dotted version"):
            policy.manylinux_policies()
    finally:
        policy.manylinux_policies.cache_clear()


# --- DLL folders that shipped code adds ------------------------------------------------------


DELVEWHEEL_NEW = """
def _delvewheel_patch_1_11_2():
    import os
    if os.path.isdir(libs_dir := os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, 'pkg.libs'))):
        os.add_dll_directory(libs_dir)
"""
DELVEWHEEL_OLD = """
def _delvewheel_init_patch_1_3_4():
    import os
    import sys
    libs_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, 'other.libs'))
    is_pyinstaller = getattr(sys, 'frozen', False) and hasattr(sys, '_MEIPASS')
    if not is_pyinstaller or os.path.isdir(libs_dir):
        os.add_dll_directory(libs_dir)
"""
PATHLIB = """
from pathlib import Path
import os
os.add_dll_directory(str(Path(__file__).resolve().parent / "bin"))
"""
UNREADABLE = """
import os, site
os.add_dll_directory(os.path.join(site.getsitepackages()[0], "somewhere"))
"""


def test_add_dll_directory_targets_are_read_from_source(tmp_path: Path) -> None:
    for pkg, code, folder in (("pkg", DELVEWHEEL_NEW, "pkg.libs"), ("other", DELVEWHEEL_OLD, "other.libs"), ("tool", PATHLIB, "tool/bin")):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text(code)
        (tmp_path / folder).mkdir()
    (tmp_path / "pkg" / "sub").mkdir()
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text(PATHLIB.replace('"bin"', '"nowhere"'))  # a folder that is not shipped
    (tmp_path / "odd.py").write_text(UNREADABLE)
    (tmp_path / "newer.py").write_text("def f(:\n    os.add_dll_directory('x')\n")  # a syntax this Python cannot parse
    found, unresolved = dlldirs.find(tmp_path)
    root = tmp_path.resolve()
    assert {(d.folder.relative_to(root).as_posix(), d.scope.relative_to(root).as_posix()) for d in found} == {
        ("pkg.libs", "pkg"),
        ("other.libs", "other"),
        ("tool/bin", "tool"),
    }
    assert sorted((u.file.name, u.line) for u in unresolved) == [("newer.py", 0), ("odd.py", 3)]


# --- what a wheel's tag claims, which libc a file is for ------------------------------------------


def test_tag_claims_become_contexts_per_slice() -> None:
    from xbuild.audit.claims import claim_for

    fat = claim_for("cryptography-48.0.1-cp311-abi3-macosx_10_9_universal2.whl")
    assert fat is not None and fat.tag == "macosx_10_9_universal2"
    # arm64 slices cannot run before macOS 11.0, whatever the tag says.
    assert {(c.target.triple, c.macos) for c in fat.contexts} == {("x86_64-apple-darwin", "10.9"), ("aarch64-apple-darwin", "11.0")}
    dual = claim_for("PyYAML-6.0.3-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl")
    assert dual is not None and (dual.tag, dual.contexts[0].glibc, dual.contexts[0].target.triple) == ("manylinux_2_17_aarch64", "2.17", "aarch64-unknown-linux-gnu")
    musl = claim_for("x-1.0-cp311-cp311-musllinux_1_2_x86_64.whl")
    assert musl is not None and musl.contexts[0].target.triple == "x86_64-unknown-linux-musl"
    assert claim_for("x-1.0-py3-none-any.whl") is None


def test_libc_of_a_file_is_told_from_what_it_needs() -> None:
    from xbuild.audit.check import elf_libc
    from xbuild.audit.elf import ElfInfo

    def info(needed: tuple[str, ...], interp: str | None = None, versions: dict[str, tuple[str, ...]] | None = None) -> ElfInfo:
        return ElfInfo(Path("f.so"), "x86_64", 64, interp, None, needed, (), (), versions or {})

    assert elf_libc(info(("libc.musl-x86_64.so.1",))) == ("musl", "needs libc.musl-x86_64.so.1")
    assert elf_libc(info((), "/lib/ld-musl-aarch64.so.1")) == ("musl", "needs /lib/ld-musl-aarch64.so.1")
    assert elf_libc(info(("libc.so.6",), None, {"libc.so.6": ("GLIBC_2.2.5", "GLIBC_2.28")})) == ("glibc", "needs GLIBC_2.28 from libc.so.6")
    assert elf_libc(info(("libm.so.6",))) == ("glibc", "needs libm.so.6")
    assert elf_libc(info(("libfoo.so",))) is None  # says nothing about its libc
