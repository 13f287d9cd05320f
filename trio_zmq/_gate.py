"""The one way into libzmq: every call on a socket, and the edge-trigger rule kept on every way out.

A call into a ZeroMQ socket (a send, a receive, an option, a ``connect``,
even one that fails) may make libzmq process the socket's pending commands,
which clears the socket's edge-triggered ``zmq.FD`` while another task
sleeps on it waiting for exactly the news those commands carried
(pyzmq#951; see ``_readiness.py``). Whoever makes such a call must then give
the sleepers a fresh look at ``zmq.EVENTS``.

Remembered at each call site, that rule was forgotten at one of them (a
``*_nowait`` call failing with ``trio.WouldBlock`` stranded a sleeper). So
``trio_zmq.Socket`` calls its raw socket only through its :class:`Gate`
(but for the few option reads that make the wrapper, before anyone can
wait on it; they process no commands): :meth:`Gate.now` makes the call
and, however it ends (a result, ``zmq.Again`` or any error), hands the
sleepers a fresh look, in one ``finally`` that every call goes through.
``tests/test_conformance.py`` drives every public operation of a socket
through the scenario that needs it. (A raw ``zmq.Socket`` that a Poller
waits on without a wrapper, and the libzmq proxy's own control socket, are
outside: no ``trio_zmq.Socket`` sleeps on them.)

:meth:`Gate.now` is also the one shape of an attempt: ``zmq.Again`` comes
back as :data:`AGAIN`, a value the slow path of every async call starts
from, and libzmq's other errors come out translated (``_errors.py``).

Two attempts are made far more often than the rest: a receive and a send,
once or more per message. :meth:`Gate.receive` and :meth:`Gate.send` are
:meth:`Gate.now` with their arguments spelled out, because passing them
through ``*args`` costs some 50 ns a call, a tenth of receiving a small
message (``docs/performance.md``). The three share the shape above, and
``tests/test_gate.py`` holds each of them to it.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, final

import zmq
import zmq.backend

from ._errors import raise_translated
from ._ki import protect_methods

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._readiness import Readiness

__all__ = ["AGAIN", "Again", "Gate"]

T = TypeVar("T")

# The Cython method under pyzmq's Python layer (see ``_socket.py``).
_send: Any = zmq.backend.Socket.send


class Again(enum.Enum):
    """The type of :data:`AGAIN` (an enum, so that ``is AGAIN`` narrows types)."""

    AGAIN = "AGAIN"


#: What :meth:`Gate.now` returns for ``zmq.Again``: the call would have had to
#: wait, and did nothing.
AGAIN: Final[Literal[Again.AGAIN]] = Again.AGAIN


@final
class Gate:
    """Every call into one socket's libzmq goes through here."""

    __slots__ = ("_rd", "_sock", "_type")

    def __init__(self, sock: zmq.Socket[Any], readiness: Readiness, socket_type: int) -> None:
        self._sock = sock  # for the two hot attempts; the others name it themselves
        self._rd = readiness
        self._type = socket_type  # for the hints of translated errors

    def now(self, fn: Callable[..., T], *args: Any) -> T | Literal[Again.AGAIN]:
        """``fn(*args)``, a call into the socket that never waits; :data:`AGAIN` for ``zmq.Again``.

        However the call ends, tasks asleep on the socket get a fresh look at
        ``EVENTS`` before anything else runs.

        Raises:
            trio.ClosedResourceError: the socket or its context is gone.
            zmq.ZMQError: any other error of libzmq's (see ``_errors.translate``).
        """
        try:
            return fn(*args)
        except zmq.Again:
            return AGAIN
        except zmq.ZMQError as exc:
            raise_translated(exc, self._type)
        finally:
            rd = self._rd
            if rd.waiting:
                rd.recheck()

    def receive(
        self,
        fn: Callable[[zmq.Socket[Any], int, bool, bool], T],
        flags: int,
        copy: bool,
        track: bool,
    ) -> T | Literal[Again.AGAIN]:
        """:meth:`now` for ``fn(sock, flags, copy, track)``: one frame, or a whole message.

        Raises:
            trio.ClosedResourceError: the socket or its context is gone.
            zmq.ZMQError: any other error of libzmq's (see ``_errors.translate``).
        """
        try:
            return fn(self._sock, flags, copy, track)
        except zmq.Again:
            return AGAIN
        except zmq.ZMQError as exc:
            raise_translated(exc, self._type)
        finally:
            rd = self._rd
            if rd.waiting:
                rd.recheck()

    def send(self, data: Any, flags: int, copy: bool, track: bool) -> Any:
        """:meth:`now` for pyzmq's ``send(data, flags, copy, track)`` of one frame.

        Returns ``None``, a ``zmq.MessageTracker`` when tracking, or :data:`AGAIN`.

        Raises:
            trio.ClosedResourceError: the socket or its context is gone.
            zmq.ZMQError: any other error of libzmq's (see ``_errors.translate``).
            TypeError, ValueError, BufferError: *data* is not a frame pyzmq can send.
        """
        try:
            return _send(self._sock, data, flags, copy, track)
        except zmq.Again:
            return AGAIN
        except zmq.ZMQError as exc:
            raise_translated(exc, self._type)
        finally:
            rd = self._rd
            if rd.waiting:
                rd.recheck()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """:meth:`now` for a call that is not expected to block: ``zmq.Again`` raises."""
        result = self.now(fn, *args)
        if result is AGAIN:
            raise zmq.Again()
        return result

    def events(self) -> int:
        """Read ``zmq.EVENTS``; the read itself is the sleepers' fresh look.

        Raises:
            trio.ClosedResourceError: the socket or its context is gone.
        """
        try:
            return self._rd.events()
        except zmq.ZMQError as exc:
            raise_translated(exc, self._type)


protect_methods(Gate)
