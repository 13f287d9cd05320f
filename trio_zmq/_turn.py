"""The open multipart message: who may send its next frame, and its fate if its peer vanishes.

libzmq glues every frame sent with ``zmq.SNDMORE`` to the frames that follow
it, whoever sends them. A task that builds a message frame by frame, with
an ``await`` between frames, therefore holds the socket's send side until
its last frame: other senders wait for their turn. :class:`SendTurn` is
that right, a small lock in the manner of Trio's ``_LockImpl``: an owner, a
parking lot for the tasks waiting, a release, and a breaker.

The breaker: an owner that ends without its last frame leaves libzmq with
half a message that no later frame may join, so the socket can never send a
whole message again. Waiting senders are told so with
``trio.BrokenResourceError``. On Trio releases that have
``add_parking_lot_breaker`` the owner's end breaks the lot at once; on
older ones a waiting sender looks every :data:`OWNER_CHECK` seconds.

Messages sent whole, by ``send_multipart``, need no turn: all their frames
go out in one synchronous step, with nothing in between that could let
another task in. (A ``send_multipart`` with ``SNDMORE`` leaves its message
open, and so takes the turn like any ``SNDMORE`` send.)

A cancellation between two frames of an open message leaves it open: its
owner still holds the turn and must send the last frame (or close the
socket), as a task that holds a lock must release it.

**A peer that vanishes in the middle of a message.** :meth:`SendTurn.put`
sends the frames of a message, and every send of the socket comes through
it (or is a whole one-frame message, which has no middle). It is handed the
socket's send function, so the rule can be tested without I/O
(``tests/test_turn.py``). libzmq takes the rest of a message once it has
taken its first frame (the high-water mark counts whole messages), so a
later frame fails with ``EAGAIN`` only because the pipe to the peer is gone.
libzmq has then rolled back the frames it queued, and forgotten the
message. The message is dropped, silently, as blocking pyzmq drops it;
nothing may wait for room, and the failed frame must not be sent again (it
would begin a fragment). If the failed frame was not the last, the rest of
the message must vanish too: the load-balancing types (PUSH, DEALER, REQ;
``Kind.discards_rest`` in ``_kinds.py``) discard them by themselves, so they
are handed over as usual (and when they notice the vanished peer before
the next frame, they discard the rest without any error at all); other
types (PAIR) keep refusing them, and are not made to discard them, so they
are discarded here. ``tests/test_libzmq.py`` checks these facts against the
libzmq in use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio
import trio.lowlevel
import zmq

from ._errors import closed_socket
from ._ki import protect_methods

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from trio.lowlevel import Task

    from ._readiness import Readiness

__all__ = ["SendTurn"]

_add_breaker = getattr(trio.lowlevel, "add_parking_lot_breaker", None)
_remove_breaker = getattr(trio.lowlevel, "remove_parking_lot_breaker", None)

#: Seconds between checks that the owner still lives, where Trio has no
#: parking-lot breakers.
OWNER_CHECK = 1.0

_NOBLOCK = int(zmq.NOBLOCK)
_SNDMORE = int(zmq.SNDMORE)


def _broken() -> trio.BrokenResourceError:
    return trio.BrokenResourceError(
        "a task ended halfway through a multipart message (after a send with "
        "zmq.SNDMORE and no last frame), so this socket can never send a whole "
        "message again: close it and make a new one. Send messages with "
        "send_multipart(), or finish a SNDMORE message in the task that began it"
    )


class SendTurn:
    """Who may send the next frame: nobody in particular, or the owner of an open message.

    Args:
        readiness: the socket's, whose close ends every wait for a turn.
        send: sends one frame, as pyzmq's ``send(data, flags, copy, track)``;
            ``zmq.Again`` means it sent nothing.
        discards_rest: the socket type's libzmq discards the rest of a
            message whose peer vanished by itself (see the module's essay).

    Attributes:
        owner: the task whose message is open, or ``None``.
        dropping: the open message died (its peer went away between two
            frames) and the rest of its frames are to be discarded here.
    """

    __slots__ = ("_discards_rest", "_lot", "_rd", "_send", "dropping", "owner")

    def __init__(
        self, readiness: Readiness, send: Callable[[Any, int, bool, bool], Any], discards_rest: bool
    ) -> None:
        self.owner: Task | None = None
        self.dropping = False
        self._lot: trio.lowlevel.ParkingLot | None = None  # made when first needed
        self._rd = readiness
        self._send = send
        self._discards_rest = discards_rest

    def put(
        self, parts: Sequence[Any], flags: int, copy: bool, track: bool, opened: bool
    ) -> zmq.MessageTracker | None:
        """Send *parts*, the next frames of one message, without waiting.

        *opened*: earlier frames of the message went out already (it is the
        calling task's open message); otherwise ``parts[0]`` begins it, and
        ``zmq.Again`` means that nothing was sent. ``SNDMORE`` in *flags*
        keeps the message open after *parts*, with the calling task holding
        the turn. A frame refused after the first is the vanished peer (see
        the module's essay): the message is dropped.
        """
        send = self._send
        dropping = opened and self.dropping
        more = flags & _SNDMORE
        last = len(parts) - 1
        result = None
        for i, part in enumerate(parts):
            if dropping:
                continue
            part_flags = _NOBLOCK | _SNDMORE if i < last or more else _NOBLOCK
            try:
                result = send(part, part_flags, copy, track)
            except zmq.Again:
                if not (opened or i):
                    raise  # nothing went out: the caller may wait and retry
                dropping = part_flags & _SNDMORE != 0 and not self._discards_rest
        if more:
            self.take(trio.lowlevel.current_task())
            self.dropping = dropping
        elif self.owner is not None:  # then the caller's: its message ends here
            self.release()
        if track and result is None:  # every frame was discarded: nothing to track
            result = zmq.MessageTracker()
        return result

    def free_for(self, task: Task | None) -> bool:
        """Whether *task* may send a frame now."""
        owner = self.owner
        return owner is None or owner is task

    def _parking_lot(self) -> trio.lowlevel.ParkingLot:
        lot = self._lot
        if lot is None:
            lot = self._lot = trio.lowlevel.ParkingLot()
        return lot

    def take(self, task: Task) -> None:
        """*task* sent a frame with ``SNDMORE``: its message is open."""
        if self.owner is task:
            return
        self.owner = task
        if _add_breaker is not None:
            _add_breaker(task, self._parking_lot())

    def release(self) -> None:
        """The owner sent its last frame: the next message may begin."""
        owner = self.owner
        if owner is None:
            return
        self.owner = None
        self.dropping = False
        lot = self._parking_lot()
        if _remove_breaker is not None and not lot.broken_by:
            _remove_breaker(owner, lot)
        lot.unpark_all()

    def check(self) -> None:
        """Raise if no turn can ever come: the socket closed, or the owner died."""
        if self._rd.closed:
            raise closed_socket()  # closed says more than an unfinished message
        owner = self.owner
        if owner is not None and owner.coro.cr_frame is None:  # its coroutine has ended
            raise _broken()

    async def wait(self, task: Task) -> None:
        """Sleep until *task* may send; counted among the socket's sleepers.

        Raises:
            trio.ClosedResourceError: the socket is or gets closed.
            trio.BrokenResourceError: the owner ended without its last frame.
            trio.Cancelled: nothing changed.
        """
        while not self.free_for(task):
            self.check()
            try:
                if _add_breaker is not None:
                    await self._rd.park(self._parking_lot())
                else:
                    with trio.move_on_after(OWNER_CHECK):
                        await self._rd.park(self._parking_lot())
            except trio.BrokenResourceError as exc:
                self.check()  # closed wins
                raise _broken() from exc

    def close(self) -> None:
        """The socket closed: an open message is gone with it (its waiters
        were woken by the readiness's close)."""
        self.release()


protect_methods(SendTurn)
