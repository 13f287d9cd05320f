"""The slow joiner, waited out: :func:`wait_subscribed`.

A PUB socket drops every message for a subscriber whose subscription has
not reached it yet, and nothing says when it has: a SUB that connects and
subscribes, and a PUB that publishes at once, lose the first messages (the
ZeroMQ Guide's "slow joiner"). The only proof that a subscription has
arrived is a message that went through it. So :func:`wait_subscribed`
publishes *probes* on the topic until one arrives.

Probes must never reach a later receive. Each carries a marker and a token
of its own call, and the subscriber takes every probe it sees. Once one has
arrived, the call publishes a last probe, the *fence*, and receives until
the fence arrives: messages on one connection keep their order, so every
probe published before the fence has then either arrived (and been taken)
or was dropped by the publisher, and none is left in flight. (This holds
for a publisher and a subscriber joined by one connection, as a test's
pair is.)
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING

import trio
import zmq

if TYPE_CHECKING:
    from .._socket import Socket

__all__ = ["PROBE_MARK", "wait_subscribed"]

#: What every probe holds after its topic.
PROBE_MARK = b"\x00trio_zmq.testing probe\x00"

#: Seconds between probes, at first and at most.
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.05

_PUBLISHERS = frozenset({int(zmq.PUB), int(zmq.XPUB)})
_SUBSCRIBERS = frozenset({int(zmq.SUB), int(zmq.XSUB)})


def _check(pub: Socket, sub: Socket, topic: bytes) -> None:
    if not isinstance(topic, bytes):
        raise TypeError(
            f"wait_subscribed() takes the topic as bytes, not {type(topic).__name__}; "
            "encode a text topic"
        )
    if int(pub.socket_type) not in _PUBLISHERS or int(sub.socket_type) not in _SUBSCRIBERS:
        raise TypeError(
            "wait_subscribed(pub, sub) takes a PUB or XPUB socket, then a SUB or XSUB "
            f"socket; got {zmq.SocketType(pub.socket_type).name} and "
            f"{zmq.SocketType(sub.socket_type).name}"
        )


async def wait_subscribed(pub: Socket, sub: Socket, topic: bytes = b"") -> None:
    """Wait until *sub*'s subscription to *topic* has reached *pub*.

    Publishes probes on *topic* from *pub* until *sub* receives one, then
    takes every probe still on its way, so that no later receive on *sub*
    sees one. *sub* must already be subscribed to *topic* (or to a prefix
    of it), and connected to *pub* by one connection, over any transport.
    Call it before the real messages flow: it takes every message *sub*
    receives meanwhile (probes of other calls too), so a message that is
    not a probe makes it fail.

    Args:
        pub: a PUB or XPUB socket.
        sub: a SUB or XSUB socket.
        topic: the topic to prove, as bytes.

    Raises:
        TypeError: the sockets or the topic are not of the kinds above;
            raised before anything is sent.
        RuntimeError: *sub* received a message that is not a probe (one
            published by someone else): it has been taken, so the call says
            what it was.
        trio.Cancelled: cancelled; a probe already published may still
            reach *sub* later (its payload starts with *topic* followed by
            :data:`PROBE_MARK`).
    """
    _check(pub, sub, topic)
    mark = topic + PROBE_MARK + os.urandom(8)
    numbers = itertools.count()

    async def publish() -> bytes:
        probe = mark + str(next(numbers)).encode()
        await pub.send(probe)
        return probe

    async def take_until(wanted: bytes | None, seconds: float) -> bool:
        """Take probes for *seconds*; True once *wanted* (or, if None, any probe) arrives."""
        with trio.move_on_after(seconds):
            while True:
                message = await sub.recv_multipart()
                if len(message) != 1 or PROBE_MARK not in message[0]:
                    raise RuntimeError(
                        "wait_subscribed() received a message that is not its probe "
                        f"({message!r:.200}): call it before anything else is published "
                        "to this subscriber"
                    )
                if wanted is None or message[0] == wanted:
                    return True
        return False

    pause = _FIRST_PAUSE
    while True:
        await publish()
        if await take_until(None, pause):
            break
        pause = min(pause * 2, _LONGEST_PAUSE)
    # The subscription is there: a fence behind every probe sent so far.
    while not await take_until(await publish(), _LONGEST_PAUSE):
        pass  # the fence was dropped (a full pipe): publish another
