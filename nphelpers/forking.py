"""Work shared with forked worker processes, for the command line's large loads and outputs.

A worker is a ``fork`` of the command-line process: it sees the parent's memory as it was
(the file list, a text already read), does one job and sends its result back, pickled,
through a pipe. The callers keep every answer exact: a worker's result is merged only
when the parts add up to what one process would have found, and anything unusual (an
error in any part, a worker that fails or is killed) makes them do the whole job again in
one process, which then reports the same error one process always reports.

Forking is used only where it is safe: a POSIX system, more than one CPU for this process,
and no other thread running (a notebook kernel has several; the library never forks there
unless asked). ``NPHELPERS_JOBS=1`` or ``nphelpers matrix -j 1`` keeps everything in one
process.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

MAX_JOBS = 4  # beyond this, merging costs more than the parts save


class WorkerFailed(Exception):
    """A worker ended without a result (an error in its part, a signal, a short pipe)."""


def default_jobs() -> int:
    """How many processes a large load may use: ``NPHELPERS_JOBS``, else the CPUs (at most 4)."""
    text = os.environ.get("NPHELPERS_JOBS", "").strip()
    if text.isdigit() and int(text) > 0:
        return min(int(text), MAX_JOBS)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_JOBS))


def can_fork() -> bool:
    """Whether this process may fork workers: POSIX, and no other thread (its locks would be lost)."""
    threading = sys.modules.get("threading")  # not imported: no thread was started from Python
    return hasattr(os, "fork") and (threading is None or threading.active_count() == 1)


class Worker:
    """``fn(*args)`` computed in a forked process; :meth:`result` waits for it."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        import pickle
        import signal

        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the caller's code
            code = 1
            try:
                os.close(read_end)
                signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it at once
                data = pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(data)
                while view:
                    view = view[os.write(write_end, view):]
                code = 0
            except BaseException:  # noqa: BLE001 - the parent sees a failed worker and redoes the part
                pass
            finally:
                os._exit(code)
        os.close(write_end)
        self._pid: int | None = pid
        self._fd = read_end

    def result(self) -> Any:
        """The worker's return value; :class:`WorkerFailed` if it has none."""
        import pickle

        chunks = []
        try:
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(self._fd)
            status = self._reap()
        if status != 0:
            raise WorkerFailed(f"worker ended with status {status}")
        try:
            return pickle.loads(b"".join(chunks))
        except Exception as err:  # noqa: BLE001 - a truncated result
            raise WorkerFailed(f"unreadable result: {err}") from None

    def stop(self) -> None:
        """End the worker now (the caller no longer needs its part)."""
        import signal

        if self._pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._reap()

    def _reap(self) -> int:
        if self._pid is None:
            return -1
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        return os.waitstatus_to_exitcode(status)


def stop_all(workers: list[Worker]) -> None:
    for worker in workers:
        worker.stop()
