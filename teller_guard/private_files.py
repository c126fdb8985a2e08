"""Files only the service account may read: the instance folder (0700), the database with its
-wal and -shm, backups and key files (0600).

Under the usual umask (022) SQLite created the database and its WAL world-readable, and they
hold every screening. The process umask is set to 077 at start (`restrict_umask`, from
create_app), so whatever is created later is private too; files the app creates itself are
also opened with an explicit mode, and those of an older instance are tightened at start.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
FOLDER_MODE = 0o700


def restrict_umask() -> None:
    os.umask(PRIVATE_UMASK)


def make_folder(path: Path) -> None:
    """Create the folder (and its parents) 0700, or tighten an existing one of ours."""
    path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    tighten(path, FOLDER_MODE)


def tighten(path: str | Path, mode: int = FILE_MODE) -> None:
    """Take group and other permissions away from an existing file or folder we own."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    if os.name != "posix" or info.st_uid != os.geteuid() or not info.st_mode & 0o077:
        return
    os.chmod(path, stat.S_IMODE(info.st_mode) & mode)


def create_empty(path: str | Path) -> None:
    """Create `path` empty with mode 0600 unless it exists (before SQLite opens it: SQLite
    gives its -wal and -shm the database file's permissions)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass


def write_new(path: Path, text: str, read_back: Callable[[Path, str], str]) -> str:
    """Write a new key file atomically: a temporary file (0600), fsync, then a link to the
    final name, which never replaces a file another process wrote meanwhile (then that one is
    read back with `read_back(path, its text)`). A full disk leaves no file, never an empty or
    partial one. Returns the text now in `path`."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        try:
            os.link(temporary, path)
        except FileExistsError:
            return read_back(path, path.read_text(encoding="ascii"))
        except OSError:  # a file system without hard links: rename, which may replace
            os.replace(temporary, path)
        _sync_folder(path.parent)
        return text
    finally:
        temporary.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the new name itself durable (POSIX; Windows has no folder handles to sync)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
