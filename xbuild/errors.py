"""Typed errors that the CLI turns into one-line messages and exit codes.

Library code raises these instead of printing, so every failure a user can cause
or fix reaches them as a single sentence that says what is wrong and what to do.
"""

from __future__ import annotations


class XbuildError(Exception):
    """Base of every error a user can act on; `exit_code` is what the CLI returns."""

    exit_code = 2


class UsageError(XbuildError):
    """The command line or configuration asks for something that does not exist."""


class UnknownTargetError(UsageError):
    """A target name that is neither a triple nor an alias in the target table."""


class ToolchainError(XbuildError):
    """zig is missing, of the wrong version, or failed to compile or link."""


class CompileError(ToolchainError):
    """zig ran and rejected the input; `output` holds what it printed."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class BinaryFormatError(XbuildError):
    """A file is not a readable ELF, PE or Mach-O binary."""


class CannotRunError(XbuildError):
    """This host has no way to run the target's programs (no qemu-user, no wine64, macOS)."""


class DownloadError(XbuildError):
    """A pinned file could not be had."""


class SourceUnavailableError(DownloadError):
    """The source could not be reached or does not have the file; the next source may be tried."""


class HostUnreachableError(SourceUnavailableError):
    """The source's host name does not resolve: no other file there can be had either."""


class IntegrityError(DownloadError):
    """What arrived is not what was pinned (size or sha256). Always fatal: never fall back."""


class OfflineError(DownloadError):
    """Offline mode and the file is not in the cache."""


class ArchiveError(XbuildError):
    """An archive is corrupt or tries to write outside its destination."""


class RuntimeSourceError(XbuildError):
    """No configured source can provide the requested CPython runtime."""


class ConfigError(UsageError):
    """pyproject.toml or a command-line option is wrong; the message names the key."""


class ResolveError(XbuildError):
    """A dependency has no wheel for the target, or resolution failed."""


class BuildError(XbuildError):
    """A build step failed for a reason the user can act on."""


class PolicyDataError(XbuildError):
    """A packaged audit policy file is malformed (a bug in xbuild's data, not in the input)."""


class ReportError(XbuildError):
    """A report cannot be written where it was asked for."""
