"""Churn: messages stay whole, and sends keep their deadlines, while peers come and go.

Tasks send 3-frame messages (a header, 1 MiB, a trailer) on a PUSH or a
DEALER while peers in a thread connect, receive a few messages and vanish,
often between two frames of a message. Every message a peer receives must be
whole, and every send must return, or honour its deadline, within a bound.

One peer at a time: with two pipes at the sender, libzmq itself can split a
message when the other pipe goes away in its middle, blocking pyzmq
included (see the xfail in ``test_libzmq.py``). A peer's close ends its
pipe at the sender only a little later (the sender's socket takes the
news at its next call), so the next peer connects :data:`GAP` seconds
after the last one closed: without the gap, about one run in ten saw the
libzmq split (a message's first two frames glued to the next message).

A few seconds in the default suite; ``nox -s soak`` (``TRIO_ZMQ_SOAK=1``)
runs it for a minute per socket type.
"""

from __future__ import annotations

import os
import random
import struct
import threading
from dataclasses import dataclass, field

import pytest
import trio
import zmq

import trio_zmq

SOAK = os.environ.get("TRIO_ZMQ_SOAK", "") not in ("", "0")
SECONDS = 60.0 if SOAK else 3.0
PAYLOAD = b"\xab" * (1 << 20)
DEADLINE = 0.2
#: How long past its deadline a send may take to return (a loaded machine
#: can be slow; a send that ignores its deadline never returns).
SLACK = 10.0
_HEADER = struct.Struct("!QI")
#: Seconds between one peer's close and the next peer's connect (see above).
GAP = 0.05


@dataclass
class Tally:
    whole: int = 0
    broken: list[list[int]] = field(default_factory=list)
    sent: int = 0
    timed_out: int = 0
    slowest: float = 0.0


def _message(number: int) -> list[bytes]:
    return [_HEADER.pack(number, 3), PAYLOAD, _HEADER.pack(number, 3)]


def _check(frames: list[bytes], tally: Tally) -> None:
    if (
        len(frames) == 3
        and len(frames[0]) == len(frames[2]) == _HEADER.size
        and frames[0] == frames[2]
        and frames[1] == PAYLOAD
    ):
        tally.whole += 1
    else:
        tally.broken.append([len(frame) for frame in frames])


def _peers(endpoint: str, peer_type: int, stop: threading.Event, tally: Tally, seed: int) -> None:
    """Connect, take a few messages, vanish (with linger 0), again, until *stop*."""
    rng = random.Random(seed)
    zctx = zmq.Context()
    try:
        while not stop.is_set():
            peer = zctx.socket(peer_type)
            peer.linger = 0
            peer.rcvhwm = 1
            peer.rcvtimeo = 100
            peer.connect(endpoint)
            try:
                for _ in range(rng.randint(1, 3)):
                    _check(peer.recv_multipart(), tally)
            except zmq.Again:
                pass
            finally:
                peer.close(linger=0)
            stop.wait(GAP)
    finally:
        zctx.term()


async def _send_whole(sock: trio_zmq.Socket, stop: trio.Event, tally: Tally, first: int) -> None:
    number = first
    while not stop.is_set():
        number += 2
        started = trio.current_time()
        with trio.move_on_after(DEADLINE) as scope:
            await sock.send_multipart(_message(number))
        _account(tally, scope, trio.current_time() - started)


async def _send_by_frames(
    sock: trio_zmq.Socket, stop: trio.Event, tally: Tally, first: int
) -> None:
    number = first
    while not stop.is_set():
        number += 2
        header, payload, trailer = _message(number)
        started = trio.current_time()
        # Only the first frame may wait: the later frames of an open
        # message never do, so they need no deadline of their own.
        with trio.move_on_after(DEADLINE) as scope:
            await sock.send(header, zmq.SNDMORE)
        if not scope.cancelled_caught:
            await sock.send(payload, zmq.SNDMORE)
            await sock.send(trailer)
        _account(tally, scope, trio.current_time() - started)


def _account(tally: Tally, scope: trio.CancelScope, elapsed: float) -> None:
    tally.slowest = max(tally.slowest, elapsed)
    if scope.cancelled_caught:
        tally.timed_out += 1
    else:
        tally.sent += 1


@pytest.mark.timeout_seconds(SECONDS + 60)
@pytest.mark.parametrize(
    ("sender_type", "peer_type"),
    [(zmq.PUSH, zmq.PULL), (zmq.DEALER, zmq.DEALER)],
    ids=["PUSH", "DEALER"],
)
async def test_messages_stay_whole_and_sends_keep_deadlines_while_peers_vanish(
    sender_type: int, peer_type: int
) -> None:
    sent, received = Tally(), Tally()
    stop_peers = threading.Event()
    async with trio_zmq.Context(linger=0) as ctx:
        sender = ctx.socket(sender_type, sndhwm=1)
        endpoint = sender.bind("tcp://127.0.0.1:*")
        stop_sending = trio.Event()
        async with trio.open_nursery() as peers:
            peers.start_soon(
                trio.to_thread.run_sync, _peers, endpoint, peer_type, stop_peers, received, 0
            )
            async with trio.open_nursery() as senders:
                senders.start_soon(_send_whole, sender, stop_sending, sent, 0)
                senders.start_soon(_send_by_frames, sender, stop_sending, sent, 1)
                await trio.sleep(SECONDS)
                stop_sending.set()
            stop_peers.set()
    assert received.broken == []
    assert received.whole > 0
    assert sent.sent > 0
    assert sent.slowest < DEADLINE + SLACK
