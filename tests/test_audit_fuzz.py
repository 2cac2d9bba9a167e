"""Truncated and bit-flipped binaries never crash the readers or the audit: each is a per-file error.

Bounded: a fixed number of examples per format, derandomized so CI is repeatable. Slow: the
seeds are compiled with zig.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xbuild import targets
from xbuild.audit.check import Context, audit, binary_format, looks_binary
from xbuild.audit.elf import read_elf
from xbuild.audit.macho import read_macho
from xbuild.audit.pe import read_pe
from xbuild.errors import BinaryFormatError
from xbuild.toolchain import OPT_LEVEL, Zig

from .conftest import DATA

pytestmark = pytest.mark.slow

SEEDS = {
    "elf": ("x86_64-unknown-linux-gnu", read_elf),
    "pe": ("x86_64-pc-windows-msvc", read_pe),
    "macho": ("aarch64-apple-darwin", read_macho),
}


@pytest.fixture(scope="module")
def seeds(zig: Zig, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("seeds")
    found = {}
    for fmt, (triple, _) in SEEDS.items():
        target = targets.get(triple)
        exe = out / f"hello-{fmt}{target.exe_suffix}"
        zig.run(zig.cc(target, [OPT_LEVEL, "-o", str(exe), str(DATA / "hello.c")]), what=f"seed {fmt}")
        found[fmt] = exe.read_bytes()
    return found


def _mutations() -> st.SearchStrategy[tuple[float, list[tuple[float, int]]]]:
    cut = st.floats(min_value=0.0, max_value=1.0)
    flips = st.lists(st.tuples(st.floats(min_value=0.0, max_value=0.999), st.integers(min_value=1, max_value=255)), max_size=12)
    return st.tuples(cut, flips)


def _mutate(data: bytes, cut: float, flips: list[tuple[float, int]]) -> bytes:
    buf = bytearray(data[: max(1, int(len(data) * cut))] if cut < 1.0 else data)
    for where, mask in flips:
        buf[int(where * len(buf))] ^= mask
    return bytes(buf)


@pytest.mark.parametrize("fmt", list(SEEDS))
def test_mutated_binaries_give_per_file_errors(seeds: dict[str, bytes], fmt: str) -> None:
    """Each mutant is one of three things, and the audit says which: not a binary (skipped),
    unreadable (one per-file error, exit 2), or readable (audited like any binary, exit 0 or 1)."""
    triple, reader = SEEDS[fmt]
    target = targets.get(triple)
    context = Context(target, glibc=target.floor if target.libc == "glibc" else None)
    outcomes: Counter[str] = Counter()

    def audit_one(data: bytes) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"mutant{target.exe_suffix}"
            path.write_bytes(data)
            result = audit(Path(tmp), context)
            if binary_format(path) is None:
                if not looks_binary(path):  # no binary's name either: not the audit's business
                    assert (result.files, result.violations, result.exit_code) == ([], [], 0)
                    return "skipped"
                # named like a binary (.exe, .so, ...) but no longer one: a per-file error, exit 2
                assert [f.error for f in result.files] == [result.files[0].error] and "not an ELF, PE or Mach-O" in str(result.files[0].error)
                assert result.exit_code == 2
                return "not a binary"
            try:
                reader(path)
                error = None
            except BinaryFormatError as e:
                error = str(e).split(": ", 1)[-1]
            if error is not None:
                assert [(f.path, f.error) for f in result.files] == [(path.name, error)]
                assert result.errors == result.files and result.exit_code == 2
                return "unreadable"
            assert [f.path for f in result.files] == [path.name] and result.errors == []
            assert result.exit_code == (1 if result.violations else 0)
            return "readable"

    assert audit_one(seeds[fmt]) == "readable"  # the seed itself
    assert audit_one(seeds[fmt][:64]) == "unreadable"  # its headers cut short: a per-file error, not a skip

    @settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(_mutations())
    def check(mutation: tuple[float, list[tuple[float, int]]]) -> None:
        outcomes[audit_one(_mutate(seeds[fmt], *mutation))] += 1

    check()
    not_binaries = outcomes["skipped"] + outcomes["not a binary"]
    assert 0 < not_binaries < outcomes.total(), outcomes  # the mutations reach past the magic bytes
