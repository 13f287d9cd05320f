"""What libzmq itself does, where trio_zmq's code relies on it.

These tests use plain blocking pyzmq, no trio_zmq: each backs a comment or a
code path in the package with the behaviour of the libzmq in use, so that a
libzmq that behaves otherwise fails here, by name, rather than somewhere
subtle.

The peer "vanishes between two frames" deterministically by disconnecting
the sender's own end (inproc, with the peer left idle): the sender's pipe
stops taking frames at once, and libzmq cannot yet have noticed that it is
gone.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

_names = itertools.count()


class _Context(zmq.Context[zmq.Socket[bytes]]):
    """Closes every socket it made when the test ends."""

    made: list[zmq.Socket[bytes]]

    def socket(self, *args: Any, **kwargs: Any) -> zmq.Socket[bytes]:
        sock: zmq.Socket[bytes] = super().socket(*args, **kwargs)
        self.made.append(sock)
        return sock


@pytest.fixture
def zctx() -> Iterator[_Context]:
    context = _Context()
    context.made = []
    yield context
    for sock in context.made:
        sock.close(linger=0)
    context.term()


def _peer(zctx: _Context, kind: int, rcvhwm: int = 1000) -> tuple[zmq.Socket[bytes], str]:
    endpoint = f"inproc://libzmq-fact-{next(_names)}"
    sock = zctx.socket(kind)
    sock.linger = 0
    sock.rcvhwm = rcvhwm
    sock.rcvtimeo = 2000
    sock.bind(endpoint)
    return sock, endpoint


def _received(sock: zmq.Socket[bytes]) -> list[list[bytes]]:
    messages = []
    while True:
        try:
            messages.append(sock.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            return messages


def _body(sender_type: int, message: list[bytes]) -> list[bytes]:
    return message[1:] if sender_type == zmq.DEALER else message  # a ROUTER adds the identity


SENDERS = [
    pytest.param(zmq.PUSH, zmq.PULL, id="PUSH"),
    pytest.param(zmq.DEALER, zmq.ROUTER, id="DEALER"),
]


@pytest.mark.parametrize(("sender_type", "peer_type"), SENDERS)
def test_a_frame_after_the_peer_vanished_fails_and_the_rest_is_discarded_by_libzmq(
    zctx: _Context, sender_type: int, peer_type: int
) -> None:
    # Backs SendTurn.put (_turn.py): a later frame fails with EAGAIN, the frames
    # after it are taken and discarded, and the next message is whole.
    first, first_endpoint = _peer(zctx, peer_type)
    sender = zctx.socket(sender_type)
    sender.linger = 0
    sender.connect(first_endpoint)
    sender.send(b"a", zmq.SNDMORE)
    sender.disconnect(first_endpoint)
    with pytest.raises(zmq.Again):
        sender.send(b"b", zmq.SNDMORE | zmq.NOBLOCK)
    sender.send(b"c", zmq.NOBLOCK)  # taken, and discarded
    second, second_endpoint = _peer(zctx, peer_type)
    sender.connect(second_endpoint)
    sender.send_multipart([b"x", b"y"])
    assert _body(sender_type, second.recv_multipart()) == [b"x", b"y"]
    assert _received(second) == []
    assert _received(first) == []


@pytest.mark.parametrize(("sender_type", "peer_type"), SENDERS)
def test_a_last_frame_refused_after_the_peer_vanished_would_go_out_alone_if_sent_again(
    zctx: _Context, sender_type: int, peer_type: int
) -> None:
    # Why SendTurn.put never sends a refused frame again: libzmq has
    # forgotten the message, so the frame would begin a new one, a fragment.
    first, first_endpoint = _peer(zctx, peer_type)
    sender = zctx.socket(sender_type)
    sender.linger = 0
    sender.connect(first_endpoint)
    sender.send(b"a", zmq.SNDMORE)
    sender.disconnect(first_endpoint)
    with pytest.raises(zmq.Again):
        sender.send(b"z", zmq.NOBLOCK)
    second, second_endpoint = _peer(zctx, peer_type)
    sender.connect(second_endpoint)
    sender.send(b"z")  # what a retry of the refused last frame does
    assert _body(sender_type, second.recv_multipart()) == [b"z"]


def test_a_pair_refuses_every_frame_after_its_peer_vanished(
    zctx: _Context,
) -> None:
    # A PAIR does not discard the rest of the message by itself (its frames
    # would go to whatever peer comes next), hence _DISCARDS_REST leaves it out.
    _, endpoint = _peer(zctx, zmq.PAIR)
    sender = zctx.socket(zmq.PAIR)
    sender.linger = 0
    sender.connect(endpoint)
    sender.send(b"a", zmq.SNDMORE)
    sender.disconnect(endpoint)
    for flags in (zmq.SNDMORE, 0):
        with pytest.raises(zmq.Again):
            sender.send(b"b", flags | zmq.NOBLOCK)


def test_the_high_water_mark_counts_whole_messages(zctx: _Context) -> None:
    # Backs "libzmq takes the rest of a message once it has taken its first
    # frame": with a high-water mark of one message, a message of a thousand
    # frames goes whole, and only the next message is refused.
    peer, endpoint = _peer(zctx, zmq.PULL, rcvhwm=1)
    sender = zctx.socket(zmq.PUSH)
    sender.linger = 0
    sender.sndhwm = 1
    sender.connect(endpoint)
    sender.send(b"0", zmq.SNDMORE | zmq.NOBLOCK)
    for _ in range(1000):
        sender.send(b"more", zmq.SNDMORE | zmq.NOBLOCK)
    sender.send(b"end", zmq.NOBLOCK)
    with pytest.raises(zmq.Again):
        for _ in range(10):  # inproc adds both ends' marks up
            sender.send(b"next", zmq.NOBLOCK)
    assert len(peer.recv_multipart()) == 1002


@pytest.mark.xfail(
    reason="libzmq bug (4.3.4, 4.3.5): when a pipe other than the current one "
    "terminates halfway through a message, and the current pipe was the last "
    "active one, lb_t::pipe_terminated moves the current pipe to another, so "
    "the rest of the message goes to another peer. Blocking pyzmq suffers it "
    "too; trio_zmq cannot prevent it. When this passes, libzmq is fixed.",
    strict=True,
)
def test_a_message_stays_on_its_pipe_when_another_pipe_terminates_midway(
    zctx: _Context,
) -> None:
    sender = zctx.socket(zmq.PUSH)
    sender.linger = 0
    peers = []
    for _ in range(3):
        peer, endpoint = _peer(zctx, zmq.PULL)
        sender.connect(endpoint)
        peers.append(peer)
    for _ in range(3):  # one message each: every pipe is active
        sender.send(b"warm up")
    for peer in peers:
        peer.recv()
    sender.send(b"to the first")
    sender.send(b"to the second")  # the next message goes to the third
    first, second, third = peers
    assert (first.recv(), second.recv()) == (b"to the first", b"to the second")
    sender.send(b"head", zmq.SNDMORE)
    second.close(linger=0)
    for _ in range(20):  # let libzmq see the second pipe go, between two frames
        sender.get(zmq.EVENTS)
        time.sleep(0.01)
    sender.send(b"tail")
    sender.send(b"next")
    assert third.recv_multipart() == [b"head", b"tail"]


EVENTS_READS = """
import sys, zmq
ctx = zmq.Context(); sock = ctx.socket(zmq.PULL); sock.bind("inproc://idle")
for _ in range(int(sys.argv[1])):
    sock.get(zmq.EVENTS)
sock.close(); ctx.term()
"""


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to count system calls")
def test_reading_events_on_an_idle_socket_is_one_poll_system_call_each() -> None:
    # docs/performance.md: every EVENTS read polls the socket's mailbox, which
    # is part of what a park costs (two reads per parked message).
    def polls(reads: int) -> int:
        out = subprocess.run(
            [
                "strace",
                "-f",
                "-c",
                "-e",
                "trace=poll,ppoll",
                sys.executable,
                "-c",
                EVENTS_READS,
                str(reads),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stderr
        return sum(
            int(line.split()[3])
            for line in out.splitlines()
            if line.split()[-1:] in (["poll"], ["ppoll"])
        )

    # One poll() per read; the interpreter's own start and end make a few
    # more, not always the same number.
    assert abs(polls(2000) - polls(1000) - 1000) <= 10


def _fd_readable(sock: zmq.Socket[bytes]) -> bool:
    readable, _, _ = select.select([sock.FD], [], [], 0)
    return bool(readable)


def test_which_calls_take_the_fds_edge() -> None:
    """Backs tests/test_gate.py's choice of calls: a receive, a send and an EVENTS
    read process the socket's commands (clearing the FD); an option read does not.
    The gate re-checks after every call all the same."""
    ctx = _Context()
    ctx.made = []
    try:
        a, endpoint = _peer(ctx, zmq.PAIR)
        b = ctx.socket(zmq.PAIR)
        b.linger = 0
        b.connect(endpoint)

        def command_queued() -> None:
            a.get(zmq.EVENTS)  # takes what is pending: the FD is quiet
            assert not _fd_readable(a)
            b.send(b"x")  # "activate read" for a: the FD fires
            assert _fd_readable(a)

        command_queued()
        a.get(zmq.LINGER)
        a.set(zmq.LINGER, 0)
        assert _fd_readable(a)  # options leave the command alone
        a.get(zmq.EVENTS)
        assert not _fd_readable(a)
        a.recv()
        for take in (lambda: a.recv(zmq.NOBLOCK), lambda: a.send(b"y", zmq.NOBLOCK)):
            command_queued()
            time.sleep(0.005)  # a send skips commands for ~1 ms after the last time
            with contextlib.suppress(zmq.Again):
                take()
            assert not _fd_readable(a), take
            _received(a)
            _received(b)
    finally:
        for sock in ctx.made:
            sock.close(linger=0)
        ctx.term()
