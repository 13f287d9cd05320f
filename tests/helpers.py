"""Helpers shared by the tests: endpoints, socket pairs, subscriptions.

Short ipc endpoints, wherever the checkout and the temporary directory lie:

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
import sys
import tempfile
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import trio
import zmq

import trio_zmq

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


_counter = 0


def inproc_name(tag: str = "t") -> str:
    global _counter
    _counter += 1
    return f"inproc://{tag}-{os.getpid()}-{_counter}"


_ABSTRACT: bool = sys.platform.startswith("linux")


def _ipc_name(name: str) -> str:
    """An ipc endpoint: Linux's abstract namespace, or a file in a short temp directory."""
    if _ABSTRACT:
        return f"ipc://@{name}"
    return f"ipc://{os.path.join(short_temp_root(), name)}"


def pair(
    ctx: trio_zmq.Context, a_type: int, b_type: int, transport: str = "inproc", **options: Any
) -> tuple[trio_zmq.Socket, trio_zmq.Socket]:
    """Two sockets of *ctx*, *a* bound and *b* connected over *transport*."""
    a = ctx.socket(a_type, **options)
    b = ctx.socket(b_type, **options)
    if transport == "inproc":
        endpoint = a.bind(inproc_name())
    elif transport == "tcp":
        endpoint = a.bind("tcp://127.0.0.1:*")
    elif transport == "ipc":
        endpoint = a.bind(_ipc_name(f"trio-zmq-test-{os.getpid()}-{id(a)}"))
    else:  # pragma: no cover
        raise ValueError(transport)
    b.connect(endpoint)
    return a, b


async def wait_subscribed(pub: trio_zmq.Socket, sub: trio_zmq.Socket, topic: bytes = b"") -> None:
    """Publish probes until *sub* sees one: the subscription has reached *pub*."""
    while True:
        await pub.send(topic + b"\x00probe")
        with trio.move_on_after(0.02):
            while True:
                msg = await sub.recv()
                if msg.endswith(b"\x00probe"):
                    break
            # drain any other probes already in flight
            while True:
                try:
                    await sub.recv(zmq.NOBLOCK)
                except zmq.Again:
                    return
