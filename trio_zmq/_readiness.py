"""Who waits on a ZeroMQ socket's FD, who gets woken, and the edge-trigger rule.

A ZeroMQ socket exposes one file descriptor, ``zmq.FD``, which becomes
readable when libzmq has *commands* pending for the socket, not when a
message can be read or written. Any call into the socket (a send, a receive,
reading ``zmq.EVENTS``, even setting an option) may process those commands
and so clear the FD, while messages are still waiting. The FD is therefore
edge-triggered, and the only truth is ``zmq.EVENTS``.

Trio lets one task at a time sleep in ``wait_readable`` on a given FD, so
this module shares one *watcher* between every task that waits on the
socket:

* A task that needs ``POLLIN`` or ``POLLOUT`` first reads ``EVENTS``. If its
  event is there, it goes ahead.
* Otherwise, if nobody is watching the FD, it becomes the watcher and sleeps
  in ``wait_readable``; if somebody is, it parks.
* Whoever reads ``EVENTS`` (the watcher when the FD fires, a task that has
  just sent or received, a synchronous option call) hands the answer to
  everyone asleep: parked tasks whose event is set are woken, and a watcher
  whose event is set is kicked out of ``wait_readable`` (see below). This is
  what keeps a read of ``EVENTS`` by one task from stranding another
  (pyzmq#951).
* A watcher that leaves, for any reason, hands the FD over to one parked
  task, which reads ``EVENTS`` again and either proceeds or watches.
* Tasks that sleep on the socket for another reason (a sender waiting for
  its turn, see ``_turn.py``) sleep through :meth:`Readiness.park`, so that
  the readiness knows every sleeper: :meth:`Readiness.close` wakes them all,
  and :attr:`Readiness.sleepers` counts them.
* Tasks that only wait for the close (:meth:`Readiness.wait_closed`) sleep
  apart: they never watch the FD nor make anyone read ``EVENTS``.

There is never an ``await`` between reading ``EVENTS`` and going to sleep, so
no edge can fall between the check and the park.

**How a watcher is kicked.** Trio wakes a task in ``wait_readable`` early in
two ways only: cancelling a scope around the wait, or ``notify_closing`` on
the FD, which wakes the waiter with ``ClosedResourceError`` and drops the
FD's registration (the next ``wait_readable`` registers it again). A scope
per watch costs more than a schedule point (entering and leaving one is
some twenty Python calls), and every park of a busy socket pays it, while a
kick is rare: it needs a second task on the socket. So the watcher sleeps
without a scope of its own, a kick is ``notify_closing``, and the watcher
tells a kick from a close by :attr:`Readiness.closed`. The socket's FD
belongs to libzmq and is never closed by trio_zmq; ``notify_closing`` only
wakes, as ``tests/test_readiness.py`` checks on the FD itself.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import trio
import zmq
from trio.lowlevel import (
    Abort,
    current_task,
    notify_closing,
    reschedule,
    wait_readable,
    wait_task_rescheduled,
)

from ._errors import closed_socket, raise_translated
from ._ki import protect_methods

if TYPE_CHECKING:
    from collections.abc import Callable

    from trio.lowlevel import ParkingLot, RaiseCancelT, Task

__all__ = ["Readiness"]

_EVENTS = int(zmq.EVENTS)


class Readiness:
    """The shared waiting room of one ZeroMQ socket.

    It knows nothing of messages: it answers "wait until ``EVENTS`` has one of
    these bits" and "something touched the socket, re-check for the sleepers".
    """

    __slots__ = (
        "_closed_lot",
        "_fd",
        "_get",
        "_in_lots",
        "_lots",
        "_parked",
        "_pause_lot",
        "_watcher_mask",
        "_watching",
        "closed",
        "waiting",
    )

    def __init__(self, get: Callable[[int], int], fd: int) -> None:
        self._get = get  # reads an int option: used for EVENTS only
        self._fd = fd
        self._parked: dict[Task, int] = {}
        self._watching = False  # a task sleeps in wait_readable on the FD
        self._watcher_mask = 0
        #: How many tasks are inside :meth:`wait`. Callers on the hot path
        #: check this plain int before paying for :meth:`recheck`.
        self.waiting = 0
        self._lots: dict[ParkingLot, None] | None = None  # where park() has put tasks
        self._in_lots = 0
        self._closed_lot: ParkingLot | None = None  # made when first needed
        self._pause_lot: ParkingLot | None = None
        self.closed = False

    @property
    def sleepers(self) -> int:
        """How many tasks sleep on this socket, for any reason."""
        return self.waiting + self._in_lots

    def events(self) -> int:
        """Read ``zmq.EVENTS`` and pass the news to every sleeper."""
        events: int = self._get(_EVENTS)
        if self.waiting:
            self._dispatch(events)
        return events

    def recheck(self) -> None:
        """Something touched the socket: the FD edge may be gone, re-check."""
        if self.waiting and not self.closed:
            try:
                events: int = self._get(_EVENTS)
            except zmq.ZMQError:
                return  # the socket is going away; close() wakes everyone
            self._dispatch(events)

    def _dispatch(self, events: int) -> None:
        if self._parked:
            ready = [task for task, mask in self._parked.items() if events & mask]
            for task in ready:
                del self._parked[task]
                reschedule(task)
        if events & self._watcher_mask:  # the mask is 0 unless a watcher sleeps
            self._watcher_mask = 0  # one kick is enough
            self._kick()

    def _kick(self) -> None:
        """Wake the watcher out of ``wait_readable`` (see the module's essay)."""
        try:
            notify_closing(self._fd)
        except OSError as exc:
            # Older Trios on kqueue (0.25 among them) raise ENOENT when the
            # FD's one-shot event has fired but Trio has not yet handled it
            # (in guest mode, between two ticks): the watcher wakes from that
            # event anyway. Newer Trios ignore the ENOENT themselves.
            if exc.errno != errno.ENOENT:
                raise

    async def wait(self, mask: int) -> bool:
        """Sleep until ``EVENTS`` has a bit of *mask*; return whether it slept.

        Always reads ``EVENTS`` before sleeping, and returns at once, without
        a checkpoint, if a bit is already there.

        Raises:
            trio.ClosedResourceError: the socket is or gets closed.
            trio.Cancelled: the wait was cancelled; nothing else changed.
        """
        self.waiting += 1
        slept = False
        try:
            while True:
                if self.closed:
                    raise closed_socket()
                try:
                    events: int = self._get(_EVENTS)
                except zmq.ZMQError as exc:
                    raise_translated(exc)
                self._dispatch(events)
                if events & mask:
                    return slept
                slept = True
                if not self._watching:
                    await self._watch(mask)
                else:
                    await self._park(mask)
        finally:
            self.waiting -= 1
            if not self._watching and self._parked and not self.closed:
                # Nobody watches the FD any more but somebody still sleeps:
                # hand the watch to one of them.
                task = next(iter(self._parked))
                del self._parked[task]
                reschedule(task)

    async def _watch(self, mask: int) -> None:
        try:  # set inside the try: an interrupt anywhere here still resets them
            self._watching = True
            self._watcher_mask = mask
            await wait_readable(self._fd)
        except trio.BusyResourceError:
            raise trio.BusyResourceError(
                "another task waits on this socket's zmq.FD itself (sock.underlying.FD), "
                "which Trio lets one task do at a time: wait with await sock.poll(), "
                "or on sock.fileno(), a duplicate made for that"
            ) from None
        except trio.ClosedResourceError:
            if self.closed:
                raise closed_socket() from None
            # Kicked by _dispatch: EVENTS had one of our bits.
        finally:
            self._watching = False
            self._watcher_mask = 0

    async def _park(self, mask: int) -> None:
        task = current_task()
        self._parked[task] = mask

        def abort(_: RaiseCancelT) -> Abort:
            self._parked.pop(task, None)
            return Abort.SUCCEEDED

        await wait_task_rescheduled(abort)

    async def park(self, lot: ParkingLot) -> None:
        """Sleep in *lot* until it is unparked, as one of this socket's sleepers.

        Raises:
            trio.ClosedResourceError: the socket is or gets closed.
            trio.Cancelled: nothing changed.
        """
        if self.closed:
            raise closed_socket()
        if self._lots is None:
            self._lots = {}
        self._lots[lot] = None
        self._in_lots += 1
        try:
            await lot.park()
        finally:
            self._in_lots -= 1
        if self.closed:
            raise closed_socket()

    async def pause(self, seconds: float) -> None:
        """Sleep *seconds*, as one of this socket's sleepers: a close ends it early.

        Raises:
            trio.ClosedResourceError: the socket is or gets closed.
            trio.Cancelled: nothing changed.
        """
        if self._pause_lot is None:
            self._pause_lot = trio.lowlevel.ParkingLot()
        with trio.move_on_after(seconds):
            await self.park(self._pause_lot)

    async def wait_closed(self) -> None:
        """Sleep until :meth:`close`; return at once, without a checkpoint, if closed.

        Raises:
            trio.Cancelled: nothing changed.
        """
        if not self.closed:
            if self._closed_lot is None:
                self._closed_lot = trio.lowlevel.ParkingLot()
            await self._closed_lot.park()

    def close(self) -> None:
        """Mark closed and wake every sleeper; they raise ``ClosedResourceError``.

        Must run before the socket itself is closed (Trio's ``notify_closing``
        order). Outside a Trio run there can be no sleepers, so nothing to do.
        """
        if self.closed:
            return
        self.closed = True
        if self._parked:
            parked, self._parked = self._parked, {}
            for task in parked:
                reschedule(task)
        for lot in self._lots or ():
            lot.unpark_all()
        if self._closed_lot is not None:
            self._closed_lot.unpark_all()
        if self._watching:
            self._kick()


protect_methods(Readiness)
