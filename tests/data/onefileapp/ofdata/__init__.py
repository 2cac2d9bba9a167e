"""Package data read through the archive: importlib.resources and pkgutil.get_data."""
