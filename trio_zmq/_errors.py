"""One place that turns libzmq's errors into errors that say what to do."""

from __future__ import annotations

import errno as _errno

import trio
import zmq

__all__ = ["again", "closed_socket", "endpoint_error", "translate"]

_REQ_ORDER = (
    "a REQ socket must alternate: send() one request, then recv() its reply, "
    "before it can send again. A recv() that was cancelled or timed out still "
    "owes that reply: call recv() again, or create the socket with "
    "req_relaxed=1, req_correlate=1 so that a new request may replace the old one"
)
_REP_ORDER = (
    "a REP socket must alternate: recv() a request, then send() exactly one "
    "reply to it, before it can receive again"
)
_EFSM_HINTS: dict[int, str] = {
    zmq.REQ: _REQ_ORDER,
    zmq.REP: _REP_ORDER,
}

_ENOTSUP_HINTS: dict[int, str] = {
    zmq.PUB: "a PUB socket only sends; receive with a SUB socket (or use XPUB)",
    zmq.SUB: "a SUB socket only receives; send with a PUB socket (or use XSUB)",
    zmq.PUSH: "a PUSH socket only sends; receive with a PULL socket",
    zmq.PULL: "a PULL socket only receives; send with a PUSH socket",
}


def closed_socket() -> trio.ClosedResourceError:
    return trio.ClosedResourceError("this socket was already closed")


def again(message: str) -> zmq.Again:
    """A ``zmq.Again`` that says why (its constructor drops messages)."""
    exc = zmq.Again()
    exc.strerror = f"Resource temporarily unavailable: {message}"
    return exc


def translate(exc: zmq.ZMQError, socket_type: int) -> BaseException:
    """The exception a user should see for *exc* raised by a socket call."""
    code = exc.errno
    if code == _errno.ENOTSOCK:
        return closed_socket()
    if code == zmq.ETERM:
        return trio.ClosedResourceError("the socket's context was terminated")
    if code == zmq.EFSM:
        hint = _EFSM_HINTS.get(socket_type, "the socket's state does not allow this call now")
        return zmq.ZMQError(zmq.EFSM, f"Operation cannot be accomplished in current state: {hint}")
    if code == zmq.ENOTSUP:
        name = zmq.SocketType(socket_type).name
        hint = _ENOTSUP_HINTS.get(socket_type, "this socket type does not support the call")
        return zmq.ZMQError(code, f"Operation not supported on a {name} socket: {hint}")
    return exc


_ENDPOINT_FORMS = (
    "endpoints look like 'tcp://127.0.0.1:5555', 'tcp://*:*', 'ipc:///tmp/name' or 'inproc://name'"
)


def endpoint_error(exc: zmq.ZMQError, action: str, addr: object) -> BaseException:
    """*exc* from bind/connect/unbind/disconnect, with the endpoint named."""
    code = exc.errno
    if code in (_errno.ENOTSOCK, zmq.ETERM):
        return translate(exc, 0)
    if code == _errno.EADDRINUSE:
        hint = (
            "another socket is already bound there; choose another port, or bind "
            "to port '*' and use the endpoint bind() returns"
        )
    elif code == _errno.ENOENT and action in ("unbind", "disconnect"):
        hint = f"this socket has no such endpoint to {action}; use the exact string bind() returned"
    elif code == zmq.EPROTONOSUPPORT:
        hint = f"this libzmq has no such transport; {_ENDPOINT_FORMS}"
    elif code in (_errno.EINVAL, _errno.ENODEV, zmq.ENOCOMPATPROTO):
        hint = _ENDPOINT_FORMS
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
