"""Verified downloads into the content-addressed cache.

A pinned file (URL + sha256, and size when known) is streamed to a scratch file,
hashed as it arrives, resumed with HTTP Range after a dropped connection, checked
against its pin, and only then renamed into `blobs/sha256/..`. Anything that fails
leaves nothing behind. A per-hash lock makes concurrent xbuild processes share one
download.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Never
from urllib.parse import unquote, urlparse

import requests
from tqdm import tqdm

from xbuild import cache, hostmemory
from xbuild.errors import (
    HostUnreachableError,
    IntegrityError,
    OfflineError,
    SourceUnavailableError,
)

log = logging.getLogger(__name__)

ATTEMPTS = 5
BACKOFF_SECONDS = 0.25  # doubled after each failed attempt
TIMEOUT = (15, 60)  # connect, read
CHUNK = 1 << 16
_USER_AGENT = "xbuild (+https://pypi.org/project/xbuild/)"


@dataclass(frozen=True)
class PinnedFile:
    """A file known by its sha256 before it is fetched; `what` names it in messages."""

    url: str
    sha256: str
    what: str
    size: int | None = None


class _Retry(Exception):
    """A transient failure: try again, resuming where the data stopped."""


def cached(pin: PinnedFile) -> Path | None:
    """The verified copy in the cache, if there is one."""
    path = cache.blob_path(pin.sha256)
    return path if path.is_file() else None


def fetch(pin: PinnedFile, *, offline: bool = False) -> Path:
    """The verified file for `pin`, downloading it unless a good copy is cached.

    A cached copy is hashed again before use (a wheel costs milliseconds): a blob
    changed on disk would otherwise ship under the pinned hash, or break every build.
    A damaged one is removed with one warning and fetched again.
    """
    if (found := cached(pin)) and _intact(pin, found):
        return found
    if offline and not cached(pin):
        raise OfflineError(f"offline: {pin.what} is not in the cache ({pin.url}); run once without --offline to fetch it")
    with cache.locked(f"blob-{pin.sha256}"):
        if found := cached(pin):  # another process finished (or repaired) it while we waited
            if _intact(pin, found):
                return found
            log.warning("the cached %s is damaged (%s does not hash to its pin); fetching it again", pin.what, found)
            found.unlink(missing_ok=True)
            if offline:
                raise OfflineError(f"offline: the cached {pin.what} was damaged and is removed; run once without --offline to fetch it again")
        part = cache.scratch_dir() / f"{pin.sha256}.{os.getpid()}.part"
        try:
            digest = _transfer(pin, part)
            _verify(pin, part, digest)
            final = cache.blob_path(pin.sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, final)
            return final
        finally:
            part.unlink(missing_ok=True)


def _intact(pin: PinnedFile, path: Path) -> bool:
    """Whether a cached file still has its pinned size and sha256."""
    try:
        if pin.size is not None and path.stat().st_size != pin.size:
            return False
        return cache.sha256_file(path) == pin.sha256
    except OSError:
        return False


def reverify_cached(pin: PinnedFile) -> None:
    """Re-hash a cached copy before use; a changed one is removed and refused."""
    path = cached(pin)
    if path is None:
        return
    actual = cache.sha256_file(path)
    if actual != pin.sha256:
        path.unlink(missing_ok=True)
        raise IntegrityError(
            f"{pin.what}: the cached file changed after it was verified: sha256 {actual}, pinned {pin.sha256}; "
            "it was removed, run again to fetch a good copy"
        )


def _verify(pin: PinnedFile, part: Path, digest: str) -> None:
    size = part.stat().st_size
    if pin.size is not None and size != pin.size:
        raise IntegrityError(
            f"{pin.what}: size mismatch from {pin.url}: got {size} bytes, pinned {pin.size}; the file was truncated or replaced"
        )
    if digest != pin.sha256:
        raise IntegrityError(
            f"{pin.what}: sha256 mismatch from {pin.url}: got {digest}, pinned {pin.sha256}; refusing to use it"
        )


def _transfer(pin: PinnedFile, part: Path) -> str:
    """Fetch into `part`; return the sha256 of what was written."""
    scheme = urlparse(pin.url).scheme
    if scheme == "file":
        return _copy_local(pin, part)
    if scheme not in ("http", "https"):
        raise SourceUnavailableError(f"{pin.what}: unsupported URL scheme in {pin.url} (use https://, http:// or file://)")
    return _download(pin, part)


def _copy_local(pin: PinnedFile, part: Path) -> str:
    source = Path(unquote(urlparse(pin.url).path))
    if not source.is_file():
        raise SourceUnavailableError(f"{pin.what}: {source} does not exist")
    digest = hashlib.sha256()
    with source.open("rb") as src, part.open("wb") as out:
        while chunk := src.read(CHUNK * 16):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


class _Sink:
    """The scratch file, its running sha256 and the progress bar, kept in step."""

    def __init__(self, out: BinaryIO, bar: tqdm[Never]) -> None:
        self.out = out
        self.bar = bar
        self.digest = hashlib.sha256()

    @property
    def size(self) -> int:
        return self.out.tell()

    def write(self, chunk: bytes) -> None:
        self.out.write(chunk)
        self.digest.update(chunk)
        self.bar.update(len(chunk))

    def restart(self) -> None:
        self.out.seek(0)
        self.out.truncate()
        self.digest = hashlib.sha256()
        self.bar.reset()


def _download(pin: PinnedFile, part: Path) -> str:
    host = _host(pin.url)
    if (age := hostmemory.seconds_since_failure(host)) is not None:
        raise HostUnreachableError(
            f"{pin.what}: cannot reach {host} (its name did not resolve {_ago(age)}; not retried for "
            f"{hostmemory.ttl() / 60:g} min, set {hostmemory.TTL_VAR}=0 to retry now)"
        )
    delay = BACKOFF_SECONDS
    log.info("downloading %s from %s", pin.what, pin.url)
    with requests.Session() as session, part.open("wb") as out, _bar(pin) as bar:
        session.headers["User-Agent"] = _USER_AGENT
        sink = _Sink(out, bar)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                _one_request(session, pin, sink)
                return sink.digest.hexdigest()
            except _Retry as e:
                reason = str(e)
            except requests.ConnectionError as e:
                if _unresolvable(e):
                    hostmemory.remember(host)
                    raise HostUnreachableError(f"{pin.what}: cannot reach {_host(pin.url)} (host name does not resolve)") from None
                reason = _short(e)
            except requests.Timeout as e:
                reason = f"timed out ({_short(e)})"
            if attempt == ATTEMPTS:
                raise SourceUnavailableError(f"{pin.what}: download from {pin.url} failed after {ATTEMPTS} attempts: {reason}")
            log.info("%s: %s; retrying in %.1fs from byte %d", pin.what, reason, delay, sink.size)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def _one_request(session: requests.Session, pin: PinnedFile, sink: _Sink) -> None:
    """One GET, resuming from what the sink already holds; raises _Retry for transient trouble."""
    have = sink.size
    headers = {"Range": f"bytes={have}-"} if have else {}
    with session.get(pin.url, headers=headers, stream=True, timeout=TIMEOUT) as response:
        status = response.status_code
        if status in (404, 410):
            raise SourceUnavailableError(f"{pin.what}: {pin.url} answered HTTP {status} (not found)")
        if status >= 500 or status == 429:
            raise _Retry(f"HTTP {status}")
        if status >= 400:
            raise SourceUnavailableError(f"{pin.what}: {pin.url} answered HTTP {status}")
        if have and status != 206:  # the server ignored the Range request: start over
            sink.restart()
            have = 0
        length = response.headers.get("Content-Length")
        expected = have + int(length) if length and length.isdigit() else None
        if expected is not None and sink.bar.total is None:
            sink.bar.total = expected
        try:
            for chunk in response.iter_content(CHUNK):
                sink.write(chunk)
        except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as e:
            raise _Retry(f"connection broken after {sink.size} bytes ({type(e).__name__})") from None
        if expected is not None and sink.size < expected:
            raise _Retry(f"connection closed after {sink.size} of {expected} bytes")


def _bar(pin: PinnedFile) -> tqdm[Never]:
    return tqdm(
        total=pin.size,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=pin.what,
        file=sys.stderr,
        leave=False,
        disable=None,  # no bar when stderr is not a terminal (CI logs)
    )


def _host(url: str) -> str:
    return urlparse(url).netloc or url


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} s ago" if seconds < 90 else f"{seconds / 60:.0f} min ago"


def _unresolvable(error: requests.ConnectionError) -> bool:
    """True when the host name does not resolve: retrying will not help."""
    text = repr(error)
    return "NameResolutionError" in text or "Name or service not known" in text or "Temporary failure in name resolution" in text


def _short(error: BaseException) -> str:
    """The innermost useful words of a requests/urllib3 error."""
    text = str(error)
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.strip("()'\" ")[:200]


def get_unpinned(url: str, what: str) -> bytes:
    """A small file whose hash cannot be known in advance (a signed index); the caller verifies it."""
    if urlparse(url).scheme == "file":
        path = Path(unquote(urlparse(url).path))
        if not path.is_file():
            raise SourceUnavailableError(f"{what}: {path} does not exist")
        return path.read_bytes()
    try:
        response = requests.get(url, timeout=TIMEOUT, headers={"User-Agent": _USER_AGENT})
    except requests.RequestException as e:
        raise SourceUnavailableError(f"{what}: cannot fetch {url} ({_short(e)})") from None
    if response.status_code != 200:
        raise SourceUnavailableError(f"{what}: {url} answered HTTP {response.status_code}")
    return response.content
