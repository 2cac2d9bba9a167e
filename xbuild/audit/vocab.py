"""The audit's closed vocabularies and exit codes, in one place.

report-schema.json lists the same words; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from xbuild.errors import ExitCode

# What a violation is about.
Rule = Literal[
    "format",  # ELF where the target loads PE, ...
    "machine",  # built for another CPU
    "libc",  # built for the other C library (musl vs glibc)
    "library",  # a dependency that is neither shipped nor a system library
    "symbol-version",  # GLIBC_2.28 where the policy allows 2.17
    "blacklisted-symbol",  # a symbol auditwheel's policy forbids from an allowed library
    "minimum-os",  # a Mach-O slice needs a newer macOS than the target's minimum
    "code-signature",  # a Mach-O slice macOS refuses to run: unsigned arm64, or changed after signing
]
# How one dependency of one file is satisfied.
Status = Literal["bundled", "system", "missing", "not-allowed"]
# Whether a wheel's files honour the platform tag it claims.
Consistency = Literal["consistent", "inconsistent", "not-applicable"]

RULES: Final = frozenset(get_args(Rule))
STATUSES: Final = frozenset(get_args(Status))
CONSISTENCIES: Final = frozenset(get_args(Consistency))

# `xbuild audit` exit codes (the build maps violations to its own failure).
# `xbuild audit`'s exit codes are the CLI's (xbuild.errors.ExitCode), named here for the audit's own use.
EXIT_OK: Final = ExitCode.OK
EXIT_VIOLATIONS: Final = ExitCode.AUDIT
EXIT_ERRORS: Final = ExitCode.USAGE  # unreadable input or bad usage
