"""Regular expressions over generated log lines: search, findall, groups and sub.

The `re` engine (sre) is C code inside the interpreter, so this measures how the
build compiled it rather than Python bytecode.

Usage: python regex.py [LINES]   prints the seconds the matching took.
"""

from __future__ import annotations

import re
import sys
import time

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
LEVELS = ["INFO", "WARN", "ERROR", "DEBUG"]

LINE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z \[(\w+)\] (?P<who>[\w.]+@[\w.]+) (.*)$")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")
ERRORISH = re.compile(r"(?i)\b(?:fail(?:ed|ure)?|error|timeout)\b")
DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)")


def lines(count: int) -> list[str]:
    """Deterministic log lines: a timestamp, a level, an address and a few words and numbers."""
    out = []
    for i in range(count):
        w = [WORDS[(i * k + 3) % len(WORDS)] for k in range(1, 7)]
        verb = "failed" if i % 11 == 0 else "took"
        out.append(
            f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z "
            f"[{LEVELS[i % 4]}] {w[0]}.{w[1]}@{w[2]}.example.org {w[3]} {verb} {i % 997}.{i % 10} ms after {w[4]} {w[5]} {i}"
        )
    return out


def scan(text: list[str]) -> tuple[int, int, int, int]:
    matched = emails = numbers = errors = 0
    for line in text:
        m = LINE.match(line)
        if m and m.group(7) != "DEBUG":
            matched += len(m.group("who"))
        emails += len(EMAIL.findall(line))
        numbers += len(NUMBER.findall(line))
        if ERRORISH.search(line):
            errors += 1
    return matched, emails, numbers, errors


def run(count: int) -> float:
    text = lines(count)
    blob = "\n".join(text)
    start = time.perf_counter()
    matched, emails, numbers, errors = scan(text)
    swapped = DATE.sub(r"\3/\2/\1", blob)
    words = len(re.split(r"\s+", swapped))
    elapsed = time.perf_counter() - start
    assert matched and emails == count and numbers and errors and words > count
    return elapsed


if __name__ == "__main__":
    print(f"{run(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000):.6f}")
