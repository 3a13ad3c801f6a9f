"""Writing files so that nothing half-written is ever left behind, and content digests of files.

Every writer of the toolkit writes to a temporary name in the destination's folder and renames it over the
destination only once the file is complete (a rename within a filesystem is atomic): an interrupted run leaves
either the old file or the new one, never a truncated mix.

A process that is killed (preemption, out of memory, an elastic restart) cannot remove its temporary file, so the
name says who wrote it, ``.<stem>.tmp-<host>-<pid><suffix>``, and a job that starts again in the same folder calls
``remove_stale_temps``: it removes what dead writers left and leaves alone the files that parallel writers are
still writing.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname().split(".")[0]) or "host"
_TEMP_NAME = re.compile(r"^\.(?P<stem>.*)\.tmp-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)(?P<suffix>\.[^.]*)?$")
# A temporary file of another machine's process is taken as abandoned once untouched this long: no writer of the
# toolkit pauses for minutes between writes of one file.
FOREIGN_TEMP_STALE_S = 3600.0


def temp_path(path: str | os.PathLike) -> Path:
    """The name ``path`` is written under until it is complete: hidden, beside it, naming this host and process,
    with the same suffix (so that writers which go by the extension still work)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp-{_HOST}-{os.getpid()}{path.suffix}")


def temp_target(name: str) -> str | None:
    """The name of the file that the temporary file ``name`` (a ``temp_path`` name) becomes; None for other names."""
    match = _TEMP_NAME.match(name)
    return None if match is None else match["stem"] + (match["suffix"] or "")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike, all_writers: bool = False) -> list[Path]:
    """Remove the temporary files (``temp_path`` names) in ``folder`` whose writers were killed mid-write.

    A file counts as stale when its process, on this host, no longer runs, or when it comes from another host and
    has not been touched for ``FOREIGN_TEMP_STALE_S``. ``all_writers`` removes every one of them: for a folder
    the caller alone writes into, before it writes. Returns the files removed.
    """
    folder = Path(folder)
    removed = []
    for path in folder.glob(".*.tmp-*") if folder.is_dir() else ():
        match = _TEMP_NAME.match(path.name)
        if match is None:
            continue
        try:
            if not all_writers and (_running(int(match["pid"])) if match["host"] == _HOST
                                    else time.time() - path.stat().st_mtime < FOREIGN_TEMP_STALE_S):
                continue
            path.unlink()
        except FileNotFoundError:  # its writer finished and renamed it meanwhile
            continue
        removed.append(path)
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (``temp_path``); it replaces ``path`` when the block ends normally
    and is removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_torch_save(obj: object, path: str | os.PathLike) -> Path:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's contents, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_stamp(paths: Iterable[str | os.PathLike]) -> str:
    """sha256 over the path, size and modification time of each file (a missing file counts as such): cheap to
    take for a whole corpus, and it changes when a file is written again under the same name."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            st = os.stat(path)
            digest.update(f"{path}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}\tmissing\n".encode())
    return digest.hexdigest()
