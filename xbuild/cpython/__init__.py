"""CPython runtimes built from pinned Debian source tarballs with the pinned zig.

`sources` pins and fetches the tarballs, `recipes` reads the per-package build
data, `builder` runs each package's steps with zig's wrappers, and `runtime`
turns the result into a published runtime in the one model.
"""
