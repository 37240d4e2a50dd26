"""One writer at a time per index, enforced by the kernel (flock), so a crash frees it."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from simdetect.errors import IndexLocked


class IndexLock:
    """Exclusive, non-blocking lock on `<index>/LOCK`.

    flock locks die with their process, so a SIGKILLed writer never leaves a
    stale lock behind (unlike a pid file).
    """

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / "LOCK"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise IndexLocked(
                f"index {self.path.parent} is locked by another writer (pid {holder}); "
                "wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> IndexLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
