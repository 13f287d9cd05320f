"""``trio_zmq.Poller``: wait for several sockets and file descriptors at once.

A port of pyzmq's ``zmq.Poller`` to Trio. Each call to :meth:`Poller.poll`
first looks at everything registered without waiting; only if nothing is
ready does it wait, and each kind of object waits in the way that is safe
for it:

* a ``trio_zmq.Socket`` through its own shared readiness (``Socket.poll``):
  Trio allows one ``wait_readable`` per FD, and the socket's other users may
  be waiting on that FD already;
* a plain ``zmq.Socket`` through a private :class:`~trio_zmq._readiness.Readiness`
  over its ``zmq.FD``, shared by every poll waiting on that socket at the
  same moment (``EVENTS`` is always read before sleeping: the FD is
  edge-triggered);
* raw file descriptors through one private epoll instance per call, which
  Trio waits on with ``wait_readable``. So the poll never competes with other
  tasks waiting on the same descriptor, a descriptor closed meanwhile cannot
  upset Trio's own bookkeeping, and ``POLLPRI`` can be waited for. Where
  there is no epoll, raw descriptors are waited on with Trio's
  ``wait_readable``/``wait_writable``, and ``POLLPRI`` is refused.

When there is more than one thing to wait on, each waits in its own task of a
private nursery, and the first one ready ends the wait; then everything is
looked at again, so the answer lists all that is ready at that moment.

A ``trio_zmq.Socket`` registered for no event it can wait for (only
``POLLERR``) still gets a task, asleep in ``Socket.wait_closed()``: closing
any registered ``trio_zmq.Socket`` ends the wait with
``trio.ClosedResourceError``, whatever else the poll sleeps on.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import select
from typing import TYPE_CHECKING, Any, NoReturn, final

import trio
import zmq
from trio.lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    notify_closing,
    wait_readable,
    wait_writable,
)

from ._errors import translate
from ._groups import unwrap_groups
from ._ki import call_user, protect_methods
from ._readiness import Readiness
from ._runs import current_run_life
from ._socket import Socket, wrapper_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

__all__ = ["Poller"]

_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)
_POLLERR = int(zmq.POLLERR)
_POLLPRI = int(zmq.POLLPRI)
_EVENTS = int(zmq.EVENTS)
_SOCKET_FLAGS = _POLLIN | _POLLOUT | _POLLERR  # POLLERR is accepted and ignored, as in libzmq
_FD_FLAGS = _SOCKET_FLAGS | _POLLPRI

#: Whether raw descriptors are waited for through a private epoll (Linux).
_USE_EPOLL = hasattr(select, "epoll")


def _closed(exc: BaseException | None = None) -> trio.ClosedResourceError:
    error = trio.ClosedResourceError(
        "a socket or file descriptor registered with this Poller was closed; "
        "unregister it before closing it, or stop polling first"
    )
    error.__cause__ = exc
    return error


def _is_plain_zmq_socket(obj: object) -> bool:
    return isinstance(obj, zmq.Socket) and not type(obj).__module__.startswith("zmq.asyncio")


def _check_registrable(obj: object, flags: int) -> None:
    if isinstance(obj, Socket) or _is_plain_zmq_socket(obj):
        if flags & _POLLPRI:
            raise ValueError("POLLPRI applies to raw file descriptors only, not to ZeroMQ sockets")
        allowed = _SOCKET_FLAGS
    elif isinstance(obj, zmq.Socket):
        raise TypeError(
            "a zmq.asyncio socket belongs to asyncio's event loop; register a "
            "trio_zmq.Socket or a plain zmq.Socket"
        )
    elif isinstance(obj, int) and not isinstance(obj, bool):
        if obj < 0:
            raise ValueError(f"a file descriptor cannot be negative: {obj}")
        allowed = _FD_FLAGS
    elif callable(getattr(obj, "fileno", None)):
        allowed = _FD_FLAGS
    else:
        raise TypeError(
            "Poller.register() takes a trio_zmq.Socket, a zmq.Socket, a file "
            f"descriptor or an object with a fileno() method, not {type(obj).__name__}"
        )
    if flags & ~allowed:
        names = "POLLIN, POLLOUT and POLLPRI" if allowed == _FD_FLAGS else "POLLIN and POLLOUT"
        raise ValueError(f"unknown poll flags {flags & ~allowed:#x}: use {names}")
    if flags & _POLLPRI and not _USE_EPOLL:
        raise ValueError(
            "waiting for POLLPRI needs epoll, which this platform lacks "
            "(Trio itself can only wait for readable and writable)"
        )


@final
class Poller:
    """Wait until any of several sockets or file descriptors is ready.

    Like ``zmq.Poller``, for Trio: register objects with the events they are
    of interest for, then ``await poll()``.

    .. code-block:: python

        poller = trio_zmq.Poller()
        poller.register(receiver, zmq.POLLIN)
        poller.register(subscriber, zmq.POLLIN)
        for sock, events in await poller.poll():
            msg = await sock.recv_multipart()

    Registered objects can be ``trio_zmq.Socket`` objects, plain ``zmq.Socket``
    objects, file descriptors (``int``) or objects with a ``fileno()``
    method. Events are ``zmq.POLLIN``, ``zmq.POLLOUT``, and for file
    descriptors also ``zmq.POLLPRI`` (urgent data; needs epoll, so Linux).

    One poller may be polled by several tasks at once. Changes to the
    registrations take effect at the next :meth:`poll`.
    """

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[Any, int] = {}  # insertion-ordered: the result's order

    def __repr__(self) -> str:
        return f"<trio_zmq.Poller of {len(self._items)} at {id(self):#x}>"

    def __contains__(self, obj: object) -> bool:
        return obj in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def sockets(self) -> list[tuple[Any, int]]:
        """The registered objects and their events, in registration order."""
        return list(self._items.items())

    def register(self, obj: Any, flags: int = zmq.POLLIN | zmq.POLLOUT) -> None:
        """Poll *obj* for *flags*; registering again replaces the flags.

        ``flags=0`` unregisters *obj* if it is registered (as pyzmq does).

        Raises:
            TypeError: *obj* is not a socket, a descriptor or an object with
                ``fileno()``.
            ValueError: unknown flags, ``POLLPRI`` for a ZeroMQ socket, or
                ``POLLPRI`` where there is no epoll.
        """
        mask = int(flags)
        _check_registrable(obj, mask)
        if mask:
            self._items[obj] = mask
        else:
            self._items.pop(obj, None)

    def modify(self, obj: Any, flags: int = zmq.POLLIN | zmq.POLLOUT) -> None:
        """Change the events *obj* is polled for (the same as :meth:`register`)."""
        self.register(obj, flags)

    def unregister(self, obj: Any) -> None:
        """Stop polling *obj*.

        Raises:
            KeyError: *obj* is not registered.
        """
        try:
            del self._items[obj]
        except KeyError:
            raise KeyError(f"{obj!r} is not registered with this Poller") from None

    async def poll(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        """Wait until a registered object is ready; return what is ready.

        Args:
            timeout: milliseconds to wait at most. ``None`` or negative waits
                until something is ready; ``0`` only looks, without waiting.

        Returns:
            ``(obj, events)`` for every registered object with an event
            ready, in registration order; ``[]`` if the timeout passed. For
            a file descriptor, ``zmq.POLLERR`` reports an error or hang-up
            (as libzmq does), whether asked for or not.

        Raises:
            trio.Cancelled: when cancelled while waiting. Nothing stays
                registered with Trio or with the sockets.
            trio.ClosedResourceError: a registered socket is closed, or a
                registered ``trio_zmq.Socket`` is closed while this waits,
                whatever the poll was waiting on (one error, not an
                ExceptionGroup). (A plain ``zmq.Socket`` cannot tell anyone it is being closed:
                do not close one while a poll waits on it.)
        """
        await checkpoint_if_cancelled()
        with _Round(list(self._items.items())) as round_:
            ready = round_.check()
            if ready or timeout == 0:
                if next(current_run_life().ticks):
                    await cancel_shielded_checkpoint()
                return ready
            seconds = math.inf if timeout is None or timeout < 0 else timeout / 1000
            with trio.move_on_after(seconds):
                while True:
                    await round_.wait()
                    ready = round_.check()
                    if ready:
                        return ready
        return []


# ----------------------------------------------------------------------
# Plain pyzmq sockets: one Readiness per socket while anybody waits on it,
# so concurrent polls of one socket share its FD instead of colliding.

_raw_waits: dict[int, tuple[Readiness, int]] = {}


@contextlib.contextmanager
def _raw_readiness(sock: zmq.Socket[Any]) -> Iterator[Readiness]:
    key = id(sock)  # the socket outlives the entry: we hold it while waiting
    entry = _raw_waits.get(key)
    if entry is None:

        def get(option: int) -> int:
            return int(sock.get(option))

        entry = (Readiness(get, sock.FD), 0)
    rd, users = entry
    _raw_waits[key] = (rd, users + 1)
    try:
        yield rd
    finally:
        rd, users = _raw_waits[key]
        if users == 1:
            del _raw_waits[key]
        else:
            _raw_waits[key] = (rd, users - 1)


def _raw_events(sock: zmq.Socket[Any]) -> int:
    """Read ``EVENTS`` of a plain socket, passing the news to other polls asleep on it.

    Reading ``EVENTS`` can swallow the FD's edge that another task's poll of
    the same socket sleeps on (pyzmq#951); through the shared readiness,
    that task is woken if its event is there.
    """
    entry = _raw_waits.get(id(sock))
    if entry is None:
        return int(sock.get(_EVENTS))
    return entry[0].events()


def _zmq_to_epoll(mask: int) -> int:
    events = 0
    if mask & _POLLIN:
        events |= select.POLLIN
    if mask & _POLLOUT:
        events |= select.POLLOUT
    if mask & _POLLPRI:
        events |= select.POLLPRI
    return events


def _poll_to_zmq(events: int) -> int:
    mask = 0
    if events & select.POLLIN:
        mask |= _POLLIN
    if events & select.POLLOUT:
        mask |= _POLLOUT
    if events & select.POLLPRI:
        mask |= _POLLPRI
    if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
        mask |= _POLLERR
    return mask


class _Round:
    """What one :meth:`Poller.poll` call looks at and waits on.

    Holds the private epoll (if any) from start to finish, and releases it
    however the call ends.
    """

    def __init__(self, items: list[tuple[Any, int]]) -> None:
        self.items = items
        # index -> how to look at it; filled by __enter__
        self.sockets: dict[int, tuple[Socket, int]] = {}
        self.raw: dict[int, tuple[zmq.Socket[Any], int]] = {}
        self.fds: dict[int, tuple[int, int]] = {}  # index -> (fd, zmq mask)
        self.fd_masks: dict[int, int] = {}  # fd -> union of zmq masks
        self.always: dict[int, int] = {}  # fd -> zmq events it always has
        self.epoll: Any = None

    def __enter__(self) -> _Round:
        wrappers = {id(item.underlying): item for item, _ in self.items if isinstance(item, Socket)}
        try:
            for index, (obj, mask) in enumerate(self.items):
                if isinstance(obj, Socket):
                    self.sockets[index] = (obj, mask & (_POLLIN | _POLLOUT))
                elif isinstance(obj, zmq.Socket):
                    wrapper = wrappers.get(id(obj)) or wrapper_of(obj)
                    if wrapper is not None:
                        # It has a wrapper, whose tasks may wait on its FD:
                        # every wait must go through one readiness, the
                        # wrapper's (Trio lets one task wait on an FD).
                        self.sockets[index] = (wrapper, mask & (_POLLIN | _POLLOUT))
                    else:
                        self.raw[index] = (obj, mask & (_POLLIN | _POLLOUT))
                else:
                    fd = obj if isinstance(obj, int) else int(call_user(obj.fileno))
                    self.fds[index] = (fd, mask)
                    self._add_fd(fd, mask)
            if self.fd_masks and _USE_EPOLL:
                self._open_epoll()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        epoll, self.epoll = self.epoll, None
        if epoll is not None:
            notify_closing(epoll.fileno())  # Trio forgets it before it goes away
            epoll.close()

    def _add_fd(self, fd: int, mask: int) -> None:
        if fd < 0:  # e.g. fileno() of a closed socket
            self.always[fd] = _POLLERR
        self.fd_masks[fd] = self.fd_masks.get(fd, 0) | mask

    def _open_epoll(self) -> None:
        self.epoll = select.epoll()
        for fd, mask in self.fd_masks.items():
            if fd in self.always:
                continue
            try:
                self.epoll.register(fd, _zmq_to_epoll(mask))
            except OSError as exc:
                if exc.errno == errno.EPERM:
                    # A regular file: epoll refuses it, poll(2) calls it
                    # always readable and writable.
                    self.always[fd] = mask & (_POLLIN | _POLLOUT)
                elif exc.errno == errno.EBADF:
                    self.always[fd] = _POLLERR  # poll(2)'s POLLNVAL
                else:
                    raise

    # ------------------------------------------------------------------

    def check(self) -> list[tuple[Any, int]]:
        """Everything ready now, without waiting."""
        fd_events = self._check_fds() if self.fd_masks else {}
        ready: list[tuple[Any, int]] = []
        for index, (obj, _) in enumerate(self.items):
            if index in self.sockets:
                sock, wanted = self.sockets[index]
                try:
                    events = int(sock.get(_EVENTS)) & wanted
                except trio.ClosedResourceError as exc:
                    raise _closed(exc) from exc
            elif index in self.raw:
                zsock, wanted = self.raw[index]
                if zsock.closed:
                    raise _closed()
                try:
                    events = _raw_events(zsock) & wanted
                except zmq.ZMQError as exc:
                    if isinstance(translate(exc), trio.ClosedResourceError):
                        raise _closed(exc) from exc
                    raise
            else:
                fd, wanted = self.fds[index]
                events = fd_events.get(fd, 0) & (wanted | _POLLERR)
            if events:
                ready.append((obj, events))
        return ready

    def _check_fds(self) -> dict[int, int]:
        found = dict(self.always)
        if self.epoll is not None:
            for fd, events in self.epoll.poll(0):
                found[fd] = found.get(fd, 0) | _poll_to_zmq(events)
            return found
        # No epoll: select() with a zero timeout.
        readers = [fd for fd, mask in self.fd_masks.items() if mask & _POLLIN and fd >= 0]
        writers = [fd for fd, mask in self.fd_masks.items() if mask & _POLLOUT and fd >= 0]
        readable, writable, _ = select.select(readers, writers, [], 0)
        for fd in readable:
            found[fd] = found.get(fd, 0) | _POLLIN
        for fd in writable:
            found[fd] = found.get(fd, 0) | _POLLOUT
        return found

    def _waiters(self) -> list[Callable[[], Awaitable[object]]]:
        waiters: list[Callable[[], Awaitable[object]]] = []
        for sock, mask in self.sockets.values():
            if mask:
                # Raises ClosedResourceError if the socket gets closed.
                waiters.append(functools.partial(sock.poll, None, mask))
            else:
                waiters.append(functools.partial(_until_closed, sock))
        for zsock, mask in self.raw.values():
            if mask:
                waiters.append(functools.partial(_wait_raw, zsock, mask))
        if self.epoll is not None:
            waiters.append(functools.partial(wait_readable, self.epoll.fileno()))
        else:
            for fd, mask in self.fd_masks.items():
                if fd < 0:
                    continue
                if mask & _POLLIN:
                    waiters.append(functools.partial(wait_readable, fd))
                if mask & _POLLOUT:
                    waiters.append(functools.partial(wait_writable, fd))
        return waiters

    async def wait(self) -> None:
        """Sleep until something registered may be ready."""
        waiters = self._waiters()
        try:
            if not waiters:
                await trio.sleep_forever()  # nothing to wait for: only the timeout ends it
            elif len(waiters) == 1:
                await waiters[0]()
            else:
                await self._wait_first(waiters)
        except trio.ClosedResourceError as exc:
            raise _closed(exc) from exc

    async def _wait_first(self, waiters: list[Callable[[], Awaitable[object]]]) -> None:
        closed: list[trio.ClosedResourceError] = []

        async def until(waiter: Callable[[], Awaitable[object]], done: trio.CancelScope) -> None:
            try:
                await waiter()
            except trio.ClosedResourceError as exc:
                # Kept aside, so that two sockets closed at once still give
                # one plain ClosedResourceError, not a group.
                closed.append(exc)
            done.cancel()

        with unwrap_groups():
            async with trio.open_nursery() as nursery:
                for waiter in waiters:
                    nursery.start_soon(until, waiter, nursery.cancel_scope)
        if closed:
            raise closed[0]


async def _until_closed(sock: Socket) -> NoReturn:
    await sock.wait_closed()
    raise _closed()


async def _wait_raw(sock: zmq.Socket[Any], mask: int) -> None:
    with _raw_readiness(sock) as rd:
        await rd.wait(mask)


protect_methods(Poller)
