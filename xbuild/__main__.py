"""`python -m xbuild` is the same as the `xbuild` command."""

from xbuild.cli import main

raise SystemExit(main())
