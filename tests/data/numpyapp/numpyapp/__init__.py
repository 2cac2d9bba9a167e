"""numpy inside an xbuild artifact: its build configuration and a small computation."""

import sys


def main() -> int:
    import numpy as np

    if "--config" in sys.argv:
        np.show_config()
    a = np.array([[4.0, 1.0], [2.0, 3.0]])
    x = np.linalg.solve(a, np.array([9.0, 13.0]))
    print(f"numpy {np.__version__} solve={x.round(6).tolist()} det={round(float(np.linalg.det(a)), 6)}")
    return 0
