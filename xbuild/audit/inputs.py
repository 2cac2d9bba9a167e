"""What `xbuild audit PATH` reads: built artifacts, folders, single files, wheels and archives.

Each input becomes a tree to check and a Context: the target (given, read from an
artifact's xbuild-build.json, from a wheel's platform tag, or from the binaries
themselves) and the caps to enforce. The caps are always the target's policy: its
floor, or what the user pinned (--glibc, --policy, --macos). A wheel's own tag never
sets the verdict; whether its files honour that tag is reported beside it (claims.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from packaging.utils import InvalidWheelFilename

from xbuild import targets
from xbuild.audit import claims
from xbuild.audit.check import AuditResult, Context, audit, binary_format, check, find_binaries, read_tree
from xbuild.audit.elf import read_elf, version_tuple
from xbuild.audit.unpack import unpacked
from xbuild.errors import UsageError, XbuildError
from xbuild.targets import Target

BUILD_RECORD = "xbuild-build.json"
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.xz", ".tar.zst")


def artifact_context(target: Target, runtime_floor: str | None, user_glibc: str | None, user_macos: str | None, python: str) -> Context:
    """Caps for a built artifact: the target's floor, raised to what its runtime needs.

    A floor the user set is never raised, so a runtime or wheel above it is a violation.
    """
    abi = "cp" + "".join(python.split(".")[:2])
    if target.libc != "glibc":
        return Context(target, macos=user_macos, python_abi=abi, python=python)
    if user_glibc:
        return Context(target, glibc=user_glibc, glibc_reason=f"set by the project ([tool.xbuild] glibc = {user_glibc!r})", python_abi=abi, python=python)
    floor = target.floor or "2.17"
    if runtime_floor and version_tuple(runtime_floor) > version_tuple(floor):
        reason = f"raised from the target's {floor} to {runtime_floor}, the highest GLIBC_ version its CPython runtime's own files need"
        return Context(target, glibc=runtime_floor, glibc_reason=reason, python_abi=abi, python=python)
    return Context(target, glibc=floor, glibc_reason="the target's floor", python_abi=abi, python=python)


def target_context(target: Target, glibc: str | None, macos: str | None, *, artifact: bool, python_abi: str = "cp311") -> Context:
    """The target's policy: its floor, unless the user pinned one."""
    if target.libc == "glibc":
        cap = glibc or target.floor or "2.17"
        reason = "pinned on the command line" if glibc else f"the floor of {target.triple}"
        return Context(target, glibc=cap, glibc_reason=reason, macos=macos, python_abi=python_abi, artifact=artifact)
    return Context(target, macos=macos, python_abi=python_abi, artifact=artifact)


def _target_for_claim(claim: claims.TagClaim | None, name: str) -> Target:
    """The target a wheel's tag is for when none is given (universal2 macOS wheels: the arm64 one)."""
    if claim is None:
        raise UsageError(f"{name}: cannot tell the target from its platform tags; pass --target")
    contexts = claim.contexts
    return next((c.target for c in contexts if c.target.machine == "aarch64"), contexts[0].target) if len(contexts) > 1 else contexts[0].target


def _infer_target(root: Path) -> Target:
    """The target the binaries themselves are for (first binary found)."""
    from xbuild.audit.check import elf_libc
    from xbuild.binfile import identify

    for path in find_binaries(root):
        fmt = binary_format(path)
        try:
            if fmt == "elf":
                info = read_elf(path)
                libc = (elf_libc(info) or ("glibc", ""))[0]
                return next(t for t in targets.all_targets() if t.format == "elf" and t.machine == info.machine and t.libc == libc and t.bits == info.bits)
            kind = identify(path)[0]
            return next(t for t in targets.all_targets() if t.format == kind.format and t.machine == kind.machine)
        except (StopIteration, XbuildError):
            continue
    raise UsageError(f"{root}: no readable binaries to tell the target from; pass --target")


def _audit_wheel(path: Path, tree_root: Path, target: Target | None, glibc: str | None, macos: str | None) -> AuditResult:
    try:
        claim = claims.claim_for(path.name)
        abi = claims.wheel_abi(path.name)
    except InvalidWheelFilename as e:
        raise UsageError(f"{path.name}: not a wheel file name ({e}); rename it, or audit it as a .zip") from e
    tgt = target or _target_for_claim(claim, path.name)
    tree = read_tree(tree_root)
    result = check(tree, target_context(tgt, glibc, macos, artifact=False, python_abi=abi))
    if claim is not None:
        result.claim = claims.judge_claim(tree, claim, result)
    return result


def audit_path(path: Path, target: Target | None = None, glibc: str | None = None, macos: str | None = None) -> AuditResult:
    """Audit one input against the target's policy; `glibc`/`macos` pin the caps (--glibc, --policy, --macos)."""
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    record_file = path / BUILD_RECORD
    if path.is_dir() and record_file.is_file():
        try:
            record = json.loads(record_file.read_text())
            tgt = target or targets.get(record["target"])
            runtime = record["runtime"]
            ctx = artifact_context(tgt, runtime.get("libc_floor"), glibc, macos, runtime["python"])
            if not (glibc or macos or tgt.parts):  # as the build audited it: raised to what its wheels' tags claim
                ctx = claims.raise_to_claims(ctx, [w["file"] for w in record.get("wheels", [])])
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{record_file} is damaged ({type(e).__name__}: {e}); rebuild the artifact or audit it with --target") from e
        if isinstance(record.get("onefile"), dict):  # the launcher and the native files its payload carries
            from xbuild.onefile import reader

            exes = [f"{name}{tgt.exe_suffix}" for name in record["entry_points"]]
            with reader.unpacked(path, exes, f"lib/python{'.'.join(runtime['python'].split('.')[:2])}") as view:
                result = audit(view, replace(ctx, preloaded=("runtime/lib",)))
            result.root = path
            return result
        return audit(path, ctx)
    if path.is_file() and path.name.endswith(_ARCHIVE_SUFFIXES):
        with unpacked(path) as tree_root:
            entries = list(tree_root.iterdir())
            if path.name.endswith(".whl"):
                result = _audit_wheel(path, tree_root, target, glibc, macos)
            elif len(entries) == 1 and (entries[0] / BUILD_RECORD).is_file():
                result = audit_path(entries[0], target, glibc, macos)  # a released artifact archive
            else:
                tgt = target or _infer_target(tree_root)
                result = audit(tree_root, target_context(tgt, glibc, macos, artifact=True))
            result.root = path
            return result
    if path.is_file() and not binary_format(path):
        chosen = target or targets.host()
        if chosen is None:
            raise UsageError(f"{path} is not an ELF, PE or Mach-O file; pass --target")
        tgt = chosen
    else:
        try:
            tgt = target or _infer_target(path)
        except UsageError:
            host = targets.host()
            if host is None or not read_tree(path).errors:
                raise
            tgt = host  # only files that should be binaries and are not: report them
    return audit(path, target_context(tgt, glibc, macos, artifact=path.is_dir()))
