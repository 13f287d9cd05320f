"""Short ipc endpoints, wherever the checkout and the temporary directory lie.

libzmq refuses an ipc path longer than 107 bytes (the size of
``sockaddr_un.sun_path``). pytest's ``tmp_path`` lies under ``TMPDIR``, and
nox points ``TMPDIR`` into the checkout (``.nox/SESSION/tmp``), so an ipc file
under ``tmp_path`` or ``tempfile.gettempdir()`` fails from a checkout at an
ordinary but longer path. ipc files therefore go in a fresh directory under
``/tmp`` when it is a writable directory (``tempfile.gettempdir()`` otherwise),
removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import TYPE_CHECKING

import zmq

if TYPE_CHECKING:
    from collections.abc import Iterator

SHORT_ROOT = "/tmp"  # a module attribute, so that a test can pretend it is missing
IPC_PATH_MAX = getattr(zmq, "IPC_PATH_MAX_LEN", 0) or 107


def short_temp_root() -> str:
    """``/tmp`` when it is a writable directory; else ``tempfile.gettempdir()``."""
    if os.path.isdir(SHORT_ROOT) and os.access(SHORT_ROOT, os.W_OK | os.X_OK):
        return SHORT_ROOT
    return tempfile.gettempdir()


@contextmanager
def short_temp_dir() -> Iterator[str]:
    """A new directory with a short path, removed with its contents on exit."""
    path = tempfile.mkdtemp(prefix="tz-", dir=short_temp_root())
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def ipc_endpoint(directory: str, name: str) -> str:
    """``ipc://DIRECTORY/NAME``; a ValueError that says why if libzmq would refuse it."""
    path = os.path.join(directory, name)
    if len(os.fsencode(path)) > IPC_PATH_MAX:
        raise ValueError(f"ipc path longer than {IPC_PATH_MAX} bytes: {path!r}")
    return f"ipc://{path}"
