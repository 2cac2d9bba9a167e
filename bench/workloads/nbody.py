"""N-body: five planets' orbits integrated step by step (float arithmetic on lists and tuples).

Usage: python nbody.py [STEPS]   prints the seconds the integration took.
"""

from __future__ import annotations

import sys
import time

PI = 3.14159265358979323
SOLAR_MASS = 4 * PI * PI
DAYS_PER_YEAR = 365.24

Body = list[float]  # x, y, z, vx, vy, vz, mass


def bodies() -> list[Body]:
    """Sun, Jupiter, Saturn, Uranus and Neptune, in AU, AU/day and solar masses."""
    planets = [
        (4.84143144246472090e00, -1.16032004402742839e00, -1.03622044471123109e-01,
         1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05, 9.54791938424326609e-04),
        (8.34336671824457987e00, 4.12479856412430479e00, -4.03523417114321381e-01,
         -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05, 2.85885980666130812e-04),
        (1.28943695621391310e01, -1.51111514016986312e01, -2.23307578892655734e-01,
         2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05, 4.36624404335156298e-05),
        (1.53796971148509165e01, -2.59193146099879641e01, 1.79258772950371181e-01,
         2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05, 5.15138902046611451e-05),
    ]  # fmt: skip
    out = [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, SOLAR_MASS]]
    for x, y, z, vx, vy, vz, m in planets:
        out.append([x, y, z, vx * DAYS_PER_YEAR, vy * DAYS_PER_YEAR, vz * DAYS_PER_YEAR, m * SOLAR_MASS])
    return out


def offset_momentum(system: list[Body]) -> None:
    px = py = pz = 0.0
    for b in system:
        px -= b[3] * b[6]
        py -= b[4] * b[6]
        pz -= b[5] * b[6]
    sun = system[0]
    sun[3], sun[4], sun[5] = px / SOLAR_MASS, py / SOLAR_MASS, pz / SOLAR_MASS


def energy(system: list[Body]) -> float:
    e = 0.0
    for i, a in enumerate(system):
        e += 0.5 * a[6] * (a[3] * a[3] + a[4] * a[4] + a[5] * a[5])
        for b in system[i + 1 :]:
            dx, dy, dz = a[0] - b[0], a[1] - b[1], a[2] - b[2]
            e -= a[6] * b[6] / (dx * dx + dy * dy + dz * dz) ** 0.5
    return e


def advance(system: list[Body], pairs: list[tuple[Body, Body]], dt: float, steps: int) -> None:
    for _ in range(steps):
        for a, b in pairs:
            dx, dy, dz = a[0] - b[0], a[1] - b[1], a[2] - b[2]
            mag = dt * (dx * dx + dy * dy + dz * dz) ** -1.5
            bm, am = b[6] * mag, a[6] * mag
            a[3] -= dx * bm
            a[4] -= dy * bm
            a[5] -= dz * bm
            b[3] += dx * am
            b[4] += dy * am
            b[5] += dz * am
        for b in system:
            b[0] += dt * b[3]
            b[1] += dt * b[4]
            b[2] += dt * b[5]


def run(steps: int) -> float:
    system = bodies()
    pairs = [(a, b) for i, a in enumerate(system) for b in system[i + 1 :]]
    offset_momentum(system)
    before = energy(system)
    start = time.perf_counter()
    advance(system, pairs, 0.01, steps)
    elapsed = time.perf_counter() - start
    assert abs(energy(system) - before) < 1e-3, "the integration drifted"
    return elapsed


if __name__ == "__main__":
    print(f"{run(int(sys.argv[1]) if len(sys.argv) > 1 else 80_000):.6f}")
