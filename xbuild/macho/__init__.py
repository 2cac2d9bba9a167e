"""Mach-O editing xbuild needs for macOS artifacts: ad-hoc code signatures, fat files, merged trees."""
