"""Typed errors that the CLI turns into one-line messages and exit codes.

Library code raises these instead of printing, so every failure a user can cause
or fix reaches them as a single sentence that says what is wrong and what to do.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What `xbuild` exits with, one code per kind of failure (README and `xbuild --help` list them)."""

    OK = 0
    AUDIT = 1  # audit violations: `xbuild audit`, and `xbuild build` in strict mode
    USAGE = 2  # a flag, pyproject.toml or an input is wrong (`xbuild audit`: a file it cannot read)
    INTEGRITY = 3  # a download, archive or signature is not what was pinned
    NETWORK = 4  # a pinned file could not be had (unreachable, missing upstream, offline and not cached)
    TOOLCHAIN = 5  # zig, qemu-user or wine64 is missing or failed
    FAILED = 6  # any other build failure (no runtime, no wheel for the target, ...)
    INTERRUPTED = 130  # Ctrl-C

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.AUDIT: "audit violations (`xbuild audit`, and `xbuild build` with audit = \"strict\")",
    ExitCode.USAGE: "usage or configuration: a flag, pyproject.toml or an input is wrong (`xbuild audit`: unreadable file)",
    ExitCode.INTEGRITY: "integrity: a hash, size or signature does not match its pin",
    ExitCode.NETWORK: "network: a pinned file could not be downloaded (or is not cached, offline)",
    ExitCode.TOOLCHAIN: "toolchain: zig, qemu-user or wine64 is missing or failed",
    ExitCode.FAILED: "any other failure (no runtime or wheel for the target, a failed build step)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_codes_help() -> str:
    """The exit-status section of `xbuild --help`."""
    return "exit status:\n" + "".join(f"  {int(code):<4} {code.meaning}\n" for code in ExitCode)


class XbuildError(Exception):
    """Base of every error a user can act on; `exit_code` is what the CLI returns."""

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(XbuildError):
    """The command line or configuration asks for something that does not exist."""

    exit_code = ExitCode.USAGE


class UnknownTargetError(UsageError):
    """A target name that is neither a triple nor an alias in the target table."""


class ToolchainError(XbuildError):
    """zig is missing, of the wrong version, or failed to compile or link."""

    exit_code = ExitCode.TOOLCHAIN


class CompileError(ToolchainError):
    """zig ran and rejected the input; `output` holds what it printed."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class BinaryFormatError(XbuildError):
    """A file is not a readable ELF, PE or Mach-O binary."""


class CannotRunError(XbuildError):
    """This host has no way to run the target's programs (no qemu-user, no wine64, macOS)."""

    exit_code = ExitCode.TOOLCHAIN


class DownloadError(XbuildError):
    """A pinned file could not be had."""

    exit_code = ExitCode.NETWORK


class SourceUnavailableError(DownloadError):
    """The source could not be reached or does not have the file; the next source may be tried."""


class HostUnreachableError(SourceUnavailableError):
    """The source's host name does not resolve: no other file there can be had either."""


class IntegrityError(DownloadError):
    """What arrived is not what was pinned (size, sha256 or signature). Always fatal: never fall back."""

    exit_code = ExitCode.INTEGRITY


class OfflineError(DownloadError):
    """Offline mode and the file is not in the cache."""


class ArchiveError(XbuildError):
    """An archive is corrupt or tries to write outside its destination."""

    exit_code = ExitCode.INTEGRITY


class RuntimeSourceError(XbuildError):
    """No configured source can provide the requested CPython runtime."""


class ConfigError(UsageError):
    """pyproject.toml or a command-line option is wrong; the message names the key."""


class RuntimeLayoutError(XbuildError):
    """A folder is not a CPython runtime in the expected layout."""


class DebianError(XbuildError):
    """The Debian index does not have what a recipe or lock asks for."""


class ResolveError(XbuildError):
    """A dependency has no wheel for the target, or resolution failed."""


class BuildError(XbuildError):
    """A build step failed for a reason the user can act on."""


class PolicyDataError(XbuildError):
    """A packaged audit policy file is malformed (a bug in xbuild's data, not in the input)."""


class ReportError(UsageError):
    """A report cannot be written where it was asked for."""


class AuditFailedError(BuildError):
    """A strict build's audit found violations: the same exit code as `xbuild audit` for them."""

    exit_code = ExitCode.AUDIT


class LockError(UsageError):
    """pylock.toml is missing, stale or not valid PEP 751 where a build needs it (`--locked`, `--offline`)."""


class UnreadableInputError(UsageError):
    """An input given to `xbuild audit` cannot be read as what its name says (corrupt, or too large to unpack)."""
