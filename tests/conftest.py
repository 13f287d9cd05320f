"""Shared fixtures, and a time bound on every async test.

Each async test runs under ``trio.fail_after(TEST_TIMEOUT)`` (a test may ask
for another bound with ``@pytest.mark.timeout_seconds(N)``), so a lost
wake-up fails the test instead of hanging the suite.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import zmq

import trio_zmq

from .helpers import short_temp_root

TEST_TIMEOUT = float(os.environ.get("TRIO_ZMQ_TEST_TIMEOUT", "20"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout_seconds(n): the test's trio.fail_after bound")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fn = getattr(item, "obj", None)
        if not inspect.iscoroutinefunction(fn) or hasattr(fn, "hypothesis"):
            continue
        marker = item.get_closest_marker("timeout_seconds")
        limit = float(marker.args[0]) if marker else TEST_TIMEOUT

        @functools.wraps(fn)
        async def bounded(*args: Any, __fn: Any = fn, __limit: float = limit, **kwargs: Any) -> Any:
            with trio.fail_after(__limit):
                return await __fn(*args, **kwargs)

        item.obj = bounded  # type: ignore[attr-defined]


@pytest.fixture
async def ctx() -> AsyncIterator[trio_zmq.Context]:
    async with trio_zmq.Context(linger=0) as context:
        yield context


_counter = 0


def inproc_name(tag: str = "t") -> str:
    global _counter
    _counter += 1
    return f"inproc://{tag}-{os.getpid()}-{_counter}"


def _ipc_name(name: str) -> str:
    """An ipc endpoint: Linux's abstract namespace, or a file in a short temp directory."""
    if sys.platform.startswith("linux"):
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
