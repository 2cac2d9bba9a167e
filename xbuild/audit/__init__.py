"""Reading shipped binaries and checking them against the target's policy."""
