"""sha256 (OpenSSL via hashlib) and zlib compress/decompress over a buffer.

This measures the C libraries each runtime ships (its OpenSSL and zlib builds), not
the interpreter: read its ratio apart from the pure-Python workloads.

Usage: python clibs_hash_zlib.py [MEGABYTES]   prints the seconds the work took.
"""

from __future__ import annotations

import hashlib
import sys
import time
import zlib


def buffer(megabytes: int) -> bytes:
    """Compressible but not trivial data: numbered text lines."""
    lines = b"".join(b"line %d of the buffer, value %x\n" % (i, i * 2654435761 % 2**32) for i in range(40_000))
    return (lines * (megabytes * 2**20 // len(lines) + 1))[: megabytes * 2**20]


def run(megabytes: int) -> float:
    data = buffer(megabytes)
    start = time.perf_counter()
    digest = hashlib.sha256(data).hexdigest()
    for _ in range(3):
        h = hashlib.sha256(digest.encode())
        h.update(data)
        digest = h.hexdigest()
    packed = zlib.compress(data, 6)
    assert zlib.decompress(packed) == data
    elapsed = time.perf_counter() - start
    assert len(digest) == 64
    return elapsed


if __name__ == "__main__":
    print(f"{run(int(sys.argv[1]) if len(sys.argv) > 1 else 24):.6f}")
