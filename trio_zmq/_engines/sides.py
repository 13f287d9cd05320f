"""The two sides of a proxy: their names, which ways they forward, what they counted.

Both engines and :mod:`trio_zmq._proxy` speak this vocabulary. An engine
keeps a :class:`SideCounter` per side (or, for libzmq's proxy, reads libzmq's
counts into the same four names); users get frozen snapshots,
:class:`ProxyStatistics` holding a :class:`ProxySideStatistics` per side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias, final

from .._kinds import RECEIVE_ONLY, SEND_ONLY

if TYPE_CHECKING:
    from .._socket import Socket

__all__ = [
    "ProxySideStatistics",
    "ProxyStatistics",
    "Side",
    "SideCounter",
    "can_send",
    "forwards",
]

#: Which socket a message came from, as passed to a native engine's hook.
Side: TypeAlias = Literal["frontend", "backend"]


def can_send(sock: Socket) -> bool:
    """Whether *sock*'s type may send (a SUB or PULL socket may not)."""
    return sock.socket_type not in RECEIVE_ONLY


def forwards(src: Socket, dst: Socket) -> bool:
    """Whether a proxy can forward from *src* to *dst*: *src* receives and *dst* sends."""
    return src.socket_type not in SEND_ONLY and dst.socket_type not in RECEIVE_ONLY


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


@final
class SideCounter:
    """One side's running counts, as an engine adds to them; :meth:`snapshot` freezes them.

    The native engine adds to two of these for every message it forwards,
    so it is a plain object with slots: an attribute update costs what a
    list slot's did, and says which count it is.
    """

    __slots__ = ("bytes_in", "bytes_out", "messages_in", "messages_out")

    def __init__(self) -> None:
        self.messages_in = 0
        self.bytes_in = 0
        self.messages_out = 0
        self.bytes_out = 0

    def __repr__(self) -> str:
        return (
            f"<SideCounter in={self.messages_in}/{self.bytes_in}B "
            f"out={self.messages_out}/{self.bytes_out}B>"
        )

    def snapshot(self) -> ProxySideStatistics:
        """The counts so far, frozen."""
        return ProxySideStatistics(
            messages_in=self.messages_in,
            bytes_in=self.bytes_in,
            messages_out=self.messages_out,
            bytes_out=self.bytes_out,
        )
