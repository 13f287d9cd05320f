"""ExceptionGroups from internal nurseries, unwrapped where they have one cause.

Channels, the poller, the proxy and the authenticator run tasks in
nurseries of their own; a
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

__all__ = ["single_cause", "unwrap_groups"]


def single_cause(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception *group* stands for, or ``None`` if it holds several.

    *group* comes from one of our nurseries, so only its direct members are
    looked at: a group that a user's code raised inside it is one member, and
    comes out as it was raised. Only ``Cancelled``: the first of them (a
    cancellation from outside reaches every task). One member besides
    ``Cancelled``: that one. Only ``trio.ClosedResourceError``: the first
    (closing one socket fails every task using it, which is one cause).
    """
    members = group.exceptions
    real = [exc for exc in members if not isinstance(exc, trio.Cancelled)]
    if not real:
        return members[0]
    if len(real) == 1 or all(type(exc) is trio.ClosedResourceError for exc in real):
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
