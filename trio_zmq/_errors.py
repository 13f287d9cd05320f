"""One place that turns libzmq's errors, and bad input, into errors that say what to do.

Every module raises through here: :func:`translate` (or the
:func:`translating` context manager) for libzmq's errors, and one function
per condition for the rest, so that each condition is worded once.
"""

from __future__ import annotations

import contextlib
import errno as _errno
from typing import TYPE_CHECKING, Any, NoReturn

import trio
import zmq

from ._ki import call_user
from ._kinds import KINDS, kind_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

__all__ = [
    "ENDPOINT_FORMS",
    "again",
    "check_flags",
    "check_frames",
    "check_tcp_port",
    "closed_socket",
    "context_closed",
    "context_terminated",
    "endpoint_error",
    "flags_error",
    "frame_error",
    "is_malformed_endpoint",
    "option_type_error",
    "option_value_error",
    "raise_translated",
    "translate",
    "translating",
]


# ----------------------------------------------------------------------
# Closed things


def closed_socket() -> trio.ClosedResourceError:
    return trio.ClosedResourceError("this socket was already closed")


def context_terminated() -> trio.ClosedResourceError:
    return trio.ClosedResourceError("the socket's zmq.Context was terminated")


def context_closed() -> trio.ClosedResourceError:
    return trio.ClosedResourceError("this context was already closed")


def again(message: str) -> zmq.Again:
    """A ``zmq.Again`` that says why (its constructor drops messages)."""
    exc = zmq.Again()
    exc.strerror = f"Resource temporarily unavailable: {message}"
    return exc


# ----------------------------------------------------------------------
# libzmq's errors


def translate(exc: zmq.ZMQError, socket_type: int = 0) -> BaseException:
    """The exception a user should see for *exc*, raised by a call on a socket of *socket_type*."""
    code = exc.errno
    if code == _errno.ENOTSOCK:
        return closed_socket()
    if code == zmq.ETERM:
        return context_terminated()
    kind = KINDS.get(socket_type)
    if code == zmq.EFSM:
        hint = (
            kind.order_hint
            if kind and kind.order_hint
            else "the socket's state does not allow this call now"
        )
        return zmq.ZMQError(zmq.EFSM, f"Operation cannot be accomplished in current state: {hint}")
    if code == zmq.ENOTSUP and kind is not None:
        hint = kind.only_hint or "this socket type does not support the call"
        return zmq.ZMQError(code, f"Operation not supported on a {kind.name} socket: {hint}")
    return exc


def raise_translated(exc: zmq.ZMQError, socket_type: int = 0) -> NoReturn:
    """Raise what :func:`translate` makes of *exc*, chained to it."""
    translated = translate(exc, socket_type)
    if translated is exc:
        raise exc
    raise translated from exc


@contextlib.contextmanager
def translating(socket_type: int = 0) -> Iterator[None]:
    """Translate the libzmq errors raised in the block (see :func:`translate`)."""
    try:
        yield
    except zmq.ZMQError as exc:
        raise_translated(exc, socket_type)


# ----------------------------------------------------------------------
# Endpoints

#: What endpoints look like, for messages about a malformed one.
ENDPOINT_FORMS = (
    "endpoints look like 'tcp://127.0.0.1:5555', 'tcp://*:*', 'ipc:///tmp/name' or 'inproc://name'"
)
# libzmq's errors that mean the endpoint itself is malformed.
_MALFORMED_ENDPOINT = frozenset(
    {_errno.EINVAL, _errno.ENODEV, int(zmq.EPROTONOSUPPORT), int(zmq.ENOCOMPATPROTO)}
)


def is_malformed_endpoint(exc: zmq.ZMQError) -> bool:
    """Whether *exc*, from bind/connect, says the endpoint itself is wrong (not, say, in use)."""
    return exc.errno in _MALFORMED_ENDPOINT


def endpoint_error(exc: zmq.ZMQError, action: str, addr: object) -> BaseException:
    """*exc* from bind/connect/unbind/disconnect, with the endpoint named."""
    code = exc.errno
    if code in (_errno.ENOTSOCK, zmq.ETERM):
        return translate(exc)
    if code == _errno.EADDRINUSE:
        hint = (
            "another socket is already bound there; choose another port, or bind "
            "to port '*' and use the endpoint bind() returns"
        )
    elif code == _errno.ENOENT and action in ("unbind", "disconnect"):
        hint = f"this socket has no such endpoint to {action}; use the exact string bind() returned"
    elif code == zmq.EPROTONOSUPPORT:
        hint = f"this libzmq has no such transport; {ENDPOINT_FORMS}"
    elif is_malformed_endpoint(exc):
        hint = ENDPOINT_FORMS
    else:
        hint = ""
    # pyzmq 26 and later already append the address; it is said once here.
    reason = str(exc.strerror).removesuffix(f" (addr={addr!r})")
    message = f"cannot {action} {addr!r}: {reason}"
    if hint:
        message = f"{message} ({hint})"
    return zmq.ZMQError(code, message)


def check_tcp_port(action: str, addr: str) -> None:
    """Refuse a tcp port past 65535, which libzmq would silently wrap around."""
    if not addr.startswith(("tcp://", "ws://", "wss://")):
        return
    # tcp://[source;]host:port; the port follows the last colon.
    _, _, port = addr.rpartition(":")
    if port.isdigit() and int(port) > 65535:
        raise zmq.ZMQError(
            _errno.EINVAL,
            f"cannot {action} {addr!r}: port {port} is out of range "
            "(ports go from 1 to 65535, or '*' for any free one)",
        )


# ----------------------------------------------------------------------
# Options


def option_value_error(
    exc: zmq.ZMQError, option: int, value: object, socket_type: int
) -> zmq.ZMQError:
    """libzmq's ``EINVAL`` for an option value, with the option and the socket named."""
    try:
        name = zmq.SocketOption(option).name
    except ValueError:
        name = str(option)
    subscription = option in (int(zmq.SUBSCRIBE), int(zmq.UNSUBSCRIBE))
    hint = "; only SUB and XSUB sockets have subscriptions" if subscription else ""
    return zmq.ZMQError(
        exc.errno,
        f"invalid value {value!r} for option {name} on a {kind_name(socket_type)} socket{hint}",
    )


def option_type_error(option: int, value: object) -> TypeError:
    """Text given to an option that takes an int."""
    return TypeError(f"option {zmq.SocketOption(option).name} takes an int, not str {value!r}")


# ----------------------------------------------------------------------
# Frames


def _not_bytes_error(data: object, call: str) -> TypeError:
    if isinstance(data, str):
        return TypeError(
            f"{call}() takes bytes, a buffer or a zmq.Frame, not str; "
            "encode it, or use send_string() to send text"
        )
    if isinstance(data, (list, tuple)):
        return TypeError(
            f"{call}() takes one frame, not a {type(data).__name__}; "
            "use send_multipart() to send a list of frames"
        )
    return TypeError(
        f"{call}() takes bytes, a buffer or a zmq.Frame, not {type(data).__name__}; "
        "use send_json() or send_pyobj() to send other objects"
    )


def frame_error(data: object, call: str) -> TypeError | None:
    """Why pyzmq would refuse *data* as a frame, or ``None`` if it takes it."""
    if type(data) is bytes or isinstance(data, zmq.Frame):
        return None
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        return _not_bytes_error(data, call)
    with view:
        if view.contiguous:
            return None
    return TypeError(
        f"{call}() takes a contiguous buffer, and this {type(data).__name__} is not "
        "(a strided slice, say): pass bytes(frame), or numpy.ascontiguousarray(array)"
    )


def check_frames(parts: Iterable[Any], call: str = "send_multipart") -> Sequence[Any]:
    """The frames of *parts*, in order; fails before the first frame goes out.

    Any iterable of frames is taken, as pyzmq takes it, except one without
    an order (a set would send its frames in any order).
    """
    if type(parts) is list or type(parts) is tuple:
        frames: Sequence[Any] = parts
    elif isinstance(parts, (str, bytes, bytearray, memoryview, zmq.Frame)):
        raise TypeError(
            f"{call}() takes a list of frames, not a single "
            f"{type(parts).__name__}; use send() for a one-frame message"
        )
    elif isinstance(parts, (set, frozenset)):
        raise TypeError(
            f"{call}() takes the frames in order (a list or a tuple), not a "
            f"{type(parts).__name__}, whose frames would go out in any order"
        )
    else:
        try:
            frames_of = iter(parts)
        except TypeError:
            raise TypeError(
                f"{call}() takes a list of frames, not {type(parts).__name__}"
            ) from None
        frames = call_user(list, frames_of)  # a generator is the user's code
    if not frames:
        raise ValueError(f"{call}() needs at least one frame; send [b''] for an empty message")
    for part in frames:
        if type(part) is not bytes:
            error = frame_error(part, call)
            if error is not None:
                raise error
    return frames


# ----------------------------------------------------------------------
# Flags

_NOBLOCK = int(zmq.NOBLOCK)


def flags_error(flags: object, call: str) -> TypeError:
    """*flags* is not an int."""
    return TypeError(
        f"{call}() takes flags as an int (zmq constants such as zmq.NOBLOCK, combined "
        f"with |), not {type(flags).__name__} {flags!r}"
    )


def check_flags(flags: int, call: str) -> int:
    """*flags* with ``zmq.NOBLOCK`` added; a ``TypeError`` naming *call* if they are no int."""
    try:
        return flags | _NOBLOCK
    except TypeError:
        raise flags_error(flags, call) from None
