"""numpy on Windows: a matrix product and a solve through the bundled OpenBLAS, and
numpy's complex functions (which call the UCRT's cexp, csqrt, ...) checked against
CPython's own cmath, which does not use the C runtime's complex functions."""

import cmath
import sys

FUNCTIONS = [
    ("exp", "exp"), ("log", "log"), ("sqrt", "sqrt"), ("sin", "sin"), ("cos", "cos"), ("tan", "tan"),
    ("sinh", "sinh"), ("cosh", "cosh"), ("tanh", "tanh"), ("arcsin", "asin"), ("arccos", "acos"),
    ("arctan", "atan"), ("arcsinh", "asinh"), ("arccosh", "acosh"), ("arctanh", "atanh"), ("log10", "log10"),
]
POINTS = [0.5 + 0.25j, -1.5 + 2.0j, 3.0 - 0.75j, -0.2 - 0.9j, 1e-5 + 2e-6j, 4.0 + 0.0j, 0.0 - 3.0j, 2.5 - 2.5j]


def _worst(np, dtype, tolerance):
    worst = (0.0, "")
    bad = []
    for npname, cmname in FUNCTIONS:
        values = np.array(POINTS, dtype=dtype)
        got = getattr(np, npname)(values)
        for z, w in zip(values, got):
            want = getattr(cmath, cmname)(complex(z))
            err = abs(complex(w) - want) / max(abs(want), 1e-300)
            worst = max(worst, (err, npname))
            if not err <= tolerance:
                bad.append(f"{npname}({complex(z)}) = {complex(w)}, cmath {want}")
    base = np.array(POINTS, dtype=dtype)
    got = base ** np.array([0.5 + 1j] * len(POINTS), dtype=dtype)
    for z, w in zip(base, got):
        want = complex(z) ** (0.5 + 1j)
        err = abs(complex(w) - want) / abs(want)
        worst = max(worst, (err, "power"))
        if not err <= tolerance:
            bad.append(f"{complex(z)} ** (0.5+1j) = {complex(w)}, CPython {want}")
    absolute = np.abs(base)
    angle = np.angle(base)
    for z, a, t in zip(base, absolute, angle):
        if not (abs(a - abs(complex(z))) <= tolerance * abs(complex(z)) and abs(t - cmath.phase(complex(z))) <= tolerance * 4):
            bad.append(f"abs/angle of {complex(z)}: {a}, {t}")
    return worst, bad


def main() -> None:
    import numpy as np

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    a = np.arange(1, n * n + 1, dtype=np.float64).reshape(n, n) / (n * n)
    a += np.eye(n) * n
    b = a @ a.T
    x = np.linalg.solve(a, np.ones(n))
    residual = float(np.abs(a @ x - 1).max())
    z = (np.arange(n) + 1j * np.arange(n)).astype(np.complex64)
    zdot = complex(np.vdot(z, z))
    print(f"numpy {np.__version__} n={n}")
    print(f"trace(a a^T) = {np.trace(b):.6f}")
    print(f"solve residual < 1e-9: {residual < 1e-9}")
    print(f"vdot(z, z) = {zdot.real:.1f}{zdot.imag:+.1f}j")
    print(f"det sign = {int(np.sign(np.linalg.det(a)))}")
    for dtype, tolerance in (("complex128", 1e-13), ("complex64", 1e-5)):
        (err, where), bad = _worst(np, dtype, tolerance)
        print(f"{dtype}: {len(FUNCTIONS) + 2} functions vs cmath, worst relative error {err:.1e} ({where})")
        for line in bad:
            print(f"  MISMATCH {line}")
