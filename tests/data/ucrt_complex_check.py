"""Run under a Windows CPython (wine): call ucrtbase's C99 complex functions through ctypes,
with the MSVC structs _Dcomplex / _Fcomplex by value as MSVC-built code does, and compare
them with CPython's cmath, which does not use them. Prints {"checked": N, "bad": [...]}."""

import cmath
import ctypes
import json

class D(ctypes.Structure):
    _fields_ = [("re", ctypes.c_double), ("im", ctypes.c_double)]

class F(ctypes.Structure):
    _fields_ = [("re", ctypes.c_float), ("im", ctypes.c_float)]

u = ctypes.CDLL("ucrtbase")
ONE = {"cexp": cmath.exp, "clog": cmath.log, "clog10": cmath.log10, "csqrt": cmath.sqrt, "csin": cmath.sin,
       "ccos": cmath.cos, "ctan": cmath.tan, "csinh": cmath.sinh, "ccosh": cmath.cosh, "ctanh": cmath.tanh,
       "casin": cmath.asin, "cacos": cmath.acos, "catan": cmath.atan, "casinh": cmath.asinh,
       "cacosh": cmath.acosh, "catanh": cmath.atanh, "conj": lambda z: z.conjugate(),
       "cproj": lambda z: z}
REAL = {"cabs": abs, "carg": cmath.phase, "creal": lambda z: z.real, "cimag": lambda z: z.imag,
        "norm": lambda z: z.real * z.real + z.imag * z.imag}
POINTS = [0.5 + 0.25j, -1.5 + 2j, 3 - 0.75j, -0.2 - 0.9j, 1e-5 + 2e-6j, 4 + 0j, -3j, 2.5 - 2.5j, 1e-300 + 1e-300j,
          0.9 + 0.1j, -0.99 + 0.01j, 30 + 40j, -100 + 1j, 1 + 1e-8j, 1e100 + 1e100j, -2 + 0j, -2 - 0.0j, 0.3j]
bad, checked = [], 0


def as_float(want, real):
    """What a float result can hold at best."""
    if real:
        return ctypes.c_float(want).value
    f = F(want.real, want.imag)
    return complex(f.re, f.im)


def close(got, want, tol):
    return got == want or abs(got - want) <= tol * max(abs(want), 1e-290)

for table, real in ((ONE, False), (REAL, True)):
    for name, ref in table.items():
        for suffix, T, tol in (("", D, 1e-13), ("l", D, 1e-13), ("f", F, 5e-7)):
            fn = getattr(u, name + suffix)
            fn.argtypes = [T]
            fn.restype = (ctypes.c_float if T is F else ctypes.c_double) if real else T
            for z in POINTS:
                arg = T(z.real, z.imag)
                zz = complex(arg.re, arg.im)
                if T is F and (abs(z) > 1e30 or (abs(z) < 1e-30 and z != 0)):
                    continue
                try:
                    want = ref(zz)
                except (ValueError, OverflowError):
                    continue
                if T is F:
                    want = as_float(want, real)
                r = fn(arg)
                got = r if real else complex(r.re, r.im)
                checked += 1
                if not close(got, want, tol):
                    bad.append(f"{name}{suffix}({zz}) = {got}, cmath {want}")
for suffix, T, tol in (("", D, 1e-13), ("l", D, 1e-13), ("f", F, 5e-7)):
    fn = getattr(u, "cpow" + suffix)
    fn.argtypes = [T, T]
    fn.restype = T
    for z in POINTS[:8]:
        for w in (0.5 + 1j, 2 + 0j, -1.5 - 0.5j):
            a, b = T(z.real, z.imag), T(w.real, w.imag)
            want = complex(a.re, a.im) ** complex(b.re, b.im)
            r = fn(a, b)
            checked += 1
            if not close(complex(r.re, r.im), want, tol * 10):
                bad.append(f"cpow{suffix}({z}, {w}) = {complex(r.re, r.im)}, CPython {want}")
mul = u._Cmulcc
mul.argtypes, mul.restype = [D, D], D
r = mul(D(1.5, -2), D(0.25, 4))
checked += 1
if complex(r.re, r.im) != (1.5 - 2j) * (0.25 + 4j):
    bad.append(f"_Cmulcc = {complex(r.re, r.im)}")
build = u._FCbuild
build.argtypes, build.restype = [ctypes.c_float, ctypes.c_float], F
r = build(1.5, -2.25)
checked += 1
if (r.re, r.im) != (1.5, -2.25):
    bad.append(f"_FCbuild = {(r.re, r.im)}")
print(json.dumps({"checked": checked, "bad": bad}))
