"""An app whose launcher has the name of its dependency's console script."""

import sys


def main() -> int:
    from pyflakes.api import check
    from pyflakes.reporter import Reporter

    class Collect(Reporter):
        def __init__(self) -> None:
            self.messages: list[str] = []

        def flake(self, message: object) -> None:
            self.messages.append(str(message).split(" ", 1)[1])

    reporter = Collect()
    check("import os\nprint(undefined_name)\n", "snippet.py", reporter)
    print(f"scriptclash {' '.join(sys.argv[1:])}: {'; '.join(reporter.messages)}")
    return 0
