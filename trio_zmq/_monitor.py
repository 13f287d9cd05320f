"""``trio_zmq.open_monitor``: a socket's connection events as an async iterator.

libzmq reports what happens to a socket's connections (listening, connected,
handshake done, disconnected, ...) as two-frame messages on an inproc PAIR
socket: the first frame packs the event id (16 bits) and a value (32 bits,
native byte order), the second is the endpoint.
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

from ._errors import translate
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
    ends after ``EVENT_MONITOR_STOPPED``, which libzmq sends when the
    monitored socket is closed (if the event mask includes it), and when the
    monitor is closed.
    """

    __slots__ = ("_ended", "_sock")

    _sock: Socket
    _ended: bool

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("MonitorEvents come from `async with trio_zmq.open_monitor(sock)`")

    @classmethod
    def _new(cls, sock: Socket) -> MonitorEvents:
        self = object.__new__(cls)
        self._sock = sock
        self._ended = False
        return self

    async def receive(self) -> MonitorEvent:
        """Wait for the next event.

        Raises:
            trio.Cancelled: no event was taken.
            trio.EndOfChannel: the monitor stopped (``EVENT_MONITOR_STOPPED``
                was already received) or was closed.
        """
        if self._ended:
            await trio.lowlevel.checkpoint()
            raise trio.EndOfChannel("the monitor has stopped")
        try:
            frames = await self._sock.recv_multipart()
        except trio.ClosedResourceError:
            self._ended = True
            raise trio.EndOfChannel("the monitor was closed") from None
        event = MonitorEvent._parse(frames)
        if event.event == _STOPPED:
            self._ended = True
        return event

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
    iterating then stops.

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
    sock._check_usable()
    if sock in _monitored:
        raise trio.BusyResourceError(
            "this socket already has an open monitor; libzmq allows one per socket, so "
            "share the events of the first (or close it before opening another)"
        )
    raw = sock.underlying
    addr = f"inproc://trio-zmq-monitor-{next(_names)}-{id(raw):x}"
    try:
        raw.monitor(addr, int(events))
    except zmq.ZMQError as exc:
        translated = translate(exc, 0)
        if translated is exc:
            raise
        raise translated from exc
    finally:
        sock._after_sync_call()
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
        yield MonitorEvents._new(monitor)
    finally:
        _monitored.discard(sock)
        # Stop first, while the reader is still there to take the last event:
        # with the reader gone, that event's send would wait for ever.
        _stop_monitoring(sock)
        if monitor is not None:
            monitor.close(linger=0)


def _stop_monitoring(sock: Socket) -> None:
    if sock.closed or sock._lent_to is not None:
        # Closed: libzmq already stopped the monitor. Lent: the socket belongs
        # to a thread for now; the monitor's events go nowhere and are dropped.
        return
    with contextlib.suppress(zmq.ZMQError):
        sock.underlying.monitor(None, 0)
    sock._after_sync_call()
