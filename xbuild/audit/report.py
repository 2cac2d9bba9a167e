"""Audit reports: `report.json` for machines, `report.md` for people.

report.json (schema_version 1) is described by `report-schema.json` beside this module:
  schema_version  1
  target          the target triple checked against
  policy          the policy name (manylinux_2_17, musllinux_1_2, windows, macos_11_0)
  caps            {"glibc": "2.17", "glibc_reason": "...", "macos": "11.0"} as enforced
  floors          {"glibc": "2.36", "macos": "11.0", "windows": "10.0", "windows_updated": "6.3",
                  "GLIBCXX": ...}: the highest version any file needs (the effective floor);
                  windows_updated is the same with the OS updates that backport what is needed
  floor_sources   {"glibc": {"version", "file", "because"}, ...}: which file sets each floor, and why
  claim           for wheels: {"tag", "needs", "status": consistent|inconsistent|not-applicable,
                  "detail"}: whether the wheel's files honour its own tag (not the verdict)
  notes           [str]: what the audit could not judge (DLL folders added by unreadable code)
  summary         {"files": N, "violations": N, "unreadable": N, "exit_code": 0|1|2}
  violations      [{"file", "rule", "subject", "needed", "allowed", "message"}]
  files           [{"path", "format", "machine", "kind", "needs", "why", "error",
                    "dependencies": [{"name", "status": bundled|system|missing|not-allowed, "where"}]}]
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from xbuild.audit.check import AuditResult, FileAudit
from xbuild.errors import ReportError

SCHEMA_VERSION = 1
_FLOOR_KEYS = ("glibc", "GLIBCXX", "CXXABI", "GCC", "macos", "windows", "windows_updated")
SCHEMA = Path(__file__).resolve().parent / "report-schema.json"


def floors(result: AuditResult) -> dict[str, str]:
    return {key: value for key in _FLOOR_KEYS if (value := result.floor(key))}


def floor_sources(result: AuditResult) -> dict[str, dict[str, str]]:
    return {key: asdict(source) for key in _FLOOR_KEYS if (source := result.floor_source(key))}


def floor_line(result: AuditResult) -> str | None:
    """"windows 10.0 (6.3 with OS updates), set by python311.dll: imports ..." for the report."""
    key = next((k for k in ("glibc", "macos", "windows") if result.floor(k)), None)
    source = result.floor_source(key) if key else None
    if key is None or source is None:
        return None
    text = f"effective floor {key} {source.version}, set by {source.file}: {source.because}"
    updated = result.floor_source("windows_updated") if key == "windows" else None
    if updated is not None and (updated.version, updated.because) != (source.version, source.because):
        still = "still " if updated.version == source.version else ""
        text += f"; with OS updates {still}{updated.version}, set by {updated.file}: {updated.because}"
    return text


def to_json(result: AuditResult) -> dict[str, Any]:
    ctx = result.context
    caps: dict[str, str] = {}
    if ctx.target.libc == "glibc":
        caps["glibc"] = ctx.glibc or ctx.target.floor or ""
        if ctx.glibc_reason:
            caps["glibc_reason"] = ctx.glibc_reason
    if ctx.target.os == "macos":
        caps["macos"] = ctx.macos or ctx.target.floor or ""
    return {
        "schema_version": SCHEMA_VERSION,
        "target": ctx.target.triple,
        "policy": result.policy,
        "caps": caps,
        "floors": floors(result),
        "floor_sources": floor_sources(result),
        "claim": asdict(result.claim) if result.claim else None,
        "notes": list(result.notes),
        "summary": {
            "files": len(result.files),
            "violations": len(result.violations),
            "unreadable": len(result.errors),
            "exit_code": result.exit_code,
        },
        "violations": [{**asdict(v), "message": v.sentence()} for v in result.violations],
        "files": [asdict(f) for f in result.files],
    }


def summary_row(result: AuditResult) -> tuple[str, str, str, str, str]:
    """target, policy, effective floor, violations, verdict: one line of a summary table."""
    fl = floors(result)
    floor = ", ".join(f"{k} {fl[k]}" for k in ("glibc", "macos", "windows") if k in fl) or "-"
    if fl.get("windows_updated", fl.get("windows")) != fl.get("windows"):
        floor += f" ({fl['windows_updated']} with updates)"
    verdict = "unreadable files" if result.errors else "FAIL" if result.violations else "ok"
    return result.context.target.triple, result.policy, floor, str(len(result.violations)), verdict


def to_markdown(result: AuditResult, title: str) -> str:
    data = to_json(result)
    row = summary_row(result)
    lines = [
        f"# Audit: {title}",
        "",
        "| target | policy | effective floor | files | violations | verdict |",
        "|---|---|---|---:|---:|---|",
        f"| {row[0]} | {row[1]} | {row[2]} | {len(result.files)} | {row[3]} | {row[4]} |",
        "",
    ]
    if data["caps"].get("glibc_reason"):
        lines += [f"glibc cap {data['caps']['glibc']}: {data['caps']['glibc_reason']}", ""]
    if (line := floor_line(result)) is not None:
        lines += [line[0].upper() + line[1:] + ".", ""]
    if result.claim is not None:
        lines += [f"Own tag: {result.claim.sentence()}.", ""]
    for note in result.notes:
        lines += [f"Note: {note}.", ""]
    lines += ["## Violations", ""]
    if result.violations:
        lines += ["| file | rule | subject | needed | allowed |", "|---|---|---|---|---|"]
        lines += [f"| `{v.file}` | {v.rule} | {v.subject} | {v.needed} | {v.allowed} |" for v in result.violations]
    else:
        lines.append("None.")
    if result.errors:
        lines += ["", "## Unreadable files", ""] + [f"- `{f.path}`: {f.error}" for f in result.errors]
    lines += ["", "## Dependency tree of each executable", ""]
    lines += _trees(result) or ["No executables."]
    lines += ["", "## Every file", ""]
    for f in result.files:
        if f.error:
            continue
        needs = ", ".join(f"{k} {v}" for k, v in sorted(f.needs.items()))
        lines.append(f"- `{f.path}` ({f.format} {f.machine} {f.kind}{'; needs ' + needs if needs else ''})")
        for dep in f.dependencies:
            where = f" -> `{dep.where}`" if dep.where else ""
            lines.append(f"  - {dep.name}: {dep.status}{where}")
    return "\n".join(lines) + "\n"


def _trees(result: AuditResult) -> list[str]:
    """Each executable with what it loads, following bundled libraries down (each once)."""
    by_path = {f.path: f for f in result.files}
    lines: list[str] = []

    def walk(f: FileAudit, depth: int, seen: set[str]) -> None:
        for dep in f.dependencies:
            where = f" `{dep.where}`" if dep.where else ""
            lines.append(f"{'  ' * depth}- {dep.name}: {dep.status}{where}")
            child = by_path.get(dep.where or "")
            if child is not None and child.path not in seen:
                seen.add(child.path)
                walk(child, depth + 1, seen)

    for f in result.files:
        if "executable" in f.kind or f.kind.endswith("program") or f.kind == "execute":
            lines.append(f"- `{f.path}`")
            walk(f, 1, {f.path})
    return lines


def write(result: AuditResult, as_json: Path, as_md: Path, title: str) -> None:
    """Write the report as JSON and as Markdown (each whole or not at all)."""
    try:
        as_json.parent.mkdir(parents=True, exist_ok=True)
        for path, text in ((as_json, json.dumps(to_json(result), indent=2, sort_keys=True) + "\n"), (as_md, to_markdown(result, title))):
            partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                partial.write_text(text)
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
    except OSError as e:
        raise ReportError(f"cannot write the audit report {as_json.parent / as_json.name}: {e.strerror or e}") from e
