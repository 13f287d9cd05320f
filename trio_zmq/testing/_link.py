"""``open_link``: a network cable between two peers that a test can slow down, pull and cut.

What it is
----------

A TCP relay. Peers connect to ``link.endpoint`` instead of the endpoint
the real peer is bound to; for each connection the link accepts, it opens
one of its own to the real endpoint and copies bytes between the two. It
relays bytes, not messages, so it works for every socket type and every
security mechanism (CURVE included: it never looks inside), and a fault
lands wherever the bytes happen to be, in the middle of a frame as readily
as between two messages, as on a real network.

Everything runs in tasks of the ``async with`` block's own nursery, on Trio
streams: ``trio.serve_tcp`` accepts, ``trio.open_tcp_stream`` connects.
No threads; leaving the block ends every task and closes every socket.

Each direction of each connection is a delay line of two tasks. The
*reader* waits while the link is partitioned, reads a chunk, pays for it at
the link's rate, and queues it stamped with the time it is due at the far
end (the time it finished "going down the wire", plus the latency). The
*writer* sleeps until a chunk is due, waits while the link is partitioned,
and writes it. The queue between them is bounded (:data:`_QUEUE_CHUNKS`
chunks of at most :data:`_MAX_CHUNK` bytes, 4 MiB): that is what the cable
holds in flight, its bandwidth-delay product, so with a latency *L* one
connection moves at most 4 MiB per *L* seconds each way. Beyond it the
reader stops, and TCP's own backpressure slows the sender.

The faults, and why each is modelled the way it is
--------------------------------------------------

``partition()``
    A real partition drops packets. TCP does not lose data because of it:
    the sender keeps unacknowledged bytes and retransmits them, and its
    window fills up; the receiver sees nothing. Connections stay
    established until some timer (ZMTP heartbeats, TCP keepalive or
    ``TCP_USER_TIMEOUT``) gives up. The link does the same thing in user
    space: while partitioned, no reader reads and no writer writes, so the
    bytes wait in the senders' kernel buffers (and the few already read
    wait in the link), nothing is dropped and nothing is delivered, and
    every connection stays open. ``heal()`` resumes both, and what was held
    flows in order (at once: a chunk that became due during the partition
    is not delayed again).

    A peer that gives up during the partition closes its end. The link is
    not reading, so it notices only after ``heal()``, and then passes the
    close on: the far side learns of it when the network comes back, as it
    would through a real cable.

    A connection a peer opens during the partition is accepted (the kernel
    completes a TCP handshake before any program can refuse it), but the
    link opens its connection to the real endpoint only at ``heal()``:
    meanwhile the peer's handshake makes no progress, as a connect behind a
    dead cable makes none.

    What ``partition()`` stops is what is not already on its way: a write
    that had started (one chunk, waiting for room at a slow receiver) is
    not interrupted.

``cut()``
    Every connection through the link is closed at once, both sides, with
    a reset (``SO_LINGER`` of 0): nothing the link still holds, in its
    queues or its kernel send buffers, is delivered afterwards, and each
    peer sees its connection fail now, also in the middle of a message, as
    when a middlebox drops a connection. The link keeps listening: the
    cable is replaced at once, and peers that reconnect get new
    connections. For a cable that stays out, ``partition()`` then
    ``cut()``; ``heal()`` plugs it back.

``latency``
    Every chunk is delivered no earlier than ``latency`` seconds after it
    was read (and paid for at the rate): each way, so a round trip grows by
    at least twice the latency. Chunks keep their order; the delay does not
    serialize them (many can be on their way at once).

``rate``
    Each direction of the link carries at most ``rate`` bytes per second,
    shared by all the connections through it, as a cable's bandwidth is.
    A chunk of *n* bytes occupies the direction for *n* / ``rate`` seconds
    (a virtual clock, GCRA). Reads are capped at :data:`_PACE_SLICE`
    seconds' worth of bytes, so the pacing is smooth; a reader that the
    scheduler woke late may catch up by at most :data:`_BURST` seconds'
    worth, so a loaded machine still gets the rate on average, and no
    burst after an idle spell exceeds that either.

A new ``latency`` or ``rate`` applies to the bytes read from then on;
chunks already read keep the times they were given.

Errors
------

What a network does to a connection ends that connection only: a peer's
reset, a closed socket, a real endpoint that refuses the link's connection
(the accepted connection is then reset, which the peer sees as a failed
connect, and retries). Anything else is a fault in the link and ends the
block, raised as itself (not in an ``ExceptionGroup``).
"""

from __future__ import annotations

import contextlib
import math
import socket as _stdlib_socket
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

import trio

from .._groups import unwrap_groups

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

__all__ = ["Link", "LinkStatistics", "open_link"]

_LISTEN_HOST = "127.0.0.1"
_MAX_CHUNK = 65536
"""The most bytes one read takes (and one queued chunk holds)."""
_QUEUE_CHUNKS = 64
"""Chunks one direction of a connection holds between its reader and its writer."""
_PACE_SLICE = 0.01
"""Under a rate, one read takes at most this many seconds' worth of bytes."""
_BURST = 0.05
"""Under a rate, how far (in seconds) a direction may catch up after running late."""
_ABORTIVE_LINGER = struct.pack("ii", 1, 0)
"""``struct linger`` on, 0 s: ``close()`` sends a reset and drops unsent bytes."""

_Chunk = tuple[float, bytes]
"""A chunk of bytes on its way, and the time it is due at the far end."""


@final
@dataclass(frozen=True)
class LinkStatistics:
    """A snapshot of a link's traffic, from :meth:`Link.statistics`.

    Attributes:
        connections_open: connections through the link now: accepted and not
            yet closed (held ones included, during a partition).
        connections_accepted: connections the link has accepted since it
            was opened.
        bytes_forward: bytes delivered to the real endpoint, over every
            connection so far. A chunk counts once its write has completed.
        bytes_back: bytes delivered from the real endpoint back to the
            peers that connected to the link, counted the same way.
        partitioned: whether the link is partitioned now.
    """

    connections_open: int
    connections_accepted: int
    bytes_forward: int
    bytes_back: int
    partitioned: bool


@final
class _Way:
    """One direction of the link: its byte count and its pacing clock (shared by connections)."""

    __slots__ = ("delivered", "next_free")

    def __init__(self) -> None:
        self.delivered = 0
        # When the direction has finished sending what it was given, or
        # None when nothing has been paced since the rate was last set.
        self.next_free: float | None = None

    def reserve(self, nbytes: int, rate: float, now: float) -> float:
        """Book *nbytes* at *rate* on this direction; the time they are through."""
        start = now if self.next_free is None else max(self.next_free, now - _BURST)
        self.next_free = start + nbytes / rate
        return self.next_free


@final
class _Connection:
    """One peer's connection through the link, and the one the link opened for it."""

    __slots__ = ("downstream", "scope", "upstream")

    def __init__(self, downstream: trio.SocketStream) -> None:
        self.downstream = downstream
        self.upstream: trio.SocketStream | None = None
        self.scope = trio.CancelScope()

    def abort(self) -> None:
        """Reset both TCP connections now, and stop the tasks relaying them."""
        self.scope.cancel()
        for stream in (self.downstream, self.upstream):
            if stream is None:
                continue
            with contextlib.suppress(OSError):  # already closed: nothing to reset
                stream.setsockopt(
                    _stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_LINGER, _ABORTIVE_LINGER
                )
            # Synchronous, and wakes a task inside a read or write of it
            # (trio.lowlevel.notify_closing): no byte moves after this line.
            stream.socket.close()

    def close(self) -> None:
        """Close both TCP connections the ordinary way, once both ways have ended."""
        for stream in (self.downstream, self.upstream):
            if stream is not None:
                stream.socket.close()


@final
class Link:
    """A TCP relay a test controls like a network cable; made by :func:`open_link`.

    Peers connect to :attr:`endpoint` instead of :attr:`target`. The methods
    are synchronous and take effect at once; call them from the Trio run
    that opened the link. In short (each entry below says exactly what it
    does):

    - :meth:`partition`: no byte moves either way, connections stay open;
      :meth:`heal` lets what was held through, in order.
    - :meth:`cut`: every connection is reset at once; new ones are accepted.
    - :attr:`latency`: seconds added each way.
    - :attr:`rate`: bytes per second each way, or ``None`` (no limit).
    - :meth:`statistics`: connections and bytes so far.
    """

    __slots__ = (
        "_accepted",
        "_back",
        "_connections",
        "_endpoint",
        "_forward",
        "_healed",
        "_latency",
        "_partitioned",
        "_rate",
        "_target",
        "_target_host",
        "_target_port",
    )

    _accepted: int
    _back: _Way
    _connections: set[_Connection]
    _endpoint: str
    _forward: _Way
    _healed: trio.Event
    _latency: float
    _partitioned: bool
    _rate: float | None
    _target: str
    _target_host: str
    _target_port: int

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "make a Link with `async with trio_zmq.testing.open_link(endpoint) as link:`"
        )

    @classmethod
    def _create(cls, target: str, host: str, port: int, latency: float, rate: float | None) -> Link:
        self = object.__new__(cls)
        self._target = target
        self._target_host = host
        self._target_port = port
        self._endpoint = ""  # known once the listener is bound
        self._latency = latency
        self._rate = rate
        self._partitioned = False
        self._healed = trio.Event()
        self._healed.set()
        self._connections = set()
        self._accepted = 0
        self._forward = _Way()
        self._back = _Way()
        return self

    def __repr__(self) -> str:
        return (
            f"<trio_zmq.testing.Link {self._endpoint} -> {self._target}"
            f"{' partitioned' if self._partitioned else ''}"
            f" latency={self._latency!r} rate={self._rate!r}"
            f" connections={len(self._connections)}>"
        )

    # ------------------------------------------------------------------
    # What a test reads and sets

    @property
    def endpoint(self) -> str:
        """Where peers connect instead of :attr:`target`: ``"tcp://127.0.0.1:PORT"``.

        The port is chosen by the operating system when the block is
        entered, and stays the link's until the block is left.
        """
        return self._endpoint

    @property
    def target(self) -> str:
        """The endpoint the link relays to, as given to :func:`open_link`."""
        return self._target

    @property
    def partitioned(self) -> bool:
        """Whether the link is partitioned (:meth:`partition` without a :meth:`heal` since)."""
        return self._partitioned

    @property
    def latency(self) -> float:
        """The delay added to each direction, in seconds (none by default).

        It applies to bytes read from now on.

        Raises:
            TypeError: set to something that is not a number.
            ValueError: set to a negative number, NaN or infinity.
        """
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._latency = _check_latency(seconds)

    @property
    def rate(self) -> float | None:
        """Bytes per second each direction carries, or ``None`` for no limit.

        Shared by every connection through the link, as a cable's
        bandwidth is. Applies to bytes read from now on.

        Raises:
            TypeError: set to something that is neither a number nor ``None``.
            ValueError: set to 0, a negative number, NaN or infinity.
        """
        return self._rate

    @rate.setter
    def rate(self, bytes_per_second: float | None) -> None:
        self._rate = _check_rate(bytes_per_second)
        self._forward.next_free = None
        self._back.next_free = None

    def partition(self) -> None:
        """Stop every byte, both ways, on every connection; the connections stay open.

        Nothing is dropped: the link stops reading and writing, so bytes
        wait in the senders' kernel buffers (and the few already read wait
        in the link) until :meth:`heal`. A write already under way is not
        interrupted. Connections accepted meanwhile are held: the link
        connects them to :attr:`target` only after :meth:`heal`. A second
        call does nothing more.
        """
        if not self._partitioned:
            self._partitioned = True
            self._healed = trio.Event()

    def heal(self) -> None:
        """Let bytes flow again after :meth:`partition`: what was held goes first, in order.

        Without a partition it does nothing.
        """
        self._partitioned = False
        self._healed.set()

    def cut(self) -> None:
        """Close every connection through the link at once, both sides, with a reset.

        Bytes the link still holds are dropped; each peer sees its
        connection fail now, wherever its messages were. The link keeps
        accepting connections (a cut cable replaced at once); after
        :meth:`partition` it holds them until :meth:`heal`.
        """
        connections = list(self._connections)
        self._connections.clear()
        for connection in connections:
            connection.abort()

    def statistics(self) -> LinkStatistics:
        """A snapshot of the link's connections and the bytes relayed each way."""
        return LinkStatistics(
            connections_open=len(self._connections),
            connections_accepted=self._accepted,
            bytes_forward=self._forward.delivered,
            bytes_back=self._back.delivered,
            partitioned=self._partitioned,
        )

    # ------------------------------------------------------------------
    # The relay (tasks in the block's nursery)

    async def _wait_flowing(self) -> None:
        # A heal() followed by another partition() before this task wakes
        # leaves it waiting on the new partition's event.
        while self._partitioned:
            await self._healed.wait()

    async def _listen(
        self, *, task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Accept connections and relay each, until cancelled; report the listeners."""
        # serve_tcp runs the handlers in a nursery of its own: one more group
        # around a fault, with nothing else in it.
        with unwrap_groups():
            await trio.serve_tcp(self._serve, 0, host=_LISTEN_HOST, task_status=task_status)

    async def _serve(self, downstream: trio.SocketStream) -> None:
        """Relay one accepted connection until it ends (run by ``trio.serve_tcp``)."""
        connection = _Connection(downstream)
        self._connections.add(connection)
        self._accepted += 1
        ended = False
        try:
            with connection.scope:
                await self._wait_flowing()
                try:
                    upstream = await trio.open_tcp_stream(self._target_host, self._target_port)
                except OSError:
                    return  # refused or unreachable: the finally resets the peer's connection
                connection.upstream = upstream
                with unwrap_groups():
                    await self._relay(connection, downstream, upstream)
                ended = not connection.scope.cancel_called
        finally:
            # Synchronous, so that a cancellation (the block being left) cannot
            # leave a socket open halfway through.
            self._connections.discard(connection)
            if ended:
                connection.close()  # both ways passed their end of stream on, as TCP would
            else:
                connection.abort()

    async def _relay(
        self, connection: _Connection, downstream: trio.SocketStream, upstream: trio.SocketStream
    ) -> None:
        """Run both directions of *connection*, until both have ended or it is reset."""
        async with trio.open_nursery() as nursery:
            for src, dst, way, name in (
                (downstream, upstream, self._forward, "forward"),
                (upstream, downstream, self._back, "back"),
            ):
                send, receive = trio.open_memory_channel[_Chunk](_QUEUE_CHUNKS)
                task = f"trio_zmq.testing.link {self._endpoint} {name}"
                nursery.start_soon(self._read, connection, src, way, send, name=f"{task} reader")
                nursery.start_soon(
                    self._write, connection, receive, dst, way, name=f"{task} writer"
                )

    async def _read(
        self,
        connection: _Connection,
        src: trio.SocketStream,
        way: _Way,
        queue: trio.MemorySendChannel[_Chunk],
    ) -> None:
        """Read chunks from *src*, pace them, stamp them and queue them; close *queue* at EOF."""
        async with queue:
            with _ending(connection):
                while True:
                    await self._wait_flowing()
                    data = await src.receive_some(_chunk_size(self._rate))
                    if not data:
                        return  # the writer passes the EOF on after what is queued
                    through = trio.current_time()
                    rate = self._rate
                    if rate is not None:
                        through = way.reserve(len(data), rate, through)
                        await trio.sleep_until(through)
                    await queue.send((through + self._latency, data))

    async def _write(
        self,
        connection: _Connection,
        queue: trio.MemoryReceiveChannel[_Chunk],
        dst: trio.SocketStream,
        way: _Way,
    ) -> None:
        """Write each queued chunk to *dst* when it is due; pass the end of stream on."""
        async with queue:
            with _ending(connection):
                async for due, data in queue:
                    await trio.sleep_until(due)
                    await self._wait_flowing()
                    await dst.send_all(data)
                    way.delivered += len(data)
                await dst.send_eof()


@contextlib.contextmanager
def _ending(connection: _Connection) -> Iterator[None]:
    """What breaks one half of a direction (a reset, a close) resets the whole connection."""
    try:
        yield
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        # A peer's reset, a write to a peer that has gone, or our own close
        # (cut(), or the other half that broke first): the network's doing,
        # not the link's, so it ends this connection and nothing else.
        connection.abort()


def _chunk_size(rate: float | None) -> int:
    if rate is None:
        return _MAX_CHUNK
    return max(1, min(_MAX_CHUNK, int(rate * _PACE_SLICE)))


# ----------------------------------------------------------------------
# Checking what open_link() and the setters are given


def _check_latency(seconds: object) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(
            f"latency is a number of seconds (0 for none), not {type(seconds).__name__}: "
            f"write link.latency = 0.05 for 50 ms each way"
        )
    value = float(seconds)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(
            f"latency must be a finite number of seconds >= 0, not {seconds!r}: "
            f"0 adds none, 0.05 adds 50 ms each way"
        )
    return value


def _check_rate(bytes_per_second: object) -> float | None:
    if bytes_per_second is None:
        return None
    if isinstance(bytes_per_second, bool) or not isinstance(bytes_per_second, (int, float)):
        raise TypeError(
            f"rate is a number of bytes per second, or None for no limit, "
            f"not {type(bytes_per_second).__name__}: write link.rate = 1_000_000 for 1 MB/s"
        )
    value = float(bytes_per_second)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"rate must be a finite number of bytes per second > 0, not {bytes_per_second!r}: "
            f"set it to None for no limit, or partition() the link to stop the bytes"
        )
    return value


def _parse_target(endpoint: object) -> tuple[str, int]:
    """The host and port of a tcp endpoint to connect to; errors that say what to pass."""
    if not isinstance(endpoint, str):
        raise TypeError(
            f"open_link() takes the real peer's endpoint as a str such as "
            f"'tcp://127.0.0.1:5555', not {type(endpoint).__name__}"
        )
    scheme, sep, address = endpoint.partition("://")
    if not sep or scheme != "tcp":
        raise ValueError(
            f"open_link() relays TCP, so it needs a tcp:// endpoint, not {endpoint!r}: "
            f"bind the real peer to 'tcp://127.0.0.1:*' and pass the endpoint bind() returns"
        )
    if ";" in address:
        raise ValueError(
            f"open_link() connects from an address of the system's choosing: "
            f"drop the source address from {endpoint!r}"
        )
    host, sep, port_text = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or host == "*":
        raise ValueError(
            f"open_link() connects to the real peer, so it needs its host and port, "
            f"not {endpoint!r}: pass the endpoint its bind() returned, "
            f"such as 'tcp://127.0.0.1:5555'"
        )
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(
            f"open_link() needs the port the real peer is bound to, not {port_text!r} "
            f"in {endpoint!r}: bind with port '*' and pass the endpoint bind() returns"
        )
    return host, int(port_text)


# ----------------------------------------------------------------------
# The block


def open_link(
    endpoint: str, *, latency: float = 0.0, rate: float | None = None
) -> contextlib.AbstractAsyncContextManager[Link]:
    """Relay TCP connections to *endpoint* through a cable the test controls.

    ::

        rep_endpoint = rep.bind("tcp://127.0.0.1:*")
        async with trio_zmq.testing.open_link(rep_endpoint) as link:
            req.connect(link.endpoint)
            link.latency = 0.05
            ...
            link.partition()
            ...
            link.heal()

    Entering the block binds a listener on 127.0.0.1 (a port the system
    chooses, in :attr:`Link.endpoint`) and starts the relay in the block's
    own nursery; it waits for nothing else. Each connection the link
    accepts gets a connection of its own to *endpoint*, opened then, so the
    real peer need only be bound by the time a peer connects. See
    :class:`Link` for the controls.

    Leaving the block resets every connection through the link, closes
    the listener and ends every relay task, at once; the peers see their
    connections fail. Cancelling the block does the same.

    The arguments are checked when ``open_link()`` is called, before the
    block is entered.

    Args:
        endpoint: the real peer's tcp endpoint, such as
            ``"tcp://127.0.0.1:5555"`` (what its ``bind()`` returned).
        latency: the link's initial :attr:`Link.latency`, in seconds.
        rate: the link's initial :attr:`Link.rate`, in bytes per second,
            or ``None`` for no limit.

    Returns:
        An async context manager; ``async with`` it to get the :class:`Link`.

    Raises:
        TypeError: *endpoint* is not a ``str``, or *latency* or *rate* not
            a number.
        ValueError: *endpoint* is not a ``tcp://`` endpoint with a host and
            a port, *latency* is negative, or *rate* is not above 0.
        OSError: entering the block, the listener could not be bound.

    A fault in the relay itself (not a peer's reset or a refused
    connection, which end that one connection, as on a network) ends the
    block and is raised from it as itself, not in an ``ExceptionGroup``.
    """
    host, port = _parse_target(endpoint)
    link = Link._create(endpoint, host, port, _check_latency(latency), _check_rate(rate))
    return _run(link)


@contextlib.asynccontextmanager
async def _run(link: Link) -> AsyncIterator[Link]:
    with unwrap_groups():
        async with trio.open_nursery() as nursery:
            listeners: list[trio.SocketListener] = await nursery.start(
                link._listen, name=f"trio_zmq.testing.link to {link.target} listener"
            )
            port: int = listeners[0].socket.getsockname()[1]
            link._endpoint = f"tcp://{_LISTEN_HOST}:{port}"
            try:
                yield link
            finally:
                nursery.cancel_scope.cancel()
                link.cut()  # now, rather than when each task gets to its finally
