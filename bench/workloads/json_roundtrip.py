"""JSON encode and decode of nested documents (the `json` module and its C accelerator).

Usage: python json_roundtrip.py [ROUNDS]   prints the seconds the round trips took.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def document(i: int) -> dict[str, Any]:
    """A record like an API returns: strings with escapes, numbers, lists and nesting."""
    return {
        "id": i,
        "name": f"item-{i}",
        "price": i * 1.25,
        "active": i % 3 != 0,
        "tags": ["a", "b\tc", f"t{i % 17}", "ünïcödé"],
        "owner": {"login": f"user{i % 101}", "score": i / 7, "roles": ["read", "write"] if i % 2 else ["read"]},
        "history": [{"at": 1700000000 + j, "delta": j - 2, "note": None if j % 2 else 'ok "quoted"'} for j in range(5)],
    }


def run(rounds: int) -> float:
    docs = [document(i) for i in range(200)]
    start = time.perf_counter()
    size = 0
    for _ in range(rounds):
        text = json.dumps(docs)
        pretty = json.dumps(docs[:20], indent=2, sort_keys=True)
        back = json.loads(text)
        size += len(text) + len(pretty) + len(back)
    elapsed = time.perf_counter() - start
    assert json.loads(json.dumps(docs)) == docs and size
    return elapsed


if __name__ == "__main__":
    print(f"{run(int(sys.argv[1]) if len(sys.argv) > 1 else 200):.6f}")
