"""A project whose version comes from its git tag (setuptools-scm)."""

from importlib.metadata import version


def main() -> int:
    print(f"scmversion {version('scmversion')}")
    return 0
