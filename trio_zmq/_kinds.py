"""One table of ZeroMQ socket types, and every list of them derived from it.

What a socket type can do (send, receive), which way its messages flow,
whether it moves in lock step (REQ, REP), what libzmq does with the rest of
a message whose peer vanished, where it fits in the classic devices, and
what to tell a user who calls what it cannot do: all of it is written here
once. Channels, the proxy, error messages and the command line read it.

Draft types appear only where this pyzmq knows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, final

import zmq

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DEVICES",
    "DISCARDS_REST",
    "KINDS",
    "LOCKSTEP",
    "RECEIVE_ONLY",
    "SEND_ONLY",
    "Device",
    "Kind",
    "kind_name",
    "kind_names",
]

_REQ_ORDER = (
    "a REQ socket must alternate: send() one request, then recv() its reply, "
    "before it can send again. A recv() that was cancelled or timed out still "
    "owes that reply: call recv() again, or create the socket with "
    "req_relaxed=1, req_correlate=1 so that a new request may replace the old one"
)
_REP_ORDER = (
    "a REP socket must alternate: recv() a request, then send() exactly one "
    "reply to it, before it can receive again"
)


@final
@dataclass(frozen=True)
class Kind:
    """One socket type, as trio_zmq sees it.

    Attributes:
        name: ``"PUSH"``, ``"DEALER"``, ...
        sends, receives: whether ``send`` and ``recv`` are allowed at all.
        flow: which way its messages go ("out", "in" or "both"; an XPUB's
            subscriptions coming in do not count).
        lockstep: sends and receives must alternate (REQ, REP).
        discards_rest: libzmq discards the rest of a message whose peer
            vanished between two frames by itself (its load balancer does);
            see ``_turn.py``.
        raw: speaks raw bytes to non-ZeroMQ peers (STREAM).
        draft: a draft type (single-frame messages, thread-safe in libzmq).
        order_hint: the order a lock-step type needs, for ``EFSM`` errors.
        only_hint: what to use instead, for a one-way type's ``ENOTSUP``.
    """

    name: str
    sends: bool
    receives: bool
    flow: Literal["out", "in", "both"]
    lockstep: bool = False
    discards_rest: bool = False
    raw: bool = False
    draft: bool = False
    order_hint: str = ""
    only_hint: str = ""

    @property
    def number(self) -> int:
        return int(getattr(zmq, self.name))


_TABLE = (
    Kind("PAIR", True, True, "both"),
    Kind("PUB", True, False, "out", only_hint="a PUB socket only sends; receive with a SUB socket (or use XPUB)"),
    Kind("SUB", False, True, "in", only_hint="a SUB socket only receives; send with a PUB socket (or use XSUB)"),
    Kind("REQ", True, True, "both", lockstep=True, discards_rest=True, order_hint=_REQ_ORDER),
    Kind("REP", True, True, "both", lockstep=True, order_hint=_REP_ORDER),
    Kind("DEALER", True, True, "both", discards_rest=True),
    Kind("ROUTER", True, True, "both"),
    Kind("PULL", False, True, "in", only_hint="a PULL socket only receives; send with a PUSH socket"),
    Kind("PUSH", True, False, "out", discards_rest=True, only_hint="a PUSH socket only sends; receive with a PULL socket"),
    Kind("XPUB", True, True, "out"),
    Kind("XSUB", True, True, "in"),
    Kind("STREAM", True, True, "both", raw=True),
    Kind("SERVER", True, True, "both", draft=True),
    Kind("CLIENT", True, True, "both", draft=True),
    Kind("RADIO", True, False, "out", draft=True, only_hint="a RADIO socket only sends; receive with a DISH socket"),
    Kind("DISH", False, True, "in", draft=True, only_hint="a DISH socket only receives; send with a RADIO socket"),
    Kind("GATHER", False, True, "in", draft=True, only_hint="a GATHER socket only receives; send with a SCATTER socket"),
    Kind("SCATTER", True, False, "out", draft=True, only_hint="a SCATTER socket only sends; receive with a GATHER socket"),
    Kind("DGRAM", True, True, "both", draft=True),
    Kind("PEER", True, True, "both", draft=True),
    Kind("CHANNEL", True, True, "both", draft=True),
)  # fmt: skip

#: Every socket type this pyzmq knows, by number.
KINDS: dict[int, Kind] = {kind.number: kind for kind in _TABLE if hasattr(zmq, kind.name)}


def _numbers(test: Callable[[Kind], bool]) -> frozenset[int]:
    return frozenset(number for number, kind in KINDS.items() if test(kind))


#: Socket types that cannot receive, and those that cannot send.
SEND_ONLY = _numbers(lambda kind: not kind.receives)
RECEIVE_ONLY = _numbers(lambda kind: not kind.sends)
#: Socket types whose sends and receives must alternate.
LOCKSTEP = _numbers(lambda kind: kind.lockstep)
#: Socket types whose libzmq discards the rest of a dropped message itself.
DISCARDS_REST = _numbers(lambda kind: kind.discards_rest)


def kind_name(socket_type: int) -> str:
    """``"PUSH"`` for ``zmq.PUSH``; the number itself for an unknown type."""
    kind = KINDS.get(socket_type)
    return kind.name if kind is not None else str(socket_type)


def kind_names(test: Callable[[Kind], bool]) -> tuple[str, ...]:
    """The names of the (non-draft) socket types that pass *test*, in table order."""
    return tuple(kind.name for kind in KINDS.values() if not kind.draft and test(kind))


@final
@dataclass(frozen=True)
class Device:
    """One of ZeroMQ's classic devices: the socket types it puts at each end."""

    name: str
    frontends: tuple[str, ...]
    backends: tuple[str, ...]

    @property
    def wanted(self) -> str:
        """How to say which sockets it needs: ``"SUB or XSUB / PUB or XPUB"``."""
        return f"{' or '.join(self.frontends)} / {' or '.join(self.backends)}"

    def fits(self, frontend: int, backend: int) -> bool:
        return kind_name(frontend) in self.frontends and kind_name(backend) in self.backends


#: The classic devices, by ``zmq.QUEUE``, ``zmq.FORWARDER``, ``zmq.STREAMER``.
DEVICES: dict[int, Device] = {
    int(zmq.QUEUE): Device("QUEUE", ("ROUTER",), ("DEALER",)),
    int(zmq.FORWARDER): Device("FORWARDER", ("SUB", "XSUB"), ("PUB", "XPUB")),
    int(zmq.STREAMER): Device("STREAMER", ("PULL",), ("PUSH",)),
}
