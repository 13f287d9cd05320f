"""Other hosts of a Trio run: guest mode inside asyncio, and AnyIO's Trio backend.

In guest mode (``trio.lowlevel.start_guest_run``) Trio's scheduler runs in
callbacks of the host loop, and only the I/O wait goes to a thread of Trio's.
trio_zmq needs nothing more than ``wait_readable`` and cancel scopes, so it
works there unchanged; these tests show it with the host loop doing work of
its own all along, some of it over ZeroMQ with ``zmq.asyncio``. Under AnyIO's
Trio backend, AnyIO's task groups and cancel scopes are Trio's, and
trio_zmq's calls behave as in ``trio.run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import pytest
import trio
import zmq
import zmq.asyncio
from outcome import Outcome

import trio_zmq

from .helpers import pair

T = TypeVar("T")

LIMIT = 10  # seconds: a bound on each guest run, set inside Trio and in the host


class Host:
    """An asyncio loop running a Trio guest, and counting its own turns meanwhile."""

    def __init__(self) -> None:
        self.turns = 0
        self.guest_done = False

    async def _count_turns(self) -> None:
        while not self.guest_done:
            self.turns += 1
            await asyncio.sleep(0)

    async def run_guest(self, trio_main: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        finished: asyncio.Future[T] = loop.create_future()

        def done(outcome: Outcome[T]) -> None:
            self.guest_done = True
            try:
                finished.set_result(outcome.unwrap())
            except BaseException as exc:  # the guest's own error, for the test to see
                finished.set_exception(exc)

        counter = asyncio.create_task(self._count_turns())
        trio.lowlevel.start_guest_run(
            trio_main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=done,
            host_uses_signal_set_wakeup_fd=True,
        )
        try:
            return await asyncio.wait_for(finished, LIMIT + 5)
        finally:
            self.guest_done = True
            await counter


def test_guest_req_against_an_asyncio_rep_on_the_host_loop() -> None:
    """A trio_zmq REQ in the guest; the host loop answers it with zmq.asyncio."""
    host = Host()
    actx = zmq.asyncio.Context()

    async def host_main() -> list[bytes]:
        rep = actx.socket(zmq.REP)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        endpoint = f"tcp://127.0.0.1:{port}"

        async def serve() -> None:
            for _ in range(10):
                request = await rep.recv()
                await rep.send(request.upper())

        server = asyncio.create_task(serve())

        async def trio_main() -> list[bytes]:
            with trio.fail_after(LIMIT):
                async with trio_zmq.Context() as ctx, ctx.socket(zmq.REQ) as req:
                    req.connect(endpoint)
                    replies = []
                    for i in range(10):
                        await req.send(b"hello %d" % i)
                        replies.append(await req.recv())
                    return replies

        try:
            return await host.run_guest(trio_main)
        finally:
            await server
            rep.close(linger=0)

    try:
        replies = asyncio.run(host_main())
    finally:
        actx.term()
    assert replies == [b"HELLO %d" % i for i in range(10)]
    assert host.turns > 0


def test_guest_many_tasks_on_one_socket_while_the_host_works() -> None:
    """Eight guest tasks share one DEALER; the host loop keeps turning meanwhile."""
    host = Host()
    turns_seen: list[int] = []

    async def trio_main() -> list[bytes]:
        with trio.fail_after(LIMIT):
            async with trio_zmq.Context() as ctx:
                router, dealer = pair(ctx, zmq.ROUTER, zmq.DEALER)
                received: list[bytes] = []

                async def echo(count: int) -> None:
                    for _ in range(count):
                        identity, body = await router.recv_multipart()
                        # Wait for the host to take a turn, so the reply
                        # depends on the host loop running while Trio waits.
                        before = host.turns
                        while host.turns == before:
                            await trio.sleep(0)
                        turns_seen.append(host.turns)
                        await router.send_multipart([identity, body])

                async def sender(n: int) -> None:
                    for i in range(5):
                        await dealer.send(b"%d-%d" % (n, i))

                async def receiver() -> None:
                    for _ in range(5):
                        received.append(await dealer.recv())

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(echo, 20)
                    for n in range(4):
                        nursery.start_soon(sender, n)
                        nursery.start_soon(receiver)
                router.close()
                dealer.close()
                return received

    received = asyncio.run(host.run_guest(trio_main))
    assert sorted(received) == sorted(b"%d-%d" % (n, i) for n in range(4) for i in range(5))
    assert turns_seen == sorted(turns_seen)
    assert len(set(turns_seen)) == 20  # the host turned between every two replies


def test_guest_cancel_and_close_reach_waiting_tasks() -> None:
    """A deadline cancels a guest receive cleanly; close wakes the other waiters."""

    async def trio_main() -> tuple[bool, int, bytes]:
        with trio.fail_after(LIMIT):
            async with trio_zmq.Context() as ctx:
                a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
                with trio.move_on_after(0.05) as scope:
                    await b.recv()
                # The cancelled receive took nothing: the next message arrives.
                await a.send(b"after")
                message = await b.recv()

                closed = 0

                async def waiter(task_status: trio.TaskStatus[None]) -> None:
                    nonlocal closed
                    task_status.started()
                    with pytest.raises(trio.ClosedResourceError):
                        await b.recv()
                    closed += 1

                async with trio.open_nursery() as nursery:
                    for _ in range(3):
                        await nursery.start(waiter)
                    await trio.testing.wait_all_tasks_blocked()
                    b.close()
                a.close()
                return scope.cancelled_caught, closed, message

    cancelled, closed, message = asyncio.run(Host().run_guest(trio_main))
    assert cancelled
    assert closed == 3
    assert message == b"after"


def test_guest_error_reaches_the_host() -> None:
    """An error in the guest (here, bad input) ends the run and reaches the host loop."""

    async def trio_main() -> None:
        async with trio_zmq.Context() as ctx, ctx.socket(zmq.PUSH) as push:
            await push.send("text")  # type: ignore[call-overload]

    with pytest.raises(TypeError, match="send_string"):
        asyncio.run(Host().run_guest(trio_main))


def _run_anyio(main: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(main, backend="trio")


def test_anyio_req_rep_and_many_tasks_on_one_socket() -> None:
    """Under AnyIO's Trio backend: task groups share sockets, as nurseries do."""

    async def main() -> tuple[list[bytes], list[bytes]]:
        with anyio.fail_after(LIMIT):
            async with trio_zmq.Context() as ctx:
                rep, req = pair(ctx, zmq.REP, zmq.REQ)
                replies: list[bytes] = []

                async def serve() -> None:
                    for _ in range(5):
                        await rep.send(b"re: " + await rep.recv())

                async with anyio.create_task_group() as tg:
                    tg.start_soon(serve)
                    for i in range(5):
                        await req.send(b"%d" % i)
                        replies.append(await req.recv())

                pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
                received: list[bytes] = []

                async def sender(n: int) -> None:
                    for i in range(10):
                        await push.send(b"%d-%d" % (n, i))

                async def receiver() -> None:
                    for _ in range(10):
                        received.append(await pull.recv())

                async with anyio.create_task_group() as tg:
                    for n in range(4):
                        tg.start_soon(sender, n)
                        tg.start_soon(receiver)
                for sock in (rep, req, push, pull):
                    sock.close()
                return replies, received

    replies, received = _run_anyio(main)
    assert replies == [b"re: %d" % i for i in range(5)]
    assert sorted(received) == sorted(b"%d-%d" % (n, i) for n in range(4) for i in range(10))


def test_anyio_cancel_scopes_cancel_cleanly() -> None:
    """anyio.move_on_after cancels a receive with no effect; the next message arrives."""

    async def main() -> tuple[bool, bytes, bool]:
        with anyio.fail_after(LIMIT):
            async with trio_zmq.Context() as ctx:
                a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
                with anyio.move_on_after(0.05) as scope:
                    await b.recv()
                await a.send(b"next")
                message = await b.recv()

                woke = False

                async def waiter(*, task_status: anyio.abc.TaskStatus[None]) -> None:
                    nonlocal woke
                    task_status.started()
                    try:
                        await b.recv()
                    except trio.ClosedResourceError:
                        woke = True

                async with anyio.create_task_group() as tg:
                    await tg.start(waiter)
                    await anyio.wait_all_tasks_blocked()
                    b.close()
                a.close()
                return scope.cancelled_caught, message, woke

    cancelled, message, woke = _run_anyio(main)
    assert cancelled
    assert message == b"next"
    assert woke


def test_guest_host_code_hands_messages_to_trio_tasks_through_the_token() -> None:
    """What docs/hosts.md advises: asyncio code feeds a guest channel with run_sync_soon."""
    host = Host()
    ready: asyncio.Future[tuple[trio.lowlevel.TrioToken, trio.MemorySendChannel[bytes]]]

    async def host_main() -> list[bytes]:
        nonlocal ready
        ready = asyncio.get_running_loop().create_future()

        async def feed() -> None:
            token, send_channel = await ready
            for i in range(5):
                token.run_sync_soon(send_channel.send_nowait, b"%d" % i)
                await asyncio.sleep(0)
            token.run_sync_soon(send_channel.close)

        feeder = asyncio.create_task(feed())

        async def trio_main() -> list[bytes]:
            with trio.fail_after(LIMIT):
                send_channel, receive_channel = trio.open_memory_channel[bytes](10)
                ready.set_result((trio.lowlevel.current_trio_token(), send_channel))
                async with trio_zmq.Context() as ctx:
                    pull, push = pair(ctx, zmq.PULL, zmq.PUSH)
                    async for item in receive_channel:
                        await push.send(item)
                    got = [await pull.recv() for _ in range(5)]
                    push.close()
                    pull.close()
                    return got

        try:
            return await host.run_guest(trio_main)
        finally:
            await feeder

    assert asyncio.run(host_main()) == [b"%d" % i for i in range(5)]


def test_an_await_under_asyncio_says_what_to_use_and_takes_nothing() -> None:
    zctx = zmq.Context()
    try:
        ctx = trio_zmq.Context.from_context(zctx)
        a, b = pair(ctx, zmq.PAIR, zmq.PAIR)
        a.underlying.send(b"queued")

        async def misuse() -> None:
            with pytest.raises(RuntimeError, match=r"Trio task .* under asyncio, use zmq\.asyncio"):
                await b.recv()
            with pytest.raises(RuntimeError, match="Trio task"):
                await a.send(b"never sent")

        asyncio.run(misuse())
        assert b.underlying.recv() == b"queued"  # the refused receive took nothing
        assert b.underlying.poll(0) == 0  # and the refused send sent nothing
        a.underlying.close(linger=0)
        b.underlying.close(linger=0)
    finally:
        zctx.term()
