"""Write a matrix's JSON contract to a byte stream; a large output to a file in parts at once.

A 10,000-pod answer is over a gigabyte. Building each row (a ``bytes.replace``) costs about
as much as the kernel's copy when writing it, so when the output is a regular file the
rows are shared out with forked workers (:mod:`nphelpers.forking`): every row's length is
known beforehand (:meth:`~nphelpers.matrix.Reachability.json_row_sizes`), so each process
writes its rows at their own offsets (``pwrite``) and the file holds the same bytes, in
the same order, as when written from start to end. Anything else (a pipe, a terminal, a
file opened for appending, one CPU, a small output or one beyond a tenth of the memory) is
written from start to end.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterable
from typing import BinaryIO

from .matrix import JSON_TAIL, Reachability

MIN_SHARED_BYTES = 64 * 2**20  # smaller outputs are written by one process
# Larger outputs too, beyond a tenth of the memory: from about there the kernel writes dirty
# pages back and holds writers up, and two writers then slow each other down (measured: a
# 12 GB answer took 26 s from two processes, 17 s from one).
MAX_SHARED_SHARE_OF_MEMORY = 0.1
BATCH_BYTES = 256 * 2**10  # rows gathered into one system call: small writes cost more per byte
_MAX_BUFFERS = 512  # buffers per gathered call (the system allows at least 1024)
_SEP = b", "


def write_json(matrix: Reachability, out: BinaryIO, jobs: int = 1) -> None:
    """The contract and a newline, written to ``out`` (flushed)."""
    out.flush()
    if jobs > 1 and _write_shared(matrix, out, jobs):
        return
    chunks = matrix.iter_json_bytes()
    fd = _descriptor(out) if hasattr(os, "writev") else None
    if fd is None:
        for chunk in chunks:
            out.write(chunk)
        out.write(b"\n")
    else:  # straight to the descriptor, rows gathered into large writes
        for batch in _batches(itertools.chain(chunks, [b"\n"])):
            _writev_all(fd, batch)
    out.flush()


def _descriptor(out: BinaryIO) -> int | None:
    try:
        return out.fileno()
    except (AttributeError, OSError, ValueError):  # a BytesIO, a wrapped stream
        return None


def _batches(chunks: Iterable[bytes]) -> Iterable[list[bytes]]:
    batch: list[bytes] = []
    size = 0
    for chunk in chunks:
        batch.append(chunk)
        size += len(chunk)
        if size >= BATCH_BYTES or len(batch) >= _MAX_BUFFERS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _writev_all(fd: int, batch: list[bytes]) -> None:
    done = os.writev(fd, batch)
    if done < sum(map(len, batch)):  # a short write: the rest in one piece
        rest = memoryview(b"".join(batch))[done:]
        while rest:
            rest = rest[os.write(fd, rest):]


def _write_shared(matrix: Reachability, out: BinaryIO, jobs: int) -> bool:
    """Write the output in parts from ``jobs`` processes; False (nothing written) when unsuitable."""
    from . import forking

    fd = _regular_file(out)
    if fd is None or not matrix.from_classes or not forking.can_fork() or not hasattr(os, "pwrite"):
        return False
    sizes = matrix.json_row_sizes()
    head = matrix.json_head()
    total = len(head) + sum(sizes) + len(_SEP) * max(len(sizes) - 1, 0) + len(JSON_TAIL) + 1
    if total < MIN_SHARED_BYTES or total > MAX_SHARED_SHARE_OF_MEMORY * _memory_bytes():
        return False
    start = os.lseek(fd, 0, os.SEEK_CUR)
    # Where each pod's row starts, and the pods each process writes (about equal bytes).
    offsets = []
    at = start + len(head)
    for i, size in enumerate(sizes):
        if i:
            at += len(_SEP)
        offsets.append(at)
        at += size
    cuts = [0]
    for k in range(1, jobs):
        target = start + total * k // jobs
        cut = next((i for i in range(cuts[-1] + 1, len(sizes)) if offsets[i] >= target), len(sizes))
        cuts.append(cut)
    cuts.append(len(sizes))
    parts = [(a, b) for a, b in itertools.pairwise(cuts) if a < b]
    workers: list[forking.Worker] = []
    try:
        workers = [forking.Worker(_write_rows, matrix, fd, a, b, offsets[a]) for a, b in parts[1:]]
        _pwrite_all(fd, head, start)
        _write_rows(matrix, fd, *parts[0], offsets[parts[0][0]])
        for worker in workers:
            worker.result()
    except forking.WorkerFailed as err:
        forking.stop_all(workers)
        raise OSError(f"writing the output failed in a worker ({err})") from None
    except BaseException:
        forking.stop_all(workers)
        raise
    _pwrite_all(fd, JSON_TAIL + b"\n", start + total - len(JSON_TAIL) - 1)
    os.lseek(fd, start + total, os.SEEK_SET)  # as after writing it from start to end
    return True


def _memory_bytes() -> int:
    """The machine's physical memory (0 when the system does not tell: then never shared)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 0


def _regular_file(out: BinaryIO) -> int | None:
    """The descriptor of ``out`` when it is a regular file written at a position (not appended)."""
    fd = _descriptor(out)
    if fd is None:
        return None
    try:
        info = os.fstat(fd)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:  # every write would land at the end
        return None
    return fd


def _write_rows(matrix: Reachability, fd: int, start: int, stop: int, offset: int) -> None:
    """Rows ``start`` .. ``stop - 1`` at ``offset`` on: each after ``, `` but the first pod's."""
    pwritev = getattr(os, "pwritev", None)

    def pieces() -> Iterable[bytes]:
        for i, text in enumerate(matrix.json_rows(start, stop), start):
            if i:
                yield _SEP
            yield text

    at = offset - len(_SEP) if start else offset
    for batch in _batches(pieces()):
        size = sum(map(len, batch))
        if pwritev is None or pwritev(fd, batch, at) != size:
            _pwrite_all(fd, b"".join(batch), at)  # no pwritev, or a short write: all again in one piece
        at += size


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        view = view[done:]
        offset += done
