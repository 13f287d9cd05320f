"""Devices as supervised tasks: ``proxy``, ``steerable_proxy`` and ``device``.

A proxy forwards messages between a *frontend* and a *backend* socket, in
each direction the two socket types allow, optionally copying every
forwarded message to a *capture* socket. Here it is a Trio task: started
with ``await nursery.start(...)``, stopped by cancelling its scope, failing
into its nursery. Two engines sit behind one interface:

``"native"`` (the default)
    Trio tasks, one per direction, on the sockets' own async API. Each can
    run a synchronous *hook* on every message (filter or transform).

``"libzmq"``
    libzmq's own ``zmq_proxy_steerable`` in a worker thread, steered through
    an inproc PAIR control socket (``PAUSE``, ``RESUME``, ``STATISTICS``,
    ``TERMINATE``). While that thread runs, the sockets are lent to it:
    every call on them from the Trio side raises ``trio.BusyResourceError``.

The native engine's promise is that a message it has taken from one socket
is delivered to the other, or an error says why it was not. It keeps that
promise by arranging for cancellation to land only *before* a receive: a
pump waits until the destination (and the capture socket) can take a message
and only then receives; from the receive to the send there is no checkpoint
that can raise ``Cancelled``. See :meth:`_NativeEngine._put` for the narrow
race that is left.

A pump sleeps on one socket at a time, so a close of another of the proxy's
sockets would go unnoticed by it. The native engine therefore runs one more
small task per socket, asleep in ``Socket.wait_closed()``: a close of any of
them ends the proxy with ``trio.ClosedResourceError``. (The libzmq engine
needs none: it lends the sockets to its thread, and ``close()`` raises
``trio.BusyResourceError`` meanwhile.)
"""

from __future__ import annotations

import contextlib
import itertools
import math
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, TypeAlias, final

import trio
import zmq
from trio.lowlevel import checkpoint

from ._errors import raise_translated
from ._groups import unwrap_groups
from ._ki import call_user
from ._kinds import DEVICES, RECEIVE_ONLY, SEND_ONLY, kind_name
from ._socket import Socket

__all__ = [
    "ProxyControl",
    "ProxySideStatistics",
    "ProxyStatistics",
    "device",
    "proxy",
    "steerable_proxy",
]

#: Which socket a message came from, as passed to a native engine's hook.
Side: TypeAlias = Literal["frontend", "backend"]
#: The engines: ``"native"`` (Trio tasks) or ``"libzmq"`` (a worker thread).
Engine: TypeAlias = Literal["native", "libzmq"]
#: A native engine's per-message hook: the message to forward, or ``None`` to drop it.
Hook: TypeAlias = Callable[[Side, list[bytes]], Sequence[bytes] | None]

# A pump forwards at most this many ready messages in a row, then yields.
_BATCH = 128
_POLLOUT = int(zmq.POLLOUT)
_BORROWER = "a libzmq proxy thread (engine='libzmq')"
_POLLIN = int(zmq.POLLIN)
#: Seconds the libzmq engine's statistics() waits for its thread's answer.
_STATISTICS_WAIT = 1.0
_control_names = itertools.count()


@final
@dataclass(frozen=True)
class ProxySideStatistics:
    """What one side of a proxy received and sent.

    As in libzmq's ``STATISTICS`` command, every frame of a multipart message
    counts as one message, so both engines report the same numbers. (The
    ``"libzmq"`` engine reports what libzmq counts: libzmq before 4.3.5,
    which pyzmq 25's wheels bundle, counts a multipart message once.)

    Attributes:
        messages_in: frames received from this socket.
        bytes_in: their total size.
        messages_out: frames sent to this socket.
        bytes_out: their total size.
    """

    messages_in: int = 0
    bytes_in: int = 0
    messages_out: int = 0
    bytes_out: int = 0


@final
@dataclass(frozen=True)
class ProxyStatistics:
    """A snapshot of a proxy's traffic, each side's in and out.

    Attributes:
        frontend: the frontend socket's counts.
        backend: the backend socket's counts.
    """

    frontend: ProxySideStatistics = ProxySideStatistics()
    backend: ProxySideStatistics = ProxySideStatistics()

    @classmethod
    def _from_values(cls, values: Sequence[int]) -> ProxyStatistics:
        # libzmq's order: frontend in (n, bytes), frontend out, backend in, backend out.
        return cls(ProxySideStatistics(*values[0:4]), ProxySideStatistics(*values[4:8]))


# ----------------------------------------------------------------------
# Checks shared by every entry point


def _type_name(sock: Socket) -> str:
    return kind_name(sock.socket_type)


def _can_receive(sock: Socket) -> bool:
    return sock.socket_type not in SEND_ONLY


def _can_send(sock: Socket) -> bool:
    return sock.socket_type not in RECEIVE_ONLY


def _check_sockets(frontend: Socket, backend: Socket, capture: Socket | None) -> None:
    for name, sock in (("frontend", frontend), ("backend", backend), ("capture", capture)):
        if sock is not None and not isinstance(sock, Socket):
            raise TypeError(
                f"the proxy's {name} must be a trio_zmq.Socket, not {type(sock).__name__}; "
                "wrap a pyzmq socket with trio_zmq.Socket.from_socket()"
            )
    forward = _can_receive(frontend) and _can_send(backend)
    backward = _can_receive(backend) and _can_send(frontend)
    if not (forward or backward):
        raise ValueError(
            f"a {_type_name(frontend)} frontend and a {_type_name(backend)} "
            "backend cannot forward in either direction"
        )
    if capture is not None and not _can_send(capture):
        raise ValueError(
            f"the capture socket must be able to send; a {_type_name(capture)} cannot "
            "(use PUB, PUSH, PAIR or DEALER)"
        )


def _check_engine(engine: str, hook: object) -> None:
    if engine not in ("native", "libzmq"):
        raise ValueError(f"engine must be 'native' or 'libzmq', not {engine!r}")
    if engine == "libzmq" and hook is not None:
        raise ValueError("a hook needs engine='native': libzmq's proxy cannot call Python")


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

    _impl: _NativeEngine | _LibzmqEngine

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "a ProxyControl comes from `await nursery.start(trio_zmq.steerable_proxy, ...)`"
        )

    @classmethod
    def _create(cls, impl: _NativeEngine | _LibzmqEngine) -> ProxyControl:
        self = object.__new__(cls)
        self._impl = impl
        return self

    def __repr__(self) -> str:
        impl = self._impl
        state = "stopped" if impl.done else "paused" if impl.paused else "running"
        return f"<trio_zmq.ProxyControl engine={impl.engine!r} {state}>"

    @property
    def engine(self) -> Engine:
        """The engine running the proxy: ``"native"`` or ``"libzmq"``."""
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
        microseconds; if the proxy thread does not answer within
        ``_STATISTICS_WAIT`` (1 s: it is itself blocked, sending to a full
        socket), this returns the last counts it had. After the proxy
        stopped, returns the final counts.

        Synchronous, as pyzmq users expect of a counter: not a checkpoint.
        """
        return self._impl.statistics()


# ----------------------------------------------------------------------
# Native engine


class _NativeEngine:
    engine: Engine = "native"

    def __init__(
        self, frontend: Socket, backend: Socket, capture: Socket | None, hook: Hook | None
    ) -> None:
        self._frontend = frontend
        self._backend = backend
        self._capture = capture
        self._hook = hook
        # libzmq's order: frontend in n/bytes, frontend out n/bytes, then backend.
        self._counts = [0] * 8
        self.paused = False
        self._resumed = trio.Event()
        self._wait_scopes: set[trio.CancelScope] = set()
        self._stop_scope = trio.CancelScope()
        self.done = False

    def pause(self) -> None:
        if self.paused or self.done:
            return
        self.paused = True
        self._resumed = trio.Event()
        # Pumps waiting for a message give up that wait (which takes
        # nothing) and wait for resume() instead.
        for scope in self._wait_scopes:
            scope.cancel()

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        self._resumed.set()

    def stop(self) -> None:
        self._stop_scope.cancel()

    def statistics(self) -> ProxyStatistics:
        return ProxyStatistics._from_values(self._counts)

    async def run(self, task_status: trio.TaskStatus[Any], value: object) -> None:
        frontend, backend = self._frontend, self._backend
        try:
            with self._stop_scope, unwrap_groups():
                async with trio.open_nursery() as nursery:
                    if _can_receive(frontend) and _can_send(backend):
                        nursery.start_soon(self._pump, frontend, backend, "frontend")
                    if backend is not frontend and _can_receive(backend) and _can_send(frontend):
                        nursery.start_soon(self._pump, backend, frontend, "backend")
                    watched: list[Socket] = []
                    for name, sock in (
                        ("frontend", frontend),
                        ("backend", backend),
                        ("capture", self._capture),
                    ):
                        if sock is not None and all(sock is not seen for seen in watched):
                            watched.append(sock)
                            nursery.start_soon(self._notice_close, sock, name)
                    task_status.started(value)
        finally:
            self.done = True

    @staticmethod
    async def _notice_close(sock: Socket, name: str) -> NoReturn:
        """Fail the proxy when *sock* is closed, whichever socket the pumps sleep on.

        Both pumps may be asleep on one socket (a DEALER backend with no
        peer yet, waiting for room) while the user closes the other: this
        task is what ends the proxy then. Its error and the pumps' own
        (if they were asleep on the closed socket) come out as one.
        """
        await sock.wait_closed()
        raise trio.ClosedResourceError(f"the proxy's {name} socket was closed")

    @staticmethod
    def _writable(sock: Socket) -> bool:
        # Socket.events hands what it reads to any task asleep on the socket:
        # reading EVENTS can swallow their edge. A closed socket reads as
        # full; the pump's next wait raises the right error.
        try:
            return bool(sock.events & _POLLOUT)
        except (trio.ClosedResourceError, zmq.ZMQError):
            return False

    async def _pump(self, src: Socket, dst: Socket, side: Side) -> None:
        capture = self._capture
        yield_first = False
        while True:
            if self.paused:
                await self._resumed.wait()
                continue
            with trio.CancelScope() as scope:
                self._wait_scopes.add(scope)
                try:
                    if yield_first:
                        await checkpoint()
                    # Wait for room first and receive last: a cancellation
                    # (or pause) can land only while nothing is taken.
                    await dst.poll(None, _POLLOUT)
                    if capture is not None:
                        await capture.poll(None, _POLLOUT)
                    msg = await src.recv_multipart()
                finally:
                    self._wait_scopes.discard(scope)
            if scope.cancelled_caught:
                continue  # paused while waiting; nothing was taken
            await self._deliver(msg, dst, side)
            sent = 1
            # Drain what is ready without waiting, as long as there is room.
            while sent < _BATCH and not self.paused:
                if not self._writable(dst) or (capture is not None and not self._writable(capture)):
                    break
                try:
                    msg = src.recv_multipart_nowait()
                except trio.WouldBlock:
                    break
                await self._deliver(msg, dst, side)
                sent += 1
            yield_first = sent == _BATCH

    async def _deliver(self, msg: list[bytes], dst: Socket, side: Side) -> None:
        counts = self._counts
        base_in, base_out = (0, 6) if side == "frontend" else (4, 2)
        frames = len(msg)
        size = sum(map(len, msg))
        counts[base_in] += frames
        counts[base_in + 1] += size
        out: Sequence[bytes] = msg
        if self._hook is not None:
            hooked = call_user(self._hook, side, msg)  # Ctrl-C may stop it
            if hooked is None:
                return
            out = hooked
            frames = len(out)
            size = sum(map(len, out))
        if self._capture is not None:
            await self._put(self._capture, out, side, "capture")
        await self._put(dst, out, side, "backend" if side == "frontend" else "frontend")
        counts[base_out] += frames
        counts[base_out + 1] += size

    async def _put(self, sock: Socket, msg: Sequence[bytes], source: Side, target: str) -> None:
        """Send a message this pump holds; it must not be lost silently.

        The pump only receives once *sock* reported room, so the first,
        non-blocking attempt nearly always succeeds. It can fail if the room
        went meanwhile (a peer vanished), and then the send waits. If that
        wait is cancelled (it then had no effect), one last non-blocking
        attempt is made: the ``Cancelled`` goes on if the message went out;
        if it could not, the proxy raises ``trio.BrokenResourceError`` that
        says the message was dropped (its cause the ``Cancelled``), rather
        than dropping it silently. Nothing waits past the cancellation:
        a wait inside a shield would not honour the caller's cancel scope.
        """
        try:
            sock.send_multipart_nowait(msg)
            return
        except trio.WouldBlock:
            pass
        try:
            await sock.send_multipart(msg)
        except trio.Cancelled as cancelled:
            try:
                # Reading EVENTS first makes libzmq take in its pending
                # commands (a peer that has just connected): a send with
                # DONTWAIT may skip them, as libzmq throttles that work.
                sock.get(zmq.EVENTS)
                sock.send_multipart_nowait(msg)
            except trio.WouldBlock:
                raise trio.BrokenResourceError(
                    f"the proxy was cancelled holding a message it had taken from the {source}, "
                    f"and the {target} socket had no room for it: that message was dropped"
                ) from cancelled
            raise


# ----------------------------------------------------------------------
# libzmq engine


class _LibzmqEngine:
    """libzmq's ``zmq_proxy_steerable`` in a worker thread, steered over inproc PAIR.

    Commands go out with ``send_nowait`` on an unbounded inproc pipe, so
    pause/resume/stop never wait. ``STATISTICS`` is answered with 8 frames;
    libzmq 4.3.5 also answers every other command with one empty frame,
    which is skipped. Every ``STATISTICS`` sent is counted in ``_owed``, so
    that a reply left over by a :meth:`statistics` that stopped waiting is
    never taken for a newer one.
    """

    engine: Engine = "libzmq"

    def __init__(self, frontend: Socket, backend: Socket, capture: Socket | None) -> None:
        self._sockets = (frontend, backend, capture)
        self.paused = False
        self.done = False
        self._stopping = False
        self._thread_done = False
        self._owed = 0
        self._last = ProxyStatistics()
        raw_ctx = frontend.underlying.context
        addr = f"inproc://trio-zmq-proxy-control-{next(_control_names)}-{id(self):x}"
        ours = raw_ctx.socket(zmq.PAIR)
        theirs = raw_ctx.socket(zmq.PAIR)
        for raw in (ours, theirs):
            raw.linger = 0
            raw.sndhwm = 0
            raw.rcvhwm = 0
        ours.bind(addr)
        theirs.connect(addr)
        self._control = Socket.from_socket(ours)
        self._thread_control = theirs

    def _command(self, command: bytes) -> None:
        if command == b"STATISTICS":
            self._owed += 1
        self._control.send_nowait(command)

    def pause(self) -> None:
        if self.paused or self._stopping or self.done:
            return
        self.paused = True
        self._command(_pause_words[0])

    def resume(self) -> None:
        if not self.paused or self._stopping or self.done:
            return
        self.paused = False
        self._command(_pause_words[1])

    def stop(self) -> None:
        if self._stopping or self.done:
            return
        self._stopping = True
        self._command(b"STATISTICS")  # the final counts, read once the thread is gone
        self._command(b"TERMINATE")

    def statistics(self) -> ProxyStatistics:
        if self.done or self._stopping:
            return self._last  # the final counts are read when the thread is gone
        self._command(b"STATISTICS")
        raw = self._control.underlying
        deadline = time.monotonic() + _STATISTICS_WAIT
        # Replies come in order: the last one owed is this call's. Blocking
        # here, in the Trio thread, is bounded and normally microseconds:
        # the proxy thread answers as soon as its poll sees the command.
        while self._owed:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not raw.poll(math.ceil(remaining * 1000), _POLLIN):
                break  # the thread is busy: keep the last counts
            self._take_reply(raw.recv_multipart())
        return self._last

    def _take_reply(self, frames: list[bytes]) -> None:
        if len(frames) == 8 and all(len(frame) == 8 for frame in frames):
            self._owed -= 1
            self._last = ProxyStatistics._from_values(
                [struct.unpack("=Q", frame)[0] for frame in frames]
            )

    def _thread_main(
        self, frontend: zmq.Socket[Any], backend: zmq.Socket[Any], capture: zmq.Socket[Any] | None
    ) -> None:
        zmq.proxy_steerable(frontend, backend, capture, self._thread_control)

    async def _terminate_when_cancelled(self) -> None:
        try:
            await trio.sleep_forever()
        finally:
            if not self._thread_done and not self._stopping:
                self._stopping = True
                self._command(b"STATISTICS")
                self._command(b"TERMINATE")

    async def run(self, task_status: trio.TaskStatus[Any], value: object) -> None:
        try:
            if _pause_words is _UNPROBED:
                await _probe_pause_words(self._sockets[0].underlying.context)
            with contextlib.ExitStack() as lent:
                # Lend each distinct socket once (frontend may be backend).
                raw: dict[int, zmq.Socket[Any]] = {}
                for sock in self._sockets:
                    if sock is not None and id(sock) not in raw:
                        raw[id(sock)] = lent.enter_context(sock.lend(_BORROWER))
                frontend, backend, capture = self._sockets
                raw_capture = None if capture is None else raw[id(capture)]
                with unwrap_groups():
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._terminate_when_cancelled)
                        task_status.started(value)
                        try:
                            # Not abandoned on cancellation: the sockets stay
                            # lent until the thread has let go of them, which
                            # it does on TERMINATE (sent by the watcher task).
                            await trio.to_thread.run_sync(
                                self._thread_main, raw[id(frontend)], raw[id(backend)], raw_capture
                            )
                        except zmq.ZMQError as exc:
                            raise_translated(exc)
                        finally:
                            self._thread_done = True
                            nursery.cancel_scope.cancel()
        finally:
            self._finish()

    def _finish(self) -> None:
        # The thread is gone: read the replies it left, the last is final.
        while True:
            try:
                frames = self._control.recv_multipart_nowait()
            except (trio.WouldBlock, trio.ClosedResourceError):
                break
            self._take_reply(frames)
        self.done = True
        self._control.close(linger=0)
        self._thread_control.close(linger=0)


_UNPROBED = (b"PAUSE", b"RESUME")
# The commands that pause and resume this libzmq's steerable proxy. libzmq
# 4.3.5 swapped them (fixed by libzmq#4600, after that release); patched
# builds of 4.3.5 exist, so this is probed once rather than read from the
# version number.
_pause_words: tuple[bytes, bytes] = _UNPROBED


async def _probe_pause_words(context: zmq.Context[Any]) -> None:
    global _pause_words  # a once-per-process cache
    _pause_words = await trio.to_thread.run_sync(_probe_in_thread, context)


def _probe_in_thread(context: zmq.Context[Any]) -> tuple[bytes, bytes]:
    """Run a throwaway proxy on inproc, send it PAUSE, see whether it forwards.

    No timing is involved: replies to ``STATISTICS`` are ordered after
    every command before them, and the proxy forwards what is ready in the
    same turn as it reads a command, so the counts in the second reply after
    the probe message was queued tell whether it was forwarded.
    """
    base = f"inproc://trio-zmq-probe-{next(_control_names)}"
    sockets: list[zmq.Socket[Any]] = []

    def make(kind: int) -> zmq.Socket[Any]:
        sock: zmq.Socket[Any] = context.socket(kind)
        sock.linger = 0
        sock.rcvtimeo = 5000
        sockets.append(sock)
        return sock

    def stats(ctl: zmq.Socket[Any]) -> list[int]:
        ctl.send(b"STATISTICS")
        while True:
            frames = ctl.recv_multipart()
            if len(frames) == 8:
                return [struct.unpack("=Q", frame)[0] for frame in frames]

    thread = None
    try:
        front, back, source, sink = make(zmq.PULL), make(zmq.PUSH), make(zmq.PUSH), make(zmq.PULL)
        ours, theirs = make(zmq.PAIR), make(zmq.PAIR)
        front.bind(base + "-front")
        back.bind(base + "-back")
        ours.bind(base + "-control")
        source.connect(base + "-front")
        sink.connect(base + "-back")
        theirs.connect(base + "-control")
        thread = threading.Thread(
            target=zmq.proxy_steerable, args=(front, back, None, theirs), daemon=True
        )
        thread.start()
        ours.send(b"PAUSE")
        stats(ours)
        source.send(b"probe")
        stats(ours)
        forwarded = stats(ours)[0]
        ours.send(b"TERMINATE")
        thread.join()
        thread = None
    finally:
        if thread is not None:  # pragma: no cover - libzmq did not answer
            ours.send(b"TERMINATE")
            thread.join()
        for sock in sockets:
            sock.close()
    return (b"PAUSE", b"RESUME") if forwarded == 0 else (b"RESUME", b"PAUSE")


# ----------------------------------------------------------------------
# Public entry points


async def proxy(
    frontend: Socket,
    backend: Socket,
    capture: Socket | None = None,
    *,
    engine: Engine = "native",
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
    ``close()`` raises ``trio.BusyResourceError`` until it returns.

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
    _check_engine(engine, hook)
    _check_sockets(frontend, backend, capture)
    impl = (
        _NativeEngine(frontend, backend, capture, hook)
        if engine == "native"
        else _LibzmqEngine(frontend, backend, capture)
    )
    await impl.run(task_status, None)


async def steerable_proxy(
    frontend: Socket,
    backend: Socket,
    capture: Socket | None = None,
    *,
    engine: Engine = "native",
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
    _check_engine(engine, hook)
    _check_sockets(frontend, backend, capture)
    impl: _NativeEngine | _LibzmqEngine = (
        _NativeEngine(frontend, backend, capture, hook)
        if engine == "native"
        else _LibzmqEngine(frontend, backend, capture)
    )
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
            f"{_type_name(frontend)} / {_type_name(backend)}; "
            "use trio_zmq.proxy() to forward between other socket types"
        )


async def device(
    kind: int,
    frontend: Socket,
    backend: Socket,
    *,
    engine: Engine = "native",
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
