"""Control-C while a call is inside pyzmq: delivered at the next checkpoint.

Trio raises ``KeyboardInterrupt`` wherever the main thread happens to be
when SIGINT arrives, unless the code there is KI-protected, as Trio's own
primitives are. Raised inside pyzmq's compiled code, it can be lost: on
Python 3.13 a ``KeyboardInterrupt`` raised while libzmq's ``EAGAIN`` is
being turned into ``zmq.Again`` vanishes, and the program sleeps on as if
Ctrl-C had never been pressed. So trio_zmq's own code is KI-protected, like
Trio's: Ctrl-C is delivered at the call's next cancel point instead, which
every async call has at its start and wherever it waits.

Recent Trio releases mark protected code in a registry, at no cost per
call; older ones wrap the function in another layer, which the hot path
cannot afford. There the protection is left out.

User code is another matter. Trio decides whether a frame is protected by
walking outward to the first function marked either way, so a callback
called from protected code (a deserializer, a serializer, a ``json``
``default=`` hook, pickle's ``__reduce__``, a proxy's hook, a CURVE
callback) would be protected too: Ctrl-C would wait until it returns, for
ever if it loops. Every user callback is therefore called through
:func:`call_user` (or awaited through :func:`await_user`), which are marked
unprotected: inside them Ctrl-C arrives at once, as in the user's own code.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from trio.lowlevel import disable_ki_protection, enable_ki_protection

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["await_user", "call_user", "protect_methods"]

P = ParamSpec("P")
T = TypeVar("T")


def _protect(function: Any) -> None:
    if isinstance(function, types.FunctionType):
        enable_ki_protection(function)  # registers function.__code__


#: Whether marking code costs nothing per call (the decorator returns the
#: function itself, instead of a wrapper).
FREE = enable_ki_protection(_protect) is _protect


def protect_methods(cls: type) -> None:
    """KI-protect every method and property accessor that *cls* defines."""
    if not FREE:
        return
    for value in vars(cls).values():
        if isinstance(value, property):
            for accessor in (value.fget, value.fset, value.fdel):
                _protect(accessor)
        elif isinstance(value, (staticmethod, classmethod)):
            _protect(value.__func__)
        else:
            _protect(value)


def call_user(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call a user's callback, ``fn(*args, **kwargs)``, outside KI protection.

    Whatever trio_zmq code calls this, Ctrl-C can interrupt *fn* while it
    runs (Trio raises ``KeyboardInterrupt`` in it), as if the user had
    called it. Use it for every piece of user code trio_zmq runs: hooks,
    callbacks, serializers, deserializers, and library calls that run user
    code (``json.dumps`` with ``default=``, ``pickle.loads``). If *fn*
    returns an awaitable, await it through :func:`await_user`.
    """
    return fn(*args, **kwargs)


async def await_user(awaitable: Awaitable[T], /) -> T:
    """Await a user's awaitable (an async callback's coroutine) outside KI protection.

    Trio decides the protection of a running coroutine by the frames that
    await it, so awaiting it here leaves its code interruptible, as
    :func:`call_user` does for a synchronous callback.
    """
    return await awaitable


if FREE:
    # Marks the code objects; the functions stay as they are. Without FREE
    # nothing of trio_zmq is protected, so user code is not either.
    disable_ki_protection(call_user)
    disable_ki_protection(await_user)
