"""One-file executables: a launcher built for one-file plus an appended zip payload.

`payload` writes the archive (bytecode, data, native files and their index),
`natives` orders shared libraries by what they need, `datapkgs` finds packages that
must live on disk, `launcher` compiles runtime/onefile.c, `make` writes the
executables, `reader` opens one for `xbuild run` and the audit.
"""
