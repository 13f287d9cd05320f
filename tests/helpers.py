"""Helpers shared by the tests: socket pairs on the plugin's endpoints, and short
directories for the ipc endpoints of the command line's subprocesses.

Short ipc endpoints, wherever the checkout and the temporary directory lie:

libzmq refuses an ipc path longer than 107 bytes (the size of
``sockaddr_un.sun_path``). pytest's ``tmp_path`` lies under ``TMPDIR``, and
nox points ``TMPDIR`` into the checkout (``.nox/SESSION/tmp``), so an ipc file
under ``tmp_path`` or ``tempfile.gettempdir()`` fails from a checkout at an
ordinary but longer path. ipc files therefore go in a fresh directory under
``/tmp`` when it is a writable directory (``tempfile.gettempdir()`` otherwise),
removed afterwards (``trio_zmq.testing``'s endpoints follow the same rule).
Subscriptions are proven with ``trio_zmq.testing.wait_subscribed``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import trio
import zmq

import trio_zmq
from trio_zmq.testing._endpoints import Endpoints

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


#: The endpoints of helpers that make sockets without fixtures: the plugin's
#: own maker (``trio_zmq.testing``), whose ipc directory conftest.py removes
#: when the session ends.
ENDPOINTS = Endpoints()


def inproc_name(tag: str = "t") -> str:
    """A fresh inproc endpoint (*tag* says whose, for reading a failure)."""
    return ENDPOINTS("inproc").replace("inproc://", f"inproc://{tag}-", 1)


def pair(
    ctx: trio_zmq.Context, a_type: int, b_type: int, transport: str = "inproc", **options: Any
) -> tuple[trio_zmq.Socket, trio_zmq.Socket]:
    """Two sockets of *ctx*, *a* bound and *b* connected over *transport*.

    The synchronous twin of the plugin's ``zmq_pair`` fixture, for tests that
    make pairs in loops or outside fixtures: it proves no subscription.
    """
    a = ctx.socket(a_type, **options)
    b = ctx.socket(b_type, **options)
    b.connect(a.bind(ENDPOINTS(transport)))  # type: ignore[arg-type]
    return a, b


def drain(sock: trio_zmq.Socket) -> list[list[bytes]]:
    """Every message *sock* holds, received without waiting."""
    messages = []
    while True:
        try:
            messages.append(sock.recv_multipart_nowait())
        except trio.WouldBlock:
            return messages


def fill(sock: trio_zmq.Socket) -> None:
    """Send from *sock* until its pipe is full."""
    while True:
        try:
            sock.send_nowait(b"fill")
        except trio.WouldBlock:
            return
