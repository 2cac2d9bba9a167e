"""xbuild: standalone Python application executables for every platform, from one Linux host."""

__version__ = "0.1.0"
