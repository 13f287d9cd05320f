"""The ``"libzmq"`` proxy engine: libzmq's own ``zmq_proxy_steerable`` in a worker thread.

The thread is steered through an inproc PAIR control socket (``PAUSE``,
``RESUME``, ``STATISTICS``, ``TERMINATE``). While it runs, the sockets are
lent to it (``Socket.lend``): every call on them from the Trio side raises
``trio.BusyResourceError``. That is also why this engine needs no task
watching for a close, as the native one does: ``close()`` raises
``trio.BusyResourceError`` until the proxy returns. Their owner can take
them back (``Socket.reclaim``, as a closing ``Context`` does): the engine
then stops its thread, and its task ends with ``trio.ClosedResourceError``.

libzmq 4.3.5 swapped the meanings of ``PAUSE`` and ``RESUME``; the engine
finds out which word pauses this libzmq once per process, with a throwaway
proxy (:func:`_probe_in_thread`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import struct
import threading
import time
from typing import TYPE_CHECKING, Any, Literal, final

import trio
import zmq

from .._errors import translating
from .._groups import unwrap_groups
from .._socket import Socket
from .sides import ProxySideStatistics, ProxyStatistics

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["STATISTICS_WAIT", "LibzmqEngine", "parse_statistics"]

_BORROWER = "a libzmq proxy thread (engine='libzmq')"
_POLLIN = int(zmq.POLLIN)
#: Seconds the libzmq engine's statistics() waits for its thread's answer.
STATISTICS_WAIT = 1.0
_control_names = itertools.count()
# One STATISTICS reply: 8 frames, each a native-endian uint64.
_REPLY = struct.Struct("=8Q")


def parse_statistics(frames: Sequence[bytes]) -> ProxyStatistics | None:
    """The counts in libzmq's reply to ``STATISTICS``, or ``None`` if *frames* is not one.

    libzmq sends 8 frames of 8 bytes, in this order: the frontend's messages
    and bytes in, its messages and bytes out, then the backend's. libzmq
    4.3.5 also answers every other command with one empty frame, which is
    not a reply to ``STATISTICS``.
    """
    if len(frames) != 8 or any(len(frame) != 8 for frame in frames):
        return None
    (
        front_messages_in,
        front_bytes_in,
        front_messages_out,
        front_bytes_out,
        back_messages_in,
        back_bytes_in,
        back_messages_out,
        back_bytes_out,
    ) = _REPLY.unpack(b"".join(frames))
    return ProxyStatistics(
        frontend=ProxySideStatistics(
            messages_in=front_messages_in,
            bytes_in=front_bytes_in,
            messages_out=front_messages_out,
            bytes_out=front_bytes_out,
        ),
        backend=ProxySideStatistics(
            messages_in=back_messages_in,
            bytes_in=back_bytes_in,
            messages_out=back_messages_out,
            bytes_out=back_bytes_out,
        ),
    )


@final
class LibzmqEngine:
    """libzmq's ``zmq_proxy_steerable`` in a worker thread, steered over inproc PAIR.

    Commands go out with ``send_nowait`` on an unbounded inproc pipe, so
    pause/resume/stop never wait. ``STATISTICS`` is answered with 8 frames
    (:func:`parse_statistics`); libzmq 4.3.5 also answers every other
    command with one empty frame, which is skipped. Every ``STATISTICS``
    sent is counted in ``_owed``, so that a reply left over by a
    :meth:`statistics` that stopped waiting is never taken for a newer one.
    """

    engine: Literal["libzmq"] = "libzmq"

    def __init__(self, frontend: Socket, backend: Socket, capture: Socket | None) -> None:
        self._sockets = (frontend, backend, capture)
        self.paused = False
        self.done = False
        self._stopping = False
        self._thread_done = False
        self._recalled = False
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

    def _recall(self) -> None:
        # The sockets' owner wants them back, to close them (Socket.reclaim).
        if self._stopping or self.done:
            return  # the sockets are on their way back already
        self._recalled = True
        self.stop()

    def statistics(self) -> ProxyStatistics:
        if self.done or self._stopping:
            return self._last  # the final counts are read when the thread is gone
        self._command(b"STATISTICS")
        raw = self._control.underlying
        deadline = time.monotonic() + STATISTICS_WAIT
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
        counts = parse_statistics(frames)
        if counts is not None:
            self._owed -= 1
            self._last = counts

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
                        raw[id(sock)] = lent.enter_context(
                            sock.lend(_BORROWER, recall=self._recall)
                        )
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
                            with translating():
                                await trio.to_thread.run_sync(
                                    self._thread_main,
                                    raw[id(frontend)],
                                    raw[id(backend)],
                                    raw_capture,
                                )
                        finally:
                            self._thread_done = True
                            nursery.cancel_scope.cancel()
            if self._recalled:  # and the sockets are given back
                raise trio.ClosedResourceError(
                    "the proxy's sockets were taken back to be closed (their context closed)"
                )
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


# ----------------------------------------------------------------------
# Which word pauses this libzmq's proxy

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

    def stats(ctl: zmq.Socket[Any]) -> ProxyStatistics:
        ctl.send(b"STATISTICS")
        while True:
            counts = parse_statistics(ctl.recv_multipart())
            if counts is not None:
                return counts

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
        forwarded = stats(ours).frontend.messages_in
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
