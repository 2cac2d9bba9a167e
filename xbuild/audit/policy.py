"""Audit policies as data (xbuild/audit/policies/*), parsed once into frozen, checked records.

The figures are auditwheel's (manylinux, musllinux), delvewheel's (Windows DLLs) and
delocate's rules (macOS); `scripts/regen_policies.py` rebuilds the JSON from them.
`windows-versions.toml` says which Windows version introduced the DLLs and functions
that set a Windows artifact's minimum, and which Windows each CPython supports.
A malformed data file is a PolicyDataError naming the file and key, at first use.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from xbuild.audit.elf import version_tuple
from xbuild.errors import PolicyDataError, UsageError
from xbuild.targets import Target
from xbuild.versions import LEGACY_MANYLINUX_GLIBC

_DIR = Path(__file__).resolve().parent / "policies"
# Symbol-version prefixes capped by manylinux policies, and their names in the policy data.
CAPPED_PREFIXES = {"GLIBC_": "GLIBC", "GLIBCXX_": "GLIBCXX", "CXXABI_": "CXXABI", "GCC_": "GCC"}
_VERSION = re.compile(r"\d+(\.\d+)*")


# --- validation helpers ------------------------------------------------------------------


def _read_json(name: str) -> dict[str, Any]:
    path = _DIR / name
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise PolicyDataError(f"cannot read audit policy data {path}: {e}") from e
    if not isinstance(data, dict):
        raise PolicyDataError(f"{path}: expected a JSON object at the top")
    return data


def _need(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise PolicyDataError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise PolicyDataError(f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyDataError(f"{where}: expected a list of strings")
    return tuple(value)


def _version(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        raise PolicyDataError(f"{where}: expected a dotted version such as 2.17, got {value!r}")
    return version_tuple(value)


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


# --- manylinux / musllinux ---------------------------------------------------------------


@dataclass(frozen=True)
class ManylinuxEntry:
    """One auditwheel manylinux policy, as published."""

    name: str  # manylinux_2_17
    aliases: tuple[str, ...]  # manylinux2014
    glibc: tuple[int, ...]
    lib_whitelist: frozenset[str]
    blacklist: Mapping[str, frozenset[str]]  # library -> symbols no wheel may import from it
    max_versions: Mapping[str, Mapping[str, tuple[int, ...]]]  # wheel arch -> prefix name -> cap


@dataclass(frozen=True)
class MusllinuxEntry:
    name: str
    lib_whitelist: frozenset[str]
    blacklist: Mapping[str, frozenset[str]]


def _blacklist(value: Any, where: str) -> Mapping[str, frozenset[str]]:
    if not isinstance(value, dict):
        raise PolicyDataError(f"{where}: expected an object of library -> symbols")
    return MappingProxyType({lib: frozenset(_strings(syms, f"{where}.{lib}")) for lib, syms in value.items()})


@cache
def manylinux_policies() -> tuple[ManylinuxEntry, ...]:
    """Every manylinux policy, oldest glibc first."""
    entries = []
    for name, raw in _need(_read_json("manylinux.json"), "policies", dict, "manylinux.json").items():
        where = f"manylinux.json policies.{name}"
        caps: dict[str, Mapping[str, tuple[int, ...]]] = {}
        for arch, table in _need(raw, "max_versions", dict, where).items():
            if not isinstance(table, dict):
                raise PolicyDataError(f"{where}.max_versions.{arch}: expected an object")
            caps[arch] = MappingProxyType({k: _version(v, f"{where}.max_versions.{arch}.{k}") for k, v in table.items() if v is not None})
        entries.append(
            ManylinuxEntry(
                name=name,
                aliases=_strings(_need(raw, "aliases", list, where), f"{where}.aliases"),
                glibc=_version(_need(raw, "glibc", str, where), f"{where}.glibc"),
                lib_whitelist=frozenset(_strings(_need(raw, "lib_whitelist", list, where), f"{where}.lib_whitelist")),
                blacklist=_blacklist(raw.get("blacklist", {}), f"{where}.blacklist"),
                max_versions=MappingProxyType(caps),
            )
        )
    if not entries:
        raise PolicyDataError("manylinux.json: no policies")
    return tuple(sorted(entries, key=lambda e: e.glibc))


@cache
def musllinux_policies() -> Mapping[str, MusllinuxEntry]:
    found = {}
    for name, raw in _need(_read_json("musllinux.json"), "policies", dict, "musllinux.json").items():
        where = f"musllinux.json policies.{name}"
        found[name] = MusllinuxEntry(
            name=name,
            lib_whitelist=frozenset(_strings(_need(raw, "lib_whitelist", list, where), f"{where}.lib_whitelist")),
            blacklist=_blacklist(raw.get("blacklist", {}), f"{where}.blacklist"),
        )
    return MappingProxyType(found)


@dataclass(frozen=True)
class LinuxPolicy:
    """What a Linux binary may need from the system at a given floor."""

    name: str
    libc: str  # glibc | musl
    glibc: tuple[int, ...] | None  # the GLIBC_ cap (None for musl)
    caps: Mapping[str, tuple[int, ...]]  # prefix -> highest allowed version (besides GLIBC)
    allowed_libs: frozenset[str]
    blacklist: Mapping[str, frozenset[str]]


def linux_policy(target: Target, glibc: str | None) -> LinuxPolicy:
    """The manylinux policy at `glibc` (default: the target's floor), or musllinux for musl."""
    if target.libc == "musl":
        musl = musllinux_policies().get(target.policy)
        if musl is None:
            raise PolicyDataError(f"musllinux.json has no policy {target.policy!r} for {target.triple}")
        return LinuxPolicy(musl.name, "musl", None, MappingProxyType({}), musl.lib_whitelist, musl.blacklist)
    floor = version_tuple(glibc or target.floor or "2.17")
    # The newest published policy at or below the floor gives the library list, C++ caps and blacklist.
    at_or_below = [e for e in manylinux_policies() if e.glibc <= floor]
    entry = at_or_below[-1] if at_or_below else manylinux_policies()[0]
    arch_caps = entry.max_versions.get(target.wheel_arch, {})
    caps = {prefix: arch_caps[key] for prefix, key in CAPPED_PREFIXES.items() if key != "GLIBC" and key in arch_caps}
    label = f"manylinux_{floor[0]}_{floor[1] if len(floor) > 1 else 0}"
    return LinuxPolicy(label, "glibc", floor, MappingProxyType(caps), entry.lib_whitelist, entry.blacklist)


def newest_manylinux() -> str:
    """The glibc version of the newest manylinux policy in the data ("2.41")."""
    return dotted(max(e.glibc for e in manylinux_policies()))


def parse_policy_name(name: str) -> str:
    """`manylinux_2_28` or `manylinux2014` -> the glibc floor it stands for."""
    for entry in manylinux_policies():
        if name in entry.aliases:
            return dotted(entry.glibc)
    legacy = LEGACY_MANYLINUX_GLIBC
    if name in legacy:
        return legacy[name]
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)", name)
    if not match:
        raise UsageError(f"unknown policy {name!r}: use manylinux_X_Y (for example manylinux_2_28) or manylinux2014")
    return f"{match[1]}.{match[2]}"


def parse_glibc(text: str) -> str:
    """A glibc version the user typed (`2.28`), checked."""
    if not re.fullmatch(r"2\.\d+", text):
        raise UsageError(f"--glibc {text!r} is not a glibc version: write it as 2.17, 2.28, ...")
    return text


# --- Windows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowsPolicy:
    system_dlls: frozenset[str]  # lower-case names present on every supported Windows
    always_allowed: tuple[re.Pattern[str], ...]
    python_dll: re.Pattern[str]
    vc_shipped_with_python: tuple[str, ...]  # provided by CPython itself next to python3XY.dll


@cache
def _windows_data() -> tuple[Mapping[str, frozenset[str]], tuple[re.Pattern[str], ...], re.Pattern[str], tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]]:
    data = _read_json("windows.json")
    where = "windows.json"
    try:
        system = {m: frozenset(n.lower() for n in _strings(v, f"{where}.system_dlls.{m}")) for m, v in _need(data, "system_dlls", dict, where).items()}
        allowed = tuple(re.compile(r, re.IGNORECASE) for r in _strings(_need(data, "always_allowed_regexes", list, where), where))
        python_dll = re.compile(_need(data, "python_dll_regex", str, where), re.IGNORECASE)
        shipped = tuple(
            (re.compile(p), _strings(dlls, f"{where}.vc_runtime_shipped_with_python.{p}"))
            for p, dlls in _need(data, "vc_runtime_shipped_with_python", dict, where).items()
        )
    except re.error as e:
        raise PolicyDataError(f"{where}: bad regular expression ({e})") from e
    return MappingProxyType(system), allowed, python_dll, shipped


def windows_policy(target: Target, python_abi: str = "cp311") -> WindowsPolicy:
    """System DLLs for the target's CPU; `python_abi` (cp311) picks the VC runtime CPython ships."""
    system, allowed, python_dll, shipped = _windows_data()
    machine = {"x86_64": "AMD64", "aarch64": "ARM64", "i686": "I386"}[target.machine]
    platform = f"{python_abi}-{_platform(target)}"
    vc = next((dlls for pattern, dlls in shipped if pattern.fullmatch(platform)), ())
    return WindowsPolicy(system.get(machine, frozenset()), allowed, python_dll, vc)


def _platform(target: Target) -> str:
    return {"x86_64": "win_amd64", "aarch64": "win_arm64", "i686": "win32"}[target.machine]


@dataclass(frozen=True)
class WindowsVersionRule:
    """An import that needs a given Windows version (`dll` is a glob, `function` optional)."""

    dll: str
    function: str | None
    windows: tuple[int, ...]
    what: str
    source: str
    with_update: tuple[int, ...] | None = None  # older Windows that have it once `update` is installed
    update: str | None = None

    def matches(self, dll: str, functions: tuple[str, ...]) -> bool:
        if not fnmatch.fnmatchcase(dll.lower(), self.dll):
            return False
        return self.function is None or self.function in functions


@dataclass(frozen=True)
class RuntimeSupport:
    """The oldest Windows a CPython release line documents support for."""

    python: SpecifierSet
    windows: tuple[int, ...]
    source: str


@dataclass(frozen=True)
class WindowsVersions:
    names: Mapping[str, str]  # "6.3" -> "Windows 8.1"
    imports: tuple[WindowsVersionRule, ...]
    runtimes: tuple[RuntimeSupport, ...]
    header_source: str

    def name(self, version: tuple[int, ...]) -> str:
        return self.names.get(dotted(version), f"Windows {dotted(version)}")

    def runtime(self, python: str) -> RuntimeSupport | None:
        return next((r for r in self.runtimes if Version(python) in r.python), None)


@cache
def windows_versions() -> WindowsVersions:
    path = _DIR / "windows-versions.toml"
    where = "windows-versions.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PolicyDataError(f"cannot read audit policy data {path}: {e}") from e
    names = {k: str(v) for k, v in _need(data, "names", dict, where).items()}
    rules = []
    for i, raw in enumerate(_need(data, "import", list, where)):
        at = f"{where} import[{i}]"
        update = raw.get("update")
        rules.append(
            WindowsVersionRule(
                dll=_need(raw, "dll", str, at).lower(),
                function=raw.get("function"),
                windows=_version(_need(raw, "windows", str, at), f"{at}.windows"),
                what=_need(raw, "what", str, at),
                source=_need(raw, "source", str, at),
                with_update=_version(raw["with_update"], f"{at}.with_update") if "with_update" in raw else None,
                update=str(update) if update else None,
            )
        )
    runtimes = []
    for i, raw in enumerate(_need(data, "runtime", list, where)):
        at = f"{where} runtime[{i}]"
        try:
            spec = SpecifierSet(_need(raw, "python", str, at))
        except InvalidSpecifier as e:
            raise PolicyDataError(f"{at}.python: {e}") from e
        runtimes.append(RuntimeSupport(spec, _version(_need(raw, "windows", str, at), f"{at}.windows"), _need(raw, "source", str, at)))
    header = _need(_need(data, "header", dict, where), "source", str, f"{where}.header")
    return WindowsVersions(MappingProxyType(names), tuple(rules), tuple(runtimes), header)


# --- macOS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MacosPolicy:
    minimum: tuple[int, ...]
    system_prefixes: tuple[str, ...]


@cache
def _macos_prefixes() -> tuple[str, ...]:
    return _strings(_need(_read_json("macos.json"), "system_prefixes", list, "macos.json"), "macos.json.system_prefixes")


def macos_policy(target: Target, minimum: str | None) -> MacosPolicy:
    return MacosPolicy(version_tuple(minimum or target.floor or "11.0"), _macos_prefixes())
