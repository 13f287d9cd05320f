"""Shared fixtures, and a time bound on every async test.

Each async test runs under ``trio.fail_after(TEST_TIMEOUT)`` (a test may ask
for another bound with ``@pytest.mark.timeout_seconds(N)``), so a lost
wake-up fails the test instead of hanging the suite.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Iterator
from typing import Any

import pytest
import trio

import trio_zmq

from .helpers import ENDPOINTS

pytest_plugins = ["pytester"]

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
def ctx(zmq_context: trio_zmq.Context) -> trio_zmq.Context:
    """The plugin's context (``trio_zmq.testing``), under the name the tests use."""
    return zmq_context


@pytest.fixture(scope="session", autouse=True)
def _remove_helpers_ipc_files() -> Iterator[None]:
    yield
    ENDPOINTS.close()
