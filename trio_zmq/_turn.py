"""The right to send the next frame of an unfinished multipart message.

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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
import trio.lowlevel

from ._errors import closed_socket
from ._ki import protect_methods

if TYPE_CHECKING:
    from trio.lowlevel import Task

    from ._readiness import Readiness

__all__ = ["SendTurn"]

_add_breaker = getattr(trio.lowlevel, "add_parking_lot_breaker", None)
_remove_breaker = getattr(trio.lowlevel, "remove_parking_lot_breaker", None)

#: Seconds between checks that the owner still lives, where Trio has no
#: parking-lot breakers.
OWNER_CHECK = 1.0


def _broken() -> trio.BrokenResourceError:
    return trio.BrokenResourceError(
        "a task ended halfway through a multipart message (after a send with "
        "zmq.SNDMORE and no last frame), so this socket can never send a whole "
        "message again: close it and make a new one. Send messages with "
        "send_multipart(), or finish a SNDMORE message in the task that began it"
    )


class SendTurn:
    """Who may send the next frame: nobody in particular, or the owner of an open message.

    Attributes:
        owner: the task whose message is open, or ``None``.
        dropping: the open message died (its peer went away between two
            frames) and the rest of its frames are to be discarded here; see
            ``Socket._put_frames``.
    """

    __slots__ = ("_lot", "_rd", "dropping", "owner")

    def __init__(self, readiness: Readiness) -> None:
        self.owner: Task | None = None
        self.dropping = False
        self._lot: trio.lowlevel.ParkingLot | None = None  # made when first needed
        self._rd = readiness

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
