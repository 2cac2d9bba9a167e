"""Audit reports: `report.json` for machines (schema below), `report.md` for people.

report.json, schema_version 1:
  schema_version  1
  target          the target triple checked against
  policy          the policy name (manylinux_2_17, musllinux_1_2, windows, macos_11_0)
  caps            {"glibc": "2.17", "glibc_reason": "...", "macos": "11.0"} as enforced
  floors          {"glibc": "2.36", "macos": "11.0", "windows": "6.0", "GLIBCXX": ...}: the highest
                  version any file needs (the artifact's effective floor)
  summary         {"files": N, "violations": N, "unreadable": N, "exit_code": 0|1|2}
  violations      [{"file", "rule", "subject", "needed", "allowed", "message"}]
  files           [{"path", "format", "machine", "kind", "needs", "error",
                    "dependencies": [{"name", "status": bundled|system|missing|not-allowed, "where"}]}]
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from xbuild.audit.check import AuditResult, FileAudit

SCHEMA_VERSION = 1
_FLOOR_KEYS = ("glibc", "GLIBCXX", "CXXABI", "GCC", "macos", "windows")


def floors(result: AuditResult) -> dict[str, str]:
    return {key: value for key in _FLOOR_KEYS if (value := result.floor(key))}


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
    """Write the report as JSON and as Markdown."""
    as_json.parent.mkdir(parents=True, exist_ok=True)
    as_json.write_text(json.dumps(to_json(result), indent=2, sort_keys=True) + "\n")
    as_md.write_text(to_markdown(result, title))
