"""A tiny template engine: generators, dict lookups, tuple unpacking and string building.

Templates are tokenized once; each render walks the tokens with generators, looks names
up in nested dicts, formats values and joins the pieces (pure Python, no C helpers).

Usage: python template.py [PAGES]   prints the seconds the rendering took.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

TEMPLATE = """<h1>{{ title }}</h1>
<p>Hello {{ user.name }} ({{ user.email }}), you have {{ user.unread }} new messages.</p>
{% for row in rows %}<tr class="{{ row.kind }}"><td>{{ row.id }}</td><td>{{ row.label }}</td><td>{{ row.price }}</td></tr>
{% end %}<footer>{{ footer }}</footer>"""

Token = tuple[str, str]  # ("text", "...") | ("var", "a.b") | ("for", "row rows") | ("end", "")


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        var, block = source.find("{{", pos), source.find("{%", pos)
        starts = [s for s in (var, block) if s >= 0]
        if not starts:
            tokens.append(("text", source[pos:]))
            break
        at = min(starts)
        if at > pos:
            tokens.append(("text", source[pos:at]))
        close = source.index("}}" if at == var else "%}", at)
        inner = source[at + 2 : close].strip()
        if at == var:
            tokens.append(("var", inner))
        elif inner == "end":
            tokens.append(("end", ""))
        else:
            _, name, _, seq = inner.split()
            tokens.append(("for", f"{name} {seq}"))
        pos = close + 2
    return tokens


def lookup(scope: dict[str, Any], dotted: str) -> Any:
    value: Any = scope
    for part in dotted.split("."):
        value = value[part]
    return value


def render(tokens: list[Token], scope: dict[str, Any], start: int = 0) -> Iterator[str]:
    """Yield the pieces of `tokens[start:]` up to the matching end (loops recurse)."""
    i = start
    while i < len(tokens):
        kind, arg = tokens[i]
        if kind == "text":
            yield arg
        elif kind == "var":
            value = lookup(scope, arg)
            yield f"{value:.2f}" if isinstance(value, float) else str(value)
        elif kind == "for":
            name, seq = arg.split()
            depth, end = 1, i
            while depth:
                end += 1
                depth += {"for": 1, "end": -1}.get(tokens[end][0], 0)
            for item in lookup(scope, seq):
                yield from render(tokens[: end + 1], {**scope, name: item}, i + 1)
            i = end
        else:
            return
        i += 1


def context(page: int) -> dict[str, Any]:
    rows = [{"id": page * 50 + k, "label": f"row {k}", "price": k * 1.5, "kind": ("odd", "even")[k % 2]} for k in range(50)]
    user = {"name": f"user{page}", "email": f"user{page}@example.org", "unread": page % 9}
    return {"title": f"Page {page}", "user": user, "rows": rows, "footer": "(c) bench"}


def run(pages: int) -> float:
    tokens = tokenize(TEMPLATE)
    start = time.perf_counter()
    total = 0
    for page in range(pages):
        html = "".join(render(tokens, context(page)))
        a, b, *rest = html.partition("</h1>")
        total += len(a) + len(b) + len(rest[0])
    elapsed = time.perf_counter() - start
    assert total > pages * 50
    return elapsed


if __name__ == "__main__":
    print(f"{run(int(sys.argv[1]) if len(sys.argv) > 1 else 2500):.6f}")
