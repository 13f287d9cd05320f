"""ExceptionGroups from internal nurseries, unwrapped where they have one cause.

Channels, the poller and the proxy run tasks in nurseries of their own; a
user who calls one of them made one call, and expects the one exception it
failed with, as trio-websocket does for its internal nursery. Trio may wrap
that exception in a group together with the ``Cancelled`` of the sibling
tasks it cancelled on the way out: the siblings are noise, the cause is the
exception.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

import trio

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["leaves", "single_cause", "unwrap_groups"]


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside *exc*, groups flattened (``[exc]`` for a non-group)."""
    if not isinstance(exc, BaseExceptionGroup):
        return [exc]
    found: list[BaseException] = []
    for inner in exc.exceptions:
        found.extend(leaves(inner))
    return found


def single_cause(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception *group* stands for, or ``None`` if it holds several.

    Only ``Cancelled``: the first of them (a cancellation from outside reaches
    every task). One exception besides ``Cancelled``: that one. Only
    ``trio.ClosedResourceError``: the first (closing one socket fails every
    task using it, which is one cause).
    """
    found = leaves(group)
    real = [exc for exc in found if not isinstance(exc, trio.Cancelled)]
    if not real:
        return found[0]
    if len(real) == 1 or all(isinstance(exc, trio.ClosedResourceError) for exc in real):
        return real[0]
    return None


@contextlib.contextmanager
def unwrap_groups() -> Iterator[None]:
    """Raise the single cause of an ExceptionGroup by itself; other groups pass."""
    cause: BaseException | None = None
    try:
        yield
    except BaseExceptionGroup as group:
        cause = single_cause(group)
        if cause is None:
            raise
    if cause is not None:
        # Raised outside the except clause, so that the group does not become
        # its __context__: the user sees the error with its own chain.
        try:
            raise cause
        finally:
            del cause
