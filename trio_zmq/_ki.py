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
"""

from __future__ import annotations

import types
from typing import Any

from trio.lowlevel import enable_ki_protection

__all__ = ["protect_methods"]


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
