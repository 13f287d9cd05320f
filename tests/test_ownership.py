"""One owner: a socket belongs to the Trio run that first used it.

Every call from another thread or another ``trio.run()``, synchronous or
async, raises ``RuntimeError`` before it changes anything; the run's own
tasks go on as if nothing happened.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing
import zmq

import trio_zmq

from .helpers import inproc_name, pair

SYNC_CALLS: dict[str, Callable[[trio_zmq.Socket], object]] = {
    "setsockopt": lambda s: s.setsockopt(zmq.LINGER, 5),
    "set": lambda s: s.set(zmq.RCVHWM, 5),
    "attribute set": lambda s: setattr(s, "sndhwm", 5),
    "attribute get": lambda s: s.rcvhwm,
    "get": lambda s: s.get(zmq.EVENTS),
    "subscribe": lambda s: s.subscribe(b"topic"),
    "connect": lambda s: s.connect("inproc://from-a-thread"),
    "bind": lambda s: s.bind("inproc://from-a-thread"),
    "fileno": lambda s: s.fileno(),
    "recv_nowait": lambda s: s.recv_nowait(),
    "send_nowait": lambda s: s.send_nowait(b"x"),
    "close": lambda s: s.close(),
}


@pytest.mark.parametrize("call", list(SYNC_CALLS), ids=list(SYNC_CALLS))
async def test_a_sync_call_from_a_worker_thread_is_refused_before_it_changes_anything(
    ctx: trio_zmq.Context, call: str
) -> None:
    sock = ctx.socket(zmq.SUB)
    await sock.poll(0)  # an async call: the socket is this run's
    with pytest.raises(RuntimeError, match="another thread.*from_thread"):
        await trio.to_thread.run_sync(SYNC_CALLS[call], sock)
    assert not sock.closed
    assert sock.linger == 0  # as the ctx fixture made it
    assert sock.rcvhwm == sock.sndhwm == 1000
    ctx.socket(zmq.PUB).bind("inproc://from-a-thread")  # nobody bound it


async def test_a_sync_call_from_a_thread_does_not_strand_a_sleeping_receiver(
    ctx: trio_zmq.Context,
) -> None:
    a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
    received: list[bytes] = []
    async with trio.open_nursery() as nursery:

        async def receive() -> None:
            received.append(await b.recv())

        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(RuntimeError):
            await trio.to_thread.run_sync(lambda: b.rcvhwm)
        await a.send(b"hello")
    assert received == [b"hello"]


async def test_close_from_a_thread_while_a_task_waits_for_its_turn_is_refused(
    ctx: trio_zmq.Context,
) -> None:
    push, pull = pair(ctx, zmq.PUSH, zmq.PULL)
    release = trio.Event()

    async def owner() -> None:
        await push.send(b"a", zmq.SNDMORE)
        await release.wait()
        await push.send(b"b")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(push.send_multipart, [b"waits for its turn"])
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(RuntimeError, match="another thread"):
            await trio.to_thread.run_sync(push.close)
        assert not push.closed
        release.set()
    assert await pull.recv_multipart() == [b"a", b"b"]
    assert await pull.recv_multipart() == [b"waits for its turn"]


async def test_an_async_call_from_another_run_is_refused(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PULL)
    await sock.poll(0)

    def other_run() -> None:
        async def use() -> None:
            await sock.poll(0)

        trio.run(use)

    with pytest.raises(RuntimeError, match="another trio.run"):
        await trio.to_thread.run_sync(other_run)


async def test_a_sync_call_from_another_run_is_refused(ctx: trio_zmq.Context) -> None:
    sock = ctx.socket(zmq.PULL)

    def other_run() -> None:
        async def use() -> None:
            sock.connect(inproc_name())

        trio.run(use)

    with pytest.raises(RuntimeError, match="another trio.run"):
        await trio.to_thread.run_sync(other_run)


def test_after_its_run_ends_the_socket_can_still_be_closed_on_that_thread() -> None:
    async def make() -> tuple[trio_zmq.Context, trio_zmq.Socket]:
        context = trio_zmq.Context(linger=0)
        sock = context.socket(zmq.PUSH)
        await sock.poll(0, zmq.POLLIN)
        return context, sock

    context, sock = trio.run(make)
    sock.linger = 0  # no run is current on this thread: the owner's run is over
    sock.close()
    assert sock.closed
    context.destroy()


def test_a_socket_made_outside_any_run_is_adopted_by_the_first_run_that_uses_it() -> None:
    context = trio_zmq.Context(linger=0)
    try:
        sock = context.socket(zmq.PULL)
        sock.rcvhwm = 10  # nobody owns it yet: allowed anywhere

        async def use() -> Any:
            return sock.rcvhwm

        assert trio.run(use) == 10
    finally:
        context.destroy()


async def test_a_closed_socket_still_refuses_a_call_from_another_thread(
    ctx: trio_zmq.Context,
) -> None:
    sock = ctx.socket(zmq.PAIR)
    sock.close()
    with pytest.raises(RuntimeError, match="another thread"):
        await trio.to_thread.run_sync(lambda: sock.rcvhwm)


async def test_a_socket_with_a_half_sent_message_is_not_lent(ctx: trio_zmq.Context) -> None:
    push, pull = pair(ctx, zmq.PUSH, zmq.PULL)
    await push.send(b"head", zmq.SNDMORE)
    with (
        pytest.raises(trio.BusyResourceError, match="halfway through a multipart message"),
        push.lend("a test"),
    ):
        pass  # pragma: no cover
    await push.send(b"tail")
    assert await pull.recv_multipart() == [b"head", b"tail"]
    with push.lend("a test"):
        pass  # now it can be


async def test_a_context_with_a_socket_of_another_run_closes_what_it_can_and_says_why() -> None:
    import threading

    ctx = trio_zmq.Context(linger=0)
    mine = ctx.socket(zmq.PAIR)
    theirs: list[trio_zmq.Socket] = []
    adopted, close_now = threading.Event(), threading.Event()

    def other_run() -> None:
        async def use() -> None:
            theirs.append(ctx.socket(zmq.PAIR))  # made, so owned, by this other run
            adopted.set()
            await trio.to_thread.run_sync(close_now.wait, abandon_on_cancel=True)
            theirs[0].close()

        trio.run(use)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(trio.to_thread.run_sync, other_run, abandon_on_cancel=True))
        await trio.to_thread.run_sync(adopted.wait, abandon_on_cancel=True)
        with pytest.raises(RuntimeError, match="1 of this context's sockets"):
            await ctx.aclose()
        assert mine.closed
        assert not theirs[0].closed
        still_open = not ctx.closed  # closing it again can finish the job
        close_now.set()
    assert still_open
    await ctx.aclose()
    assert ctx.closed
    assert ctx.underlying.closed


async def test_a_lent_socket_refuses_another_runs_wait_closed_and_reclaim(
    ctx: trio_zmq.Context,
) -> None:
    sock = ctx.socket(zmq.PAIR)
    with sock.lend("a test"):  # lent without a recall

        def elsewhere() -> None:
            for call in (sock.wait_closed, sock.reclaim):
                with pytest.raises(RuntimeError, match="trio.run"):
                    trio.run(call)

        await trio.to_thread.run_sync(elsewhere)
    sock.close()  # nothing of the other run was left parked on the socket
