"""Check every binary in a tree against the target's policy.

Each dependency of each binary is either inside the tree (bundled), an allowed system
library for the target, or missing. Symbol versions (glibc and the GCC runtime),
macOS minimum versions and CPU types are compared with the policy's caps. The result
lists every file with what it needs, the effective floor (the highest version any
file needs) and every violation with file, subject, needed and allowed values.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xbuild.audit import policy
from xbuild.audit.elf import ElfInfo, read_elf, version_tuple
from xbuild.audit.macho import MachoInfo, read_macho
from xbuild.audit.pe import PeInfo, read_pe
from xbuild.errors import BinaryFormatError
from xbuild.targets import Target

Parsed = ElfInfo | PeInfo | MachoInfo
_READERS: dict[str, Callable[[Path], Parsed]] = {"elf": read_elf, "pe": read_pe, "macho": read_macho}
_LOADER = re.compile(r"^(ld-linux.*\.so\.\d+|ld64\.so\.\d+|ld\.so\.\d+|ld-musl-.*\.so\.1|libc\.musl-.*\.so\.1)$")
_MACHO_MAGICS = {b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce"}


@dataclass(frozen=True)
class Dependency:
    name: str
    status: str  # bundled | system | missing | not-allowed
    where: str | None = None  # the bundled file, relative to the tree


@dataclass(frozen=True)
class Violation:
    file: str
    rule: str  # machine | library | symbol-version | minimum-os
    subject: str
    needed: str
    allowed: str

    def sentence(self) -> str:
        if self.rule == "library":
            return f"{self.file}: needs {self.subject}, which is neither bundled nor one of {self.allowed}"
        if self.rule == "symbol-version":
            return f"{self.file}: needs {self.subject}, newer than the {self.allowed} allowed"
        if self.rule == "minimum-os":
            return f"{self.file}: requires {self.subject} {self.needed}, above the target minimum {self.allowed}"
        return f"{self.file}: {self.subject} {self.needed}, the target is {self.allowed}"


@dataclass
class FileAudit:
    path: str
    format: str
    machine: str = ""
    kind: str = ""
    dependencies: list[Dependency] = field(default_factory=list)
    needs: dict[str, str] = field(default_factory=dict)  # glibc / GLIBCXX / macos / windows -> version
    error: str | None = None


@dataclass(frozen=True)
class Context:
    """What the tree is checked against."""

    target: Target
    glibc: str | None = None  # the GLIBC_ cap for gnu targets
    glibc_reason: str = ""
    macos: str | None = None
    python_abi: str = "cp311"
    artifact: bool = True  # an app folder ships its own Python DLL; a wheel relies on the interpreter's


@dataclass
class AuditResult:
    context: Context
    root: Path
    policy: str
    files: list[FileAudit]
    violations: list[Violation]

    @property
    def errors(self) -> list[FileAudit]:
        return [f for f in self.files if f.error]

    def floor(self, key: str) -> str | None:
        """The highest `key` version any file needs (glibc, macos, windows, GLIBCXX, ...)."""
        found = [f.needs[key] for f in self.files if key in f.needs]
        return max(found, key=version_tuple) if found else None

    def floor_file(self, key: str) -> str | None:
        """The file that needs the highest `key` version: the one that sets the effective floor."""
        found = [f for f in self.files if key in f.needs]
        return max(found, key=lambda f: version_tuple(f.needs[key])).path if found else None

    @property
    def exit_code(self) -> int:
        return 2 if self.errors else 1 if self.violations else 0


def binary_format(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError:
        return None
    if magic == b"\x7fELF":
        return "elf"
    if magic[:2] == b"MZ":
        return "pe"
    if magic in _MACHO_MAGICS:
        return "macho"
    return None


def find_binaries(root: Path) -> list[Path]:
    """Regular files below `root` (or `root` itself) that are ELF, PE or Mach-O."""
    if root.is_file():
        return [root] if binary_format(root) else []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and binary_format(p))


def audit(root: Path, context: Context, paths: Iterable[Path] | None = None) -> AuditResult:
    """Audit every binary below `root` (or the given ones) for `context.target`."""
    base = root if root.is_dir() else root.parent
    binaries = list(paths) if paths is not None else find_binaries(root)
    read: dict[Path, Parsed] = {}
    files: list[FileAudit] = []
    for path in binaries:
        rel = path.relative_to(base).as_posix()
        fmt = binary_format(path) or "?"
        try:
            read[path] = _READERS[fmt](path)
        except BinaryFormatError as e:
            files.append(FileAudit(rel, fmt, error=str(e).split(": ", 1)[-1]))
    violations: list[Violation] = []
    target = context.target
    if target.os == "linux":
        label = _audit_elf(base, read, context, files, violations)
    elif target.os == "windows":
        label = _audit_pe(base, read, context, files, violations)
    else:
        label = _audit_macho(base, read, context, files, violations)
    for path, info in read.items():
        fmt = {ElfInfo: "elf", PeInfo: "pe", MachoInfo: "macho"}[type(info)]
        if fmt != target.format:
            rel = path.relative_to(base).as_posix()
            violations.append(Violation(rel, "format", "format", fmt, target.format))
    files.sort(key=lambda f: f.path)
    return AuditResult(context, base, label, files, violations)


# --- ELF ---------------------------------------------------------------------------------


def _expand_origin(entry: str, origin: Path) -> Path:
    return Path(entry.replace("$ORIGIN", str(origin)).replace("${ORIGIN}", str(origin)))


def _audit_elf(base: Path, read: Mapping[Path, Parsed], ctx: Context, files: list[FileAudit], violations: list[Violation]) -> str:
    elves = {p: i for p, i in read.items() if isinstance(i, ElfInfo)}
    pol = policy.linux_policy(ctx.target, ctx.glibc)
    # DT_RPATH of executables applies to every library they load (unless that one has RUNPATH).
    inherited = [_expand_origin(r, p.parent) for p, i in elves.items() if i.interpreter for r in i.rpath]
    by_name: dict[str, list[Path]] = {}
    for p in elves:
        by_name.setdefault(p.name, []).append(p)
    for path, info in elves.items():
        rel = path.relative_to(base).as_posix()
        audit_file = FileAudit(rel, "elf", info.machine, "executable" if info.interpreter else "shared library")
        if info.machine != ctx.target.machine:
            violations.append(Violation(rel, "machine", "built for", info.machine, ctx.target.machine))
        dirs = [_expand_origin(r, path.parent) for r in (info.runpath or info.rpath)]
        if not info.runpath:
            dirs += inherited
        bundled_names = set()
        for lib in info.needed:
            found = next((d / lib for d in dirs if (d / lib).exists()), None)
            if found is not None:
                audit_file.dependencies.append(Dependency(lib, "bundled", _rel(found, base)))
                bundled_names.add(lib)
            elif lib in pol.allowed_libs or _LOADER.match(lib):
                audit_file.dependencies.append(Dependency(lib, "system"))
            else:
                audit_file.dependencies.append(Dependency(lib, "missing"))
                violations.append(Violation(rel, "library", lib, "not found", f"the {pol.name} system libraries"))
        for lib, names in info.version_needs.items():
            if lib in bundled_names:
                continue
            for name in names:
                for prefix in policy.CAPPED_PREFIXES:
                    if not name.startswith(prefix) or not name[len(prefix) :][:1].isdigit():
                        continue
                    needed = version_tuple(name[len(prefix) :])
                    key = prefix.rstrip("_")
                    if key == "GLIBC":
                        key = "glibc"
                    current = audit_file.needs.get(key)
                    if current is None or needed > version_tuple(current):
                        audit_file.needs[key] = ".".join(map(str, needed))
                    cap = pol.glibc if prefix == "GLIBC_" else pol.caps.get(prefix)
                    if cap is not None and needed > cap:
                        allowed = f"{prefix}{'.'.join(map(str, cap))}"
                        violations.append(Violation(rel, "symbol-version", f"{name} from {lib}", name[len(prefix) :], allowed))
        files.append(audit_file)
    return pol.name


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.normpath(path)).relative_to(base).as_posix()
    except ValueError:
        return str(path)


# --- PE ----------------------------------------------------------------------------------


def _audit_pe(base: Path, read: Mapping[Path, Parsed], ctx: Context, files: list[FileAudit], violations: list[Violation]) -> str:
    pol = policy.windows_policy(ctx.target, ctx.python_abi)
    listings: dict[Path, list[str]] = {}

    def listing(folder: Path) -> list[str]:
        """File names in `folder` (Windows matches DLL names without case), read once per audit."""
        if folder not in listings:
            listings[folder] = os.listdir(folder) if folder.is_dir() else []
        return listings[folder]

    for path, info in read.items():
        if not isinstance(info, PeInfo):
            continue
        rel = path.relative_to(base).as_posix()
        audit_file = FileAudit(rel, "pe", info.machine, "DLL" if info.is_dll else f"{info.subsystem} program")
        audit_file.needs["windows"] = info.min_os
        if info.machine != ctx.target.machine:
            violations.append(Violation(rel, "machine", "built for", info.machine, ctx.target.machine))
        # Where the Windows loader (and CPython's extension loader) finds DLLs in the tree.
        search = [path.parent, base, base / "runtime" / "DLLs"]
        for dll in [*info.imports, *info.delay_imports]:
            lower = dll.lower()
            found = next((d / name for d in search for name in listing(d) if name.lower() == lower), None)
            if found is not None:
                audit_file.dependencies.append(Dependency(dll, "bundled", _rel(found, base)))
            elif lower in pol.system_dlls or any(r.fullmatch(lower) for r in pol.always_allowed):
                audit_file.dependencies.append(Dependency(dll, "system"))
            elif not ctx.artifact and (pol.python_dll.fullmatch(lower) or lower in pol.vc_shipped_with_python):
                audit_file.dependencies.append(Dependency(dll, "system"))  # the interpreter loading the wheel has it
            else:
                audit_file.dependencies.append(Dependency(dll, "missing"))
                violations.append(Violation(rel, "library", dll, "not found", "the Windows system DLLs"))
        files.append(audit_file)
    return "windows"


# --- Mach-O ------------------------------------------------------------------------------


def _audit_macho(base: Path, read: Mapping[Path, Parsed], ctx: Context, files: list[FileAudit], violations: list[Violation]) -> str:
    pol = policy.macos_policy(ctx.target, ctx.macos)
    allowed_min = ".".join(map(str, pol.minimum))
    for path, info in read.items():
        if not isinstance(info, MachoInfo):
            continue
        rel = path.relative_to(base).as_posix()
        matching = [s for s in info.slices if s.machine == ctx.target.machine]
        if not matching:
            found = ", ".join(s.machine for s in info.slices)
            violations.append(Violation(rel, "machine", "built for", found, ctx.target.machine))
            matching = list(info.slices)
        audit_file = FileAudit(rel, "macho", "+".join(s.machine for s in info.slices), matching[0].filetype)
        for sl in matching:
            if sl.minos:
                current = audit_file.needs.get("macos")
                if current is None or version_tuple(sl.minos) > version_tuple(current):
                    audit_file.needs["macos"] = sl.minos
                if version_tuple(sl.minos) > pol.minimum:
                    violations.append(Violation(rel, "minimum-os", f"macOS ({sl.machine})", sl.minos, allowed_min))
            for _kind, name in sl.loads:
                dep = _resolve_macho(name, path, base, sl.rpaths, pol)
                audit_file.dependencies.append(dep)
                if dep.status not in ("bundled", "system"):
                    violations.append(Violation(rel, "library", name, dep.status, "the macOS system libraries (/usr/lib, /System/Library)"))
        files.append(audit_file)
    return f"macos_{allowed_min.replace('.', '_')}"


def _resolve_macho(name: str, path: Path, base: Path, rpaths: tuple[str, ...], pol: policy.MacosPolicy) -> Dependency:
    if name.startswith(pol.system_prefixes):
        return Dependency(name, "system")

    def expand(entry: str) -> Path:
        entry = entry.replace("@loader_path", str(path.parent)).replace("@executable_path", str(base))
        return Path(posixpath.normpath(entry))

    candidates: list[Path] = []
    if name.startswith("@rpath/"):
        candidates = [expand(r) / name[len("@rpath/") :] for r in rpaths]
    elif name.startswith(("@loader_path/", "@executable_path/")):
        candidates = [expand(name)]
    found = next((c for c in candidates if c.exists()), None)
    if found is not None:
        return Dependency(name, "bundled", _rel(found, base))
    return Dependency(name, "missing" if name.startswith("@") else "not-allowed")
