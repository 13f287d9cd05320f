"""Every call is a cancel point; immediate calls yield once every 64 (or always)."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq

from .helpers import pair


class StepCounter(trio.abc.Instrument):
    """Counts how many times one task is scheduled: once per schedule point."""

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task = task
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is self.task:
            self.steps += 1


def _checkpoint_mode(strict: bool) -> Iterator[None]:
    """Run a test in one mode, then restore the mode it found (the env may set it)."""
    before = trio_zmq.strict_checkpoints_enabled()
    trio_zmq.set_strict_checkpoints(strict)
    try:
        yield
    finally:
        trio_zmq.set_strict_checkpoints(before)


@pytest.fixture
def strict() -> Iterator[None]:
    yield from _checkpoint_mode(True)


@pytest.fixture(autouse=True)
def lenient(request: pytest.FixtureRequest) -> Iterator[None]:
    """The default mode, whatever TRIO_ZMQ_STRICT_CHECKPOINTS says (but for ``strict``)."""
    if "strict" in request.fixturenames:
        yield
    else:
        yield from _checkpoint_mode(False)


async def count_steps(calls: int, call: Callable[[], Awaitable[Any]]) -> int:
    counter = StepCounter(trio.lowlevel.current_task())
    trio.lowlevel.add_instrument(counter)
    try:
        for _ in range(calls):
            await call()
    finally:
        trio.lowlevel.remove_instrument(counter)
    return counter.steps


def immediate_calls(a: trio_zmq.Socket, b: trio_zmq.Socket) -> list[Callable[[], Awaitable[Any]]]:
    """Calls that complete at once on a PAIR with room and a message waiting."""

    async def send_then_recv() -> None:
        await a.send(b"x")
        await b.recv()

    async def multipart() -> None:
        await a.send_multipart([b"x", b"y"])
        await b.recv_multipart()

    async def noblock_miss() -> None:
        with pytest.raises(zmq.Again):
            await b.recv(zmq.NOBLOCK)

    async def poll() -> None:
        await a.poll(0, zmq.POLLOUT)

    return [send_then_recv, multipart, noblock_miss, poll]


async def test_immediate_calls_yield_at_least_once_every_64(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, sndhwm=0, rcvhwm=0)
    for call in immediate_calls(a, b):
        rounds = 20 * trio_zmq.SCHEDULE_INTERVAL
        steps = await count_steps(rounds, call)
        # at least one schedule point per SCHEDULE_INTERVAL calls ...
        assert steps >= rounds // trio_zmq.SCHEDULE_INTERVAL, call.__name__
        # ... and far fewer than one per call: that is the point of the bound
        assert steps < rounds // 2, call.__name__


async def test_a_task_looping_on_immediate_calls_lets_others_run(ctx: trio_zmq.Context) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, sndhwm=0, rcvhwm=0)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)  # runs only when this task yields
        for _ in range(4 * trio_zmq.SCHEDULE_INTERVAL):
            await a.send(b"x")
        assert ticks > 0
        nursery.cancel_scope.cancel()


def test_another_threads_run_cannot_spend_a_tasks_count() -> None:
    """The bound holds per run: calls in another thread's run do not count."""
    go, done, stop = threading.Event(), threading.Event(), threading.Event()

    async def other_run() -> None:
        async with trio_zmq.Context(linger=0) as ctx:
            c, d = pair(ctx, zmq.PAIR, zmq.PAIR, sndhwm=0, rcvhwm=0)
            while True:
                go.wait()  # blocking: this run makes one call per call of the other
                go.clear()
                if stop.is_set():
                    return
                await c.send(b"x")
                await d.recv()
                done.set()

    async def main() -> int:
        async with trio_zmq.Context(linger=0) as ctx:
            a, b = pair(ctx, zmq.PAIR, zmq.PAIR, sndhwm=0, rcvhwm=0)
            counter = StepCounter(trio.lowlevel.current_task())
            trio.lowlevel.add_instrument(counter)
            longest = run = 0
            for _ in range(8 * trio_zmq.SCHEDULE_INTERVAL):
                before = counter.steps
                await a.send(b"x")
                await b.recv()
                run = run + 2 if counter.steps == before else 0
                longest = max(longest, run)
                go.set()  # and wait, without a checkpoint, for the other run's calls
                assert done.wait(10)
                done.clear()
            trio.lowlevel.remove_instrument(counter)
            return longest

    thread = threading.Thread(target=trio.run, args=(other_run,))
    thread.start()
    try:
        longest = trio.run(main)
    finally:
        stop.set()
        go.set()
        thread.join(10)
    assert longest <= trio_zmq.SCHEDULE_INTERVAL


async def test_strict_checkpoints_make_every_call_a_schedule_point(
    ctx: trio_zmq.Context, strict: None
) -> None:
    assert trio_zmq.strict_checkpoints_enabled()
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR, sndhwm=0, rcvhwm=0)
    for call in (
        lambda: a.send(b"x"),
        lambda: b.recv(),
        lambda: a.send_multipart([b"x"]),
        lambda: b.recv_multipart(),
        lambda: a.send_string("x"),
        lambda: b.recv_string(),
        lambda: a.poll(0, zmq.POLLOUT),
    ):
        with trio.testing.assert_checkpoints():
            await call()
    with trio.testing.assert_checkpoints(), pytest.raises(zmq.Again):
        await b.recv(zmq.NOBLOCK)
    steps = await count_steps(100, lambda: a.send(b"x"))
    assert steps >= 100


@pytest.mark.parametrize("strict_mode", [False, True])
async def test_every_call_in_a_cancelled_scope_raises_cancelled_and_has_no_effect(
    ctx: trio_zmq.Context, strict_mode: bool
) -> None:
    trio_zmq.set_strict_checkpoints(strict_mode)
    try:
        a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
        await a.send(b"waiting")
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: a.send(b"x"),
            lambda: a.send(b"x", zmq.SNDMORE),
            lambda: a.send_multipart([b"x", b"y"]),
            lambda: a.send_string("x"),
            lambda: a.send_json(1),
            lambda: a.send_pyobj(1),
            lambda: b.recv(),
            lambda: b.recv(zmq.NOBLOCK),
            lambda: b.recv_multipart(),
            lambda: b.recv_string(),
            lambda: b.recv_json(),
            lambda: b.recv_pyobj(),
            lambda: b.recv(copy=False),
            lambda: b.recv_multipart(copy=False),
            lambda: a.send_serialized(1, lambda n: [b"%d" % n]),
            lambda: b.recv_serialized(lambda frames: frames),
            lambda: b.__anext__(),
            lambda: b.poll(0),
            lambda: b.poll(),
        ]
        for call in calls:
            with trio.CancelScope() as scope:
                scope.cancel()
                await call()
            assert scope.cancelled_caught
        # nothing was sent, nothing was consumed
        assert await b.recv() == b"waiting"
        with pytest.raises(zmq.Again):
            await b.recv(zmq.NOBLOCK)
        await a.send(b"after")  # and no half message is pending from SNDMORE
        assert await b.recv_multipart() == [b"after"]
    finally:
        trio_zmq.set_strict_checkpoints(False)


async def test_aclose_in_a_cancelled_scope_still_closes(ctx: trio_zmq.Context) -> None:
    a, _ = pair(ctx, zmq.PAIR, zmq.PAIR)
    with trio.CancelScope() as scope:
        scope.cancel()
        await a.aclose()
    assert scope.cancelled_caught
    assert a.closed
