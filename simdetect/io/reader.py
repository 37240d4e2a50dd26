"""The one way input files are read: regular files only, bounded in size and in reads.

Everything handed to simdetect by path (files to index, suspects, audit lists) comes
through :func:`read_input`. A FIFO or a character device named ``x.jpg`` would block a
plain ``open`` forever or stream without end, and a sparse 3 GB file would be read
whole, so the checks happen before a byte is read:

- ``stat`` first (links are followed, as before: the walk already decided which links
  may be followed), refusing anything that is not a regular file;
- ``open`` with ``O_NONBLOCK`` (opening a FIFO without a writer then returns at once
  instead of blocking), then ``fstat`` on the open descriptor, so a file swapped for a
  FIFO between the two calls is still refused;
- a size cap checked on the ``fstat`` size, and a read that never asks for more than
  the cap plus one byte, so a file that grows while being read is refused too.
"""

from __future__ import annotations

import errno
import os
import stat

from simdetect.io.images import DEFAULT_MAX_FILE_BYTES, ImageLoadError
from simdetect.io.names import text_name
from simdetect.io.walk import file_kind

__all__ = ["DEFAULT_MAX_FILE_BYTES", "read_input"]

_CHUNK = 8 * 1024 * 1024


def _refuse(name: str, reason: str) -> ImageLoadError:
    return ImageLoadError(text_name(name), reason)


def read_input(path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """All bytes of a regular file of at most ``max_bytes``; ImageLoadError otherwise.

    The error's path is the name as text (see :mod:`simdetect.io.names`), so it can be
    written to any report.
    """
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except OSError as exc:
        raise _refuse(name, _os_reason(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(name, f"cannot read file: {file_kind(st.st_mode)}, not a regular file")
    if st.st_size > max_bytes:
        raise _refuse(name, _too_big(st.st_size, max_bytes))
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _refuse(name, _os_reason(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(name, f"cannot read file: {file_kind(st.st_mode)}, not a regular file")
        if st.st_size > max_bytes:
            raise _refuse(name, _too_big(st.st_size, max_bytes))
        return _bounded_read(fd, name, st.st_size, max_bytes)
    except OSError as exc:
        raise _refuse(name, _os_reason(exc)) from None
    finally:
        os.close(fd)


def _bounded_read(fd: int, name: str, expected: int, max_bytes: int) -> bytes:
    buffer = bytearray()
    while len(buffer) <= max_bytes:
        want = min(_CHUNK, max_bytes + 1 - len(buffer))
        chunk = os.read(fd, want)
        if not chunk:
            break
        buffer += chunk
    if len(buffer) > max_bytes:
        raise _refuse(name, _too_big(max(len(buffer), expected), max_bytes))
    return bytes(buffer)


def _too_big(size: int, limit: int) -> str:
    return (
        f"file too large: {size:,} bytes exceeds the limit of {limit:,} bytes "
        f"({limit // (1024 * 1024)} MiB)"
    )


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "cannot read file: symlink loop"
    return f"cannot read file: {exc.strerror or exc}"
