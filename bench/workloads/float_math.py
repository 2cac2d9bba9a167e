"""Float and `math` arithmetic on many small objects (after pyperformance's `float`).

Creates points from sin/cos, normalizes them with sqrt and folds them with max:
float boxing, attribute access and calls into the math module.

Usage: python float_math.py [POINTS]   prints the seconds the work took.
"""

from __future__ import annotations

import math
import sys
import time


class Point:
    __slots__ = ("x", "y", "z")

    def __init__(self, i: float) -> None:
        self.x = x = math.sin(i)
        self.y = math.cos(i) * 3
        self.z = (x * x) / 2

    def normalize(self) -> None:
        norm = math.sqrt(self.x * self.x + self.y * self.y + self.z * self.z)
        self.x /= norm
        self.y /= norm
        self.z /= norm

    def maximize(self, other: Point) -> Point:
        self.x = max(self.x, other.x)
        self.y = max(self.y, other.y)
        self.z = max(self.z, other.z)
        return self


def run(points: int, repeat: int = 5) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        cloud = [Point(i) for i in range(points)]
        for p in cloud:
            p.normalize()
        best = cloud[0]
        for p in cloud[1:]:
            best = best.maximize(p)
        assert 0.0 < best.y <= 1.0
    return time.perf_counter() - start


if __name__ == "__main__":
    print(f"{run(int(sys.argv[1]) if len(sys.argv) > 1 else 90_000):.6f}")
