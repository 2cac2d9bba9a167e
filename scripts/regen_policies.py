#!/usr/bin/env python3
"""Regenerate xbuild/audit/policies/*.json from the public facts they come from.

Inputs (../shared/data/policy-facts/): auditwheel's manylinux and musllinux policies and
delvewheel's Windows DLL lists. The output keeps only what xbuild's audit reads.
Usage: python scripts/regen_policies.py ../shared/data/policy-facts
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "xbuild" / "audit" / "policies"


def main(facts: Path) -> None:
    caps = json.loads((facts / "manylinux_caps_summary.json").read_text())
    full = {p["name"]: p for p in json.loads((facts / "manylinux-policy.json").read_text())}
    manylinux = {
        "source": "auditwheel manylinux-policy.json, reduced to the highest allowed version per prefix",
        "policies": {
            name: {
                "aliases": info["aliases"],
                "glibc": name.removeprefix("manylinux_").replace("_", "."),
                "lib_whitelist": info["lib_whitelist"],
                "max_versions": info["max_numeric_versions"],
                "blacklist": full[name]["blacklist"],
            }
            for name, info in caps.items()
            if name.startswith("manylinux_")
        },
    }
    musl = json.loads((facts / "musllinux-policy.json").read_text())
    musllinux = {
        "source": "auditwheel musllinux-policy.json",
        "policies": {p["name"]: {"lib_whitelist": p["lib_whitelist"], "blacklist": p["blacklist"]} for p in musl if p["name"] != "linux"},
    }
    dll = json.loads((facts / "delvewheel_dll_lists.json").read_text())
    windows = {
        "source": dll["source"],
        "system_dlls": {machine: sorted(names) for machine, names in dll["ignore_names"].items()},
        "always_allowed_regexes": ["api-ms-win-.*\\.dll", "ext-ms-.*\\.dll", *[r + "$" for r in dll["ignore_regexes"] if r != "api-.*"]],
        "python_dll_regex": "python3[0-9]*t?(_d)?\\.dll",
        "vc_runtime_shipped_with_python": dll["ignore_abi3"],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in (("manylinux", manylinux), ("musllinux", musllinux), ("windows", windows)):
        (OUT / f"{name}.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"wrote {OUT / name}.json")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
