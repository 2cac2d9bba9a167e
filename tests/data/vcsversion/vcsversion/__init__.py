"""A project whose version comes from its git tag (hatch-vcs)."""

from importlib.metadata import version


def main() -> int:
    print(f"vcsversion {version('vcsversion')}")
    return 0
