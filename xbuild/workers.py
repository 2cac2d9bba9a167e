"""Targets built side by side: one thread per target, up to `jobs` at once, logs tagged by target.

A target's build spends most of its time where Python lets go of the GIL: compressing
the archive (zlib), hashing, copying files, and in zig and the bytecode compiler's
processes, so threads overlap well on a machine's cores. Each log line of a target
carries its triple when several run at once, so the output stays readable. The first
failure stops the build: targets not started are cancelled, running ones finish (each
cleans its own staging folder), and that first error is raised.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextvars import ContextVar
from typing import TypeVar

from xbuild.targets import Target

T = TypeVar("T")
log = logging.getLogger(__name__)
_CURRENT: ContextVar[str | None] = ContextVar("xbuild_target", default=None)


class TargetPrefix(logging.Filter):
    """Prefix a record with the target whose thread logged it (for handlers; the CLI installs it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        triple = _CURRENT.get()
        if triple is not None:
            record.msg, record.args = f"[{triple}] {record.getMessage().lstrip()}", ()
        return True


def jobs_for(requested: int, count: int) -> int:
    """How many targets to build at once: `requested`, or one per core when 0."""
    return max(1, min(count, requested or os.cpu_count() or 1))


def each_target(targets: Sequence[Target], build: Callable[[Target], T], jobs: int) -> list[T]:
    """`build(target)` for every target, `jobs` at a time; results in the targets' order."""
    jobs = jobs_for(jobs, len(targets))
    if jobs == 1:
        results = []
        for n, target in enumerate(targets, 1):
            log.info("[%d/%d] %s", n, len(targets), target.triple)
            results.append(build(target))
        return results

    def run(target: Target) -> T:
        _CURRENT.set(target.triple)
        log.info("started")
        return build(target)

    log.info("building %d targets, %d at a time", len(targets), jobs)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="xbuild-target") as pool:
        futures: list[Future[T]] = [pool.submit(run, t) for t in targets]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for f in pending:
                f.cancel()
            wait(pending)
            error = failed[0].exception()
            assert error is not None
            raise error
    return [f.result() for f in futures]
