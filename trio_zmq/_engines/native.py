"""The ``"native"`` proxy engine: Trio tasks, one per direction, on the sockets' async API.

Each pump can run a synchronous *hook* on every message (filter or
transform), which libzmq's proxy cannot.

The native engine's promise is that a message it has taken from one socket
is delivered to the other, or an error says why it was not. It keeps that
promise by arranging for cancellation to land only *before* a receive: a
pump waits until the destination (and the capture socket) can take a message
and only then receives; from the receive to the send there is no checkpoint
that can raise ``Cancelled``. See :meth:`NativeEngine._put` for the narrow
race that is left.

A pump sleeps on one socket at a time, so a close of another of the proxy's
sockets would go unnoticed by it. The native engine therefore runs one more
small task per socket, asleep in ``Socket.wait_closed()``: a close of any of
them ends the proxy with ``trio.ClosedResourceError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeAlias, final

import trio
import zmq
from trio.lowlevel import checkpoint

from .._groups import unwrap_groups
from .._ki import call_user
from .sides import ProxyStatistics, Side, SideCounter, forwards

if TYPE_CHECKING:
    from .._socket import Socket

__all__ = ["Hook", "NativeEngine"]

#: A native engine's per-message hook: the message to forward, or ``None`` to drop it.
Hook: TypeAlias = Callable[[Side, list[bytes]], Sequence[bytes] | None]

# A pump forwards at most this many ready messages in a row, then yields.
_BATCH = 128
_POLLOUT = int(zmq.POLLOUT)


@final
class NativeEngine:
    """A proxy run by Trio tasks in this run: two pumps and a close watcher per socket.

    Each side's traffic is counted in a :class:`SideCounter` of its own:
    what a pump receives counts as its source side's *in*, what it delivers
    as the other side's *out* (libzmq's ``STATISTICS`` counts the same way;
    copies sent to the capture socket count nowhere).
    """

    engine: Literal["native"] = "native"

    def __init__(
        self, frontend: Socket, backend: Socket, capture: Socket | None, hook: Hook | None
    ) -> None:
        self._frontend = frontend
        self._backend = backend
        self._capture = capture
        self._hook = hook
        self._frontend_counts = SideCounter()
        self._backend_counts = SideCounter()
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
        return ProxyStatistics(self._frontend_counts.snapshot(), self._backend_counts.snapshot())

    async def run(self, task_status: trio.TaskStatus[Any], value: object) -> None:
        frontend, backend = self._frontend, self._backend
        try:
            with self._stop_scope, unwrap_groups():
                async with trio.open_nursery() as nursery:
                    if forwards(frontend, backend):
                        nursery.start_soon(self._pump, frontend, backend, "frontend")
                    if backend is not frontend and forwards(backend, frontend):
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
        # Chosen once per pump, so that a message pays no lookup for its counts.
        if side == "frontend":
            src_counts, dst_counts = self._frontend_counts, self._backend_counts
        else:
            src_counts, dst_counts = self._backend_counts, self._frontend_counts
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
            await self._deliver(msg, dst, side, src_counts, dst_counts)
            sent = 1
            # Drain what is ready without waiting, as long as there is room.
            while sent < _BATCH and not self.paused:
                if not self._writable(dst) or (capture is not None and not self._writable(capture)):
                    break
                try:
                    msg = src.recv_multipart_nowait()
                except trio.WouldBlock:
                    break
                await self._deliver(msg, dst, side, src_counts, dst_counts)
                sent += 1
            yield_first = sent == _BATCH

    async def _deliver(
        self,
        msg: list[bytes],
        dst: Socket,
        side: Side,
        src_counts: SideCounter,
        dst_counts: SideCounter,
    ) -> None:
        frames = len(msg)
        size = sum(map(len, msg))
        src_counts.messages_in += frames
        src_counts.bytes_in += size
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
        dst_counts.messages_out += frames
        dst_counts.bytes_out += size

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
