"""A cancelled send or receive had no effect; one that returned took effect.

Thousands of sequence-numbered messages go through sockets with tiny
high-water marks while sends and receives are cancelled at random moments
(before the call, while it waits, or never). A cancelled call is retried, so
if cancellation is clean the receiver ends with every number exactly once,
in order, each multipart message whole.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import trio
import zmq

import trio_zmq

from .helpers import pair

T = TypeVar("T")
N = 3000

# Deadlines: already passed, very short (lands while waiting), or none.
DEADLINES = (-1.0, 0.0, 1e-5, 1e-4, 1e-3, math.inf, math.inf)


async def until_done(rng: random.Random, call: Callable[[], Awaitable[T]]) -> tuple[T, int]:
    """Call with a random deadline until it returns; count the cancellations."""
    cancelled = 0
    while True:
        with trio.CancelScope(deadline=trio.current_time() + rng.choice(DEADLINES)) as scope:
            return await call(), cancelled
        assert scope.cancelled_caught
        cancelled += 1


@pytest.mark.parametrize("transport", ["inproc", "tcp"])
@pytest.mark.parametrize("multipart", [False, True])
async def test_random_cancellation_loses_splits_and_duplicates_nothing(
    ctx: trio_zmq.Context, transport: str, multipart: bool
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH, transport, sndhwm=1, rcvhwm=1)
    rng_send, rng_recv = random.Random(1), random.Random(2)
    received: list[int] = []
    cancellations = 0

    async def sender() -> None:
        nonlocal cancellations
        for i in range(N):
            if multipart:
                parts = [b"%d" % i, b"-", b"%d" % (i * 7)]
                _, n = await until_done(rng_send, lambda: push.send_multipart(parts))
            else:
                _, n = await until_done(rng_send, lambda: push.send(b"%d" % i))
            cancellations += n

    async def receiver() -> None:
        nonlocal cancellations
        for _ in range(N):
            if multipart:
                msg, n = await until_done(rng_recv, pull.recv_multipart)
                seq, dash, check = msg
                assert dash == b"-"
                assert int(check) == int(seq) * 7
                received.append(int(seq))
            else:
                frame, n = await until_done(rng_recv, pull.recv)
                received.append(int(frame))
            cancellations += n

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receiver)
        nursery.start_soon(sender)
    assert received == list(range(N))
    assert cancellations > N // 10  # the test did cancel a lot


async def test_random_cancellation_of_frame_by_frame_sends_keeps_messages_whole(
    ctx: trio_zmq.Context,
) -> None:
    pull, push = pair(ctx, zmq.PULL, zmq.PUSH, sndhwm=1, rcvhwm=1)
    rng = random.Random(3)
    messages = 1000

    async def sender(name: bytes) -> None:
        for i in range(messages):
            await until_done(rng, lambda: push.send(name, zmq.SNDMORE))
            await until_done(rng, lambda: push.send(b"%d" % i))

    got: dict[bytes, list[int]] = {b"a": [], b"b": []}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender, b"a")
        nursery.start_soon(sender, b"b")
        for _ in range(2 * messages):
            name, seq = await pull.recv_multipart()
            got[name].append(int(seq))
    assert got == {b"a": list(range(messages)), b"b": list(range(messages))}


async def test_cancelled_recv_leaves_the_message_for_the_next_call(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as scope:
            nursery.start_soon(lambda: _cancel_when_blocked(scope))
            await b.recv()
        assert scope.cancelled_caught
    await a.send(b"kept")
    assert await b.recv() == b"kept"


async def _cancel_when_blocked(scope: trio.CancelScope) -> None:
    await trio.testing.wait_all_tasks_blocked()
    scope.cancel()
