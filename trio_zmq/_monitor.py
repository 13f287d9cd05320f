"""``trio_zmq.open_monitor``: a socket's connection events as an async iterator.

libzmq reports what happens to a socket's connections (listening, connected,
handshake done, disconnected, ...) as two-frame messages on an inproc PAIR
socket: the first frame packs the event id (16 bits) and a value (32 bits,
native byte order), the second is the endpoint.

A task iterating the events sleeps on that PAIR socket, not on the watched
one, and libzmq's own signal of the end (``EVENT_MONITOR_STOPPED``) is not
enough: it is sent only if the event mask asks for it, and only once libzmq
has finished closing the socket, which waits for every connected inproc
peer to next touch its own socket (for ever, if that peer is idle). So the
block runs a small task asleep in ``Socket.wait_closed()`` on the watched
socket; when that socket is closed, it wakes the iterating tasks, which
take the events already queued and then end.
"""

from __future__ import annotations

import contextlib
import itertools
import struct
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

import trio
import zmq

from ._errors import closed_socket
from ._groups import unwrap_groups
from ._socket import Socket

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from typing_extensions import Self

__all__ = ["MonitorEvent", "MonitorEvents", "open_monitor"]

_HEADER = struct.Struct("=HI")
_STOPPED = int(zmq.EVENT_MONITOR_STOPPED)
_names = itertools.count()
# libzmq allows one monitor per socket: a second would silently replace the first.
_monitored: weakref.WeakSet[Socket] = weakref.WeakSet()


@final
@dataclass(frozen=True)
class MonitorEvent:
    """One event of a monitored socket.

    Attributes:
        event: what happened (``zmq.Event.CONNECTED``,
            ``zmq.Event.HANDSHAKE_SUCCEEDED``, ``zmq.Event.DISCONNECTED``, ...).
        value: the event's number: a file descriptor for most connection
            events, the retry interval (ms) for ``CONNECT_RETRIED``, an error
            code for ``*_FAILED`` events.
        endpoint: the endpoint concerned, as text.
    """

    event: zmq.Event
    value: int
    endpoint: str

    @classmethod
    def _parse(cls, frames: list[bytes]) -> MonitorEvent:
        if len(frames) != 2 or len(frames[0]) != _HEADER.size:
            raise ValueError(f"not a libzmq monitor event: {frames!r}")
        event_id, value = _HEADER.unpack(frames[0])
        return cls(zmq.Event(event_id), value, frames[1].decode("utf-8", "replace"))


@final
class MonitorEvents:
    """The events of a monitored socket, in order; given by :func:`open_monitor`.

    ``async for event in events`` yields :class:`MonitorEvent` objects. It
    ends when the monitored socket is closed, once the events already queued
    have been taken; after ``EVENT_MONITOR_STOPPED`` (if the event mask
    includes it); and when the monitor's block is left.

    The events libzmq reports while it finishes closing the socket
    (``CLOSED``, ``DISCONNECTED``, ``MONITOR_STOPPED``) come from its own
    threads a little after ``close()``: those not queued yet when the
    iteration looks are not waited for.
    """

    __slots__ = ("_ended", "_sock", "_waiting", "_watched")

    _sock: Socket
    _watched: Socket
    _ended: bool
    _waiting: set[trio.CancelScope]

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("MonitorEvents come from `async with trio_zmq.open_monitor(sock)`")

    @classmethod
    def _create(cls, sock: Socket, watched: Socket) -> MonitorEvents:
        self = object.__new__(cls)
        self._sock = sock
        self._watched = watched
        self._ended = False
        self._waiting = set()  # the scopes of tasks asleep in receive()
        return self

    async def receive(self) -> MonitorEvent:
        """Wait for the next event.

        Raises:
            trio.Cancelled: no event was taken.
            trio.EndOfChannel: the monitored socket was closed and no event
                is left queued, the monitor stopped
                (``EVENT_MONITOR_STOPPED`` was already received), or the
                monitor's block was left.
        """
        if self._ended:
            await trio.lowlevel.checkpoint()
            raise trio.EndOfChannel("the monitor has stopped")
        frames: list[bytes] | None = None
        try:
            while frames is None:
                if self._watched.closed:
                    frames = await self._take_queued()
                    break
                # Cancelled by _wake_receivers_on_close() when the watched socket is
                # closed: a cancelled receive took nothing.
                with trio.CancelScope() as scope:
                    self._waiting.add(scope)
                    try:
                        frames = await self._sock.recv_multipart()
                    finally:
                        self._waiting.discard(scope)
        except trio.ClosedResourceError:
            self._ended = True
            raise trio.EndOfChannel("the monitor was closed") from None
        event = MonitorEvent._parse(frames)
        if event.event == _STOPPED:
            self._ended = True
        return event

    async def _take_queued(self) -> list[bytes]:
        """The watched socket is closed: an event already queued, or the end."""
        await trio.lowlevel.checkpoint()
        try:
            return self._sock.recv_multipart_nowait()
        except trio.WouldBlock:
            self._ended = True
            raise trio.EndOfChannel("the monitored socket was closed") from None

    async def _wake_receivers_on_close(self) -> None:
        """Run in the block's nursery: when the watched socket closes, wake the receivers."""
        await self._watched.wait_closed()
        for scope in self._waiting:
            scope.cancel()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> MonitorEvent:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


@contextlib.asynccontextmanager
async def open_monitor(sock: Socket, events: int = zmq.EVENT_ALL) -> AsyncIterator[MonitorEvents]:
    """Watch *sock*'s connection events for the duration of the block.

    ::

        async with trio_zmq.open_monitor(sock) as events:
            async for event in events:
                print(event.event.name, event.endpoint)

    Open the monitor before ``connect``/``bind`` to see every event. Leaving
    the block turns the monitor off and closes its socket; a task still
    iterating then stops. Closing *sock* ends the iteration too, once the
    events already queued are taken, whichever events the mask selects.

    The block runs a task that waits for *sock* to be closed (through
    ``Socket.wait_closed()``, which costs the socket nothing and leaves it
    free to be lent to an ``engine="libzmq"`` proxy).

    Args:
        sock: the socket to watch.
        events: which events, as a mask of ``zmq.EVENT_*`` flags.

    Raises:
        trio.BusyResourceError: *sock* already has an open monitor (libzmq
            allows one), or it is lent to a libzmq proxy thread.
        trio.ClosedResourceError: *sock* is closed.
    """
    if not isinstance(sock, Socket):
        raise TypeError(f"open_monitor() takes a trio_zmq.Socket, not {type(sock).__name__}")
    if sock.closed:
        raise closed_socket()
    if sock in _monitored:
        raise trio.BusyResourceError(
            "this socket already has an open monitor; libzmq allows one per socket, so "
            "share the events of the first (or close it before opening another)"
        )
    raw = sock.underlying
    addr = f"inproc://trio-zmq-monitor-{next(_names)}-{id(raw):x}"
    sock.monitor(addr, int(events))
    _monitored.add(sock)
    monitor: Socket | None = None
    try:
        pair: zmq.Socket[Any] = raw.context.socket(zmq.PAIR)
        pair.linger = 0
        # libzmq sends events with a blocking send, in the thread that
        # touches the watched socket: ours. An unbounded pipe means it never
        # waits, even with nobody reading (inproc adds up both ends' HWMs,
        # and a 0 at either end means no limit).
        pair.rcvhwm = 0
        pair.connect(addr)
        monitor = Socket.from_socket(pair)
        stream = MonitorEvents._create(monitor, sock)
        with unwrap_groups():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stream._wake_receivers_on_close)
                yield stream
                nursery.cancel_scope.cancel()
    finally:
        _monitored.discard(sock)
        # Stop first, while the reader is still there to take the last event:
        # with the reader gone, that event's send would wait for ever.
        _stop_monitoring(sock)
        if monitor is not None:
            monitor.close(linger=0)


def _stop_monitoring(sock: Socket) -> None:
    # Closed: libzmq already stopped the monitor. Lent: the socket belongs to
    # a thread for now; the monitor's events go nowhere and are dropped.
    with contextlib.suppress(trio.ClosedResourceError, trio.BusyResourceError, zmq.ZMQError):
        sock.disable_monitor()
