"""Socket options as attributes, as pyzmq has them: ``sock.linger = 0``, ``sock.rcvhwm``.

Every option of ``zmq.SocketOption`` is a property of ``trio_zmq.Socket``, by
its name in lower case, that reads and writes through the socket's public
``get`` and ``set`` (and so through its one way into libzmq, ``_gate.py``).
An option whose name is a method of the socket (``subscribe``, ``events``)
keeps the method; assigned as an attribute (``sock.subscribe = b""``), it
is set through ``set``. ``hwm`` reads the send high-water mark and sets both,
as pyzmq's does.
"""

from __future__ import annotations

from typing import Any, Protocol

import zmq

__all__ = ["BYTES_OPTIONS", "OPTION_NAMES", "add_option_properties", "set_option_attribute"]

#: Option names accepted as attributes and as ``ctx.socket(**options)``.
OPTION_NAMES = frozenset(name.lower() for name in zmq.SocketOption.__members__) | {"hwm"}

#: The options that take bytes (text is accepted for them, and encoded).
BYTES_OPTIONS = frozenset(
    int(opt) for opt in zmq.SocketOption if opt._opt_type == zmq.constants._OptType.bytes
)

_SNDHWM = int(zmq.SNDHWM)
_RCVHWM = int(zmq.RCVHWM)


class _Options(Protocol):
    def get(self, option: int) -> Any: ...
    def set(self, option: int, value: Any) -> None: ...


def _option_property(name: str) -> property:
    option = int(zmq.SocketOption[name.upper()])

    def get(self: _Options) -> Any:
        return self.get(option)

    def set(self: _Options, value: Any) -> None:
        self.set(option, value)

    return property(get, set, doc=f"The socket option ``zmq.{name.upper()}``.")


def _get_hwm(self: _Options) -> Any:
    try:
        return self.get(_SNDHWM)
    except zmq.ZMQError:  # a socket type without one
        return self.get(_RCVHWM)


def _set_hwm(self: _Options, value: int) -> None:
    error: zmq.ZMQError | None = None
    for option in (_SNDHWM, _RCVHWM):
        try:
            self.set(option, value)
        except zmq.ZMQError as exc:
            error = exc
    if error is not None:
        raise error


def add_option_properties(cls: type) -> None:
    """Make every option an attribute of *cls*, except where *cls* has the name already."""
    for name in sorted(OPTION_NAMES - {"hwm"} - set(vars(cls))):
        setattr(cls, name, _option_property(name))
    cls.hwm = property(  # type: ignore[attr-defined]
        _get_hwm, _set_hwm, doc="Both high-water marks (as pyzmq's ``hwm``)."
    )


def set_option_attribute(sock: _Options, name: str, value: Any) -> None:
    """``sock.<name> = value`` for an option *name*; ``AttributeError`` for any other name."""
    if name not in OPTION_NAMES:
        raise AttributeError(
            f"trio_zmq.Socket has no socket option {name!r}; options are named as in "
            "zmq.SocketOption, in lower case (linger, rcvhwm, subscribe, ...)"
        )
    if isinstance(getattr(type(sock), name, None), property):
        object.__setattr__(sock, name, value)  # the option's property
    else:  # an option named as a method: ``sock.subscribe = b""``
        sock.set(zmq.SocketOption[name.upper()], value)
