"""Cross builds of sdists (and of the project's own extension modules) for a target, with zig.

One module per job: `sdist` finds and fetches a verified sdist, `libs` brings the C
libraries a package needs from the target's Debian archive, `crossenv` writes the
cross environment (target sysconfig data, an interpreter patch, zig wrappers, CMake
toolchain and Meson cross files), `backend` runs the PEP 517 build in it with a host
Python of the runtime's minor version, `verify` checks the wheel it made, and
`builder` ties them together with the cache. `overrides.toml` holds per-package
settings, each with its reason.
"""
