"""``trio_zmq.Context``: socket lifetimes and context termination."""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any, final

import trio
import zmq

from ._errors import context_closed, context_terminated
from ._groups import unwrap_groups
from ._ki import protect_methods
from ._socket import Socket, wrap_new

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

__all__ = ["DEFAULT_LINGER", "Context"]

#: Milliseconds a socket made by a :class:`Context` keeps trying to deliver
#: queued messages once closed, unless given its own ``linger``. libzmq's
#: default is forever, which makes terminating a context hang whenever a peer
#: is gone; this bounds how long leaving ``async with Context()`` can take.
DEFAULT_LINGER = 1000

# How long a cancelled exit waits for lent sockets to come back and for the
# linger-0 termination to finish.
_CANCELLED_TERM_WAIT = 5.0

# How long the borrowers of lent sockets get to give them back when asked
# (a libzmq proxy lets go between two bursts of messages, within moments),
# before the termination itself takes them back.
_RECLAIM_WAIT = 1.0


@final
class Context:
    """A ZeroMQ context for Trio programs: makes sockets and owns their lifetime.

    Use it as an async context manager. Leaving the block closes every socket
    the context made that is still open, then terminates the ZeroMQ context
    in a worker thread, so the Trio run keeps going meanwhile. Sockets made
    here get ``linger=DEFAULT_LINGER`` (1 s) unless told otherwise, so leaving
    waits at most that long for queued messages to go out, never forever.
    If leaving happens in a cancelled scope, the context is destroyed with
    linger 0: queued messages are dropped and the block exits promptly.
    Sockets lent to a libzmq proxy's thread (``engine="libzmq"``) are taken
    back first (:meth:`Socket.reclaim`): the proxy stops, its task ending
    with ``trio.ClosedResourceError``, and then they are closed too.

    Args:
        io_threads: libzmq I/O threads.
        linger: default ``LINGER`` (ms) of the sockets this context makes.
    """

    __slots__ = ("__weakref__", "_closed", "_ctx", "_linger", "_owned", "_sockets")

    def __init__(self, io_threads: int = 1, *, linger: int = DEFAULT_LINGER) -> None:
        if isinstance(io_threads, zmq.Context):
            # pyzmq would make a shadow of it, which this context would then
            # terminate on exit, under the other context's sockets.
            raise TypeError(
                "Context() takes io_threads, a number; to use an existing pyzmq "
                "context, wrap it with trio_zmq.Context.from_context(context)"
            )
        if isinstance(io_threads, bool) or not isinstance(io_threads, int):
            raise TypeError(f"io_threads must be an int, not {type(io_threads).__name__}")
        self._ctx: zmq.Context[Any] = zmq.Context(io_threads)
        self._owned = True
        self._init(linger)

    def _init(self, linger: int) -> None:
        self._linger = linger
        self._sockets: dict[Socket, None] = {}  # insertion-ordered set
        self._closed = False

    @classmethod
    def from_context(cls, context: zmq.Context[Any], *, linger: int = DEFAULT_LINGER) -> Context:
        """Wrap an existing pyzmq context without owning its termination.

        Leaving the wrapper's ``async with`` closes the sockets it made, and
        leaves *context* itself running.
        """
        if not isinstance(context, zmq.Context):
            raise TypeError(f"from_context() takes a zmq.Context, not {type(context).__name__}")
        self = object.__new__(cls)
        self._ctx = context
        self._owned = False
        self._init(linger)
        return self

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._sockets)} sockets"
        return f"<trio_zmq.Context {state} at {id(self):#x}>"

    @property
    def underlying(self) -> zmq.Context[Any]:
        """The wrapped ``zmq.Context``."""
        return self._ctx

    @property
    def closed(self) -> bool:
        """Whether this context was closed (and, if it owns one, terminated)."""
        return self._closed

    def socket(self, socket_type: int, **options: Any) -> Socket:
        """Make a socket of *socket_type* (``zmq.REQ``, ``zmq.PUB``, ...).

        Options are socket options by lower-case name, set in the order given:
        ``ctx.socket(zmq.SUB, subscribe=b"", rcvhwm=10)``. The socket is
        returned at once and closed when the context closes, if not before.

        Raises:
            trio.ClosedResourceError: the context is closed.
            AttributeError, zmq.ZMQError, TypeError: a bad option; no socket
                is left behind.
        """
        if self._closed:
            raise context_closed()
        if not isinstance(socket_type, int):
            raise TypeError(
                f"socket() takes a socket type such as zmq.PUSH, not {type(socket_type).__name__}"
            )
        try:
            zsock = self._ctx.socket(socket_type)
        except zmq.ZMQError as exc:
            if exc.errno == zmq.ETERM or self._ctx.closed:
                raise context_terminated() from exc
            if exc.errno == zmq.EINVAL:
                raise zmq.ZMQError(
                    exc.errno,
                    f"{socket_type!r} is not a ZeroMQ socket type; use zmq.REQ, zmq.PUB, ...",
                ) from exc
            raise
        try:
            sock = wrap_new(zsock, self._forget)
            sock.linger = options.pop("linger", self._linger)
            for name, value in options.items():
                setattr(sock, name, value)
        except BaseException:
            zsock.close(linger=0)
            raise
        self._sockets[sock] = None
        return sock

    def _forget(self, sock: Socket) -> None:
        self._sockets.pop(sock, None)

    def _close_sockets(self, linger: int | None) -> list[Socket]:
        """Close every socket this context made; mark the context closed once all are.

        A socket that belongs to another thread or run refuses (RuntimeError):
        the others are closed all the same, and the context stays open, with
        the refusing sockets, so that closing it again can finish the job.
        A socket lent to a worker thread (``Socket.lend``) refuses too
        (``trio.BusyResourceError``): it stays open, and is returned, for the
        caller to reclaim and close.
        """
        refused: list[RuntimeError] = []
        lent: list[Socket] = []
        for sock in list(self._sockets):
            try:
                sock.close(linger)
            except RuntimeError as exc:
                refused.append(exc)
            except trio.BusyResourceError:
                lent.append(sock)
        if refused:
            raise RuntimeError(
                f"{len(refused)} of this context's sockets belong to another thread or "
                "trio.run(); close them there, then close the context"
            ) from refused[0]
        if not lent:
            self._sockets.clear()
            self._closed = True
        return lent

    async def _close_all(self, linger: int | None) -> bool:
        """Close every socket this context made, taking the lent ones back (cancellable).

        Every borrower is asked at once to give its sockets back, and the
        sockets are closed as they come back. A libzmq proxy lets go between
        two bursts of messages; one blocked sending to a peer that reads
        nothing never gets there. Past :data:`_RECLAIM_WAIT`, the termination
        of the context (which this context owns) takes them back: libzmq ends
        the blocked call with ``ETERM``, and the proxy's thread returns. So
        leaving never waits for a peer.

        Returns:
            Whether the context was terminated on the way.

        Raises:
            trio.BusyResourceError: lent sockets of a context this one does
                not own (``from_context``) did not come back.
        """
        lent = self._close_sockets(linger)
        if not lent:
            return False
        with trio.move_on_after(_RECLAIM_WAIT):
            await _reclaim(lent)
        lent = self._close_sockets(linger)
        if not lent:
            return False
        if not self._owned:
            raise trio.BusyResourceError(
                f"{len(lent)} of this context's sockets are still lent to a worker thread "
                f"(a libzmq proxy's, blocked sending to a peer that reads nothing, say) "
                f"{_RECLAIM_WAIT} s after it was asked to give them back; terminate the "
                "zmq.Context given to Context.from_context() to stop it"
            )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                partial(trio.to_thread.run_sync, self._ctx.term, abandon_on_cancel=True)
            )
            await _reclaim(lent)  # the termination ends the borrowers' calls
            self._close_sockets(linger)  # and the termination then ends
        return True

    def destroy(self, linger: int | None = None) -> None:
        """Close every socket this context made, then terminate it (blocking).

        Prefer ``async with`` or :meth:`aclose`, which do not block the run.

        Raises:
            trio.BusyResourceError: some sockets are lent to a worker thread
                (a libzmq proxy's), which cannot be waited for here; the
                others are closed, and the context stays open. :meth:`aclose`
                takes lent sockets back.
        """
        lent = self._close_sockets(linger)
        if lent:
            raise trio.BusyResourceError(
                f"{len(lent)} of this context's sockets are lent to a worker thread (a libzmq "
                "proxy's, say); close the context with `await ctx.aclose()` (or `async with`), "
                "which takes them back, or end the lending first"
            )
        if self._owned:
            self._ctx.term()

    async def aclose(self) -> None:
        """Close this context's sockets and terminate it without blocking the run.

        Sockets lent to a libzmq proxy's thread are taken back first: the
        proxy stops (its task ends with ``trio.ClosedResourceError``) and
        this call waits for it to let go of them (:meth:`Socket.reclaim`).
        Then it waits (in a worker thread) until queued messages are sent or
        their linger runs out. Called in a cancelled scope, or cancelled
        before the sockets are all closed, it closes the rest with linger 0
        (queued messages are dropped) and returns promptly; if cancelled
        while waiting for the linger, it returns at once and the worker
        thread finishes on its own within the linger already granted.
        """
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        terminated = False
        if trio.current_effective_deadline() != -math.inf:
            try:
                terminated = await self._close_all(None)
            except trio.Cancelled:
                await self._destroy_cancelled()
                raise
        # Cancelled from the start, or as the sockets came back: a proxy that
        # gave its sockets back fails, and cancels its nursery, which often
        # holds this exit too. The context is terminated all the same.
        if trio.current_effective_deadline() == -math.inf:
            await self._destroy_cancelled()
            await trio.lowlevel.checkpoint()
            return
        if terminated or not self._owned:
            await trio.lowlevel.checkpoint()
            return
        # A cancellation here abandons the worker thread, which returns as
        # soon as the linger already granted to the sockets runs out.
        await trio.to_thread.run_sync(self._ctx.term, abandon_on_cancel=True)

    async def _destroy_cancelled(self) -> None:
        """The end of a cancelled exit: the sockets left closed with linger 0, then terminate.

        Shielded, and bounded: a recalled proxy lets go of its sockets
        between bursts of messages, and terminating takes moments once every
        socket went with linger 0; the bound is for a proxy stuck sending and
        for raw sockets the user left open on the underlying context. Past
        it, what is left is left: the context stays open if a proxy still
        holds a socket, and the termination thread is abandoned.
        """
        with trio.CancelScope(shield=True, deadline=trio.current_time() + _CANCELLED_TERM_WAIT):
            terminated = await self._close_all(0)
            if self._owned and not terminated:
                await trio.to_thread.run_sync(self._ctx.term, abandon_on_cancel=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.aclose()
        except trio.Cancelled:
            if exc_value is None:
                raise
            # Leaving by an exception: it goes on, and the cancellation waits
            # for the next checkpoint. (A libzmq proxy that gave its sockets
            # back fails, and cancels its nursery, often this block's: the
            # user's exception must not be lost to that.)


async def _reclaim(lent: list[Socket]) -> None:
    """Ask every borrower of *lent* at once, and wait until each has given its socket back."""
    with unwrap_groups():
        async with trio.open_nursery() as nursery:
            for sock in lent:
                nursery.start_soon(sock.reclaim)


protect_methods(Context)
