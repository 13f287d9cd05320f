"""``trio_zmq.Socket``: pyzmq's socket API, with Trio's guarantees.

Every async call has the same shape as ``trio.MemorySendChannel.send``:

1. a cheap cancel check and owner check (``needs_full_entry`` in
   ``_runs.py``, which decides as ``checkpoint_if_cancelled`` does, in one
   plain call), so a call in a cancelled scope raises ``Cancelled`` before
   touching the socket;
2. the non-blocking attempt (``zmq.NOBLOCK``), through the one way into
   libzmq, :meth:`~trio_zmq._gate.Gate.now`; when it succeeds the call has
   taken effect, and from then on it can no longer be cancelled: the
   occasional schedule point after it is cancel-shielded
   (see ``_checkpoints.py``);
3. only when the attempt comes back :data:`~trio_zmq._gate.AGAIN` does the
   call go on to the one slow path that every send and receive shares,
   :meth:`Socket._retry`: wait, through the socket's shared
   :class:`~trio_zmq._readiness.Readiness`, and try again. A cancellation
   lands only while waiting, when nothing was sent or received.

Trying first and waiting second is also what the edge-triggered ``zmq.FD``
wants: the socket may well be ready while its FD is silent. (Trio's own
``_socket.py`` sends every operation through one ``_nonblocking_helper`` in
the same way.) The ``*_nowait`` twins are the attempt alone, with
``trio.WouldBlock`` for :data:`~trio_zmq._gate.AGAIN`.

Each step is written once, and each call names them in order, in a few
lines. The steps are not folded into one shared coroutine: awaiting one
more coroutine costs about 70 ns a call here, some 5% of a small send
(``docs/performance.md``).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import pickle
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, final, overload

import trio
import zmq
import zmq.backend
from trio.lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
    notify_closing,
)
from zmq.utils import jsonapi

from ._errors import (
    again,
    check_flags,
    check_frames,
    check_tcp_port,
    closed_socket,
    endpoint_error,
    flags_error,
    frame_error,
    option_type_error,
    option_value_error,
)
from ._gate import AGAIN, Again, Gate
from ._ki import call_user, protect_methods
from ._kinds import DISCARDS_REST
from ._options import BYTES_OPTIONS, add_option_properties, set_option_attribute
from ._owner import Owner
from ._readiness import Readiness
from ._runs import current_owner_token, needs_full_entry
from ._turn import SendTurn

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from types import TracebackType

    from trio.lowlevel import Task
    from typing_extensions import Buffer, Self


__all__ = ["Socket", "SocketStatistics", "wrap_new", "wrapper_of"]

T = TypeVar("T")

# The Cython methods under pyzmq's Python layer: same semantics, without the
# Python-level argument juggling (about half the cost of a small send).
_send: Any = zmq.backend.Socket.send
_recv: Any = zmq.backend.Socket.recv
_get: Any = zmq.backend.Socket.get

# Plain ints: arithmetic on pyzmq's enum flags costs microseconds a call.
_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)
_EVENTS = int(zmq.EVENTS)
_RCVTIMEO = int(zmq.RCVTIMEO)
_SNDTIMEO = int(zmq.SNDTIMEO)

# Seconds between retries when EVENTS says ready but the call would block
# (see _wait_and_attempt).
_MIN_PAUSE = 0.001
_MAX_PAUSE = 0.016


def _close_fd(fd: int) -> None:
    """Close *fd*, waking whoever waits on it (Trio's order: notify, then close)."""
    with contextlib.suppress(RuntimeError):  # outside a run nobody can wait on it
        notify_closing(fd)
    os.close(fd)


#: Each pyzmq socket's wrapper, by the socket's id (the wrapper holds the
#: socket, so the id is the socket's while the entry lives).
_wrappers: weakref.WeakValueDictionary[int, Socket] = weakref.WeakValueDictionary()


def wrapper_of(sock: zmq.Socket[Any]) -> Socket | None:
    """The :class:`Socket` that wraps *sock*, if one does."""
    wrapper = _wrappers.get(id(sock))
    return wrapper if wrapper is not None and wrapper.underlying is sock else None


@final
@dataclass(frozen=True)
class SocketStatistics:
    """What is going on at a socket, from :meth:`Socket.statistics`.

    Attributes:
        tasks_waiting_send: tasks inside a send that is waiting (for room,
            for a peer, or for their turn behind another task's open
            multipart message).
        tasks_waiting_receive: tasks inside a receive that is waiting.
        send_turn_owner: the task halfway through a multipart message (it
            sent a frame with ``zmq.SNDMORE`` and not yet the last), or
            ``None``.
        lent_to: who the socket is lent to (:meth:`Socket.lend`), or ``None``.
        closed: whether the socket is closed.
    """

    tasks_waiting_send: int
    tasks_waiting_receive: int
    send_turn_owner: trio.lowlevel.Task | None
    lent_to: str | None
    closed: bool


def _recv_parts(sock: zmq.Socket[Any], once: int, copy: bool, track: bool) -> list[Any]:
    """Receive a whole message at once, or raise ``zmq.Again`` having taken none.

    libzmq queues a message only once all of it has arrived, so after the
    first frame the rest are there. Each frame is received as a
    ``zmq.Frame``, whose ``more`` says whether another follows: asking the
    socket (``RCVMORE``) instead costs more than the receive itself, in
    pyzmq's lookup of the option (``docs/performance-log.md``). With *copy*,
    each frame's bytes are copied out once, as pyzmq's copying receive does
    (which tracks nothing).
    """
    if not copy:
        frames = [_recv(sock, once, False, track)]
        while frames[-1].more:
            frames.append(_recv(sock, _NOBLOCK, False, track))
        return frames
    frame = _recv(sock, once, False, False)
    parts = [frame.bytes]
    while frame.more:
        frame = _recv(sock, _NOBLOCK, False, False)
        parts.append(frame.bytes)
    return parts


@final
class Socket:
    """A ZeroMQ socket for Trio programs.

    Make one with :meth:`trio_zmq.Context.socket` or wrap a pyzmq socket with
    :meth:`from_socket`. Use it as an async context manager to close it when
    the block exits.

    The synchronous methods (``bind``, ``connect``, options, ``subscribe``)
    never wait. The async methods wait for the socket and follow Trio's
    rules: each is a cancel point; a call that raises ``trio.Cancelled`` had
    no effect; a call that returns took effect; any number of tasks may use
    one socket at once; :meth:`close` wakes every waiting task with
    ``trio.ClosedResourceError``. A call that completes without waiting
    yields to the scheduler once every
    :data:`trio_zmq.SCHEDULE_INTERVAL` such calls
    (:func:`trio_zmq.set_strict_checkpoints` makes it every call).

    ``async for msg in sock`` receives one multipart message (a
    ``list[bytes]``) per step, as :meth:`recv_multipart` does, and ends when
    the socket is closed.

    Socket options are readable and writable as attributes, as in pyzmq
    (``sock.linger = 0``, ``sock.rcvhwm``).
    """

    __slots__ = (
        "__weakref__",
        "_fd_closer",
        "_fd_copy",
        "_gate",
        "_on_close",
        "_owner",
        "_rcvtimeo",
        "_rd",
        "_slept",
        "_sndtimeo",
        "_sock",
        "_turn",
        "_type",
        "_waiters",
    )

    _sock: zmq.Socket[Any]
    _rd: Readiness
    _gate: Gate
    _owner: Owner
    _type: int
    _rcvtimeo: int
    _sndtimeo: int
    _turn: SendTurn
    _slept: int
    _on_close: Callable[[Socket], object] | None
    _waiters: list[int]
    _fd_copy: int | None
    _fd_closer: weakref.finalize[[int], Socket]

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "make a trio_zmq.Socket with ctx.socket(zmq.TYPE) on a trio_zmq.Context, "
            "or wrap a pyzmq socket with trio_zmq.Socket.from_socket(sock)"
        )

    @classmethod
    def from_socket(cls, sock: zmq.Socket[Any]) -> Socket:
        """Wrap a socket made by pyzmq.

        The wrapper takes over the socket: close it through the wrapper, and do
        not use it directly while the wrapper is in use (a direct call can
        swallow the FD's edge the wrapper's tasks are waiting for). A socket
        has one wrapper: wrapping it again returns the same one (two would
        each wait on the socket's FD, which Trio refuses).

        Raises:
            TypeError: *sock* is not a plain pyzmq socket (an asyncio socket
                from ``zmq.asyncio`` cannot be wrapped).
            trio.ClosedResourceError: *sock* is closed.
        """
        existing = wrapper_of(sock)
        if existing is not None and not sock.closed:
            return existing
        return cls._create(sock)

    @classmethod
    def _create(
        cls, sock: zmq.Socket[Any], on_close: Callable[[Socket], object] | None = None
    ) -> Socket:
        """Wrap *sock*; *on_close* is called with the wrapper when it closes (a context's
        bookkeeping)."""
        if not isinstance(sock, zmq.Socket):
            raise TypeError(
                f"trio_zmq.Socket.from_socket() takes a zmq.Socket, not {type(sock).__name__}"
            )
        if getattr(sock, "_shadow", False) or type(sock).__module__.startswith("zmq.asyncio"):
            raise TypeError(
                "trio_zmq.Socket.from_socket() takes a blocking zmq.Socket; "
                "a zmq.asyncio socket belongs to asyncio's event loop"
            )
        if sock.closed:
            raise trio.ClosedResourceError("cannot wrap a pyzmq socket that is already closed")
        self = object.__new__(cls)
        self._sock = sock
        # Read before anyone can wait on this wrapper, so not through its gate.
        self._type = int(sock.get(zmq.TYPE))
        self._rcvtimeo = int(sock.get(zmq.RCVTIMEO))
        self._sndtimeo = int(sock.get(zmq.SNDTIMEO))
        self._rd = Readiness(functools.partial(_get, sock), sock.FD)
        self._gate = Gate(sock, self._rd, self._type)

        def send(data: Any, flags: int, copy: bool, track: bool) -> Any:
            return _send(sock, data, flags, copy, track)

        self._turn = SendTurn(self._rd, send, self._type in DISCARDS_REST)
        self._slept = 0
        self._waiters = [0, 0, 0]  # tasks waiting to send or receive, by POLLIN and POLLOUT
        self._owner = Owner()
        self._on_close = on_close
        self._fd_copy = None
        _wrappers[id(sock)] = self
        return self

    # ------------------------------------------------------------------
    # Plumbing

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        name = zmq.SocketType(self._type).name
        return f"<trio_zmq.Socket {name} {state} at {id(self):#x}>"

    async def _enter(self) -> None:
        """The full entry of an async call, when :func:`needs_full_entry` says so.

        A cancel point (Trio's own), then the owner check: the first run to
        use the socket adopts it, any other is refused.
        """
        try:
            current_task()
        except RuntimeError:
            raise RuntimeError(
                "trio_zmq's async calls must run in a Trio task (trio.run, Trio's guest "
                "mode, or AnyIO with backend='trio'); under asyncio, use zmq.asyncio"
            ) from None
        await checkpoint_if_cancelled()
        if self._owner.token is not current_owner_token():
            self._owner.admit()

    def _check_usable(self) -> None:
        """The guard of every synchronous call: called from its run, not lent, and open.

        Checked before the call changes anything.
        """
        self._owner.check()
        if self._rd.closed:
            raise closed_socket()

    @contextlib.contextmanager
    def lend(
        self, borrower: str, *, recall: Callable[[], object] | None = None
    ) -> Iterator[zmq.Socket[Any]]:
        """Hand the raw socket to *borrower*, a worker thread, for the ``with`` block.

        Meanwhile every call on this wrapper raises ``trio.BusyResourceError``
        naming *borrower*, instead of racing it on a socket that is not
        thread-safe. The libzmq engine of :func:`trio_zmq.proxy` lends its
        sockets to its thread this way.

        Args:
            borrower: who holds the socket, for the error messages.
            recall: how to ask the borrower to end the ``with`` block soon;
                called, without waiting, by :meth:`reclaim`. Without it the
                socket cannot be reclaimed.

        Raises:
            trio.BusyResourceError: tasks are waiting on the socket (or it is
                lent already); nothing changed.
            trio.ClosedResourceError: the socket is closed.
        """
        self._check_usable()
        if self._rd.sleepers or self._turn.owner is not None:
            raise trio.BusyResourceError(
                f"cannot hand this socket to {borrower}: tasks are waiting on it, or "
                "a task is halfway through a multipart message"
            )
        with self._owner.lend(borrower, recall):
            yield self._sock

    async def reclaim(self) -> None:
        """Ask the borrower of this lent socket to give it back, and wait until it has.

        The borrower is asked through the *recall* it gave :meth:`lend`. The
        libzmq engine of :func:`trio_zmq.proxy` then stops, and its task ends
        with ``trio.ClosedResourceError``: a :class:`Context` that closes
        reclaims its lent sockets this way, then closes them. Returns after a
        checkpoint if the socket is not lent.

        Raises:
            trio.BusyResourceError: the borrower gave no *recall*; nothing
                changed.
            RuntimeError: called from another ``trio.run()`` or thread than
                the one that owns (or lent) the socket; nothing changed.
            trio.ClosedResourceError: the socket is closed.
            trio.Cancelled: when cancelled. If the borrower was asked, it
                still gives the socket back, without this call waiting.
        """
        if self._owner.lent_to is None:
            await checkpoint_if_cancelled()
            self._check_usable()
            await cancel_shielded_checkpoint()
            return
        await self._owner.reclaim()

    async def _retry(
        self,
        mask: int,
        flags: int,
        tried: bool,
        sender: Task | None,
        fn: Callable[..., T],
        *args: Any,
    ) -> T:
        """The one slow path of every send and receive: wait, then attempt ``fn(*args)`` again.

        Every async call makes its own first attempt and comes here when it
        would block (*tried*), or comes here at once when the previous call
        in its direction had to wait (the socket is then probably still not
        ready, and reading ``EVENTS`` costs a fraction of a failing
        attempt). An attempt goes through the gate (``_gate.py``), and
        does nothing when it would block. *sender*, for sends, is the
        calling task: it also waits for its turn while another task's
        multipart message is open.

        ``NOBLOCK`` or a zero timeout raises ``zmq.Again`` at once, after
        exactly one attempt (made here if the caller made none).
        """
        timeout_ms = self._rcvtimeo if mask == _POLLIN else self._sndtimeo
        if flags & _NOBLOCK or timeout_ms == 0:
            if sender is not None and not self._turn.free_for(sender):
                self._turn.check()
            elif not tried:
                result = self._gate.now(fn, *args)
                if result is not AGAIN:
                    self._slept &= ~mask  # it did not have to wait
                    return result
            if next(self._owner.life.ticks):
                await cancel_shielded_checkpoint()
            raise zmq.Again()
        waiters = self._waiters
        waiters[mask] += 1
        try:
            if timeout_ms < 0:
                return await self._wait_and_attempt(mask, sender, fn, args)
            with trio.move_on_after(timeout_ms / 1000):
                return await self._wait_and_attempt(mask, sender, fn, args)
        finally:
            waiters[mask] -= 1
        what, option = ("receive", "RCVTIMEO") if mask == _POLLIN else ("send", "SNDTIMEO")
        raise again(f"could not {what} within {option} ({timeout_ms} ms)")

    async def _wait_and_attempt(
        self, mask: int, sender: Task | None, fn: Callable[..., T], args: tuple[Any, ...]
    ) -> T:
        rd = self._rd
        gate = self._gate
        turn = self._turn
        slept = False
        pause = _MIN_PAUSE
        while True:
            if sender is not None and not turn.free_for(sender):
                await turn.wait(sender)
            waited = await rd.wait(mask)
            slept |= waited
            if sender is not None and not turn.free_for(sender):
                continue  # another task began a multipart message while we slept
            result = gate.now(fn, *args)
            if result is AGAIN:
                if not waited:
                    # EVENTS said ready and nothing ran since, yet the call would
                    # block: a ROUTER with ROUTER_MANDATORY reports POLLOUT while
                    # *any* peer has room, and its FD need not fire when the full
                    # one drains. Retrying at once would spin without a
                    # checkpoint, so pause, a little longer each time.
                    await rd.pause(pause)
                    pause = min(pause * 2, _MAX_PAUSE)
                continue  # another task got there first
            # Remember whether this direction had to sleep: if so, the next
            # call looks at EVENTS before trying (see _retry).
            self._slept = self._slept | mask if slept else self._slept & ~mask
            return result

    # ------------------------------------------------------------------
    # Synchronous part

    @property
    def underlying(self) -> zmq.Socket[Any]:
        """The wrapped ``zmq.Socket``. Blocking calls on it are the caller's risk."""
        return self._sock

    @property
    def socket_type(self) -> int:
        """The socket type, as ``zmq.SocketType`` (``zmq.REQ``, ``zmq.PUB``, ...)."""
        return zmq.SocketType(self._type)

    @property
    def closed(self) -> bool:
        """Whether the socket is closed."""
        return self._rd.closed or self._sock.closed

    def _endpoint_call(self, action: str, addr: str, call: Callable[[str], object]) -> None:
        self._check_usable()
        if not isinstance(addr, str):
            raise TypeError(f"{action}() takes the endpoint as str, not {type(addr).__name__}")
        check_tcp_port(action, addr)
        try:
            self._gate.call(call, addr)
        except zmq.ZMQError as exc:
            raise endpoint_error(exc, action, addr) from exc

    def bind(self, addr: str) -> str:
        """Bind to *addr* and return the resolved endpoint.

        A wildcard port (``tcp://127.0.0.1:*``) comes back filled in.

        Raises:
            zmq.ZMQError: the endpoint is invalid, unsupported or in use; the
                message names it.
        """
        self._endpoint_call("bind", addr, self._sock.bind)
        endpoint: str = self._gate.call(self._sock.get_string, zmq.LAST_ENDPOINT)
        return endpoint

    def bind_to_random_port(
        self, addr: str, min_port: int = 49152, max_port: int = 65536, max_tries: int = 100
    ) -> int:
        """Bind to a random port of *addr* in a range; return the port (as pyzmq)."""
        self._check_usable()
        try:
            port: int = self._gate.call(
                self._sock.bind_to_random_port, addr, min_port, max_port, max_tries
            )
        except zmq.ZMQError as exc:
            raise endpoint_error(exc, "bind", addr) from exc
        return port

    def connect(self, addr: str) -> None:
        """Connect to *addr*; the connection is made in the background."""
        self._endpoint_call("connect", addr, self._sock.connect)

    def unbind(self, addr: str) -> None:
        """Stop listening on *addr* (as returned by :meth:`bind`)."""
        self._endpoint_call("unbind", addr, self._sock.unbind)

    def disconnect(self, addr: str) -> None:
        """Drop the connection to *addr*."""
        self._endpoint_call("disconnect", addr, self._sock.disconnect)

    def subscribe(self, topic: str | bytes) -> None:
        """Receive messages starting with *topic* (SUB and XSUB); ``""`` means all."""
        self.set(zmq.SUBSCRIBE, topic)

    def unsubscribe(self, topic: str | bytes) -> None:
        """Undo one :meth:`subscribe` of *topic*."""
        self.set(zmq.UNSUBSCRIBE, topic)

    def set(self, option: int, value: int | bytes | str) -> None:
        """Set a socket option (``zmq.LINGER``, ``zmq.SUBSCRIBE``, ...).

        Text is accepted for options that take bytes, and encoded as UTF-8.
        """
        self._check_usable()
        opt = int(option)
        if isinstance(value, str):
            if opt not in BYTES_OPTIONS:
                raise option_type_error(opt, value)
            value = value.encode("utf-8")
        try:
            self._gate.call(self._sock.set, opt, value)
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EINVAL:
                raise option_value_error(exc, opt, value, self._type) from exc
            raise
        if opt == _RCVTIMEO:
            self._rcvtimeo = int(value)
        elif opt == _SNDTIMEO:
            self._sndtimeo = int(value)

    def get(self, option: int) -> Any:
        """Read a socket option (an int, or bytes for byte options)."""
        self._check_usable()
        if option == _EVENTS:
            return self._gate.events()
        return self._gate.call(self._sock.get, int(option))

    setsockopt = set
    getsockopt = get

    @property
    def events(self) -> int:
        """``zmq.EVENTS`` (``POLLIN``, ``POLLOUT``), read once; tasks asleep on the socket get the news.

        Reading ``EVENTS`` can take the FD's edge from under a sleeping
        task; read here, it wakes whoever the news concerns.
        """
        self._check_usable()
        return self._gate.events()

    def monitor(self, addr: str | None, events: int = zmq.EVENT_ALL) -> None:
        """Start sending this socket's connection events to a PAIR at *addr* (``inproc://...``).

        As pyzmq's ``monitor``; ``None`` stops it (see :meth:`disable_monitor`).
        :func:`trio_zmq.open_monitor` does all of it for you.
        """
        self._check_usable()
        self._gate.call(self._sock.monitor, addr, int(events))

    def disable_monitor(self) -> None:
        """Stop sending connection events (as pyzmq's ``disable_monitor``)."""
        self.monitor(None, 0)

    def set_string(self, option: int, value: str, encoding: str = "utf-8") -> None:
        """Set a byte option from text."""
        self.set(option, value.encode(encoding))

    def get_string(self, option: int, encoding: str = "utf-8") -> str:
        """Read a byte option as text."""
        value = self.get(option)
        return value.decode(encoding) if isinstance(value, bytes) else str(value)

    setsockopt_string = set_string
    getsockopt_string = get_string

    if TYPE_CHECKING:
        # Every socket option is an attribute (made below, one property per
        # option); for type checkers, they are all of type Any. At run time
        # the class defines no __getattr__, which would slow down every
        # attribute read of its methods.
        def __getattr__(self, name: str) -> Any: ...

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SLOTS:
            object.__setattr__(self, name, value)
        else:
            set_option_attribute(self, name, value)

    def fileno(self) -> int:
        """A file descriptor that becomes readable along with the socket's ``zmq.FD``.

        It is a duplicate of ``zmq.FD``, made on first call and closed with
        the socket, so that a task may wait on it
        (``trio.lowlevel.wait_readable``) while other tasks wait in this
        socket's calls: Trio lets one task at a time wait on one descriptor,
        and trio_zmq's own waits use ``zmq.FD`` itself. Like ``zmq.FD`` it is
        edge-triggered (see the design notes): waiting on it can miss
        events. ``await sock.poll()`` waits without missing any.
        """
        self._check_usable()
        if self._sock.closed:  # closed under the wrapper, through underlying
            raise closed_socket()
        if self._fd_copy is None:
            fd = os.dup(self._gate.call(_get, self._sock, zmq.FD))
            self._fd_copy = fd
            # Closed with the socket, or with the wrapper if it is dropped unclosed.
            self._fd_closer = weakref.finalize(self, os.close, fd)
        return self._fd_copy

    def close(self, linger: int | None = None) -> None:
        """Close the socket, waking every task waiting on it.

        The woken tasks raise ``trio.ClosedResourceError``; so does every
        later call. Closing twice is fine. *linger* (ms) overrides the
        socket's ``LINGER`` for messages still queued.

        Raises:
            RuntimeError: called from another thread or ``trio.run()`` than
                the one that owns the socket; nothing was changed.
            trio.BusyResourceError: the socket is lent to a libzmq proxy
                thread; nothing was changed.
        """
        rd = self._rd
        if rd.closed:
            return
        # Checked before anything is marked closed: waking the sleepers takes
        # their own run, and a half-done close would leak the socket.
        self._check_usable()
        if linger is not None and not isinstance(linger, int):
            raise TypeError(f"close() takes linger in ms as int or None, not {linger!r}")
        rd.close()  # wakes every sleeper; notify_closing before the FD goes away
        self._turn.close()  # a message half sent is gone with the socket
        if self._fd_copy is not None:
            self._fd_closer.detach()
            _close_fd(self._fd_copy)
        if self._on_close is not None:
            self._on_close(self)
        self._gate.call(self._sock.close, linger)

    async def aclose(self) -> None:
        """Close the socket (see :meth:`close`); a checkpoint.

        The socket is closed even if this call is cancelled.
        """
        self.close()
        await checkpoint()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------
    # Sending

    @overload
    async def send(
        self,
        data: Buffer | zmq.Frame,
        flags: int = 0,
        *,
        copy: bool = True,
        track: Literal[False] = False,
    ) -> None: ...
    @overload
    async def send(
        self, data: Buffer | zmq.Frame, flags: int = 0, *, copy: bool = True, track: Literal[True]
    ) -> zmq.MessageTracker: ...
    async def send(
        self, data: Buffer | zmq.Frame, flags: int = 0, *, copy: bool = True, track: bool = False
    ) -> zmq.MessageTracker | None:
        """Send one frame.

        Waits until the socket can queue the frame (its high-water mark leaves
        room and, for socket types that need one, a peer is there). With
        ``flags=zmq.SNDMORE`` more frames of the same message follow: until
        this task sends the last frame (without ``SNDMORE``), other tasks'
        sends wait, so messages never interleave. The later frames of an
        open message never wait: libzmq takes them at once, or has dropped
        the message because its peer went away (see :meth:`send_multipart`).

        Args:
            data: bytes, a contiguous buffer or a ``zmq.Frame``.
            flags: ``zmq.SNDMORE`` and/or ``zmq.NOBLOCK`` (never wait).
            copy: ``False`` sends without copying (worth it for large frames).
            track: return a ``zmq.MessageTracker`` (with ``copy=False``).

        Returns:
            ``None``, or a ``zmq.MessageTracker`` when tracking.

        Raises:
            trio.Cancelled: nothing was sent.
            zmq.Again: ``NOBLOCK`` and the frame cannot be queued now, or
                ``SNDTIMEO`` ran out.
            trio.ClosedResourceError: the socket is or gets closed.
            trio.BrokenResourceError: another task ended halfway through a
                ``SNDMORE`` message, so no whole message can follow.
            TypeError: *data* is not a contiguous bytes-like object (use
                :meth:`send_string` for text); raised before any wait.
        """
        if needs_full_entry(self._owner.token):
            await self._enter()
        try:
            once = flags | _NOBLOCK
        except TypeError:
            raise flags_error(flags, "send") from None
        result: zmq.MessageTracker | Literal[Again.AGAIN] | None
        if flags & _SNDMORE or self._turn.owner is not None or self._slept & _POLLOUT:
            error = frame_error(data, "send")  # before any wait
            if error is not None:
                raise error
            result = await self._send_frames((data,), flags, copy, track, False)
        else:
            try:
                result = self._gate.send(data, once, copy, track)
            except (TypeError, ValueError, BufferError) as exc:
                raise (frame_error(data, "send") or exc) from None
            if result is AGAIN:
                result = await self._send_frames((data,), flags, copy, track, True)
        if next(self._owner.life.ticks):
            await cancel_shielded_checkpoint()
        return result

    async def send_multipart(
        self,
        msg_parts: Iterable[Buffer | zmq.Frame],
        flags: int = 0,
        *,
        copy: bool = True,
        track: bool = False,
    ) -> zmq.MessageTracker | None:
        """Send a multipart message, all frames or none.

        Waits like :meth:`send`, for room for the message; all its frames then
        go out at once, so frames of messages sent by different tasks never
        interleave.

        If the peer a message is going to vanishes between two of its frames
        (a PUSH or DEALER whose PULL peer disconnects, say), libzmq drops the
        message; the call still returns, and the message is dropped silently,
        as blocking pyzmq drops it. A message arrives whole or not at all:
        never as a fragment, at that peer or another.

        Raises:
            trio.Cancelled: nothing was sent.
            zmq.Again: ``NOBLOCK`` and the message cannot be queued now, or
                ``SNDTIMEO`` ran out.
            trio.ClosedResourceError: the socket is or gets closed.
            TypeError, ValueError: a frame is not a contiguous bytes-like
                object, or there are no frames; raised before anything is
                sent and before any wait.
        """
        if needs_full_entry(self._owner.token):
            await self._enter()
        parts = check_frames(msg_parts)
        check_flags(flags, "send_multipart")
        if self._turn.owner is None and not self._slept & _POLLOUT:
            result = self._gate.now(self._turn.put, parts, flags, copy, track, False)
            if result is AGAIN:
                result = await self._send_frames(parts, flags, copy, track, True)
        else:
            result = await self._send_frames(parts, flags, copy, track, False)
        if next(self._owner.life.ticks):
            await cancel_shielded_checkpoint()
        return result

    async def _send_frames(
        self, parts: Sequence[Any], flags: int, copy: bool, track: bool, tried: bool
    ) -> zmq.MessageTracker | None:
        """The slow path of every send: *parts* begin or continue a message.

        The frames were checked already. A task whose own message is open
        sends its next frames at once (see ``SendTurn.put``); any other
        waits, in :meth:`_retry`, for its turn and for room.
        """
        task = current_task()
        if self._turn.owner is task:
            # Never AGAIN: the rest of an open message goes at once (or is dropped).
            return self._gate.call(self._turn.put, parts, flags, copy, track, True)
        if len(parts) == 1 and not flags & _SNDMORE:
            # A whole one-frame message: nothing to open, continue or drop.
            return await self._retry(
                _POLLOUT,
                flags,
                tried,
                task,
                _send,
                self._sock,
                parts[0],
                flags | _NOBLOCK,
                copy,
                track,
            )
        return await self._retry(
            _POLLOUT, flags, tried, task, self._turn.put, parts, flags, copy, track, False
        )

    async def send_string(self, u: str, flags: int = 0, *, encoding: str = "utf-8") -> None:
        """Send text as one frame, encoded (UTF-8 by default).

        Waits like :meth:`send`; a cancelled call sent nothing. Bytes raise
        ``TypeError`` (use :meth:`send`).
        """
        text: object = u
        if not isinstance(text, str):
            await checkpoint_if_cancelled()
            raise TypeError(
                f"send_string() takes str, not {type(u).__name__}; use send() for bytes"
            )
        await self.send(u.encode(encoding), flags)

    async def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> None:
        """Send *obj* as one JSON frame (keyword arguments go to ``json.dumps``).

        Waits like :meth:`send`; a cancelled call sent nothing.
        """
        await self.send(call_user(jsonapi.dumps, obj, **kwargs), flags)

    async def send_pyobj(
        self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL
    ) -> None:
        """Send *obj* pickled in one frame.

        Waits like :meth:`send`; a cancelled call sent nothing. Only for
        peers you trust: the receiver's :meth:`recv_pyobj` unpickles,
        which can run arbitrary code.
        """
        await self.send(call_user(pickle.dumps, obj, protocol), flags)

    async def send_serialized(
        self,
        msg: T,
        serialize: Callable[[T], Iterable[Buffer | zmq.Frame]],
        flags: int = 0,
        *,
        copy: bool = True,
    ) -> None:
        """Send ``serialize(msg)``, a list of frames, as one message.

        Waits like :meth:`send_multipart`; a cancelled call sent nothing
        (*serialize* has run by then).
        """
        await self.send_multipart(call_user(serialize, msg), flags, copy=copy)

    # ------------------------------------------------------------------
    # Receiving

    @overload
    async def recv(
        self, flags: int = 0, *, copy: Literal[True] = True, track: bool = False
    ) -> bytes: ...
    @overload
    async def recv(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> zmq.Frame: ...
    @overload
    async def recv(
        self, flags: int = 0, *, copy: bool, track: bool = False
    ) -> bytes | zmq.Frame: ...
    async def recv(
        self, flags: int = 0, *, copy: bool = True, track: bool = False
    ) -> bytes | zmq.Frame:
        """Receive one frame.

        Waits until a frame arrives. Frames come in order; to receive a
        multipart message whole while other tasks also receive, use
        :meth:`recv_multipart`.

        Args:
            flags: ``zmq.NOBLOCK`` never waits.
            copy: ``False`` returns a ``zmq.Frame`` sharing libzmq's buffer.
            track: as in pyzmq.

        Raises:
            trio.Cancelled: nothing was received; the frame stays queued.
            zmq.Again: ``NOBLOCK`` and nothing is queued, or ``RCVTIMEO`` ran out.
            trio.ClosedResourceError: the socket is or gets closed.
            zmq.ZMQError: ``EFSM`` when the socket type's order forbids a
                receive now (REQ: send first).
        """
        if needs_full_entry(self._owner.token):
            await self._enter()
        try:
            once = flags | _NOBLOCK
        except TypeError:
            raise flags_error(flags, "recv") from None
        sock = self._sock
        tried = not self._slept & _POLLIN  # else EVENTS first (see _retry)
        now = self._gate.receive(_recv, once, copy, track) if tried else AGAIN
        result: bytes | zmq.Frame = (
            await self._retry(_POLLIN, flags, tried, None, _recv, sock, once, copy, track)
            if now is AGAIN
            else now
        )
        if next(self._owner.life.ticks):
            await cancel_shielded_checkpoint()
        return result

    @overload
    async def recv_multipart(
        self, flags: int = 0, *, copy: Literal[True] = True, track: bool = False
    ) -> list[bytes]: ...
    @overload
    async def recv_multipart(
        self, flags: int = 0, *, copy: Literal[False], track: bool = False
    ) -> list[zmq.Frame]: ...
    @overload
    async def recv_multipart(
        self, flags: int = 0, *, copy: bool, track: bool = False
    ) -> list[bytes] | list[zmq.Frame]: ...
    async def recv_multipart(
        self, flags: int = 0, *, copy: bool = True, track: bool = False
    ) -> list[bytes] | list[zmq.Frame]:
        """Receive a whole multipart message, as a list of frames.

        Waits until a message arrives. Raises as :meth:`recv`; when cancelled,
        no frame of the message was taken.
        """
        if needs_full_entry(self._owner.token):
            await self._enter()
        once = check_flags(flags, "recv_multipart")
        sock = self._sock
        tried = not self._slept & _POLLIN  # else EVENTS first (see _retry)
        now = self._gate.receive(_recv_parts, once, copy, track) if tried else AGAIN
        result = (
            await self._retry(_POLLIN, flags, tried, None, _recv_parts, sock, once, copy, track)
            if now is AGAIN
            else now
        )
        if next(self._owner.life.ticks):
            await cancel_shielded_checkpoint()
        return result

    async def recv_string(self, flags: int = 0, *, encoding: str = "utf-8") -> str:
        """Receive one frame and decode it (UTF-8 by default).

        Waits like :meth:`recv`; a cancelled call took nothing. A frame that
        does not decode raises ``UnicodeDecodeError``; it has been consumed,
        and the socket stays usable.
        """
        data = await self.recv(flags)
        return data.decode(encoding)

    async def recv_json(self, flags: int = 0) -> Any:
        """Receive one frame and parse it as JSON.

        Waits like :meth:`recv`; a cancelled call took nothing. Invalid JSON
        raises ``ValueError`` after the frame was consumed; the socket stays
        usable.
        """
        return jsonapi.loads(await self.recv(flags))

    async def recv_pyobj(self, flags: int = 0) -> Any:
        """Receive one frame and unpickle it.

        Waits like :meth:`recv`; a cancelled call took nothing. Never use
        this with peers you do not trust: unpickling runs whatever code the
        sender chose.
        """
        return call_user(pickle.loads, await self.recv(flags))

    async def recv_serialized(
        self, deserialize: Callable[[list[Any]], T], flags: int = 0, *, copy: bool = True
    ) -> T:
        """Receive a multipart message and return ``deserialize(frames)``.

        Waits like :meth:`recv_multipart`; a cancelled call took nothing. If
        *deserialize* raises, the message was consumed and the socket stays
        usable.
        """
        frames = await self.recv_multipart(flags, copy=copy)
        return call_user(deserialize, frames)

    # ------------------------------------------------------------------
    # Non-blocking twins (Trio's *_nowait convention)

    def send_nowait(self, data: Buffer | zmq.Frame, flags: int = 0, *, copy: bool = True) -> None:
        """Send one frame now or raise ``trio.WouldBlock``; never a checkpoint."""
        self._check_usable()
        once = check_flags(flags, "send_nowait")
        if flags & _SNDMORE or self._turn.owner is not None:
            self._turn.check()
            raise trio.WouldBlock  # an open message's turn needs a task; use send()
        try:
            result = self._gate.send(data, once, copy, False)
        except (TypeError, ValueError, BufferError) as exc:
            raise (frame_error(data, "send_nowait") or exc) from None
        if result is AGAIN:
            raise trio.WouldBlock

    def send_multipart_nowait(
        self, msg_parts: Iterable[Buffer | zmq.Frame], *, copy: bool = True
    ) -> None:
        """Send a whole message now or raise ``trio.WouldBlock``; never a checkpoint.

        A message whose peer vanishes between two frames is dropped, as in
        :meth:`send_multipart`.
        """
        self._check_usable()
        parts = check_frames(msg_parts, "send_multipart_nowait")
        if self._turn.owner is not None:
            self._turn.check()
            raise trio.WouldBlock
        if self._gate.now(self._turn.put, parts, 0, copy, False, False) is AGAIN:
            raise trio.WouldBlock

    def recv_nowait(self, flags: int = 0) -> bytes:
        """Receive one frame now or raise ``trio.WouldBlock``; never a checkpoint."""
        self._check_usable()
        once = check_flags(flags, "recv_nowait")
        data: bytes | Literal[Again.AGAIN] = self._gate.receive(_recv, once, True, False)
        if data is AGAIN:
            raise trio.WouldBlock
        return data

    def recv_multipart_nowait(self, flags: int = 0) -> list[bytes]:
        """Receive a whole message now or raise ``trio.WouldBlock``; never a checkpoint."""
        self._check_usable()
        once = check_flags(flags, "recv_multipart_nowait")
        parts: list[bytes] | Literal[Again.AGAIN] = self._gate.receive(
            _recv_parts, once, True, False
        )
        if parts is AGAIN:
            raise trio.WouldBlock
        return parts

    # ------------------------------------------------------------------
    # Waiting without I/O, and iteration

    async def poll(self, timeout: float | None = None, flags: int = zmq.POLLIN) -> int:
        """Wait until the socket is ready for *flags*; return the ready events.

        Args:
            timeout: milliseconds; ``None`` or negative waits forever, ``0``
                does not wait.
            flags: ``zmq.POLLIN``, ``zmq.POLLOUT`` or both.

        Returns:
            The events of *flags* that are ready, ``0`` if the timeout passed.

        Raises:
            trio.Cancelled: when cancelled while waiting; polling takes
                nothing from the socket, so nothing changed.
            trio.ClosedResourceError: the socket is or gets closed.
        """
        if needs_full_entry(self._owner.token):
            await self._enter()
        check_flags(flags, "poll")
        mask = int(flags)
        if self._rd.closed:
            raise closed_socket()
        events = self._gate.events() & mask
        if events or timeout == 0:
            if next(self._owner.life.ticks):
                await cancel_shielded_checkpoint()
            return events
        seconds = math.inf if timeout is None or timeout < 0 else timeout / 1000
        with trio.move_on_after(seconds):
            await self._rd.wait(mask)
            return self._gate.events() & mask
        return 0

    def statistics(self) -> SocketStatistics:
        """Who waits on the socket, who holds its send turn, and whether it is lent or closed.

        As Trio's ``Lock.statistics()``: a snapshot, for tests and debugging.
        It does not touch libzmq, and works at any time, closed or lent.

        Raises:
            RuntimeError: called from another thread or ``trio.run()`` than
                the one that owns the socket (whose state it would race).
        """
        self._owner.check_caller()
        return SocketStatistics(
            tasks_waiting_send=self._waiters[_POLLOUT],
            tasks_waiting_receive=self._waiters[_POLLIN],
            send_turn_owner=self._turn.owner,
            lent_to=self._owner.lent_to,
            closed=self.closed,
        )

    async def wait_closed(self) -> None:
        """Wait until the socket is closed, by any task; return at once if it is.

        Made for parts that own a socket but sleep elsewhere (a proxy waiting
        on its other socket, the pumps of :func:`trio_zmq.open_channels`):
        a task in this call notices a :meth:`close` at once. It costs the
        socket's other calls nothing, and does not keep the socket from being
        lent to a libzmq proxy thread.

        Raises:
            trio.Cancelled: when cancelled; nothing changed.
        """
        # While the socket is lent, its token stands for the borrower, and
        # waiting for the close does not touch the raw socket: no owner check.
        if self._owner.lent_to is not None:
            await checkpoint_if_cancelled()
            self._owner.check_caller()
        elif needs_full_entry(self._owner.token):
            await self._enter()
        if self._rd.closed:
            await cancel_shielded_checkpoint()
            return
        await self._rd.wait_closed()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> list[bytes]:
        """The next multipart message; iteration ends when the socket is closed.

        Waits like :meth:`recv_multipart`; a cancelled step took nothing.
        """
        try:
            return await self.recv_multipart()
        except trio.ClosedResourceError:
            raise StopAsyncIteration from None


# Options as attributes, as in pyzmq (``sock.linger = 0``), each a property.
add_option_properties(Socket)
_SLOTS = frozenset(Socket.__slots__)

protect_methods(Socket)


def wrap_new(sock: zmq.Socket[Any], on_close: Callable[[Socket], object]) -> Socket:
    """Wrap *sock*, a socket just made, calling ``on_close(wrapper)`` when it closes.

    The seam of :class:`trio_zmq.Context`, whose bookkeeping *on_close* is.
    """
    return Socket._create(sock, on_close)
