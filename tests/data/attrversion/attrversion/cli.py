from attrversion import __version__


def main() -> int:
    print(f"attrversion {__version__}")
    return 0
