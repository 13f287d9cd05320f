"""Devices as supervised tasks: ``proxy``, ``steerable_proxy`` and ``device``.

A proxy forwards messages between a *frontend* and a *backend* socket, in
each direction the two socket types allow, optionally copying every
forwarded message to a *capture* socket. Here it is a Trio task: started
with ``await nursery.start(...)``, stopped by cancelling its scope, failing
into its nursery. Two engines sit behind one interface
(:class:`trio_zmq._engines.Engine`), one engine a module:

``"native"`` (the default, :mod:`trio_zmq._engines.native`)
    Trio tasks, one per direction, on the sockets' own async API. Each can
    run a synchronous *hook* on every message (filter or transform). A
    message it has taken is delivered, or an error says why not; a close of
    any of its sockets ends it.

``"libzmq"`` (:mod:`trio_zmq._engines.libzmq`)
    libzmq's own ``zmq_proxy_steerable`` in a worker thread, steered through
    an inproc PAIR control socket (``PAUSE``, ``RESUME``, ``STATISTICS``,
    ``TERMINATE``). While that thread runs, the sockets are lent to it:
    every call on them from the Trio side raises ``trio.BusyResourceError``.

This module holds what users touch: the entry points, which check their
arguments and build their engine through ``build_engine``, and
:class:`ProxyControl`, which steers whichever engine runs.
"""

from __future__ import annotations

from typing import final

import trio

from ._engines import (
    Engine,
    EngineName,
    Hook,
    ProxySideStatistics,
    ProxyStatistics,
    build_engine,
)
from ._kinds import DEVICES, kind_name
from ._socket import Socket

__all__ = [
    "ProxyControl",
    "ProxySideStatistics",
    "ProxyStatistics",
    "device",
    "proxy",
    "steerable_proxy",
]


# ----------------------------------------------------------------------
# The control object


@final
class ProxyControl:
    """Steers a running :func:`steerable_proxy`; given by ``nursery.start``.

    The same methods work on both engines. :meth:`pause`, :meth:`resume`
    and :meth:`stop` never wait; on the ``"libzmq"`` engine they queue a
    command that the proxy thread reads between bursts of messages.
    """

    __slots__ = ("_impl",)

    _impl: Engine

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "a ProxyControl comes from `await nursery.start(trio_zmq.steerable_proxy, ...)`"
        )

    @classmethod
    def _create(cls, impl: Engine) -> ProxyControl:
        self = object.__new__(cls)
        self._impl = impl
        return self

    def __repr__(self) -> str:
        impl = self._impl
        state = "stopped" if impl.done else "paused" if impl.paused else "running"
        return f"<trio_zmq.ProxyControl engine={impl.engine!r} {state}>"

    @property
    def engine(self) -> EngineName:
        """Which engine runs the proxy, ``"native"`` or ``"libzmq"``."""
        return self._impl.engine

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` was called without a :meth:`resume` since."""
        return self._impl.paused

    @property
    def stopped(self) -> bool:
        """Whether the proxy task has finished (stopped, cancelled or failed)."""
        return self._impl.done

    def pause(self) -> None:
        """Stop taking messages; they queue in the sockets until :meth:`resume`.

        A message the proxy is already forwarding is still delivered. On the
        ``"libzmq"`` engine the thread pauses when it reads the command.
        Calling it when paused or stopped does nothing.
        """
        self._impl.pause()

    def resume(self) -> None:
        """Forward again after :meth:`pause`. Does nothing unless paused."""
        self._impl.resume()

    def stop(self) -> None:
        """Make the proxy task return (normally, not with ``Cancelled``).

        The sockets stay open. Does nothing once the proxy has stopped.
        """
        self._impl.stop()

    def statistics(self) -> ProxyStatistics:
        """Messages and bytes received and sent on each side so far.

        Returns a frozen snapshot. The native engine answers at once. The
        ``"libzmq"`` engine asks its thread (libzmq's ``STATISTICS`` command)
        and blocks the calling thread until the answer comes, which takes
        microseconds; if the proxy thread does not answer within a second
        (it is then itself blocked, sending to a full socket), this returns
        the last counts it had. After the proxy stopped, returns the final
        counts.

        Synchronous, as pyzmq users expect of a counter: not a checkpoint.
        """
        return self._impl.statistics()


# ----------------------------------------------------------------------
# Public entry points


async def proxy(
    frontend: Socket,
    backend: Socket,
    capture: Socket | None = None,
    *,
    engine: EngineName = "native",
    hook: Hook | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Forward messages between *frontend* and *backend* until cancelled.

    Start it with ``await nursery.start(trio_zmq.proxy, frontend, backend)``,
    which returns once the proxy forwards. Messages go from frontend to
    backend and back, in each direction the socket types allow (a PUB or
    PUSH socket is never read, a SUB or PULL socket never written). With
    *capture*, every forwarded message is also sent there first.

    The caller owns the sockets: they stay open when the proxy returns.

    Args:
        frontend: the socket clients talk to (ROUTER, XSUB, PULL, ...).
        backend: the socket workers talk to (DEALER, XPUB, PUSH, ...).
        capture: a socket that can send (PUB, PUSH, ...) to get a copy of
            every forwarded message; a full capture socket slows the proxy.
        engine: ``"native"`` (Trio tasks, the default) or ``"libzmq"``
            (libzmq's proxy in a worker thread, several times faster; the
            sockets cannot be used from Trio meanwhile).
        hook: native engine only: called as ``hook(side, frames)`` for each
            message, with *side* the socket it came from (``"frontend"`` or
            ``"backend"``); returns the frames to forward, or ``None`` to
            drop the message. It must not block. If it raises, the proxy
            fails with that error. It runs outside trio_zmq's
            KeyboardInterrupt protection: Ctrl-C can stop it.

    Cancellation returns promptly. The native engine never drops a message
    silently: it takes one only when the other side has room, so a
    cancellation lands while it waits and has taken nothing. In the narrow
    race where the room went between the receive and the send (a peer
    vanished), a cancelled proxy makes one last attempt without waiting,
    and if the message cannot go out it raises ``trio.BrokenResourceError``
    saying so. The libzmq engine is told to ``TERMINATE`` and the call
    waits for its thread, which reads the command between bursts of
    messages; a send that libzmq's proxy has blocked on (a DEALER or PUSH
    peer that vanished mid-burst) delays that until the send can proceed.

    Closing any of the sockets (frontend, backend or capture) ends the
    native engine with ``trio.ClosedResourceError`` at once, whichever
    socket it was waiting on. The libzmq engine holds the sockets meanwhile:
    ``close()`` raises ``trio.BusyResourceError`` until it returns. Closing
    their :class:`Context` takes them back: the libzmq engine then stops
    with ``trio.ClosedResourceError``, and the context closes them.

    Raises:
        ValueError: the socket types cannot forward in any direction, the
            capture socket cannot send, a bad *engine*, or a *hook* with the
            libzmq engine (before the proxy starts).
        trio.ClosedResourceError: a socket is or gets closed (one error,
            not an ExceptionGroup).
        trio.BrokenResourceError: native engine, cancelled holding a
            message that the other side had no room for: it was dropped.
        trio.BusyResourceError: libzmq engine: a socket is in use by waiting
            tasks or another libzmq proxy.
        zmq.ZMQError: a socket error (``EHOSTUNREACH`` from a ROUTER with
            ``router_mandatory``, ...); the message involved was dropped.
    """
    impl = build_engine(engine, frontend, backend, capture, hook)
    await impl.run(task_status, None)


async def steerable_proxy(
    frontend: Socket,
    backend: Socket,
    capture: Socket | None = None,
    *,
    engine: EngineName = "native",
    hook: Hook | None = None,
    task_status: trio.TaskStatus[ProxyControl] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A :func:`proxy` that can be paused, resumed, queried and stopped.

    ``control = await nursery.start(trio_zmq.steerable_proxy, frontend,
    backend)`` returns a :class:`ProxyControl` once the proxy forwards.
    ``control.stop()`` makes this task return; cancelling it works too.
    Arguments, cancellation and errors are as for :func:`proxy`; so is a
    close of one of its sockets, which ends the native engine with
    ``trio.ClosedResourceError`` even while it is paused.
    """
    impl = build_engine(engine, frontend, backend, capture, hook)
    await impl.run(task_status, ProxyControl._create(impl))


def _check_device(kind: int, frontend: Socket, backend: Socket) -> None:
    try:
        device = DEVICES[int(kind)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"unknown device kind {kind!r}: use zmq.QUEUE, zmq.FORWARDER or zmq.STREAMER"
        ) from None
    for sock in (frontend, backend):
        if not isinstance(sock, Socket):
            raise TypeError(f"device() takes trio_zmq.Socket objects, not {type(sock).__name__}")
    if not device.fits(frontend.socket_type, backend.socket_type):
        raise ValueError(
            f"a {device.name} device needs {device.wanted} frontend/backend sockets, not "
            f"{kind_name(frontend.socket_type)} / {kind_name(backend.socket_type)}; "
            "use trio_zmq.proxy() to forward between other socket types"
        )


async def device(
    kind: int,
    frontend: Socket,
    backend: Socket,
    *,
    engine: EngineName = "native",
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run one of ZeroMQ's classic devices as a task, until cancelled.

    A :func:`proxy` that first checks that the socket types fit the device:

    * ``zmq.QUEUE``: a ROUTER frontend and a DEALER backend (request-reply
      broker);
    * ``zmq.FORWARDER``: a SUB or XSUB frontend and a PUB or XPUB backend
      (pub-sub relay). With XSUB and XPUB, subscriptions travel upstream
      from subscribers to publishers; a SUB frontend must be subscribed by
      the caller (``subscribe=b""`` for everything);
    * ``zmq.STREAMER``: a PULL frontend and a PUSH backend (pipeline).

    Start it like a proxy, ``await nursery.start(trio_zmq.device, zmq.QUEUE,
    frontend, backend)``; cancellation, errors, closing a socket and
    *engine* are as for :func:`proxy`.

    Raises:
        ValueError: an unknown *kind*, or socket types that do not fit it.
    """
    _check_device(kind, frontend, backend)
    await proxy(frontend, backend, engine=engine, task_status=task_status)
