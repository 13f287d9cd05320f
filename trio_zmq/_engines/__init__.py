"""The proxy's engines, one a module, behind one interface (as httpcore's ``_backends``).

``native.py`` runs a proxy as Trio tasks; ``libzmq.py`` runs libzmq's own
proxy in a worker thread; ``sides.py`` holds what both count. Nothing here
imports :mod:`trio_zmq._proxy`, which holds ``ProxyControl`` and the entry
points and reaches the engines only through :class:`Engine` and
:func:`build_engine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

from .._kinds import kind_name
from .._socket import Socket
from .libzmq import LibzmqEngine
from .native import Hook, NativeEngine
from .sides import ProxySideStatistics, ProxyStatistics, Side, can_send, forwards

if TYPE_CHECKING:
    import trio

__all__ = [
    "Engine",
    "EngineName",
    "Hook",
    "ProxySideStatistics",
    "ProxyStatistics",
    "Side",
    "build_engine",
]

#: The engines: ``"native"`` (Trio tasks) or ``"libzmq"`` (a worker thread).
EngineName: TypeAlias = Literal["native", "libzmq"]


class Engine(Protocol):
    """What ``ProxyControl`` and the entry points need of an engine.

    :meth:`pause`, :meth:`resume` and :meth:`stop` never wait, and do
    nothing when there is nothing to do (pausing a paused proxy, anything
    once it has stopped).
    """

    @property
    def engine(self) -> EngineName:
        """The engine's name."""

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` was called without a :meth:`resume` since."""

    @property
    def done(self) -> bool:
        """Whether :meth:`run` has finished (stopped, cancelled or failed)."""

    def pause(self) -> None:
        """Stop taking messages until :meth:`resume`."""

    def resume(self) -> None:
        """Forward again after :meth:`pause`."""

    def stop(self) -> None:
        """Make :meth:`run` return normally."""

    def statistics(self) -> ProxyStatistics:
        """The counts so far, frozen; after :meth:`run`, the final ones."""

    async def run(self, task_status: trio.TaskStatus[Any], value: object) -> None:
        """Forward until stopped, cancelled or failed; report *value* once forwarding."""


def build_engine(
    name: str, frontend: Socket, backend: Socket, capture: Socket | None, hook: Hook | None
) -> Engine:
    """Check a proxy's arguments and make the engine *name* for them; nothing runs yet.

    Every entry point builds its engine here, so every one refuses the same
    arguments, the same way, before any task or thread starts and before any
    socket is lent. (The libzmq engine makes its inproc control pair here;
    its :meth:`~Engine.run` closes it, so a built engine is meant to be run.)

    Raises:
        ValueError: *name* is not ``"native"`` or ``"libzmq"``; a *hook*
            with the libzmq engine; socket types that cannot forward either
            way; a capture socket that cannot send.
        TypeError: a socket that is not a ``trio_zmq.Socket``.
    """
    if name not in ("native", "libzmq"):
        raise ValueError(f"engine must be 'native' or 'libzmq', not {name!r}")
    if name == "libzmq" and hook is not None:
        raise ValueError("a hook needs engine='native': libzmq's proxy cannot call Python")
    _check_sockets(frontend, backend, capture)
    if name == "native":
        return NativeEngine(frontend, backend, capture, hook)
    return LibzmqEngine(frontend, backend, capture)


def _check_sockets(frontend: Socket, backend: Socket, capture: Socket | None) -> None:
    for role, sock in (("frontend", frontend), ("backend", backend), ("capture", capture)):
        if sock is not None and not isinstance(sock, Socket):
            raise TypeError(
                f"the proxy's {role} must be a trio_zmq.Socket, not {type(sock).__name__}; "
                "wrap a pyzmq socket with trio_zmq.Socket.from_socket()"
            )
    if not (forwards(frontend, backend) or forwards(backend, frontend)):
        raise ValueError(
            f"a {kind_name(frontend.socket_type)} frontend and a "
            f"{kind_name(backend.socket_type)} backend cannot forward in either direction"
        )
    if capture is not None and not can_send(capture):
        raise ValueError(
            f"the capture socket must be able to send; a {kind_name(capture.socket_type)} "
            "cannot (use PUB, PUSH, PAIR or DEALER)"
        )
