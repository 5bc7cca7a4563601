"""One running writer per account: an advisory lock file, released by the kernel even after ``kill -9``.

Two processes writing the same account (say the daemon and a manual ``followupd poll``) could both decide a
draft is due and both APPEND it; the lock makes that impossible rather than unlikely.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from types import TracebackType

from followupd.errors import LockError


def lock_path_for(data_dir: Path, account_key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9@._-]+", "_", account_key)
    return data_dir / f"{safe}.lock"


class AccountLock:
    """Context manager holding an exclusive, non-blocking flock on the account's lock file."""

    def __init__(self, path: Path, account_key: str) -> None:
        self.path = path
        self.account_key = account_key
        self._fd: int | None = None

    def __enter__(self) -> AccountLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip()
            os.close(fd)
            raise LockError(
                f"another followupd is already running for {self.account_key}"
                + (f" (pid {holder})" if holder else "")
                + f"; stop it first, or wait for it to finish (lock: {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
