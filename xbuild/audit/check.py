"""Check every binary in a tree against the target's policy.

Each dependency of each binary is either inside the tree (bundled), an allowed system
library for the target, or missing. Symbol versions (glibc and the GCC runtime), the C
library a file was built for, auditwheel's blacklisted symbols, macOS minimum versions
(per slice of a fat file) and CPU types are compared with the policy. The result lists
every file with what it needs and why, the effective floor (the highest version any
file needs, and the file and import that set it) and every violation.

Reading (`read_tree`) and judging (`check`) are separate so one read tree can be judged
against the target and, for a wheel, against the platform tag it claims.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xbuild import targets
from xbuild.audit import dlldirs, policy
from xbuild.audit.elf import ElfInfo, read_elf, version_tuple
from xbuild.audit.macho import MachoInfo, read_macho
from xbuild.audit.pe import PeInfo, read_pe
from xbuild.audit.vocab import EXIT_ERRORS, EXIT_OK, EXIT_VIOLATIONS, Consistency, Rule, Status
from xbuild.errors import BinaryFormatError
from xbuild.targets import Target

Parsed = ElfInfo | PeInfo | MachoInfo
_READERS: dict[str, Callable[[Path], Parsed]] = {"elf": read_elf, "pe": read_pe, "macho": read_macho}
_LOADER = re.compile(r"^(ld-linux.*\.so\.\d+|ld64\.so\.\d+|ld\.so\.\d+|ld-musl-.*\.so\.1|libc\.musl-.*\.so\.1)$")
_MUSL = re.compile(r"^(ld-musl-.*\.so\.1|libc\.musl-.*\.so\.1)$")
_GLIBC_LIBS = re.compile(r"^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libutil\.so\.1|ld-linux.*\.so\.\d+|ld64\.so\.\d+)$")
_MACHO_MAGICS = {b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce"}
# Names only compiled files carry: such a file that is no ELF/PE/Mach-O is an error, not skipped.
_BINARY_NAME = re.compile(r".*\.(so(\.\d+)*|dll|pyd|dylib|exe)$", re.IGNORECASE)


@dataclass(frozen=True)
class Dependency:
    name: str
    status: Status
    where: str | None = None  # the bundled file, relative to the tree


@dataclass(frozen=True)
class Violation:
    file: str
    rule: Rule
    subject: str
    needed: str
    allowed: str

    def sentence(self, against: str = "the target") -> str:
        """The violation in words; `against` names what was checked ("the wheel's tag" for claims)."""
        if self.rule == "library":
            return f"{self.file}: needs {self.subject}, which is neither bundled nor one of {self.allowed}" + (
                f" ({self.needed})" if self.needed not in ("not found", "missing", "not-allowed") else ""
            )
        if self.rule == "symbol-version":
            return f"{self.file}: needs {self.subject}, newer than the {self.allowed} allowed"
        if self.rule == "code-signature":
            return f"{self.file}: its {self.subject}'s code signature is not valid ({self.needed}): macOS will not run it"
        if self.rule == "minimum-os":
            return f"{self.file}: requires {self.subject} {self.needed}, above {against}'s minimum {self.allowed}"
        if self.rule == "libc":
            return f"{self.file}: built for {self.needed}, but {against} uses {self.allowed}: it cannot load there"
        if self.rule == "blacklisted-symbol":
            return (
                f"{self.file}: imports {self.needed} from {self.subject}, which the {self.allowed} policy forbids "
                f"(auditwheel's blacklist: not every system's {self.subject} exports it)"
            )
        return f"{self.file}: {self.subject} {self.needed}, {against} is {self.allowed}"


@dataclass
class FileAudit:
    path: str
    format: str
    machine: str = ""
    kind: str = ""
    dependencies: list[Dependency] = field(default_factory=list)
    needs: dict[str, str] = field(default_factory=dict)  # glibc / GLIBCXX / macos / windows -> version
    why: dict[str, str] = field(default_factory=dict)  # same keys -> what in the file needs it
    error: str | None = None

    def need(self, key: str, version: str, because: str) -> None:
        """Record `version` for `key` if it is higher than what is known."""
        current = self.needs.get(key)
        if current is None or version_tuple(version) > version_tuple(current):
            self.needs[key] = version
            self.why[key] = because


@dataclass(frozen=True)
class Context:
    """What the tree is checked against."""

    target: Target
    glibc: str | None = None  # the GLIBC_ cap for gnu targets
    glibc_reason: str = ""
    macos: str | None = None
    python_abi: str = "cp311"
    artifact: bool = True  # an app folder ships its own Python DLL; a wheel relies on the interpreter's
    python: str | None = None  # the runtime's full version, when the input ships one
    preloaded: tuple[str, ...] = ()  # folders in the tree whose libraries a one-file launcher loads first (found by SONAME)


@dataclass(frozen=True)
class FloorSource:
    """Which file (or the runtime) sets an effective floor, and why."""

    version: str
    file: str
    because: str


@dataclass(frozen=True)
class Claim:
    """Whether a wheel's files honour its own platform tag (a report line, not the verdict)."""

    tag: str
    needs: str
    status: Consistency
    detail: str = ""

    def sentence(self) -> str:
        text = f"claims {self.tag}, needs {self.needs}: {self.status}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass
class AuditResult:
    context: Context
    root: Path
    policy: str
    files: list[FileAudit]
    violations: list[Violation]
    runtime_needs: dict[str, FloorSource] = field(default_factory=dict)  # documented by the runtime itself
    notes: list[str] = field(default_factory=list)
    claim: Claim | None = None

    @property
    def errors(self) -> list[FileAudit]:
        return [f for f in self.files if f.error]

    def floor_source(self, key: str) -> FloorSource | None:
        """The highest `key` version any file (or the runtime) needs, with the file that needs it."""
        found = [FloorSource(f.needs[key], f.path, f.why.get(key, "")) for f in self.files if key in f.needs]
        if key in self.runtime_needs:
            found.append(self.runtime_needs[key])
        # Among files that need the same version, name the shallowest (the launcher over a library).
        return max(found, key=lambda s: (version_tuple(s.version), -s.file.count("/"))) if found else None

    def floor(self, key: str) -> str | None:
        """The highest `key` version any file needs (glibc, macos, windows, GLIBCXX, ...)."""
        source = self.floor_source(key)
        return source.version if source else None

    def floor_file(self, key: str) -> str | None:
        """The file that needs the highest `key` version: the one that sets the effective floor."""
        found = [f for f in self.files if key in f.needs]
        return max(found, key=lambda f: version_tuple(f.needs[key])).path if found else None

    @property
    def exit_code(self) -> int:
        return EXIT_ERRORS if self.errors else EXIT_VIOLATIONS if self.violations else EXIT_OK


@dataclass
class Tree:
    """The binaries below one input, read once."""

    base: Path
    read: dict[Path, Parsed]
    errors: list[FileAudit]


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


def looks_binary(path: Path) -> bool:
    """Named like a compiled file (.so, .so.1, .dll, .pyd, .dylib, .exe)."""
    return bool(_BINARY_NAME.fullmatch(path.name))


def find_binaries(root: Path) -> list[Path]:
    """Regular files below `root` (or `root` itself) that are ELF, PE or Mach-O."""
    if root.is_file():
        return [root] if binary_format(root) else []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and binary_format(p))


def _not_binaries(root: Path) -> list[Path]:
    """Files that must be binaries but are not: the input file itself, or binary-named files below."""
    if root.is_file():
        return [] if binary_format(root) else [root]
    return sorted(p for p in root.rglob("*") if looks_binary(p) and p.is_file() and not p.is_symlink() and not binary_format(p))


def _describe_not_binary(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    return "is empty, not an ELF, PE or Mach-O file" if size == 0 else f"is not an ELF, PE or Mach-O file ({size} bytes of something else)"


def read_tree(root: Path, paths: Iterable[Path] | None = None) -> Tree:
    """Read every binary below `root` (or the given ones); unreadable ones become file errors."""
    root = root.resolve()
    base = root if root.is_dir() else root.parent
    binaries = [p.resolve() for p in paths] if paths is not None else find_binaries(root)
    read: dict[Path, Parsed] = {}
    errors: list[FileAudit] = []
    for path in binaries:
        rel = path.relative_to(base).as_posix()
        fmt = binary_format(path) or "?"
        try:
            read[path] = _READERS[fmt](path)
        except (BinaryFormatError, KeyError) as e:
            errors.append(FileAudit(rel, fmt, error=str(e).split(": ", 1)[-1]))
    if paths is None:
        for path in _not_binaries(root):
            errors.append(FileAudit(path.relative_to(base).as_posix(), "?", error=_describe_not_binary(path)))
    return Tree(base, read, errors)


def audit(root: Path, context: Context, paths: Iterable[Path] | None = None) -> AuditResult:
    """Audit every binary below `root` (or the given ones) for `context.target`."""
    return check(read_tree(root, paths), context)


def check(tree: Tree, context: Context) -> AuditResult:
    """Judge a read tree against `context` (its target's policy and caps)."""
    base, read = tree.base, tree.read
    files: list[FileAudit] = [FileAudit(e.path, e.format, error=e.error) for e in tree.errors]
    violations: list[Violation] = []
    notes: list[str] = []
    runtime_needs: dict[str, FloorSource] = {}
    target = context.target
    if target.os == "linux":
        label = _audit_elf(base, read, context, files, violations)
    elif target.os == "windows":
        label = _audit_pe(base, read, context, files, violations, notes)
        runtime_needs = _runtime_needs(context)
    else:
        label = _audit_macho(base, read, context, files, violations)
    for path, info in read.items():
        fmt = {ElfInfo: "elf", PeInfo: "pe", MachoInfo: "macho"}[type(info)]
        if fmt != target.format:
            rel = path.relative_to(base).as_posix()
            files.append(FileAudit(rel, fmt, getattr(info, "machine", "")))
            violations.append(Violation(rel, "format", "format", fmt, target.format))
    files.sort(key=lambda f: f.path)
    return AuditResult(context, base, label, files, violations, runtime_needs, notes)


# --- ELF ---------------------------------------------------------------------------------


def _expand_origin(entry: str, origin: Path) -> Path:
    return Path(entry.replace("$ORIGIN", str(origin)).replace("${ORIGIN}", str(origin)))


def elf_libc(info: ElfInfo) -> tuple[str, str] | None:
    """("musl" | "glibc", the evidence) for a dynamically linked file, None when it names no libc."""
    interp = info.interpreter or ""
    musl = next((n for n in info.needed if _MUSL.match(n)), None)
    if musl or "ld-musl" in interp:
        return "musl", f"needs {musl or interp}"
    glibc_lib = next((n for n in info.needed if _GLIBC_LIBS.match(n)), None)
    glibc_version = info.max_version("GLIBC_")
    if glibc_version:
        return "glibc", f"needs GLIBC_{policy.dotted(glibc_version)}" + (f" from {glibc_lib}" if glibc_lib else "")
    if glibc_lib or "ld-linux" in interp:
        return "glibc", f"needs {glibc_lib or interp}"
    return None


def _audit_elf(base: Path, read: Mapping[Path, Parsed], ctx: Context, files: list[FileAudit], violations: list[Violation]) -> str:
    elves = {p: i for p, i in read.items() if isinstance(i, ElfInfo)}
    pol = policy.linux_policy(ctx.target, ctx.glibc)
    target_libc = f"{ctx.target.libc} ({ctx.target.triple})"
    # DT_RPATH of executables applies to every library they load (unless that one has RUNPATH).
    inherited = [_expand_origin(r, p.parent) for p, i in elves.items() if i.interpreter for r in i.rpath]
    inherited += [base / d for d in ctx.preloaded]
    for path, info in elves.items():
        rel = path.relative_to(base).as_posix()
        audit_file = FileAudit(rel, "elf", info.machine, "executable" if info.interpreter else "shared library")
        files.append(audit_file)
        if info.machine != ctx.target.machine:
            violations.append(Violation(rel, "machine", "built for", info.machine, ctx.target.machine))
        libc = elf_libc(info)
        if libc is not None and libc[0] != pol.libc:
            # One reason in words; its libraries and symbol versions mean nothing on this libc.
            violations.append(Violation(rel, "libc", "C library", f"{libc[0]} ({libc[1]})", target_libc))
            audit_file.dependencies.extend(Dependency(lib, "not-allowed") for lib in info.needed)
            continue
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
                forbidden = sorted(info.undefined & pol.blacklist.get(lib, frozenset()))
                if forbidden:
                    violations.append(Violation(rel, "blacklisted-symbol", lib, ", ".join(forbidden), pol.name))
            else:
                audit_file.dependencies.append(Dependency(lib, "missing"))
                violations.append(Violation(rel, "library", lib, "not found", f"the {pol.name} system libraries"))
        _check_symbol_versions(rel, info, bundled_names, pol, audit_file, violations)
    return pol.name


def _check_symbol_versions(
    rel: str, info: ElfInfo, bundled: set[str], pol: policy.LinuxPolicy, audit_file: FileAudit, violations: list[Violation]
) -> None:
    for lib, names in info.version_needs.items():
        if lib in bundled:
            continue
        for name in names:
            for prefix in policy.CAPPED_PREFIXES:
                if not name.startswith(prefix) or not name[len(prefix) :][:1].isdigit():
                    continue
                needed = version_tuple(name[len(prefix) :])
                key = "glibc" if prefix == "GLIBC_" else prefix.rstrip("_")
                audit_file.need(key, policy.dotted(needed), f"needs {name} from {lib}")
                cap = pol.glibc if prefix == "GLIBC_" else pol.caps.get(prefix)
                if cap is not None and needed > cap:
                    violations.append(Violation(rel, "symbol-version", f"{name} from {lib}", name[len(prefix) :], f"{prefix}{policy.dotted(cap)}"))


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.normpath(path)).relative_to(base).as_posix()
    except ValueError:
        return str(path)


# --- PE ----------------------------------------------------------------------------------


def _audit_pe(
    base: Path, read: Mapping[Path, Parsed], ctx: Context, files: list[FileAudit], violations: list[Violation], notes: list[str]
) -> str:
    pol = policy.windows_policy(ctx.target, ctx.python_abi)
    versions = policy.windows_versions()
    listings: dict[Path, dict[str, str]] = {}
    pes = {p: i for p, i in read.items() if isinstance(i, PeInfo)}
    added, unresolved = dlldirs.find(base) if pes else ([], [])
    for u in unresolved:
        if u.line:
            notes.append(f"{_rel(u.file, base)}:{u.line} adds a DLL folder that cannot be read from the source; DLLs it holds are not counted")
        else:
            notes.append(f"{_rel(u.file, base)} calls os.add_dll_directory but cannot be parsed here; DLL folders it adds are not counted")

    def listing(folder: Path) -> dict[str, str]:
        """Lower-case file names in `folder` (Windows matches DLL names without case), read once per audit."""
        if folder not in listings:
            listings[folder] = {n.lower(): n for n in os.listdir(folder)} if folder.is_dir() else {}
        return listings[folder]

    for path, info in pes.items():
        rel = path.relative_to(base).as_posix()
        audit_file = FileAudit(rel, "pe", info.machine, "DLL" if info.is_dll else f"{info.subsystem} program")
        files.append(audit_file)
        if info.machine != ctx.target.machine:
            violations.append(Violation(rel, "machine", "built for", info.machine, ctx.target.machine))
        _windows_needs(info, versions, audit_file)
        # Where the Windows loader (and CPython's extension loader) finds DLLs: beside the file, beside
        # the program and CPython's DLLs folder (artifacts), and folders the package's code adds.
        search = [path.parent]
        if ctx.artifact:
            search += [base, base / "runtime" / "DLLs"]
        search += [d.folder for d in added if path.is_relative_to(d.scope) or path.parent == d.folder]
        elsewhere = [d for d in added if d.folder not in search]
        for dll in dict.fromkeys([*info.imports, *info.delay_imports]):
            lower = dll.lower()
            folder = next((d for d in search if lower in listing(d)), None)
            if folder is not None:
                audit_file.dependencies.append(Dependency(dll, "bundled", _rel(folder / listing(folder)[lower], base)))
            elif lower in pol.system_dlls or any(r.fullmatch(lower) for r in pol.always_allowed):
                audit_file.dependencies.append(Dependency(dll, "system"))
            elif not ctx.artifact and (pol.python_dll.fullmatch(lower) or lower in pol.vc_shipped_with_python):
                audit_file.dependencies.append(Dependency(dll, "system"))  # the interpreter loading the wheel has it
            else:
                audit_file.dependencies.append(Dependency(dll, "missing"))
                other = next((d for d in elsewhere if lower in listing(d.folder)), None)
                hint = "not found"
                if other is not None:
                    hint = (
                        f"{_rel(other.folder, base)} has it, but {_rel(other.added_by, base)} adds that "
                        f"folder only for {_rel(other.scope, base)}/"
                    )
                violations.append(Violation(rel, "library", dll, hint, "the Windows system DLLs"))
    return "windows"


def _windows_needs(info: PeInfo, versions: policy.WindowsVersions, audit_file: FileAudit) -> None:
    """The Windows version this file needs: its header's subsystem version and what it imports."""
    header = version_tuple(info.min_subsystem) or (6, 0)
    because = f"its PE header asks for subsystem version {info.min_subsystem} ({versions.name(header[:2])})"
    audit_file.need("windows", policy.dotted(header[:2]), because)
    audit_file.need("windows_updated", policy.dotted(header[:2]), because)
    for dll in dict.fromkeys([*info.imports, *info.delay_imports]):
        functions = info.functions.get(dll.lower(), ())
        for rule in versions.imports:
            if not rule.matches(dll, functions):
                continue
            imported = f"{rule.function} from {dll}" if rule.function else dll
            because = f"imports {imported}: {rule.what}, new in {versions.name(rule.windows)}"
            audit_file.need("windows", policy.dotted(rule.windows), because)
            if rule.with_update is not None:
                audit_file.need("windows_updated", policy.dotted(rule.with_update), f"imports {imported}: {rule.what}, with update {rule.update}")
            else:
                audit_file.need("windows_updated", policy.dotted(rule.windows), because)


def _runtime_needs(ctx: Context) -> dict[str, FloorSource]:
    """The Windows versions the shipped CPython documents support for."""
    if not (ctx.artifact and ctx.python):
        return {}
    support = policy.windows_versions().runtime(ctx.python)
    if support is None:
        return {}
    name = policy.windows_versions().name(support.windows)
    source = FloorSource(policy.dotted(support.windows), "runtime", f"CPython {ctx.python} supports {name} and newer ({support.source})")
    return {"windows": source, "windows_updated": source}


# --- Mach-O ------------------------------------------------------------------------------


def _audit_macho(base: Path, read: Mapping[Path, Parsed], ctx: Context, files: list[FileAudit], violations: list[Violation]) -> str:
    # Per CPU the target loads, its minimum macOS: a universal2 target needs every part's slice.
    minimums = {part.machine: policy.macos_policy(part, ctx.macos).minimum for part in targets.parts(ctx.target)}
    pol = policy.macos_policy(ctx.target, ctx.macos)
    machos = {p: i for p, i in read.items() if isinstance(i, MachoInfo)}
    # dyld also searches the LC_RPATHs of the images that loaded a library, up to the executable.
    inherited = [
        r.replace("@executable_path", str(p.parent)).replace("@loader_path", str(p.parent))
        for p, i in machos.items()
        for s in i.slices
        if s.filetype == "execute"
        for r in s.rpaths
    ]
    for path, info in machos.items():
        rel = path.relative_to(base).as_posix()
        present = [s.machine for s in info.slices]
        missing = [m for m in minimums if m not in present]
        if missing:
            violations.append(Violation(rel, "machine", "built for", "+".join(present), "+".join(minimums)))
        # A fat file is judged by the slices the target loads; the others never run there.
        matching = [s for s in info.slices if s.machine in minimums] or list(info.slices)
        audit_file = FileAudit(rel, "macho", "+".join(present), matching[0].filetype)
        for sl in matching:
            minimum = minimums.get(sl.machine, pol.minimum)
            if sl.minos:
                audit_file.need("macos", sl.minos, f"its {sl.machine} slice's minimum macOS (LC_BUILD_VERSION/LC_VERSION_MIN_MACOSX)")
                if version_tuple(sl.minos) > minimum:
                    violations.append(Violation(rel, "minimum-os", f"macOS ({sl.machine} slice)", sl.minos, policy.dotted(minimum)))
            if sl.signature != "valid" and (sl.machine == "aarch64" or sl.signature != "unsigned"):
                violations.append(Violation(rel, "code-signature", f"{sl.machine} slice", sl.signature, "a valid signature (arm64 macOS runs no unsigned or altered code)"))
            rpaths = sl.rpaths if sl.filetype == "execute" else (*sl.rpaths, *inherited)
            for _kind, name in sl.loads:
                dep = _resolve_macho(name, path, base, tuple(rpaths), pol)
                if dep not in audit_file.dependencies:
                    audit_file.dependencies.append(dep)
                if dep.status not in ("bundled", "system"):
                    why = "not found in the artifact" if name.startswith("@") else "an absolute path outside /usr/lib and /System/Library"
                    violations.append(Violation(rel, "library", name, f"{sl.machine} slice: {why}", "the macOS system libraries (/usr/lib, /System/Library)"))
        files.append(audit_file)
    return "macos_" + "_".join(f"{m}_{policy.dotted(v).replace('.', '_')}" for m, v in minimums.items()) if len(minimums) > 1 else f"macos_{policy.dotted(pol.minimum).replace('.', '_')}"


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
