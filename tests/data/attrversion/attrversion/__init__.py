"""A project whose version is an attribute of its package (setuptools `attr:`)."""

__version__ = "2.5.1"
