"""Advisory locks (flock) on folders: a run holds one on its library, and one on each temp
folder it works in, so that another run never mistakes them for leftovers. A lock is
released when its descriptor is closed or the process ends, however it ends.

Where flock() does not exist (Windows) or the filesystem refuses it (some SMB/NFS mounts),
everything runs unlocked."""

from __future__ import annotations

import logging
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

UNLOCKED = -1


def lock_folder(path: Path) -> int | None:
    """Take an exclusive lock on the folder `path`. Returns the descriptor that holds it
    (close it to release), UNLOCKED where locking is impossible, or None when another
    process holds the lock."""
    if fcntl is None:
        return UNLOCKED
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        log.debug("cannot open %s to lock it (%s); running without the lock", path, exc)
        return UNLOCKED
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError as exc:  # e.g. ENOLCK on some network filesystems
        log.debug("cannot lock %s (%s); running without the lock", path, exc)
    return fd


def unlock(fd: int | None) -> None:
    if fd is not None and fd != UNLOCKED:
        os.close(fd)


def folder_in_use(path: Path) -> bool:
    """True when a live process holds the lock on the folder `path`."""
    fd = lock_folder(path)
    unlock(fd)
    return fd is None
